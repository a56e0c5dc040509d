package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/providers"
)

// fakeModel is an OpenAI-compatible chat server speaking the real wire
// protocol (JSON and server-sent event streams), answering from a script
// and recording what it was sent.
type fakeModel struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	answers  []string // one per call, in order; the last repeats
	calls    []fakeCall
	delay    time.Duration // before the first byte
	status   int           // when set, every call fails with this HTTP status
	chunkLen int           // bytes per streamed piece (rune-aligned), default 7
}

type fakeCall struct {
	Stream   bool
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	ResponseFormat any `json:"response_format"`
}

// text is everything the model was sent in one call.
func (c fakeCall) text() string {
	var b strings.Builder
	for _, m := range c.Messages {
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

func newFakeModel(t *testing.T, answers ...string) *fakeModel {
	f := &fakeModel{t: t, answers: answers, chunkLen: 7}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config points DealDesk at the fake for chat; embeddings stay offline.
func (f *fakeModel) config() providers.Config {
	return providers.Config{Provider: providers.ProviderOpenAI, BaseURL: f.srv.URL + "/v1", APIKey: "sk-test",
		ChatModel: "fake-chat", EmbedProvider: providers.ProviderOffline, MaxRetries: -1}
}

func (f *fakeModel) recorded() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeModel) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var call fakeCall
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	answer := f.answers[min(len(f.calls), len(f.answers))-1]
	delay, chunkLen, status := f.delay, f.chunkLen, f.status
	f.mu.Unlock()
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"message":"upstream is down","type":"server_error"}}`)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	usage := map[string]int{"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
	if !call.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "fake-chat",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": answer}}},
			"usage": usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	event := func(choices []any, extra map[string]any) {
		chunk := map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-chat", "choices": choices}
		for k, v := range extra {
			chunk[k] = v
		}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	event(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	for rest := answer; rest != ""; {
		n := min(chunkLen, len(rest))
		for n < len(rest) && !utf8.RuneStart(rest[n]) {
			n++
		}
		event(delta(map[string]any{"content": rest[:n]}, nil), nil)
		rest = rest[n:]
	}
	event(delta(map[string]any{}, "stop"), nil)
	event([]any{}, map[string]any{"usage": usage})
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}
