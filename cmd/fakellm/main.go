// Command fakellm is a benchmark fixture, not a model: an OpenAI-compatible
// chat server that answers every request with the same canned text after a
// fixed delay. `make bench` points a second DealDesk server at it to measure
// what the server adds around a model call (retrieval, prompt rendering,
// validation, storage, HTTP): with the model's own time fixed by -delay and
// -chunk-delay, whatever a client sees beyond it is the server's.
//
// It serves POST /v1/chat/completions, as one JSON answer with usage or,
// when the request sets "stream": true, as server-sent chat.completion.chunk
// events (a usage chunk when stream_options.include_usage is set, then
// [DONE]), and GET /v1/models. The default answer is a valid email_draft@v1
// output; -answer-file replaces it. GET /stats reports the fake's own time
// per call as it measured it (arrival to first byte, arrival to last byte),
// so a benchmark can tell the fixture's timer and scheduling delays from
// the server's; POST /stats/reset clears them.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

//go:embed email_draft.json
var defaultAnswer string

// fake is the chat server: a fixed answer and fixed delays.
type fake struct {
	answer     string
	delay      time.Duration // before the first byte of an answer
	chunk      int           // bytes per streamed piece, rounded up to whole runes
	chunkDelay time.Duration // between streamed pieces
	model      string        // reported when the request names none

	mu         sync.Mutex
	firstBytes []time.Duration
	totals     []time.Duration
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address (port 0 picks a free one; the address is printed)")
	delay := flag.Duration("delay", 100*time.Millisecond, "wait before the first byte of every answer")
	chunk := flag.Int("chunk", 16, "bytes of answer text per streamed chunk (rounded up to whole UTF-8 characters)")
	chunkDelay := flag.Duration("chunk-delay", 0, "wait between streamed chunks")
	answerFile := flag.String("answer-file", "", "file with the answer text (default: a valid email_draft@v1 answer)")
	model := flag.String("model", "fake-chat", "model name reported when a request names none")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *chunk < 1 || *delay < 0 || *chunkDelay < 0 {
		log.Error("fakellm: -chunk must be at least 1 and delays must not be negative")
		os.Exit(2)
	}
	f := &fake{answer: defaultAnswer, delay: *delay, chunk: *chunk, chunkDelay: *chunkDelay, model: *model}
	if *answerFile != "" {
		b, err := os.ReadFile(*answerFile)
		if err != nil {
			log.Error("fakellm: read answer", "err", err)
			os.Exit(1)
		}
		f.answer = string(b)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("fakellm: listen", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: f.routes(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("fakellm: listening on http://%s/v1 (delay %s, chunk %d bytes, chunk delay %s)\n",
		ln.Addr(), f.delay, f.chunk, f.chunkDelay)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("fakellm: serve", "err", err)
		os.Exit(1)
	}
}

func (f *fake) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.chat)
	mux.HandleFunc("GET /v1/models", f.models)
	mux.HandleFunc("GET /stats", f.stats)
	mux.HandleFunc("POST /stats/reset", f.resetStats)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "invalid_request_error", "no route for "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// chatRequest is the part of an OpenAI chat request the fake looks at.
type chatRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Content any `json:"content"` // a string or a list of parts
	} `json:"messages"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (f *fake) chat(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "request body: "+err.Error())
		return
	}
	if len(req.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "messages must not be empty")
		return
	}
	if req.Model == "" {
		req.Model = f.model
	}
	// The delay counts from the request's arrival, so that the fake's own
	// time to its first byte is the delay, not the delay plus the time it
	// took to read and decode the request.
	if !sleepUntil(r.Context(), arrived.Add(f.delay)) {
		return
	}
	// Token counts are rough (about four bytes a token): a real count
	// would need the model's tokenizer, and the benchmark only needs the
	// usage fields to be there.
	u := usage{PromptTokens: max(1, len(body)/4), CompletionTokens: max(1, len(f.answer)/4)}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	id := fmt.Sprintf("chatcmpl-fake-%d", arrived.UnixNano())
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": arrived.Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": f.answer}}},
			"usage": u,
		})
		f.record(arrived, time.Time{}, time.Now())
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		apiError(w, http.StatusInternalServerError, "server_error", "cannot stream")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	event := func(v map[string]any) {
		v["id"], v["object"], v["created"], v["model"] = id, "chat.completion.chunk", arrived.Unix(), req.Model
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	delta := func(d map[string]any, finish any) map[string]any {
		return map[string]any{"choices": []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}}
	}
	// The role and the first piece of text leave together, as the first
	// bytes after the delay.
	event(delta(map[string]any{"role": "assistant", "content": ""}, nil))
	var first time.Time
	for rest := f.answer; rest != ""; {
		n := min(f.chunk, len(rest))
		for n < len(rest) && !utf8.RuneStart(rest[n]) {
			n++
		}
		if !first.IsZero() && !sleepUntil(r.Context(), time.Now().Add(f.chunkDelay)) {
			return
		}
		event(delta(map[string]any{"content": rest[:n]}, nil))
		flusher.Flush()
		if first.IsZero() {
			first = time.Now()
		}
		rest = rest[n:]
	}
	event(delta(map[string]any{}, "stop"))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		event(map[string]any{"choices": []any{}, "usage": u})
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	flusher.Flush()
	f.record(arrived, first, time.Now())
}

func (f *fake) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{
		map[string]any{"id": f.model, "object": "model", "created": 1700000000, "owned_by": "fakellm"},
	}})
}

// timerSlack is how late a Go timer may fire: the runtime waits for timers
// in whole milliseconds (epoll_wait), so a 100 ms timer fires up to about a
// millisecond late. sleepUntil stops its timer that long before the
// deadline and sleeps the rest in the kernel, which wakes it within tens of
// microseconds: otherwise the fake's lateness (0.9 ms at the median, as
// its /stats showed) would be counted as the server's overhead.
const timerSlack = 2 * time.Millisecond

// sleepUntil waits until deadline or until ctx ends, and reports whether
// the wait completed. The last timerSlack of the wait does not watch ctx.
func sleepUntil(ctx context.Context, deadline time.Time) bool {
	if d := time.Until(deadline) - timerSlack; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	if d := time.Until(deadline); d > 0 {
		ts := syscall.NsecToTimespec(d.Nanoseconds())
		// An interrupted sleep (EINTR) ends early; the fake then answers a
		// little early, which a caller sees in /stats.
		_ = syscall.Nanosleep(&ts, nil)
	}
	return ctx.Err() == nil
}

func apiError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": kind}})
}

func (f *fake) record(arrived, first, done time.Time) {
	if first.IsZero() {
		first = done
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.firstBytes = append(f.firstBytes, first.Sub(arrived))
	f.totals = append(f.totals, done.Sub(arrived))
}

// stats answers the fake's own time per call since the last reset, in
// milliseconds: from the arrival of a request to its first chunk of text
// (the whole answer when not streaming) and to its last byte.
func (f *fake) stats(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	first, total := slices.Clone(f.firstBytes), slices.Clone(f.totals)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"calls":          len(total),
		"configured_ms":  ms(f.delay),
		"first_p50_ms":   percentile(first, 0.50),
		"first_p99_ms":   percentile(first, 0.99),
		"first_max_ms":   percentile(first, 1),
		"total_p50_ms":   percentile(total, 0.50),
		"total_p99_ms":   percentile(total, 0.99),
		"total_max_ms":   percentile(total, 1),
		"chunk_bytes":    f.chunk,
		"chunk_delay_ms": ms(f.chunkDelay),
	})
}

func (f *fake) resetStats(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	f.firstBytes, f.totals = nil, nil
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ms(ds[int(p*float64(len(ds)-1))])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
