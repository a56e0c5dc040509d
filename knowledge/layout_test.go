package knowledge_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestChunkRowsAreInline checks migration 0014: chunks written after it
// keep their embedding and tsvector inline and uncompressed, and the
// migration rewrites the rows a table already had, without changing a
// value.
func TestChunkRowsAreInline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)

	// layout reports the TOAST table's size once dead rows are vacuumed
	// away, the tenant's chunks whose tsvector is compressed, and a digest
	// of its values.
	layout := func(tenant uuid.UUID) (toastBytes int64, compressed, rows int, digest string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `VACUUM chunks`); err != nil {
			t.Fatal(err)
		}
		if err := db.Pool.QueryRow(ctx, `SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'chunks'::regclass`).Scan(&toastBytes); err != nil {
			t.Fatal(err)
		}
		err := store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_column_compression(lex) IS NOT NULL), count(*),
				md5(string_agg(embedding::text || lex::text || text, '|' ORDER BY id)) FROM chunks`).Scan(&compressed, &rows, &digest)
		})
		if err != nil {
			t.Fatal(err)
		}
		return toastBytes, compressed, rows, digest
	}

	// The layout before 0014: the demo's embeddings go to TOAST, which
	// shows that the checks below can fail.
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE chunks RESET (toast_tuple_target);
		ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE EXTERNAL`); err != nil {
		t.Fatal(err)
	}
	old := knowledgetest.DemoTenant(t, db.Pool, emb, "old")
	toast, _, rows, before := layout(old)
	if toast == 0 {
		t.Fatalf("old layout: the TOAST table is empty; want the demo's embeddings in it")
	}

	migrations, err := store.Migrations(store.MigrateOptions{EmbedDim: storetest.EmbedDim})
	if err != nil {
		t.Fatal(err)
	}
	var sql string
	for _, m := range migrations {
		if m.Version == 14 {
			sql = m.SQL
		}
	}
	if sql == "" {
		t.Fatal("migration 0014 not found")
	}
	if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	toast, compressed, after, digest := layout(old)
	if toast != 0 || compressed != 0 || after != rows {
		t.Errorf("rewritten: TOAST %d bytes, %d of %d tsvectors compressed; want 0 and 0 of %d", toast, compressed, after, rows)
	}
	if digest != before {
		t.Error("the rewrite changed stored values")
	}

	// New rows are written inline, and row-level security is forced again.
	fresh := knowledgetest.DemoTenant(t, db.Pool, emb, "new")
	if toast, compressed, rows, _ := layout(fresh); toast != 0 || compressed != 0 || rows == 0 {
		t.Errorf("new rows: TOAST %d bytes, %d of %d tsvectors compressed; want 0, 0 of more than 0", toast, compressed, rows)
	}
	var forced bool
	if err := db.Pool.QueryRow(ctx, `SELECT relforcerowsecurity FROM pg_class WHERE oid = 'chunks'::regclass`).Scan(&forced); err != nil {
		t.Fatal(err)
	}
	if !forced {
		t.Error("row-level security is no longer forced on chunks")
	}
}
