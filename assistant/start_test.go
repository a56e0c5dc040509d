package assistant_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/store"
)

// timedModel answers with a fixed email draft in two streamed chunks and
// records when it was called; with block set it waits for its context
// instead.
type timedModel struct {
	answer string
	block  bool
	mu     sync.Mutex
	called time.Time
	ctxErr error
}

func (m *timedModel) GenerateContent(ctx context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	m.mu.Lock()
	m.called = time.Now()
	m.mu.Unlock()
	if m.block {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.ctxErr = ctx.Err()
			m.mu.Unlock()
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, errors.New("the model call was not cancelled")
		}
	}
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	if opts.StreamingFunc != nil {
		half := len(m.answer) / 2
		for _, part := range []string{m.answer[:half], m.answer[half:]} {
			if err := opts.StreamingFunc(ctx, []byte(part)); err != nil {
				return nil, err
			}
		}
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: m.answer}}}, nil
}

func (m *timedModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// TestStartEventOverlapsTheModelCall: OnStart (the stream's start event)
// runs while the model call is sent, every token waits for it, and an
// OnStart error cancels the model call and is what Run returns.
func TestStartEventOverlapsTheModelCall(t *testing.T) {
	ctx := context.Background()
	d := newDemoDB(t, "start")
	answer := emailAnswer(t)
	service := func(m *timedModel) *assistant.Service { return d.service(m, "timed") }
	caller := assistant.Caller{Scope: store.Scope{Tenant: d.tenant, Role: "admin"}, Name: "test"}
	in := prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局", RecipientName: "王建国"}

	t.Run("overlap", func(t *testing.T) {
		m := &timedModel{answer: answer}
		var startDone time.Time
		var events []string
		g, err := service(m).Run(ctx, caller, in, assistant.Options{
			OnStart: func(g *assistant.Generation) error {
				time.Sleep(100 * time.Millisecond) // a slow client
				startDone = time.Now()
				events = append(events, "start")
				return nil
			},
			Stream: func(kind, text string) error {
				if startDone.IsZero() {
					t.Errorf("a %s event before the start event ended", kind)
				}
				events = append(events, kind)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if g.Output["subject"] == "" || len(events) < 2 || events[0] != "start" || events[1] != "token" {
			t.Fatalf("events %v, output %v", events, g.Output)
		}
		if !m.called.Before(startDone) {
			t.Errorf("the model was called %v after the start event ended; want it called while the event is written", m.called.Sub(startDone))
		}
	})

	t.Run("start fails", func(t *testing.T) {
		m := &timedModel{answer: answer, block: true}
		gone := errors.New("client gone")
		begin := time.Now()
		_, err := service(m).Run(ctx, caller, in, assistant.Options{
			OnStart: func(*assistant.Generation) error { return gone },
			Stream:  func(string, string) error { return nil },
		})
		if !errors.Is(err, gone) {
			t.Fatalf("Run = %v, want the start event's error", err)
		}
		if m.ctxErr == nil || time.Since(begin) > 5*time.Second {
			t.Fatalf("the model call was not cancelled (ctx error %v after %v)", m.ctxErr, time.Since(begin))
		}
	})
}
