// Command loadgen drives one HTTP endpoint with a fixed number of concurrent
// clients for a bounded time or request count and reports throughput and
// latency percentiles as a table and, optionally, JSON. It only targets the
// URL it is given; `make bench` points it at a server on the loopback
// address.
//
// With -sse it asks for a server-sent event stream (the assistant tasks
// answer one) and also times the response headers, the first body byte and
// the first `start` and `token` events; an `error` event counts as an
// error. With -model-ms it subtracts the model's own time (known when the
// server talks to cmd/fakellm) from every latency and reports what is left
// as the server's overhead; with -timings it reads the "timings" of the
// answer (the JSON body, or the stream's `result` event) and reports the
// server's own split into retrieval and model time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Name        string         `json:"name"`
	URL         string         `json:"url"`
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	Statuses    map[string]int `json:"statuses"`
	Seconds     float64        `json:"seconds"`
	RPS         float64        `json:"rps"`
	MeanMs      float64        `json:"mean_ms"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	SSE         bool           `json:"sse,omitempty"`
	ModelMs     float64        `json:"model_ms,omitempty"`
	ModelFirst  float64        `json:"model_first_ms,omitempty"`
	// phases are the further per-request figures (time to first token,
	// overhead, ...), written as <name>_p50_ms and <name>_p99_ms.
	phases []phase
}

// phase is the distribution of one per-request figure over the successful
// requests.
type phase struct {
	name     string
	p50, p99 float64
}

// MarshalJSON writes the result with its phases as flat fields, so a
// JSON line reads like {"name":..., "p99_ms":..., "first_token_p99_ms":...}.
func (r result) MarshalJSON() ([]byte, error) {
	type plain result
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.phases) == 0 {
		return b, err
	}
	buf := bytes.NewBuffer(b[:len(b)-1])
	for _, p := range r.phases {
		fmt.Fprintf(buf, ",%q:%s,%q:%s", p.name+"_p50_ms", jsonNumber(p.p50), p.name+"_p99_ms", jsonNumber(p.p99))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func jsonNumber(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// timings is the "timings" object of an assistant answer.
type timings struct {
	Total     float64 `json:"total_ms"`
	Retrieval float64 `json:"retrieval_ms"`
	Model     float64 `json:"model_ms"`
}

// sample is one answered request. The stream marks are zero when the
// mark was not reached (or -sse is off).
type sample struct {
	status                                int
	latency                               time.Duration
	headers, firstByte, start, firstToken time.Duration
	timings                               *timings // with -timings, when the answer had them
}

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// errStreamFailed marks a stream that ended in an `error` event or
// without a `result`.
var errStreamFailed = errors.New("stream failed")

func main() {
	var hdrs headers
	name := flag.String("name", "", "name of this measurement in the output")
	url := flag.String("url", "", "target URL (required)")
	method := flag.String("method", "GET", "HTTP method")
	body := flag.String("body", "", "request body")
	bodies := flag.String("bodies", "", "file with one request body per line, sent in turn (overrides -body)")
	conc := flag.Int("c", 8, "concurrent clients")
	n := flag.Int("n", 0, "total requests (0: run for -d)")
	d := flag.Duration("d", 10*time.Second, "duration when -n is 0; also the hard limit")
	warmup := flag.Int("warmup", 20, "requests sent before measuring")
	out := flag.String("json", "", "append the result as a JSON line to this file")
	sse := flag.Bool("sse", false, "ask for a server-sent event stream (Accept: text/event-stream) and time its headers, first byte, first start and token events")
	modelMs := flag.Float64("model-ms", 0, "the model's own time per request in ms (e.g. cmd/fakellm's -delay): report latency minus it as overhead")
	modelFirstMs := flag.Float64("model-first-ms", 0, "the model's own time to its first chunk in ms, for -sse (0: -model-ms)")
	flag.Var(&hdrs, "H", "header 'Name: value' (repeatable)")
	withTimings := flag.Bool("timings", false, "read the answer's timings (retrieval_ms, model_ms) and report them and latency minus model_ms")
	flag.Parse()
	if *url == "" || *conc < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *modelFirstMs <= 0 {
		*modelFirstMs = *modelMs
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}}
	payloads := []string{*body}
	if *bodies != "" {
		b, err := os.ReadFile(*bodies)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		payloads = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	var turn atomic.Int64
	do := func(ctx context.Context) (sample, error) {
		payload := payloads[int(turn.Add(1))%len(payloads)]
		req, err := http.NewRequestWithContext(ctx, *method, *url, bytes.NewBufferString(payload))
		if err != nil {
			return sample{}, err
		}
		for _, h := range hdrs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		if *sse {
			req.Header.Set("Accept", "text/event-stream")
		}
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return sample{}, err
		}
		defer res.Body.Close()
		s := sample{status: res.StatusCode, headers: time.Since(t0)}
		ok := res.StatusCode/100 == 2
		switch {
		case *sse && ok && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream"):
			err = readStream(&firstByteReader{r: res.Body, t0: t0, at: &s.firstByte}, t0, &s, *withTimings)
		case *withTimings && ok:
			var b []byte
			if b, err = io.ReadAll(res.Body); err == nil {
				s.timings = timingsOf(b)
			}
		default:
			_, err = io.Copy(io.Discard, res.Body)
		}
		s.latency = time.Since(t0)
		return s, err
	}
	for range *warmup {
		if _, err := do(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: warm-up:", err)
			os.Exit(1)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	var (
		mu       sync.Mutex
		samples  []sample
		statuses = map[string]int{}
		errs     int
		firstErr error
		issued   int
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if *n > 0 && issued >= *n {
			return false
		}
		issued++
		return true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			for ctx.Err() == nil && next() {
				s, err := do(ctx)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					// cut off by the end of the run: neither an answer nor an error
				case err != nil:
					errs++
					if firstErr == nil {
						firstErr = err
					}
				default:
					samples = append(samples, s)
					statuses[fmt.Sprint(s.status)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	latency := series(samples, func(s sample) (time.Duration, bool) { return s.latency, true })
	r := result{Name: *name, URL: *url, Concurrency: *conc, Requests: len(samples), Errors: errs, Statuses: statuses,
		Seconds: elapsed.Seconds(), RPS: float64(len(samples)) / elapsed.Seconds(), MeanMs: mean(latency),
		P50ms: percentile(latency, 0.50), P90ms: percentile(latency, 0.90), P99ms: percentile(latency, 0.99), MaxMs: percentile(latency, 1),
		SSE: *sse, ModelMs: *modelMs, ModelFirst: *modelFirstMs,
	}
	if !*sse {
		r.ModelFirst = 0
	}
	r.phases = phases(samples, *sse, *withTimings, msDuration(*modelMs), msDuration(*modelFirstMs))
	fmt.Printf("%-28s c=%-3d n=%-7d err=%-4d %8.0f req/s  mean %7.2f ms  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  statuses %v\n",
		r.Name, r.Concurrency, r.Requests, r.Errors, r.RPS, r.MeanMs, r.P50ms, r.P90ms, r.P99ms, r.Statuses)
	for _, p := range r.phases {
		fmt.Printf("    %-30s p50 %7.2f ms  p99 %7.2f ms\n", p.name, p.p50, p.p99)
	}
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %d errors; the first: %v\n", errs, firstErr)
	}
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer f.Close()
		_ = json.NewEncoder(f).Encode(r)
	}
}

// phases computes the per-request figures the flags ask for over the
// successful (2xx) samples. Differences are taken per request, then
// ranked: the p99 of overhead is not p99 latency minus the model's time.
func phases(samples []sample, sse, withTimings bool, model, modelFirst time.Duration) []phase {
	var ok []sample
	for _, s := range samples {
		if s.status/100 == 2 {
			ok = append(ok, s)
		}
	}
	var out []phase
	add := func(name string, f func(s sample) (time.Duration, bool)) {
		if xs := series(ok, f); len(xs) > 0 {
			out = append(out, phase{name: name, p50: percentile(xs, 0.50), p99: percentile(xs, 0.99)})
		}
	}
	mark := func(get func(s sample) time.Duration) func(s sample) (time.Duration, bool) {
		return func(s sample) (time.Duration, bool) { v := get(s); return v, v > 0 }
	}
	firstToken := mark(func(s sample) time.Duration { return s.firstToken })
	tokenAfterStart := func(s sample) (time.Duration, bool) {
		return s.firstToken - s.start, s.firstToken > 0 && s.start > 0
	}
	if sse {
		add("headers", mark(func(s sample) time.Duration { return s.headers }))
		add("ttfb", mark(func(s sample) time.Duration { return s.firstByte }))
		add("start", mark(func(s sample) time.Duration { return s.start }))
		add("first_token", firstToken)
		add("token_after_start", tokenAfterStart)
	}
	if model > 0 {
		add("overhead", func(s sample) (time.Duration, bool) { return s.latency - model, true })
	}
	if sse && modelFirst > 0 {
		minus := func(f func(s sample) (time.Duration, bool)) func(s sample) (time.Duration, bool) {
			return func(s sample) (time.Duration, bool) { v, ok := f(s); return v - modelFirst, ok }
		}
		add("first_token_over_model", minus(firstToken))
		add("token_after_start_over_model", minus(tokenAfterStart))
	}
	if withTimings {
		timing := func(get func(t *timings) float64) func(s sample) (time.Duration, bool) {
			return func(s sample) (time.Duration, bool) {
				if s.timings == nil {
					return 0, false
				}
				return msDuration(get(s.timings)), true
			}
		}
		add("retrieval", timing(func(t *timings) float64 { return t.Retrieval }))
		add("server_model", timing(func(t *timings) float64 { return t.Model }))
		add("outside_model", func(s sample) (time.Duration, bool) {
			if s.timings == nil {
				return 0, false
			}
			return s.latency - msDuration(s.timings.Model), true
		})
	}
	return out
}

// readStream reads a server-sent event stream to its end, marking the
// first `start` and `token` events, and fails on an `error` event or a
// stream without a `result`.
func readStream(body io.Reader, t0 time.Time, s *sample, withTimings bool) error {
	br := bufio.NewReader(body)
	var event string
	var data strings.Builder
	gotResult := false
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case line == "" && (event != "" || data.Len() > 0):
			switch event {
			case "start":
				if s.start == 0 {
					s.start = time.Since(t0)
				}
			case "token":
				if s.firstToken == 0 {
					s.firstToken = time.Since(t0)
				}
			case "result":
				gotResult = true
				if withTimings {
					s.timings = timingsOf([]byte(data.String()))
				}
			case "error":
				return fmt.Errorf("%w: event error: %s", errStreamFailed, data.String())
			}
			event = ""
			data.Reset()
		}
		if err == io.EOF {
			if !gotResult {
				return fmt.Errorf("%w: the stream ended without a result event", errStreamFailed)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// timingsOf returns the "timings" object of a JSON answer, or nil.
func timingsOf(b []byte) *timings {
	var v struct {
		Timings *timings `json:"timings"`
	}
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v.Timings
}

// firstByteReader records when the first byte of a body arrived.
type firstByteReader struct {
	r  io.Reader
	t0 time.Time
	at *time.Duration
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && *f.at == 0 {
		*f.at = time.Since(f.t0)
	}
	return n, err
}

// series returns f over the samples it holds for, sorted.
func series(samples []sample, f func(s sample) (time.Duration, bool)) []time.Duration {
	var xs []time.Duration
	for _, s := range samples {
		if v, ok := f(s); ok {
			xs = append(xs, v)
		}
	}
	slices.Sort(xs)
	return xs
}

// percentile of sorted xs, in milliseconds.
func percentile(xs []time.Duration, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return ms(xs[int(p*float64(len(xs)-1))])
}

func mean(xs []time.Duration) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range xs {
		sum += x
	}
	return ms(sum) / float64(len(xs))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func msDuration(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
