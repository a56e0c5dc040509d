package evals

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// demoEnv is a database with the demo knowledge base loaded into one
// tenant, shared by the tests and benchmarks of this package (loading it
// takes seconds; runs only add generation and eval_runs rows).
type demoEnv struct {
	db       *storetest.DB
	tenant   uuid.UUID
	models   *providers.Models
	kstore   *knowledge.Store
	searcher *retrieval.Searcher
	deps     Deps
}

var (
	demoOnce sync.Once
	demo     *demoEnv
	demoErr  error
	demoDrop func() error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDrop != nil {
		if err := demoDrop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// demoDB returns the shared demo environment.
func demoDB(tb testing.TB) *demoEnv {
	tb.Helper()
	demoOnce.Do(func() { demo, demoErr = loadDemo() })
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return demo
}

func loadDemo() (*demoEnv, error) {
	ctx := context.Background()
	db, drop, err := storetest.Create("evals_demo")
	if err != nil {
		return nil, err
	}
	demoDrop = drop
	models, err := providers.New(ctx, providers.Config{}, nil)
	if err != nil {
		return nil, err
	}
	t, err := auth.NewService(db.Pool).CreateTenant(ctx, "demo", "Demo")
	if err != nil {
		return nil, err
	}
	kstore := knowledge.NewStore(db.Pool, models.Embedder, knowledge.StoreOptions{Logger: slog.New(slog.DiscardHandler)})
	if _, err := knowledgetest.IngestDemo(ctx, kstore, t.ID); err != nil {
		return nil, err
	}
	registry, err := prompts.Load()
	if err != nil {
		return nil, err
	}
	searcher := retrieval.NewSearcher(db.Pool, models.Embedder, retrieval.Config{})
	e := &demoEnv{db: db, tenant: t.ID, models: models, kstore: kstore, searcher: searcher}
	e.deps = e.with(registry)
	return e, nil
}

// with returns the environment's dependencies with another prompt
// registry.
func (e *demoEnv) with(registry *prompts.Registry) Deps {
	svc := assistant.New(e.db.Pool, e.searcher, e.models, registry, assistant.Config{}, nil)
	return Deps{Assistant: svc, Models: e.models, Knowledge: e.kstore}
}
