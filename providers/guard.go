package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/llms"
)

// guard wraps every call to one remote model (chat or embeddings) with a
// time limit and a circuit breaker, and turns what the transport saw into
// an error that says what happened. Retries happen below it, in
// retryTransport, so one guarded call is one breaker event however many
// attempts it took.
type guard struct {
	name          string // "openai chat qwen-plus", the prefix of every error
	timeout       time.Duration
	streamTimeout time.Duration
	failures      int
	cooldown      time.Duration
	breaker       *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// errNotProviderFault marks outcomes the breaker must not count: the
// caller went away, or the request itself was bad.
var errNotProviderFault = errors.New("not a provider fault")

func newGuard(name string, cfg Config, logger *slog.Logger) *guard {
	g := &guard{
		name:          name,
		timeout:       cfg.Timeout,
		streamTimeout: cfg.StreamTimeout,
		failures:      cfg.BreakerFailures,
		cooldown:      cfg.BreakerCooldown,
	}
	g.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     cfg.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.BreakerFailures)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotProviderFault) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger.Warn("model circuit breaker changed state",
				slog.String("breaker", name), slog.String("from", from.String()), slog.String("to", to.String()))
		},
	})
	return g
}

// do runs call under the breaker and the time limit. For streamed calls
// the limit is an idle timeout: call must invoke alive on every chunk,
// and streamTimeout bounds the whole call.
func (g *guard) do(ctx context.Context, streamed bool, call func(ctx context.Context, alive func()) error) error {
	done, err := g.breaker.Allow()
	if err != nil {
		return fmt.Errorf("%s: %w after %d consecutive failed calls; calls resume after a %s cooldown (%w)",
			g.name, ErrCircuitOpen, g.failures, g.cooldown, err)
	}
	ex := &exchange{}
	callCtx, cancel, alive := g.limit(withExchange(ctx, ex), streamed)
	err = call(callCtx, alive)
	// Classify before cancel: afterwards every context reads as done.
	fault, err := classify(ctx, callCtx, ex.outcome(), err)
	cancel()
	switch {
	case err == nil:
		done(nil)
	case fault:
		done(err)
	default:
		done(errNotProviderFault)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", g.name, err)
	}
	return nil
}

func (g *guard) limit(ctx context.Context, streamed bool) (context.Context, func(), func()) {
	if !streamed {
		cause := fmt.Errorf("%w after %s: %w", ErrTimeout, g.timeout, context.DeadlineExceeded)
		ctx, cancel := context.WithTimeoutCause(ctx, g.timeout, cause)
		return ctx, cancel, func() {}
	}
	total := fmt.Errorf("%w: stream still running after %s: %w", ErrTimeout, g.streamTimeout, context.DeadlineExceeded)
	ctx, cancelTotal := context.WithTimeoutCause(ctx, g.streamTimeout, total)
	ctx, cancelIdle := context.WithCancelCause(ctx)
	idle := fmt.Errorf("%w: no data for %s: %w", ErrTimeout, g.timeout, context.DeadlineExceeded)
	timer := time.AfterFunc(g.timeout, func() { cancelIdle(idle) })
	cancel := func() {
		timer.Stop()
		cancelIdle(nil)
		cancelTotal()
	}
	return ctx, cancel, func() { timer.Reset(g.timeout) }
}

// classify turns the outcome of a call into whether it counts against the
// provider and the error to return. It distrusts a nil error: the Ollama
// client returns an empty or truncated answer without an error when its
// stream breaks off or times out (and it streams even "non-streamed"
// calls), and ignores error statuses whose body is empty; the OpenAI
// client can drop the error when the context ends mid-stream, because its
// reader goroutine races the cancellation.
func classify(parent, callCtx context.Context, ex outcome, err error) (fault bool, _ error) {
	switch {
	case parent.Err() != nil:
		return false, fmt.Errorf("call abandoned by caller: %w", context.Cause(parent))
	case callCtx.Err() != nil:
		cause := context.Cause(callCtx)
		if ex.status >= http.StatusBadRequest {
			cause = fmt.Errorf("%w (last response: HTTP %d after %d attempts)", cause, ex.status, ex.attempts)
		}
		return true, cause
	case err == nil && ex.bodyErr != nil:
		return true, fmt.Errorf("%w: %w", ErrInterrupted, ex.bodyErr)
	case ex.status >= http.StatusBadRequest:
		if err == nil {
			err = errors.New("the error response had no body")
		}
		return providerFault(ex.status), &CallError{Status: ex.status, Attempts: ex.attempts, GaveUp: ex.gaveUp, Err: err}
	case err == nil:
		return false, nil
	case ex.lastErr != nil:
		// The client replaces transport errors with a generic message;
		// the transport's own error says what actually failed.
		cause := ex.lastErr
		if ne, ok := errors.AsType[net.Error](cause); ok && ne.Timeout() {
			cause = fmt.Errorf("%w: %w", ErrTimeout, cause)
		}
		return true, &CallError{Attempts: ex.attempts, GaveUp: ex.gaveUp, Err: cause}
	case ex.bodyErr != nil:
		return true, fmt.Errorf("%w: %w", ErrInterrupted, err)
	default:
		// Undecodable answers, request building, or the caller's own
		// streaming function failing: nothing says the provider is down.
		return false, err
	}
}

