package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tmc/langchaingo/llms"
)

var remoteProviders = []string{ProviderOpenAI, ProviderOllama}

// testConfig is a configuration for f with fast retries; adjust tweaks it.
func testConfig(f *fakeServer, adjust func(*Config)) Config {
	cfg := Config{
		Provider:        f.provider,
		BaseURL:         f.baseURL(),
		APIKey:          "test-key",
		ChatModel:       "chat-model",
		EmbedModel:      "embed-model",
		EmbedDim:        4,
		Timeout:         5 * time.Second,
		MaxRetries:      2,
		RetryBaseDelay:  time.Millisecond,
		RetryMaxDelay:   2 * time.Second,
		BreakerFailures: 100,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	return cfg
}

func newTestModels(t *testing.T, cfg Config) *Models {
	t.Helper()
	m, err := New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func ask(ctx context.Context, m *Models, options ...llms.CallOption) (*llms.ContentResponse, error) {
	return m.LLM.GenerateContent(ctx, []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are a sales assistant."),
		llms.TextParts(llms.ChatMessageTypeHuman, "Say hello."),
	}, options...)
}

func forEachProvider(t *testing.T, test func(t *testing.T, provider string)) {
	for _, p := range remoteProviders {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			test(t, p)
		})
	}
}

func TestRemoteChat(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		m := newTestModels(t, testConfig(f, nil))

		resp, err := ask(t.Context(), m)
		if err != nil {
			t.Fatalf("GenerateContent: %v", err)
		}
		if got, want := resp.Choices[0].Content, f.answer(); got != want {
			t.Errorf("content = %q, want %q", got, want)
		}
		if u := UsageOf(resp); u.PromptTokens != 11 || u.CompletionTokens != len(f.chunks) || u.Estimated {
			t.Errorf("usage = %+v, want the server's 11 prompt / %d completion tokens", u, len(f.chunks))
		}
		reqs := f.recorded()
		if len(reqs) != 1 {
			t.Fatalf("server saw %d requests, want 1", len(reqs))
		}
		if got := reqs[0].Authorization; got != "Bearer test-key" {
			t.Errorf("Authorization = %q, want the API key as a bearer token", got)
		}
		if got := reqs[0].Body["model"]; got != "chat-model" {
			t.Errorf("request model = %v, want chat-model", got)
		}
		if m.Info.Provider != provider || m.Info.ChatModel != "chat-model" || m.Info.EmbedModel != "embed-model" || m.Info.Offline {
			t.Errorf("Info = %+v, want provider %s with the configured models", m.Info, provider)
		}
		if !strings.Contains(m.Info.Label, "chat-model") {
			t.Errorf("Info.Label = %q, want it to name the chat model", m.Info.Label)
		}
	})
}

func TestRemoteChatStreams(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		m := newTestModels(t, testConfig(f, nil))

		var got []string
		resp, err := ask(t.Context(), m, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			if len(chunk) > 0 { // OpenAI's first delta carries only the role
				got = append(got, string(chunk))
			}
			return nil
		}))
		if err != nil {
			t.Fatalf("GenerateContent: %v", err)
		}
		if strings.Join(got, "|") != strings.Join(f.chunks, "|") {
			t.Errorf("streamed chunks = %q, want %q in order", got, f.chunks)
		}
		if resp.Choices[0].Content != strings.Join(got, "") {
			t.Errorf("final content %q is not the concatenation of the chunks %q", resp.Choices[0].Content, got)
		}
		if u := UsageOf(resp); u.TotalTokens == 0 {
			t.Errorf("usage = %+v, want tokens reported", u)
		}
	})
}

