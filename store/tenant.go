package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Beginner is what InTenant needs from a pool: *pgxpool.Pool and pgx.Tx both
// satisfy it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

var _ Beginner = (*pgxpool.Pool)(nil)

// InTenant runs fn in a transaction whose row-level security scope is the
// given tenant: every policy compares rows with app.tenant_id, which is set
// transaction-locally so that it can never leak to the next user of the
// pooled connection. The transaction commits when fn returns nil.
func InTenant(ctx context.Context, db Beginner, tenant uuid.UUID, fn func(pgx.Tx) error) error {
	if tenant == uuid.Nil {
		return errors.New("store: tenant scope without a tenant")
	}
	return inTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
			return fmt.Errorf("set tenant scope: %w", err)
		}
		return fn(tx)
	})
}

// Scope is a caller's view of a tenant: the regions it may see (empty: all)
// and its role. Rows outside it are invisible to PostgreSQL itself (see the
// dealdesk_can_see policy function), not only filtered by queries.
type Scope struct {
	Tenant  uuid.UUID
	Regions []string
	Role    string
	// KeyID is the caller's API key, when there is one: rows a caller
	// owns (its own generations) are matched on it.
	KeyID uuid.UUID
}

// Actor names the caller in audit entries and records: its API key id,
// or "system" for operator tooling acting without a key.
func (s Scope) Actor() string {
	if s.KeyID == uuid.Nil {
		return "system"
	}
	return s.KeyID.String()
}

// InScope is InTenant narrowed to a caller's regions and role.
func InScope(ctx context.Context, db Beginner, s Scope, fn func(pgx.Tx) error) error {
	args, err := s.settings()
	if err != nil {
		return err
	}
	// One round trip sets the tenant and the caller scope together.
	return inTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, scopeSQL, args...); err != nil {
			return fmt.Errorf("set caller scope: %w", err)
		}
		return fn(tx)
	})
}

// ScopedBatch starts a batch whose first statement sets the caller scope,
// for read paths that want one round trip instead of a transaction's
// four. Send it with SendBatch on a pool (never inside a transaction):
// pgx sends a batch as one extended-protocol pipeline ending in a single
// Sync, so PostgreSQL runs it as one implicit transaction and the
// transaction-local settings end with it, as they do with InScope.
func ScopedBatch(s Scope) (*pgx.Batch, error) {
	args, err := s.settings()
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(scopeSQL, args...)
	return b, nil
}

const scopeSQL = `SELECT set_config('app.tenant_id', $1, true), set_config('app.role', $2, true),
	set_config('app.regions', $3, true), set_config('app.key_id', $4, true)`

// settings validates the scope and returns the arguments of scopeSQL.
func (s Scope) settings() ([]any, error) {
	if s.Role == "" {
		return nil, errors.New("store: caller scope without a role")
	}
	if s.Tenant == uuid.Nil {
		return nil, errors.New("store: tenant scope without a tenant")
	}
	key := ""
	if s.KeyID != uuid.Nil {
		key = s.KeyID.String()
	}
	return []any{s.Tenant.String(), s.Role, strings.Join(s.Regions, ","), key}, nil
}

// WithSetting runs fn in a transaction with one extra transaction-local
// setting, for the few lookups that happen before the tenant is known
// (finding an API key by its hash, a tenant by its slug). The policies allow
// exactly those rows for exactly that setting.
func WithSetting(ctx context.Context, db Beginner, name, value string, fn func(pgx.Tx) error) error {
	return inTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config($1, $2, true)`, name, value); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		return fn(tx)
	})
}

func inTx(ctx context.Context, db Beginner, fn func(pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
