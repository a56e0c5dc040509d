// Command loadgen drives one HTTP endpoint with a fixed number of concurrent
// clients for a bounded time or request count and reports throughput and
// latency percentiles as a table and, optionally, JSON. It only targets the
// URL it is given; `make bench` points it at a server on the loopback
// address.
package main

import (
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
}

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

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
	flag.Var(&hdrs, "H", "header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" || *conc < 1 {
		flag.Usage()
		os.Exit(2)
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
	do := func(ctx context.Context) (int, error) {
		payload := payloads[int(turn.Add(1))%len(payloads)]
		req, err := http.NewRequestWithContext(ctx, *method, *url, bytes.NewBufferString(payload))
		if err != nil {
			return 0, err
		}
		for _, h := range hdrs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
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
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[string]int{}
		errs      int
		issued    int
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && next() {
				t0 := time.Now()
				code, err := do(ctx)
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						errs++
					}
				} else {
					latencies = append(latencies, lat)
					statuses[fmt.Sprint(code)]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p * float64(len(latencies)-1))
		return float64(latencies[i].Microseconds()) / 1000
	}
	var sum time.Duration
	for _, l := range latencies {
		sum += l
	}
	mean := 0.0
	if len(latencies) > 0 {
		mean = float64(sum.Microseconds()) / 1000 / float64(len(latencies))
	}
	r := result{MeanMs: mean,
		Name: *name, URL: *url, Concurrency: *conc, Requests: len(latencies), Errors: errs, Statuses: statuses,
		Seconds: elapsed.Seconds(), RPS: float64(len(latencies)) / elapsed.Seconds(),
		P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99), MaxMs: pct(1),
	}
	fmt.Printf("%-28s c=%-3d n=%-7d err=%-4d %8.0f req/s  mean %7.2f ms  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  statuses %v\n",
		r.Name, r.Concurrency, r.Requests, r.Errors, r.RPS, r.MeanMs, r.P50ms, r.P90ms, r.P99ms, r.Statuses)
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
