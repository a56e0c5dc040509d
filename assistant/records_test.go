package assistant_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/store"
)

// TestRecordsAreCompressedWithLZ4 checks migration 0015: a stored draft's
// input, large enough to be compressed, is compressed with lz4 where the
// server has it.
func TestRecordsAreCompressedWithLZ4(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, svc, tenant := demoService(t, "lz4")
	var lz4 bool
	if err := db.Pool.QueryRow(ctx, `SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	scope := store.Scope{Tenant: tenant, Role: "admin"}
	g, err := svc.Run(ctx, assistant.Caller{Scope: scope}, demoEmail, assistant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var method *string
	var size int
	err = store.InScope(ctx, db.Pool, scope, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT pg_column_compression(input), pg_column_size(input) FROM generations WHERE id = $1`, g.ID).Scan(&method, &size)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "pglz"
	if lz4 {
		want = "lz4"
	}
	got := "nothing"
	if method != nil {
		got = *method
	}
	if got != want {
		t.Fatalf("input (%d bytes stored) compressed with %s, want %s", size, got, want)
	}
}
