package assistant_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// demoDB is a test database with the demo knowledge base for one tenant,
// the offline embedder it was ingested with, and the prompt registry.
type demoDB struct {
	db     *storetest.DB
	emb    *providers.OfflineEmbedder
	tenant uuid.UUID
	reg    *prompts.Registry
}

func newDemoDB(tb testing.TB, slug string) *demoDB {
	tb.Helper()
	d := &demoDB{db: storetest.New(tb), emb: providers.NewOfflineEmbedder(storetest.EmbedDim)}
	d.tenant = knowledgetest.DemoTenant(tb, d.db.Pool, d.emb, slug)
	var err error
	if d.reg, err = prompts.Load(); err != nil {
		tb.Fatal(err)
	}
	return d
}

// service is an assistant over d whose chat model is llm, reported as
// provider "test" and model name; with a nil llm it has no models (enough
// to read records).
func (d *demoDB) service(llm llms.Model, name string) *assistant.Service {
	var models *providers.Models
	if llm != nil {
		models = &providers.Models{LLM: llm, Embedder: d.emb, Info: providers.Info{Provider: "test", ChatModel: name, EmbedDim: storetest.EmbedDim}}
	}
	return assistant.New(d.db.Pool, retrieval.NewSearcher(d.db.Pool, d.emb, retrieval.Config{}), models, d.reg, assistant.Config{}, slog.New(slog.DiscardHandler))
}

// emailAnswer is cmd/fakellm's answer: a valid email_draft@v1 JSON.
func emailAnswer(tb testing.TB) string {
	tb.Helper()
	answer, err := os.ReadFile("../cmd/fakellm/email_draft.json")
	if err != nil {
		tb.Fatal(err)
	}
	return string(answer)
}
