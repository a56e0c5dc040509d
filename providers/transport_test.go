package providers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"1", time.Second, true},
		{"120", 2 * time.Minute, true},
		{"-5", 0, true},
		{"Sat, 01 Jun 2024 12:00:30 GMT", 30 * time.Second, true},
		{"Sat, 01 Jun 2024 11:00:00 GMT", 0, true}, // already past
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffIsFullJitterWithCap(t *testing.T) {
	tr := &retryTransport{baseDelay: 100 * time.Millisecond, maxDelay: time.Second}
	for attempt := 1; attempt <= 40; attempt++ {
		ceil := min(time.Second, 100*time.Millisecond<<min(attempt-1, 20))
		var sawLow, sawHigh bool
		for range 200 {
			d := tr.backoff(attempt)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %s, want within [0, %s]", attempt, d, ceil)
			}
			sawLow = sawLow || d < ceil/3
			sawHigh = sawHigh || d > 2*ceil/3
		}
		if !sawLow || !sawHigh {
			t.Errorf("backoff(%d) is not spread over [0, %s]", attempt, ceil)
		}
	}
}

// A body that cannot be read twice must not be sent twice.
func TestTransportDoesNotReplayUnreplayableBodies(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tr := &retryTransport{base: http.DefaultTransport, maxRetries: 3, baseDelay: time.Millisecond, maxDelay: time.Millisecond, logger: slog.New(slog.DiscardHandler)}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("{}")))
	ex := &exchange{}
	req = req.WithContext(withExchange(req.Context(), ex))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", hits.Load())
	}
	if o := ex.outcome(); o.status != 503 || !strings.Contains(o.gaveUp, "cannot be replayed") {
		t.Errorf("outcome = %+v, want status 503 and the reason retries stopped", o)
	}

	// The same request with a replayable body is retried.
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1+4 {
		t.Errorf("server saw %d requests in all, want 5", hits.Load())
	}
}

func TestTransportKeepsClientAuthorization(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	tr := &retryTransport{base: http.DefaultTransport, apiKey: "transport-key", logger: slog.New(slog.DiscardHandler)}

	for _, tt := range []struct{ header, want string }{
		{"", "Bearer transport-key"},
		{"Bearer client-key", "Bearer client-key"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got.Load() != tt.want {
			t.Errorf("Authorization = %q, want %q", got.Load(), tt.want)
		}
		if tt.header == "" && req.Header.Get("Authorization") != "" {
			t.Error("RoundTrip modified the caller's request")
		}
	}
}
