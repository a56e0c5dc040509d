package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// retryTransport is the http.RoundTripper under the langchaingo clients.
// It retries requests that failed for reasons worth retrying (connection
// errors and 408/429/5xx gateway-ish statuses) with exponential backoff and
// full jitter, honours Retry-After, and records what happened in the
// call's exchange so that the guard can explain failures: the langchaingo
// clients replace transport errors with generic messages.
//
// Retrying here is safe for streamed responses: a retry only ever happens
// before any of the body has been handed to the client.
type retryTransport struct {
	base       http.RoundTripper
	provider   string
	apiKey     string // sent as a bearer token when the client sets none (Ollama's client never does)
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration
	logger     *slog.Logger
}

// maxDrain bounds how much of a failed response body is read so the
// connection can be reused.
const maxDrain = 64 << 10

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	ex := exchangeFrom(ctx)
	if t.apiKey != "" && req.Header.Get("Authorization") == "" {
		req = req.Clone(ctx)
		req.Header.Set("Authorization", "Bearer "+t.apiKey)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil

	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replay request body: %w", err)
			}
			try = req.Clone(ctx)
			try.Body = body
		}
		resp, err := t.base.RoundTrip(try)
		ex.record(attempt, resp, err)
		// Only the response handed to the client is watched: draining a
		// discarded one may fail without saying anything about the call.
		deliver := func() (*http.Response, error) {
			if resp != nil {
				resp.Body = &watchedBody{ReadCloser: resp.Body, ex: ex}
			}
			return resp, err
		}

		if !retryable(ctx, resp, err) {
			return deliver()
		}
		wait := t.backoff(attempt)
		if resp != nil {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = min(ra, t.maxDelay)
			}
		}
		switch {
		case !replayable:
			ex.giveUp("the request body cannot be replayed")
			return deliver()
		case attempt > t.maxRetries:
			ex.giveUp("retries exhausted")
			return deliver()
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			ex.giveUp(fmt.Sprintf("the next retry (in %s) would pass the call deadline", wait.Round(time.Millisecond)))
			return deliver()
		}

		attrs := []slog.Attr{
			slog.String("provider", t.provider),
			slog.String("path", req.URL.Path),
			slog.Int("attempt", attempt),
			slog.Int("max_retries", t.maxRetries),
			slog.Duration("wait", wait),
		}
		if resp != nil {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			drainAndClose(resp.Body)
		} else {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		t.logger.LogAttrs(ctx, slog.LevelWarn, "model request failed, retrying", attrs...)

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, context.Cause(ctx)
		case <-timer.C:
		}
	}
}

// backoff returns the full-jitter wait before retry number attempt:
// uniform in [0, min(maxDelay, baseDelay·2^(attempt-1))].
func (t *retryTransport) backoff(attempt int) time.Duration {
	ceil := t.maxDelay
	if shift := attempt - 1; shift < 32 {
		ceil = min(ceil, t.baseDelay<<shift)
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// retryable reports whether a request that ended in resp or err is worth
// sending again. Errors after the caller's context ended are not: the
// caller has stopped waiting.
func retryable(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return true
	}
	return retryableStatus(resp.StatusCode)
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// exchange records the HTTP side of one guarded call; the transport fills
// it in, the guard reads it to classify and explain the outcome.
type exchange struct {
	mu sync.Mutex
	o  outcome
}

// outcome is what an exchange saw. A call may send several requests
// (batches, retries): it keeps the last.
type outcome struct {
	attempts int    // attempts of the last request
	status   int    // last HTTP status, 0 if none
	lastErr  error  // last transport error
	bodyErr  error  // a response body that broke off mid-read
	gaveUp   string // why the transport stopped retrying, if it did
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// exchangeFrom returns the call's record, or a throwaway one for requests
// made outside a guarded call.
func exchangeFrom(ctx context.Context) *exchange {
	if ex, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return ex
	}
	return &exchange{}
}

func (ex *exchange) record(attempt int, resp *http.Response, err error) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.o.attempts, ex.o.gaveUp = attempt, ""
	if err != nil {
		ex.o.status, ex.o.lastErr = 0, err
		return
	}
	ex.o.status, ex.o.lastErr = resp.StatusCode, nil
}

func (ex *exchange) giveUp(reason string) {
	ex.mu.Lock()
	ex.o.gaveUp = reason
	ex.mu.Unlock()
}

func (ex *exchange) bodyFailed(err error) {
	ex.mu.Lock()
	if ex.o.bodyErr == nil {
		ex.o.bodyErr = err
	}
	ex.mu.Unlock()
}

func (ex *exchange) outcome() outcome {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.o
}

// watchedBody notes a response body that fails mid-read. The langchaingo
// clients can take a failed read for the end of a stream and return a
// truncated answer without an error; the guard turns that into one.
type watchedBody struct {
	io.ReadCloser
	ex *exchange
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.ex.bodyFailed(err)
	}
	return n, err
}
