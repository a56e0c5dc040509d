package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestScopeSettingsSurviveHostileValues sets the scope on a pool (BEGIN and
// the settings in one round trip, values as literals), inside a
// transaction (parameters) and in a batch, with values that would break
// or escape a naively quoted literal, and reads them back unchanged.
func TestScopeSettingsSurviveHostileValues(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := context.Background()
	sc := store.Scope{
		Tenant:  uuid.New(),
		Role:    `rep'); SELECT pg_sleep(5); --`,
		Regions: []string{`jiang\'su`, `a\\b`, "东部'"},
		KeyID:   uuid.New(),
	}
	want := [4]string{sc.Tenant.String(), sc.Role, `jiang\'su,a\\b,东部'`, sc.KeyID.String()}
	read := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) [4]string {
		t.Helper()
		var got [4]string
		if err := q.QueryRow(ctx, `SELECT current_setting('app.tenant_id'), current_setting('app.role'),
			current_setting('app.regions'), current_setting('app.key_id')`).Scan(&got[0], &got[1], &got[2], &got[3]); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := store.InScope(ctx, db.Pool, sc, func(tx pgx.Tx) error {
		if got := read(tx); got != want {
			t.Errorf("on a pool: settings %q, want %q", got, want)
		}
		// Nested: a savepoint, where the settings are parameters.
		return store.InScope(ctx, tx, sc, func(tx pgx.Tx) error {
			if got := read(tx); got != want {
				t.Errorf("in a transaction: settings %q, want %q", got, want)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}

	b, err := store.ScopedBatch(sc)
	if err != nil {
		t.Fatal(err)
	}
	var got [4]string
	b.Queue(`SELECT current_setting('app.tenant_id'), current_setting('app.role'),
		current_setting('app.regions'), current_setting('app.key_id')`).QueryRow(func(r pgx.Row) error {
		return r.Scan(&got[0], &got[1], &got[2], &got[3])
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("in a batch: settings %q, want %q", got, want)
	}

	// The settings were transaction-local: the pool's connections are clean.
	var tenant string
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(current_setting('app.tenant_id', true), '')`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		t.Errorf("app.tenant_id %q outlived its transaction", tenant)
	}

	if err := store.WithSetting(ctx, db.Pool, "app.tenant_slug", "x\x00y", func(pgx.Tx) error { return nil }); err == nil {
		t.Error("a NUL byte in a setting was accepted")
	}
}

// TestLexicalIndexUsable: the databases scripts/pg.sh prepares let lexical
// search use its GIN index under row-level security.
func TestLexicalIndexUsable(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ok, hint, err := store.LexicalIndexUsable(context.Background(), db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("tsvector @@ tsquery is not leakproof here, so lexical search scans every chunk; scripts/pg.sh up fixes it (as a superuser: %s)", hint)
	}
}
