package providers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors callers can branch on with errors.Is. Timeouts also match
// context.DeadlineExceeded.
var (
	// ErrTimeout means a model call did not finish within its time limit.
	ErrTimeout = errors.New("model call timed out")
	// ErrCircuitOpen means recent calls to the provider kept failing and
	// calls are rejected without being sent until the cooldown passes.
	ErrCircuitOpen = errors.New("model provider circuit breaker open")
	// ErrDimension means an embedder returned vectors whose dimension does
	// not match the database column.
	ErrDimension = errors.New("embedding dimension mismatch")
	// ErrInterrupted means a response broke off before it was complete.
	ErrInterrupted = errors.New("model response interrupted")
)

// CallError describes a model call that failed at the HTTP level, after
// the retry policy had its say. Status is 0 when no response arrived.
type CallError struct {
	Status   int
	Attempts int
	// GaveUp says why retrying stopped ("retries exhausted", ...); empty
	// when the failure was not one worth retrying.
	GaveUp string
	// Err is the underlying error: the client library's message, or the
	// transport's when the connection itself failed.
	Err error
}

// Error says what failed, how often it was tried and why retrying
// stopped, then the underlying error.
func (e *CallError) Error() string {
	var b strings.Builder
	if e.Status == 0 {
		b.WriteString("connection failed")
	} else {
		fmt.Fprintf(&b, "HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	switch {
	case e.GaveUp != "":
		fmt.Fprintf(&b, " after %d attempt%s (%s)", e.Attempts, plural(e.Attempts), e.GaveUp)
	case e.Status != 0 && !retryableStatus(e.Status):
		b.WriteString(" (not retried)")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