// A stream that keeps delivering may run longer than Timeout; only
// silence longer than Timeout ends it.
func TestRemoteStreamTimeoutIsIdleTimeout(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		t.Run("steady stream outlives Timeout", func(t *testing.T) {
			f := newFakeServer(t, provider)
			// 5 chunks, 750ms in all: longer than Timeout, while each gap
			// stays well inside it even on a loaded 2-core CI machine.
			f.chunkDelay = 150 * time.Millisecond
			m := newTestModels(t, testConfig(f, func(c *Config) { c.Timeout = 600 * time.Millisecond }))
			resp, err := ask(t.Context(), m, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
			if err != nil {
				t.Fatalf("GenerateContent: %v", err)
			}
			if resp.Choices[0].Content != f.answer() {
				t.Errorf("content = %q, want %q", resp.Choices[0].Content, f.answer())
			}
		})
		t.Run("dropped stream fails instead of returning a truncated answer", func(t *testing.T) {
			f := newFakeServer(t, provider)
			f.dropAfter = 2
			m := newTestModels(t, testConfig(f, nil))
			resp, err := ask(t.Context(), m, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("err = %v, response %+v; want ErrInterrupted", err, resp)
			}
		})
		t.Run("stalled stream fails instead of returning a truncated answer", func(t *testing.T) {
			f := newFakeServer(t, provider)
			f.stallAfter = 2
			m := newTestModels(t, testConfig(f, func(c *Config) { c.Timeout = 200 * time.Millisecond }))
			start := time.Now()
			_, err := ask(t.Context(), m, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %s to notice a stalled stream", elapsed)
			}
		})
	})
}

func TestRemoteErrors(t *testing.T) {
	tests := []struct {
		name         string
		steps        []fakeStep
		wantRequests int
		wantStatus   int
		wantInError  []string
	}{
		{
			name:         "500 is retried then reported",
			steps:        []fakeStep{{status: 500}, {status: 500}, {status: 500}},
			wantRequests: 3, // MaxRetries 2
			wantStatus:   500,
			wantInError:  []string{"HTTP 500", "after 3 attempts", "retries exhausted"},
		},
		{
			name:         "400 is not retried",
			steps:        []fakeStep{{status: 400}},
			wantRequests: 1,
			wantStatus:   400,
			wantInError:  []string{"HTTP 400", "not retried", "scripted failure 400"},
		},
		{
			name:         "503 with an empty body is still an error",
			steps:        []fakeStep{{status: 503, body: " "}, {status: 503, body: " "}, {status: 503, body: " "}},
			wantRequests: 3,
			wantStatus:   503,
			wantInError:  []string{"HTTP 503", "retries exhausted"},
		},
		{
			name:         "transient 502 recovers",
			steps:        []fakeStep{{status: 502}},
			wantRequests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachProvider(t, func(t *testing.T, provider string) {
				f := newFakeServer(t, provider)
				f.fail(tt.steps...)
				var logs logBuffer
				m, err := New(t.Context(), testConfig(f, nil), logs.logger())
				if err != nil {
					t.Fatal(err)
				}
				_, err = ask(t.Context(), m)
				if got := len(f.recorded()); got != tt.wantRequests {
					t.Errorf("server saw %d requests, want %d", got, tt.wantRequests)
				}
				if tt.wantStatus == 0 {
					if err != nil {
						t.Fatalf("GenerateContent: %v", err)
					}
					if !strings.Contains(logs.String(), "retrying") {
						t.Errorf("retry not logged; logs:\n%s", logs.String())
					}
					return
				}
				var ce *CallError
				if !errors.As(err, &ce) || ce.Status != tt.wantStatus {
					t.Fatalf("err = %v, want a *CallError with status %d", err, tt.wantStatus)
				}
				for _, want := range tt.wantInError {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			})
		})
	}
}

func TestRemoteHonoursRetryAfter(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		f.fail(fakeStep{status: http.StatusTooManyRequests, retryAfter: "1"})
		m := newTestModels(t, testConfig(f, nil))

		if _, err := ask(t.Context(), m); err != nil {
			t.Fatalf("GenerateContent: %v", err)
		}
		reqs := f.recorded()
		if len(reqs) != 2 {
			t.Fatalf("server saw %d requests, want 2", len(reqs))
		}
		if wait := reqs[1].At.Sub(reqs[0].At); wait < 950*time.Millisecond || wait > 2500*time.Millisecond {
			t.Errorf("waited %s between attempts, want about the 1s Retry-After", wait)
		}
	})
}

func TestRemoteRetryAfterIsCapped(t *testing.T) {
	f := newFakeServer(t, ProviderOpenAI)
	f.fail(fakeStep{status: http.StatusServiceUnavailable, retryAfter: "3600"})
	m := newTestModels(t, testConfig(f, func(c *Config) { c.RetryMaxDelay = 50 * time.Millisecond }))
	start := time.Now()
	if _, err := ask(t.Context(), m); err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %s; Retry-After should be capped by RetryMaxDelay", elapsed)
	}
}