func providerFault(status int) bool {
	return status >= http.StatusInternalServerError || status == http.StatusTooManyRequests ||
		status == http.StatusRequestTimeout
}

// guardedLLM is a remote chat model behind a guard. It also fills in token
// usage when the server does not report it.
type guardedLLM struct {
	inner llms.Model
	guard *guard
	// legacyMaxTokens asks langchaingo's OpenAI client for "max_tokens".
	legacyMaxTokens bool
}

var _ llms.Model = (*guardedLLM)(nil)

// GenerateContent implements llms.Model.
func (m *guardedLLM) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	streamed := opts.StreamingFunc != nil || opts.StreamingReasoningFunc != nil
	options = slices.Clip(options)
	if m.legacyMaxTokens && opts.MaxTokens > 0 {
		// A copy: the caller's metadata map may be shared.
		meta := maps.Clone(opts.Metadata)
		if meta == nil {
			meta = map[string]any{}
		}
		meta[legacyMaxTokensKey] = true
		options = append(options, llms.WithMetadata(meta))
	}
	var resp *llms.ContentResponse
	err := m.guard.do(ctx, streamed, func(ctx context.Context, alive func()) error {
		callOpts := options
		if streamed {
			callOpts = append(options, keepAlive(opts, alive)...)
		}
		var err error
		resp, err = m.inner.GenerateContent(ctx, messages, callOpts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	estimateUsage(resp, messages)
	return resp, nil
}

// Call implements llms.Model.
func (m *guardedLLM) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// legacyMaxTokensKey is the metadata flag behind
// openai.WithLegacyMaxTokensField; the client does not send it on.
const legacyMaxTokensKey = "openai:use_legacy_max_tokens"

// keepAlive returns options that replace the caller's streaming functions
// with ones that also reset the idle timer.
func keepAlive(opts llms.CallOptions, alive func()) []llms.CallOption {
	var out []llms.CallOption
	if f := opts.StreamingFunc; f != nil {
		out = append(out, llms.WithStreamingFunc(func(ctx context.Context, chunk []byte) error {
			alive()
			return f(ctx, chunk)
		}))
	}
	if f := opts.StreamingReasoningFunc; f != nil {
		out = append(out, llms.WithStreamingReasoningFunc(func(ctx context.Context, reasoning, chunk []byte) error {
			alive()
			return f(ctx, reasoning, chunk)
		}))
	}
	return out
}

// guardedEmbedder is a remote embedder behind a guard. It splits large
// inputs into batches sent concurrently, each its own guarded call, and
// checks every vector's dimension against the database column.
type guardedEmbedder struct {
	inner   embeddings.Embedder
	guard   *guard
	dim     int
	batch   int
	workers int
}

var _ embeddings.Embedder = (*guardedEmbedder)(nil)

// EmbedQuery implements embeddings.Embedder.
func (e *guardedEmbedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	var v []float32
	err := e.guard.do(ctx, false, func(ctx context.Context, _ func()) error {
		var err error
		v, err = e.inner.EmbedQuery(ctx, text)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := e.check([][]float32{v}, 1); err != nil {
		return nil, err
	}
	return v, nil
}

// EmbedDocuments implements embeddings.Embedder.
func (e *guardedEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	batches := (len(texts) + e.batch - 1) / e.batch
	embed := func(ctx context.Context, b int) error {
		lo, hi := b*e.batch, min((b+1)*e.batch, len(texts))
		// The batch is copied because langchaingo's embedder may rewrite
		// its input in place.
		batch := slices.Clone(texts[lo:hi])
		var vs [][]float32
		err := e.guard.do(ctx, false, func(ctx context.Context, _ func()) error {
			var err error
			vs, err = e.inner.EmbedDocuments(ctx, batch)
			return err
		})
		if err == nil {
			err = e.check(vs, len(batch))
		}
		if err != nil {
			if batches > 1 {
				return fmt.Errorf("texts %d-%d of %d: %w", lo+1, hi, len(texts), err)
			}
			return err
		}
		copy(out[lo:hi], vs)
		return nil
	}
	if err := forEachConcurrently(ctx, batches, e.workers, embed); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *guardedEmbedder) check(vs [][]float32, want int) error {
	if len(vs) != want {
		return fmt.Errorf("%s: returned %d vectors for %d texts", e.guard.name, len(vs), want)
	}
	for _, v := range vs {
		if len(v) != e.dim {
			return fmt.Errorf("%s: %w: the model returned %d dimensions but the embedding column has %d "+
				"(DEALDESK_EMBED_DIM); use a %d-dimension model, or migrate the column to %d and re-embed",
				e.guard.name, ErrDimension, len(v), e.dim, e.dim, len(v))
		}
	}
	return nil
}

// forEachConcurrently calls fn(ctx, i) for i in [0, n) on up to workers
// goroutines and returns the first error; the first error cancels the
// context given to the remaining calls.
func forEachConcurrently(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 1 || workers <= 1 {
		for i := range n {
			if err := fn(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan int)
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() {
						firstErr = err
						cancel(err)
					})
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx)
}
