package api

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/dealdesk/dealdesk/auth"
)

const (
	ctxRequestID = "dealdesk.request_id"
	ctxPrincipal = "dealdesk.principal"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withRequestID reuses a well-formed incoming X-Request-ID (so a CRM plugin
// can correlate its own logs) and otherwise makes one.
func withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// principal returns the authenticated caller; only valid behind s.authenticate.
func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(ctxPrincipal).(auth.Principal)
	return p
}

// logRequests writes one structured line per request.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Let the error handler write the response now so the status
			// logged is the one the client gets.
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", time.Since(start)),
			slog.Int64("bytes_out", c.Response().Size),
			slog.String("remote", c.RealIP()),
		}
		if p, ok := c.Get(ctxPrincipal).(auth.Principal); ok {
			attrs = append(attrs, slog.String("tenant", p.TenantSlug), slog.String("key_id", p.KeyID.String()), slog.String("role", string(p.Role)))
		}
		s.log.LogAttrs(c.Request().Context(), level, "http request", attrs...)
		return nil
	}
}

// authenticate resolves the bearer key into a Principal.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := bearerKey(c.Request())
		if key == "" {
			return newProblem("unauthenticated", "send your API key as 'Authorization: Bearer <key>'")
		}
		p, err := s.auth.Authenticate(c.Request().Context(), key)
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		return next(c)
	}
}

func bearerKey(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	if scheme, key, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(key)
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// requireRole admits principals with one of roles.
func requireRole(roles []auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p := principal(c); !p.HasRole(roles...) {
				return problemf("forbidden", "role %s may not call this endpoint (allowed: %s)", p.Role, joinRoles(roles))
			}
			return next(c)
		}
	}
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// rateLimiter is a token bucket per identifier (API key, or client IP before
// authentication). Buckets idle longer than expiry are forgotten.
type rateLimiter struct {
	store *middleware.RateLimiterMemoryStore
	every float64
}

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{
		store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: 3 * time.Minute,
		}),
		every: 1 / perSecond,
	}
}

func (l *rateLimiter) middleware(identify func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ok, _ := l.store.Allow(identify(c)); !ok {
				p := newProblem("rate_limited", "rate limit exceeded for this API key; slow down and retry after the indicated seconds")
				p.RetryAfter = max(1, int(math.Ceil(l.every)))
				return p
			}
			return next(c)
		}
	}
}

// withTimeout bounds the handler's context.
func withTimeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// recoverPanics turns a panic into a 500 problem and logs the stack.
func (s *Server) recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", slog.String("request_id", requestID(c)),
				slog.Any("error", err), slog.String("stack", string(stack)))
			return err
		},
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
