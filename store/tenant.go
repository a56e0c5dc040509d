package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

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
	pairs, err := tenantSettings(tenant)
	if err != nil {
		return err
	}
	return inSettingsTx(ctx, db, pairs, fn)
}

// tenantSettings validates a tenant and returns its scope setting as a
// name, value pair.
func tenantSettings(tenant uuid.UUID) ([]string, error) {
	if tenant == uuid.Nil {
		return nil, errors.New("store: tenant scope without a tenant")
	}
	return []string{"app.tenant_id", tenant.String()}, nil
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
	pairs, err := s.settings()
	if err != nil {
		return err
	}
	return inSettingsTx(ctx, db, pairs, fn)
}

// ScopedBatch starts a batch whose first statement sets the caller scope,
// for read paths that want one round trip instead of a transaction's
// three. Send it with SendBatch on a pool (never inside a transaction):
// pgx sends a batch as one extended-protocol pipeline ending in a single
// Sync, so PostgreSQL runs it as one implicit transaction and the
// transaction-local settings end with it, as they do with InScope.
func ScopedBatch(s Scope) (*pgx.Batch, error) {
	pairs, err := s.settings()
	if err != nil {
		return nil, err
	}
	return settingsBatch(pairs), nil
}

// TenantBatch starts a batch whose first statement sets the tenant scope,
// as InTenant does, for writes whose statements all fit in one round trip.
// Send it with SendBatch on a pool (never inside a transaction): the
// pipeline is one implicit transaction, so its statements commit together
// when the last one succeeds, and none does when one fails.
func TenantBatch(tenant uuid.UUID) (*pgx.Batch, error) {
	pairs, err := tenantSettings(tenant)
	if err != nil {
		return nil, err
	}
	return settingsBatch(pairs), nil
}

// settingsBatch starts a batch whose first statement sets pairs.
func settingsBatch(pairs []string) *pgx.Batch {
	sql, args := paramSettingsSQL(pairs)
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return b
}

// settings validates the scope and returns its settings as name, value
// pairs.
func (s Scope) settings() ([]string, error) {
	if s.Role == "" {
		return nil, errors.New("store: caller scope without a role")
	}
	pairs, err := tenantSettings(s.Tenant)
	if err != nil {
		return nil, err
	}
	key := ""
	if s.KeyID != uuid.Nil {
		key = s.KeyID.String()
	}
	return append(pairs, "app.role", s.Role, "app.regions", strings.Join(s.Regions, ","), "app.key_id", key), nil
}

// WithSetting runs fn in a transaction with one extra transaction-local
// setting, for the few lookups that happen before the tenant is known
// (finding an API key by its hash, a tenant by its slug). The policies allow
// exactly those rows for exactly that setting.
func WithSetting(ctx context.Context, db Beginner, name, value string, fn func(pgx.Tx) error) error {
	return inSettingsTx(ctx, db, []string{name, value}, fn)
}

// inSettingsTx runs fn in a transaction with the given transaction-local
// settings (name, value pairs). On a pool, BEGIN and the settings go in one
// simple-protocol round trip, the values as escaped literals; inside a
// transaction (a savepoint) they are set by a statement with parameters.
func inSettingsTx(ctx context.Context, db Beginner, pairs []string, fn func(pgx.Tx) error) error {
	if p, ok := db.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	}); ok {
		sql, err := literalSettingsSQL(pairs)
		if err != nil {
			return err
		}
		return runTx(ctx, func() (pgx.Tx, error) {
			return p.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; " + sql})
		}, fn)
	}
	return runTx(ctx, func() (pgx.Tx, error) { return db.Begin(ctx) }, func(tx pgx.Tx) error {
		sql, args := paramSettingsSQL(pairs)
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("set %s: %w", pairs[0], err)
		}
		return fn(tx)
	})
}

// runTx begins a transaction, runs fn and commits, or rolls back when
// either fails.
func runTx(ctx context.Context, begin func() (pgx.Tx, error), fn func(pgx.Tx) error) (err error) {
	tx, err := begin()
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

// paramSettingsSQL renders set_config calls with the values as parameters.
// The statement depends only on the number of pairs, so it is rendered once
// per number: every scoped statement (each search, each record) starts with
// one.
func paramSettingsSQL(pairs []string) (string, []any) {
	sql, ok := paramSQL.Load(len(pairs))
	if !ok {
		sql, _ = settingsSQL(pairs, func(i int, _ string) (string, error) { return "$" + strconv.Itoa(i+1), nil })
		sql, _ = paramSQL.LoadOrStore(len(pairs), sql)
	}
	args := make([]any, len(pairs))
	for i, v := range pairs {
		args[i] = v
	}
	return sql.(string), args
}

// paramSQL holds paramSettingsSQL's statements by number of pairs.
var paramSQL sync.Map

// literalSettingsSQL renders set_config calls with literal values, as
// escape strings (E'...') with backslashes and single quotes doubled, which
// read the same whatever standard_conforming_strings says; a NUL byte
// cannot be sent at all.
func literalSettingsSQL(pairs []string) (string, error) {
	return settingsSQL(pairs, func(i int, v string) (string, error) {
		if strings.ContainsRune(v, 0) {
			return "", fmt.Errorf("store: setting %s contains a NUL byte", pairs[i-i%2]) // the pair's name
		}
		return "E'" + literalEscaper.Replace(v) + "'", nil
	})
}

// settingsSQL renders one SELECT of set_config(name, value, true) calls for
// the name, value pairs; render writes the i-th element of pairs.
func settingsSQL(pairs []string, render func(i int, v string) (string, error)) (string, error) {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := 0; i < len(pairs); i += 2 {
		name, err := render(i, pairs[i])
		if err != nil {
			return "", err
		}
		value, err := render(i+1, pairs[i+1])
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("set_config(" + name + ", " + value + ", true)")
	}
	return b.String(), nil
}

var literalEscaper = strings.NewReplacer(`\`, `\\`, "'", "''")
