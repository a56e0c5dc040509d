package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/scoring"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/suggest"
)

// Config tunes the HTTP server. Zero values take the documented defaults.
type Config struct {
	Addr            string        // listen address, default :8080
	BodyLimit       string        // JSON body limit, e.g. "1M" (default)
	UploadLimit     string        // document upload limit, default "32M"
	RateLimit       float64       // requests per second per API key, default 20
	RateBurst       int           // burst per API key, default 2x RateLimit
	CORSOrigins     []string      // allowed origins; empty disables CORS
	RequestTimeout  time.Duration // per request, default 60s
	ShutdownTimeout time.Duration // graceful shutdown, default 15s
	Version         string        // reported by /openapi.json and /v1/me
	Migrate         store.MigrateOptions
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.BodyLimit == "" {
		c.BodyLimit = "1M"
	}
	if c.UploadLimit == "" {
		c.UploadLimit = "32M"
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 20
	}
	if c.RateBurst <= 0 {
		c.RateBurst = int(2 * c.RateLimit)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Deps are the services the handlers use.
type Deps struct {
	DB        *pgxpool.Pool
	Auth      *auth.Service
	Models    *providers.Models
	Knowledge *knowledge.Store
	Queue     *knowledge.Queue
	Searcher  *retrieval.Searcher
	Assistant *assistant.Service
	Feedback  *feedback.Service
	// Evals runs eval suites for POST /v1/evals/runs; optional (without
	// it those routes answer 503).
	Evals *evals.Service
	// Scoring is optional: by default a scoring service over DB and
	// Searcher, retraining automatically when outcomes arrive.
	Scoring *scoring.Service
	// Suggest is optional: by default suggestions over Assistant and
	// Scoring with a 15-minute cache per record version.
	Suggest *suggest.Service
	Logger  *slog.Logger
}

// Server is the DealDesk HTTP API.
type Server struct {
	cfg       Config
	echo      *echo.Echo
	db        *pgxpool.Pool
	auth      *auth.Service
	models    *providers.Models
	knowledge *knowledge.Store
	queue     *knowledge.Queue
	search    *retrieval.Searcher
	assistant *assistant.Service
	feedback  *feedback.Service
	evals     *evals.Service
	scoring   *scoring.Service
	suggest   *suggest.Service
	log       *slog.Logger
	metrics   *metrics
	routes    []route
}

// New builds the server and registers every route.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.defaults()
	if deps.DB == nil || deps.Auth == nil || deps.Models == nil || deps.Knowledge == nil || deps.Queue == nil || deps.Searcher == nil || deps.Assistant == nil || deps.Feedback == nil {
		return nil, errors.New("api: DB, Auth, Models, Knowledge, Queue, Searcher, Assistant and Feedback are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, db: deps.DB, auth: deps.Auth, models: deps.Models, knowledge: deps.Knowledge, queue: deps.Queue, search: deps.Searcher,
		assistant: deps.Assistant, feedback: deps.Feedback, evals: deps.Evals, log: deps.Logger, metrics: newMetrics()}
	s.scoring = deps.Scoring
	if s.scoring == nil {
		s.scoring = scoring.NewService(deps.DB, deps.Searcher, scoring.Config{AutoRetrain: true, Logger: deps.Logger})
	}
	s.suggest = deps.Suggest
	if s.suggest == nil {
		s.suggest = suggest.New(deps.Assistant, s.scoring, suggest.Config{})
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Logger.SetOutput(discard{})
	s.echo = e

	e.Use(withRequestID, s.logRequests, s.metrics.middleware, s.recoverPanics())
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSOrigins,
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "X-API-Key", echo.HeaderXRequestID, echo.HeaderAccept},
			ExposeHeaders: []string{echo.HeaderXRequestID, "Retry-After"},
			MaxAge:        600,
		}))
	}
	e.Use(withTimeout(cfg.RequestTimeout))

	perKey := newRateLimiter(cfg.RateLimit, cfg.RateBurst)
	// Before authentication, limit by client address so that key guessing
	// cannot turn into a database load.
	perIP := newRateLimiter(cfg.RateLimit*5, cfg.RateBurst*5)
	// Per-route middleware rather than an Echo group: a group with
	// middleware adds catch-all routes that would turn 405s into 404s.
	authenticated := []echo.MiddlewareFunc{
		perIP.middleware(func(c echo.Context) string { return "ip:" + c.RealIP() }),
		s.authenticate,
		perKey.middleware(func(c echo.Context) string { return "key:" + principal(c).KeyID.String() }),
	}

	s.routes = s.routeTable()
	for _, r := range s.routes {
		limit := cfg.BodyLimit
		if r.upload {
			limit = cfg.UploadLimit
		}
		mw := []echo.MiddlewareFunc{middleware.BodyLimit(limit)}
		if !r.public {
			mw = append(mw, authenticated...)
		}
		if len(r.roles) > 0 {
			mw = append(mw, requireRole(r.roles))
		}
		e.Add(r.method, r.path, r.handler, mw...)
	}
	return s, nil
}

// Handler returns the server as an http.Handler (tests use it with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on cfg.Addr until ctx is cancelled, then shuts down gracefully,
// letting in-flight requests finish within ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Addr:              s.cfg.Addr,
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	s.log.Info("serving", slog.String("addr", s.cfg.Addr), slog.String("provider", s.models.Info.Provider))
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", s.cfg.Addr, err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", slog.Duration("grace", s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Eval runs and model retraining started by requests run in the
	// background: let them finish within the same grace period.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.evals != nil {
			s.evals.Wait()
		}
		s.scoring.Wait()
	}()
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("background work (eval runs, retraining) still running at shutdown; unfinished eval runs stay 'running'")
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// route declares one endpoint: its registration and its OpenAPI entry.
type route struct {
	method, path string
	summary      string
	description  string
	tag          string
	public       bool        // no API key needed
	roles        []auth.Role // empty: any authenticated key
	handler      echo.HandlerFunc
	request      any // JSON request body type (a zero value), nil for none
	response     any // success body type (a zero value)
	contentType  string
	okStatus     int
	query        []queryParam
	upload       bool // accepts multipart uploads up to UploadLimit
	accepted     any  // body of a 202 answer, for routes that may queue work
}

type queryParam struct{ name, typ, description string }

func (r route) status() int {
	if r.okStatus != 0 {
		return r.okStatus
	}
	return http.StatusOK
}

func (r route) operationID() string {
	parts := strings.FieldsFunc(r.path, func(c rune) bool { return c == '/' || c == ':' || c == '-' || c == '{' || c == '}' || c == '\\' })
	id := strings.ToLower(r.method)
	for _, p := range parts {
		id += strings.ToUpper(p[:1]) + p[1:]
	}
	return id
}
