package api

import (
	"errors"
	"github.com/dealdesk/dealdesk/assistant"

	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that tests can build many servers in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// Assistant generations: how many, the tokens they used, the share
	// that needed a repair or cited unknown sources, and model time.
	generations *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	modelTime   *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealdesk_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dealdesk_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dealdesk_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		generations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealdesk_generations_total",
			Help: "Assistant generations by task, prompt version, provider and outcome (ok, repaired, unknown_citations, failed).",
		}, []string{"task", "prompt", "provider", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealdesk_generation_tokens_total",
			Help: "Model tokens used by assistant generations, by task, provider and direction (prompt, completion).",
		}, []string{"task", "provider", "direction"}),
		modelTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dealdesk_generation_model_seconds",
			Help:    "Time spent in the model per generation, by task and provider.",
			Buckets: []float64{.005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"task", "provider"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.inflight, m.generations, m.tokens, m.modelTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other packages add their own series.
func (m *metrics) Registry() *prometheus.Registry { return m.registry }

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		m.inflight.Inc()
		defer m.inflight.Dec()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(c.Response().Status)).Inc()
		m.duration.WithLabelValues(c.Request().Method, route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// observeCall counts a task call's outcome: its generation when it
// answered, or the failed call when it reached the model and failed
// (assistant.CallError). Other errors (bad input, a feature switched off)
// never reached a model and are counted only as HTTP requests.
func (m *metrics) observeCall(g *assistant.Generation, err error) {
	if err == nil {
		m.observeGeneration(g, "")
		return
	}
	var ce *assistant.CallError
	if errors.As(err, &ce) {
		m.observeGeneration(ce.Generation, "failed")
	}
}

// observeGeneration counts g under its outcome: outcome if set, else
// ok, repaired or unknown_citations.
func (m *metrics) observeGeneration(g *assistant.Generation, outcome string) {
	switch {
	case outcome != "":
	case g.Checks.Repaired:
		outcome = "repaired"
	case !g.Checks.CitationsValid:
		outcome = "unknown_citations"
	default:
		outcome = "ok"
	}
	m.generations.WithLabelValues(g.Task, g.Model.Prompt, g.Model.Provider, outcome).Inc()
	m.tokens.WithLabelValues(g.Task, g.Model.Provider, "prompt").Add(float64(g.Usage.PromptTokens))
	m.tokens.WithLabelValues(g.Task, g.Model.Provider, "completion").Add(float64(g.Usage.CompletionTokens))
	m.modelTime.WithLabelValues(g.Task, g.Model.Provider).Observe(g.Timings.Model / 1000)
}
