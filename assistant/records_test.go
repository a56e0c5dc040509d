package assistant_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestRecordsAreCompressedWithLZ4 checks migration 0015: a stored draft's
// input, large enough to be compressed, is compressed with lz4 where the
// server has it.
func TestRecordsAreCompressedWithLZ4(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	var lz4 bool
	if err := db.Pool.QueryRow(ctx, `SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	models, err := providers.New(ctx, providers.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tenant := knowledgetest.DemoTenant(t, db.Pool, models.Embedder, "lz4")
	reg, err := prompts.Load()
	if err != nil {
		t.Fatal(err)
	}
	svc := assistant.New(db.Pool, retrieval.NewSearcher(db.Pool, models.Embedder, retrieval.Config{}), models, reg, assistant.Config{}, nil)
	scope := store.Scope{Tenant: tenant, Role: "admin"}
	g, err := svc.Run(ctx, assistant.Caller{Scope: scope}, prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局",
		RecipientName: "王建国", DealContext: "1 月 20 日交流会后跟进；客户关注专项债审计合规和授权运营收益结算。"}, assistant.Options{})
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
