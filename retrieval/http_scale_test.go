package retrieval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/api"
	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// httpSearches times POST /v1/search through the real Echo server over the
// scale corpus, one client, for the same queries as the in-process rows:
// vector and hybrid at the default settings, with an admin key of the
// bench tenant. It returns the latencies and the hits counted per mode.
func httpSearches(b *testing.B, ctx context.Context, db *storetest.DB, tenant uuid.UUID, queries []string) (map[retrieval.Mode][]time.Duration, map[retrieval.Mode]int) {
	logger := slog.New(slog.DiscardHandler)
	models, err := providers.New(ctx, providers.Config{}, logger)
	if err != nil {
		b.Fatal(err)
	}
	svc := auth.NewService(db.Pool)
	key, err := svc.CreateKey(ctx, tenant, auth.KeySpec{Name: "scale bench", Role: auth.RoleAdmin})
	if err != nil {
		b.Fatal(err)
	}
	kstore := knowledge.NewStore(db.Pool, models.Embedder, knowledge.StoreOptions{Logger: logger})
	searcher := retrieval.NewSearcher(db.Pool, models.Embedder, retrieval.Config{})
	registry, err := prompts.Load()
	if err != nil {
		b.Fatal(err)
	}
	tasks := assistant.New(db.Pool, searcher, models, registry, assistant.Config{}, logger)
	srv, err := api.New(api.Config{RateLimit: 1e6, RateBurst: 1e6}, api.Deps{DB: db.Pool, Auth: svc, Models: models,
		Knowledge: kstore, Queue: knowledge.NewQueue(db.Pool, kstore, logger), Searcher: searcher, Assistant: tasks,
		Feedback: feedback.NewService(db.Pool), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	out, hits := map[retrieval.Mode][]time.Duration{}, map[retrieval.Mode]int{}
	for _, mode := range []retrieval.Mode{retrieval.Vector, retrieval.Hybrid} {
		for _, q := range queries {
			body, _ := json.Marshal(map[string]any{"query": q, "k": 10, "mode": mode})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/search", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+key.Secret)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			elapsed := time.Since(t0)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("POST /v1/search: %d %s (%v)", resp.StatusCode, raw, err)
			}
			var res struct{ Hits []json.RawMessage }
			if err := json.Unmarshal(raw, &res); err != nil {
				b.Fatalf("POST /v1/search: %v in %s", err, raw)
			}
			out[mode] = append(out[mode], elapsed)
			hits[mode] += len(res.Hits)
		}
	}
	return out, hits
}