func TestRemoteTimeout(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		f.delay = 3 * time.Second
		m := newTestModels(t, testConfig(f, func(c *Config) { c.Timeout = 200 * time.Millisecond }))

		start := time.Now()
		_, err := ask(t.Context(), m)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error %q does not say it timed out", err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("call took %s with a 200ms timeout", elapsed)
		}
		_, err = m.Embedder.EmbedQuery(t.Context(), "hello")
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("embed err = %v, want ErrTimeout", err)
		}
	})
}

func TestRemoteConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	for _, provider := range remoteProviders {
		t.Run(provider, func(t *testing.T) {
			m := newTestModels(t, Config{
				Provider: provider, BaseURL: "http://" + addr + "/v1", ChatModel: "c", EmbedModel: "e",
				MaxRetries: 1, RetryBaseDelay: time.Millisecond,
			})
			_, err := ask(t.Context(), m)
			var ce *CallError
			if !errors.As(err, &ce) || ce.Status != 0 || ce.Attempts != 2 {
				t.Fatalf("err = %v, want a connection *CallError after 2 attempts", err)
			}
			if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "retries exhausted") {
				t.Errorf("error %q should name the cause and say retries were exhausted", err)
			}
		})
	}
}

func TestRemoteCircuitBreakerOpens(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		for range 10 {
			f.fail(fakeStep{status: http.StatusServiceUnavailable})
		}
		m := newTestModels(t, testConfig(f, func(c *Config) {
			c.MaxRetries = -1
			c.BreakerFailures = 2
			c.BreakerCooldown = time.Minute
		}))
		for i := range 2 {
			if _, err := ask(t.Context(), m); errors.Is(err, ErrCircuitOpen) || err == nil {
				t.Fatalf("call %d: err = %v, want the server's 503", i+1, err)
			}
		}
		start := time.Now()
		_, err := ask(t.Context(), m)
		if !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("third call: err = %v, want ErrCircuitOpen", err)
		}
		if !strings.Contains(err.Error(), "2 consecutive failed calls") {
			t.Errorf("error %q should explain why the breaker is open", err)
		}
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("open breaker took %s to answer; it should fail fast", time.Since(start))
		}
		if got := len(f.recorded()); got != 2 {
			t.Errorf("server saw %d requests, want 2: an open breaker sends nothing", got)
		}
	})
}

// Client errors say nothing about the provider's health: they must not
// open the breaker.
func TestRemoteBreakerIgnoresClientErrors(t *testing.T) {
	f := newFakeServer(t, ProviderOpenAI)
	f.fail(fakeStep{status: 400}, fakeStep{status: 401}, fakeStep{status: 404})
	m := newTestModels(t, testConfig(f, func(c *Config) { c.BreakerFailures = 2 }))
	for range 3 {
		_, _ = ask(t.Context(), m)
	}
	if _, err := ask(t.Context(), m); err != nil {
		t.Fatalf("after client errors: %v, want the breaker still closed", err)
	}
}

func TestRemoteUsageEstimatedWhenServerReportsNone(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		f.noUsage = true
		m := newTestModels(t, testConfig(f, nil))
		resp, err := ask(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		u := UsageOf(resp)
		if !u.Estimated || u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
			t.Errorf("usage = %+v, want estimated prompt and completion tokens", u)
		}
	})
}

func TestRemoteEmbeddings(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		m := newTestModels(t, testConfig(f, func(c *Config) {
			c.EmbedBatchSize = 2
			c.EmbedWorkers = 3
		}))
		texts := []string{"a", "bb", "ccc", "dddd", "eeeee\nwith a newline"}
		vs, err := m.Embedder.EmbedDocuments(t.Context(), texts)
		if err != nil {
			t.Fatalf("EmbedDocuments: %v", err)
		}
		if len(vs) != len(texts) {
			t.Fatalf("got %d vectors for %d texts", len(vs), len(texts))
		}
		for i, v := range vs {
			if len(v) != 4 || int(v[0]) != len(texts[i]) {
				t.Errorf("vector %d = %v, want 4 dims for text %q (in input order)", i, v, texts[i])
			}
		}
		if texts[4] != "eeeee\nwith a newline" {
			t.Errorf("EmbedDocuments changed the caller's slice: %q", texts[4])
		}
		for _, r := range f.recorded() {
			if r.Authorization != "Bearer test-key" {
				t.Errorf("%s: Authorization = %q", r.Path, r.Authorization)
			}
			if r.Body["model"] != "embed-model" {
				t.Errorf("%s: model = %v, want the embedding model", r.Path, r.Body["model"])
			}
		}
		v, err := m.Embedder.EmbedQuery(t.Context(), "query")
		if err != nil || len(v) != 4 {
			t.Fatalf("EmbedQuery = %v, %v", v, err)
		}
		if err := m.Check(t.Context()); err != nil {
			t.Errorf("Check: %v", err)
		}
	})
}

