package knowledgetest

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tmc/langchaingo/embeddings"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
)

// IngestDemo ingests the demo knowledge base (knowledge/demo, embedded in
// the binary) for tenant, and fails, naming each file's reason, if any of
// its files fails or nothing was stored.
func IngestDemo(ctx context.Context, st *knowledge.Store, tenant uuid.UUID) (knowledge.Summary, error) {
	sub, err := fs.Sub(knowledge.DemoFS, "demo")
	if err != nil {
		return knowledge.Summary{}, err
	}
	files, err := knowledge.FilesIn(sub)
	if err != nil {
		return knowledge.Summary{}, err
	}
	var failed []string // IngestFiles calls onDone one file at a time
	sum := st.IngestFiles(ctx, tenant, files, 2, func(r knowledge.FileResult) {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", r.File.Source, r.Err))
		}
	})
	if len(failed) > 0 || sum.Failed > 0 || sum.Chunks == 0 {
		return sum, fmt.Errorf("ingest the demo knowledge base: %+v: %s", sum, strings.Join(failed, "; "))
	}
	return sum, nil
}

// DemoTenant creates a tenant named slug in the database of pool and
// ingests the demo knowledge base for it with emb, failing tb on error.
func DemoTenant(tb testing.TB, pool *pgxpool.Pool, emb embeddings.Embedder, slug string) uuid.UUID {
	tb.Helper()
	ctx := context.Background()
	tn, err := auth.NewService(pool).CreateTenant(ctx, slug, "")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := IngestDemo(ctx, knowledge.NewStore(pool, emb, knowledge.StoreOptions{}), tn.ID); err != nil {
		tb.Fatal(err)
	}
	return tn.ID
}
