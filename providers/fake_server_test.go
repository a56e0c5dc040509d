package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer speaks the OpenAI-compatible or the Ollama wire protocol,
// as the real servers do, so that the langchaingo clients are exercised
// for real. Failures are scripted per request.
type fakeServer struct {
	*httptest.Server
	provider string

	mu       sync.Mutex
	script   []fakeStep // consumed one per request; afterwards requests succeed
	requests []fakeRequest

	chunks     []string      // the answer, in the pieces a stream sends
	chunkDelay time.Duration // pause before each streamed piece
	stallAfter int           // when > 0, a stream stalls after this many pieces
	dropAfter  int           // when > 0, the connection drops after this many pieces
	delay      time.Duration // pause before answering at all
	dim        int           // embedding dimension returned
	noUsage    bool          // leave token usage out, as some servers do
}

// fakeStep is one scripted failure.
type fakeStep struct {
	status     int
	retryAfter string
	body       string // raw body; default is the provider's JSON error
}

type fakeRequest struct {
	Path          string
	Authorization string
	Body          map[string]any
	At            time.Time
}

func newFakeServer(t *testing.T, provider string) *fakeServer {
	t.Helper()
	f := &fakeServer{provider: provider, chunks: []string{"Hello", " from", " the", " fake", " model."}, dim: 4}
	mux := http.NewServeMux()
	switch provider {
	case ProviderOpenAI:
		mux.HandleFunc("POST /v1/chat/completions", f.openAIChat)
		mux.HandleFunc("POST /v1/embeddings", f.openAIEmbeddings)
	case ProviderOllama:
		mux.HandleFunc("POST /api/chat", f.ollamaChat)
		mux.HandleFunc("POST /api/embed", f.ollamaEmbed)
	default:
		t.Fatalf("fake server: unknown provider %q", provider)
	}
	f.Server = httptest.NewServer(f.intercept(mux))
	t.Cleanup(f.Close)
	return f
}

// baseURL is what Config.BaseURL should be for this server.
func (f *fakeServer) baseURL() string {
	if f.provider == ProviderOpenAI {
		return f.URL + "/v1"
	}
	return f.URL
}

func (f *fakeServer) fail(steps ...fakeStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, steps...)
}

func (f *fakeServer) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *fakeServer) recorded() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

// intercept records each request and plays the next scripted failure.
func (f *fakeServer) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.Body = io.NopCloser(bytes.NewReader(raw))

		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body, At: time.Now()})
		var step *fakeStep
		if len(f.script) > 0 {
			step = &f.script[0]
			f.script = f.script[1:]
		}
		delay := f.delay
		f.mu.Unlock()

		if !sleepCtx(r, delay) {
			return
		}
		if step == nil {
			next.ServeHTTP(w, r)
			return
		}
		if step.retryAfter != "" {
			w.Header().Set("Retry-After", step.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(step.status)
		switch {
		case step.body != "":
			io.WriteString(w, step.body)
		case f.provider == ProviderOpenAI:
			fmt.Fprintf(w, `{"error":{"message":"scripted failure %d","type":"server_error"}}`, step.status)
		default:
			fmt.Fprintf(w, `{"error":"scripted failure %d"}`, step.status)
		}
	})
}

// sleepCtx pauses for d unless the client goes away first.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

func (f *fakeServer) answer() string { return strings.Join(f.chunks, "") }

// stream sends the answer piece by piece through send, honouring the
// configured pauses and stall. It reports false when the client left.
func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request, send func(piece string)) bool {
	flusher := w.(http.Flusher)
	for i, piece := range f.chunks {
		if f.stallAfter > 0 && i == f.stallAfter {
			<-r.Context().Done()
			return false
		}
		if f.dropAfter > 0 && i == f.dropAfter {
			panic(http.ErrAbortHandler) // the server drops the connection mid-body
		}
		if !sleepCtx(r, f.chunkDelay) {
			return false
		}
		send(piece)
		flusher.Flush()
	}
	return true
}

func (f *fakeServer) openAIChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	usage := map[string]int{"prompt_tokens": 11, "completion_tokens": len(f.chunks), "total_tokens": 11 + len(f.chunks)}
	if !req.Stream {
		resp := map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": req.Model,
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": f.answer()},
			}},
		}
		if !f.noUsage {
			resp["usage"] = usage
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	event := func(choices []any, extra map[string]any) {
		chunk := map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": req.Model, "choices": choices}
		for k, v := range extra {
			chunk[k] = v
		}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	event(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	if !f.stream(w, r, func(piece string) { event(delta(map[string]any{"content": piece}, nil), nil) }) {
		return
	}
	event(delta(map[string]any{}, "stop"), nil)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !f.noUsage {
		event([]any{}, map[string]any{"usage": usage})
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

func (f *fakeServer) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	data := make([]any, len(req.Input))
	for i, text := range req.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": f.vector(text)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)},
	})
}

func (f *fakeServer) ollamaChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	final := map[string]any{
		"model": req.Model, "created_at": "2024-06-01T00:00:00Z", "done": true, "done_reason": "stop",
		"total_duration": 1000, "load_duration": 10, "prompt_eval_duration": 100, "eval_duration": 500,
	}
	if !f.noUsage {
		final["prompt_eval_count"] = 11
		final["eval_count"] = len(f.chunks)
	}
	// Ollama streams unless the request says "stream": false.
	if req.Stream != nil && !*req.Stream {
		final["message"] = map[string]any{"role": "assistant", "content": f.answer()}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(final)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	if !f.stream(w, r, func(piece string) {
		_ = enc.Encode(map[string]any{
			"model": req.Model, "created_at": "2024-06-01T00:00:00Z", "done": false,
			"message": map[string]any{"role": "assistant", "content": piece},
		})
	}) {
		return
	}
	final["message"] = map[string]any{"role": "assistant", "content": ""}
	_ = enc.Encode(final)
}

func (f *fakeServer) ollamaEmbed(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	var inputs []string
	if err := json.Unmarshal(req.Input, &inputs); err != nil {
		var one string
		_ = json.Unmarshal(req.Input, &one)
		inputs = []string{one}
	}
	vectors := make([]any, len(inputs))
	for i, text := range inputs {
		vectors[i] = f.vector(text)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"model": req.Model, "embeddings": vectors,
		"total_duration": 1000, "load_duration": 10, "prompt_eval_count": len(inputs),
	})
}

// vector returns a vector whose first component is the length of text, so
// tests can tell which vector belongs to which text.
func (f *fakeServer) vector(text string) []float32 {
	v := make([]float32, f.dim)
	if f.dim > 0 {
		v[0] = float32(len(text))
	}
	return v
}

// logBuffer collects log output safely from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