func TestRemoteEmbeddingDimensionMismatch(t *testing.T) {
	forEachProvider(t, func(t *testing.T, provider string) {
		f := newFakeServer(t, provider)
		f.dim = 3
		m := newTestModels(t, testConfig(f, nil)) // expects 4

		_, err := m.Embedder.EmbedDocuments(t.Context(), []string{"one", "two"})
		if !errors.Is(err, ErrDimension) {
			t.Fatalf("EmbedDocuments err = %v, want ErrDimension", err)
		}
		for _, want := range []string{"returned 3 dimensions", "has 4", "DEALDESK_EMBED_DIM"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if err := m.Check(t.Context()); !errors.Is(err, ErrDimension) {
			t.Errorf("Check err = %v, want ErrDimension", err)
		}
	})
}

func TestRemoteCallerCancellation(t *testing.T) {
	f := newFakeServer(t, ProviderOpenAI)
	f.delay = 2 * time.Second
	m := newTestModels(t, testConfig(f, func(c *Config) { c.BreakerFailures = 1 }))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := ask(ctx, m)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want the caller's own deadline, not ErrTimeout", err)
	}
	f.setDelay(0)
	if _, err := ask(t.Context(), m); err != nil {
		t.Errorf("a caller giving up must not open the breaker: %v", err)
	}
}

func TestMixedProviders(t *testing.T) {
	f := newFakeServer(t, ProviderOpenAI)
	m := newTestModels(t, testConfig(f, func(c *Config) {
		c.EmbedProvider = ProviderOffline
		c.EmbedDim = 64
	}))
	if _, ok := m.Embedder.(*OfflineEmbedder); !ok {
		t.Fatalf("Embedder is %T, want *OfflineEmbedder", m.Embedder)
	}
	v, err := m.Embedder.EmbedQuery(t.Context(), "hello")
	if err != nil || len(v) != 64 {
		t.Fatalf("EmbedQuery = %d dims, %v", len(v), err)
	}
	if m.Info.Provider != ProviderOpenAI || m.Info.EmbedProvider != ProviderOffline || m.Info.Offline {
		t.Errorf("Info = %+v", m.Info)
	}
	if _, err := ask(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAIMaxTokensField(t *testing.T) {
	tests := []struct {
		legacy       bool
		field, other string
	}{
		{legacy: false, field: "max_completion_tokens", other: "max_tokens"},
		{legacy: true, field: "max_tokens", other: "max_completion_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			f := newFakeServer(t, ProviderOpenAI)
			m := newTestModels(t, testConfig(f, func(c *Config) { c.LegacyMaxTokens = tt.legacy }))
			callerMeta := map[string]any{"tenant": "t1"}
			if _, err := ask(t.Context(), m, llms.WithMaxTokens(42), llms.WithMetadata(callerMeta)); err != nil {
				t.Fatal(err)
			}
			body := f.recorded()[0].Body
			if body[tt.field] != float64(42) || body[tt.other] != nil {
				t.Errorf("request has %s=%v and %s=%v; want only %s=42", tt.field, body[tt.field], tt.other, body[tt.other], tt.field)
			}
			if len(callerMeta) != 1 {
				t.Errorf("the caller's metadata map was modified: %v", callerMeta)
			}
		})
	}
}

func TestOpenAIEmbedRequestDim(t *testing.T) {
	for _, send := range []bool{false, true} {
		f := newFakeServer(t, ProviderOpenAI)
		m := newTestModels(t, testConfig(f, func(c *Config) { c.EmbedRequestDim = send }))
		if _, err := m.Embedder.EmbedQuery(t.Context(), "x"); err != nil {
			t.Fatal(err)
		}
		got, present := f.recorded()[0].Body["dimensions"]
		if present != send || (send && got != float64(4)) {
			t.Errorf("EmbedRequestDim=%v: request dimensions = %v (present %v)", send, got, present)
		}
	}
}
