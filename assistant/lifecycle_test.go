package assistant_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// gateModel signals when it is called, then waits for release (or its
// context) and answers, or fails with err.
type gateModel struct {
	answer  string
	err     error
	entered chan struct{}
	release chan struct{}
}

func (m *gateModel) GenerateContent(ctx context.Context, _ []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	close(m.entered)
	select {
	case <-m.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.err != nil {
		return nil, m.err
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: m.answer}}}, nil
}

func (m *gateModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// TestRecordFollowsTheCall: a generation's record is written while the
// model works (status running, the masked input and sources already there)
// and completed when the call ends: ok with the answer, or failed with the
// reason when the model fails or the caller leaves. The audit entry
// generation.create is written with the running record, since the model
// has the call's data from then on; a failed call adds generation.fail.
func TestRecordFollowsTheCall(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	tenant := knowledgetest.DemoTenant(t, db.Pool, emb, "lifecycle")
	answer, err := os.ReadFile("../cmd/fakellm/email_draft.json")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := prompts.Load()
	if err != nil {
		t.Fatal(err)
	}
	scope := store.Scope{Tenant: tenant, Role: "admin"}
	caller := assistant.Caller{Scope: scope, Name: "test"}
	in := prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局", RecipientName: "王建国",
		DealContext: "王总手机 13812345678，跟进专项债审计合规。"}

	// run starts a call with m and returns its generation id once the
	// model has been called, and a channel with Run's result.
	run := func(t *testing.T, ctx context.Context, m *gateModel) (uuid.UUID, chan error) {
		t.Helper()
		models := &providers.Models{LLM: m, Embedder: emb, Info: providers.Info{Provider: "test", ChatModel: "gate", EmbedDim: storetest.EmbedDim}}
		svc := assistant.New(db.Pool, retrieval.NewSearcher(db.Pool, emb, retrieval.Config{}), models, reg, assistant.Config{}, slog.New(slog.DiscardHandler))
		ids := make(chan uuid.UUID, 1)
		done := make(chan error, 1)
		go func() {
			_, err := svc.Run(ctx, caller, in, assistant.Options{OnStart: func(g *assistant.Generation) error {
				ids <- g.ID
				return nil
			}})
			done <- err
		}()
		select {
		case <-m.entered:
		case err := <-done:
			t.Fatalf("Run ended before calling the model: %v", err)
		}
		return <-ids, done
	}
	svc := assistant.New(db.Pool, retrieval.NewSearcher(db.Pool, emb, retrieval.Config{}), nil, reg, assistant.Config{}, slog.New(slog.DiscardHandler))
	// record waits until the record of id has status want.
	record := func(t *testing.T, id uuid.UUID, want string) *assistant.Record {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := svc.Get(ctx, scope, id)
			if err == nil && r.Status == want {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("generation %s: record %+v, err %v; want status %s", id, r, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// trail returns the record's audit actions, oldest first, and checks
	// that the first is generation.create naming the sources sent to the
	// model.
	trail := func(t *testing.T, r *assistant.Record) string {
		t.Helper()
		var actions []string
		for i := len(r.Audit) - 1; i >= 0; i-- { // the trail is newest first
			actions = append(actions, r.Audit[i].Action)
		}
		if len(r.Audit) == 0 {
			return ""
		}
		var d struct {
			Sources []string
			Error   string
		}
		first := r.Audit[len(r.Audit)-1]
		if err := json.Unmarshal(first.Details, &d); err != nil {
			t.Fatal(err)
		}
		if first.Action != "generation.create" || len(d.Sources) == 0 {
			t.Fatalf("first audit entry %s %s, want generation.create with the sources", first.Action, first.Details)
		}
		return strings.Join(actions, ",")
	}
	// failReason returns the error of the record's generation.fail entry.
	failReason := func(t *testing.T, r *assistant.Record) string {
		t.Helper()
		if got := trail(t, r); got != "generation.create,generation.fail" {
			t.Fatalf("audit trail %s, want generation.create,generation.fail", got)
		}
		var d struct{ Error string }
		if err := json.Unmarshal(r.Audit[0].Details, &d); err != nil {
			t.Fatal(err)
		}
		return d.Error
	}

	t.Run("ok", func(t *testing.T) {
		m := &gateModel{answer: string(answer), entered: make(chan struct{}), release: make(chan struct{})}
		id, done := run(t, ctx, m)
		r := record(t, id, "running")
		// The model has this call's data: the audit says so already.
		if got := trail(t, r); got != "generation.create" {
			t.Fatalf("running record's audit trail %q, want generation.create", got)
		}
		if string(r.Output) != "null" || !strings.Contains(string(r.Input), "专项债") ||
			!strings.Contains(string(r.Input), `"sources"`) || strings.Contains(string(r.Input), "13812345678") {
			t.Fatalf("running record: output %s, input %.300s", r.Output, r.Input)
		}
		close(m.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		r = record(t, id, "ok")
		if string(r.Output) == "null" || r.RawOutput == "" || r.LatencyMS <= 0 || r.Error != "" {
			t.Fatalf("completed record: %+v", r)
		}
		if got := trail(t, r); got != "generation.create" {
			t.Fatalf("audit trail %q, want generation.create only", got)
		}
	})

	t.Run("model fails", func(t *testing.T) {
		m := &gateModel{err: errors.New("provider exploded"), entered: make(chan struct{}), release: make(chan struct{})}
		close(m.release)
		id, done := run(t, ctx, m)
		if err := <-done; err == nil || !strings.Contains(err.Error(), "provider exploded") {
			t.Fatalf("Run = %v, want the model's error", err)
		}
		r := record(t, id, "failed")
		if !strings.Contains(r.Error, "provider exploded") || string(r.Output) != "null" {
			t.Fatalf("failed record: error %q, output %s", r.Error, r.Output)
		}
		if reason := failReason(t, r); !strings.Contains(reason, "provider exploded") {
			t.Fatalf("generation.fail reason %q", reason)
		}
	})

	t.Run("caller leaves", func(t *testing.T) {
		m := &gateModel{answer: string(answer), entered: make(chan struct{}), release: make(chan struct{})}
		cctx, cancel := context.WithCancel(ctx)
		id, done := run(t, cctx, m)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		r := record(t, id, "failed")
		if !strings.Contains(r.Error, "context canceled") {
			t.Fatalf("record error %q", r.Error)
		}
		if reason := failReason(t, r); !strings.Contains(reason, "context canceled") {
			t.Fatalf("generation.fail reason %q", reason)
		}
	})
}
