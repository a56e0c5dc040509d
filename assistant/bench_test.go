package assistant_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// BenchmarkRunEmailDraft is one email draft end to end in process with the
// offline provider over the demo knowledge base: retrieval, masking,
// rendering, the composer, validation, citation checks and the stored
// record with its audit entry.
func BenchmarkRunEmailDraft(b *testing.B) {
	ctx := context.Background()
	_, svc, tenant := demoService(b, "bench")
	caller := assistant.Caller{Scope: store.Scope{Tenant: tenant, Role: "rep", Regions: []string{"jiangsu"}}}
	in := demoEmail
	var retrievalMS, modelMS, totalMS, storeMS float64
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		g, err := svc.Run(ctx, caller, in, assistant.Options{})
		if err != nil {
			b.Fatal(err)
		}
		// Timings.Total ends before the record is stored.
		storeMS += float64(time.Since(start).Microseconds())/1000 - g.Timings.Total
		retrievalMS += g.Timings.Retrieval
		modelMS += g.Timings.Model
		totalMS += g.Timings.Total
	}
	b.ReportMetric(retrievalMS/float64(b.N), "retrieval-ms/op")
	b.ReportMetric(modelMS/float64(b.N), "model-ms/op")
	b.ReportMetric((totalMS-retrievalMS-modelMS)/float64(b.N), "rest-ms/op")
	b.ReportMetric(storeMS/float64(b.N), "store-ms/op")
}

// demoEmail is a follow-up email about a demo customer.
var demoEmail = prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局", RecipientName: "王建国",
	DealContext: "1 月 20 日交流会后跟进；客户关注专项债审计合规和授权运营收益结算。"}

// demoService returns a private database, an assistant with the offline
// provider over it, and a tenant named slug holding the demo knowledge
// base.
func demoService(tb testing.TB, slug string) (*storetest.DB, *assistant.Service, uuid.UUID) {
	tb.Helper()
	db := storetest.New(tb)
	models, err := providers.New(context.Background(), providers.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tenant := knowledgetest.DemoTenant(tb, db.Pool, models.Embedder, slug)
	reg, err := prompts.Load()
	if err != nil {
		tb.Fatal(err)
	}
	svc := assistant.New(db.Pool, retrieval.NewSearcher(db.Pool, models.Embedder, retrieval.Config{}), models, reg, assistant.Config{}, nil)
	return db, svc, tenant
}
