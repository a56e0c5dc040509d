package evals

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
)

// Deps are the services a run uses.
type Deps struct {
	Assistant *assistant.Service
	// Models are the configured models: similarity uses the embedder,
	// llm_judge the chat model, and the run records provider and model.
	Models *providers.Models
	// Knowledge reads the documents that cases name with `document`;
	// optional when no case does.
	Knowledge *knowledge.Store
}

// Options adjust a run.
type Options struct {
	// Tenant is whose knowledge base and prompt policies the cases use.
	Tenant uuid.UUID
	// PromptVersion pins every case to one template version; 0 follows
	// the tenant's policy (or a version a case's input pins).
	PromptVersion int
	// Concurrency bounds the cases in flight; default 4.
	Concurrency int
	// Progress, when set, is called after each case, never concurrently.
	Progress func(done, total int)
	// Baseline, when set, is the run the gate compares with.
	Baseline *Result
	// ID is the run's id; default a new one.
	ID uuid.UUID
	// CreatedBy says who started the run ("cli:alice", an API key id).
	CreatedBy string
}

// Run statuses.
const (
	StatusRunning = "running"
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	// StatusError means the run did not complete (cancelled, timed out,
	// the database gone): its results are partial.
	StatusError = "error"
)

// Result is one run of a suite: what it ran against, each case's
// results, the metrics and the gate. Exported as JSON (--json) it can
// serve as a later run's baseline.
type Result struct {
	ID          uuid.UUID `json:"id"`
	TenantID    uuid.UUID `json:"tenant_id"`
	Suite       string    `json:"suite"`
	SuiteDigest string    `json:"suite_digest"`
	Tasks       []string  `json:"tasks"`
	// PromptVersion is the version asked for (0: the tenant's policy);
	// PromptVersions the templates the generations actually used.
	PromptVersion  int           `json:"prompt_version"`
	PromptVersions []string      `json:"prompt_versions"`
	Provider       string        `json:"provider"`
	Model          string        `json:"model"`
	Status         string        `json:"status"`
	Error          string        `json:"error,omitempty"`
	PassRate       float64       `json:"pass_rate"`
	Metrics        Metrics       `json:"metrics"`
	Results        []CaseResult  `json:"results"`
	BaselineRunID  *uuid.UUID    `json:"baseline_run_id,omitempty"`
	Gate           *Gate         `json:"gate,omitempty"`
	Thresholds     Thresholds    `json:"thresholds"`
	CreatedBy      string        `json:"created_by"`
	StartedAt      time.Time     `json:"started_at"`
	FinishedAt     *time.Time    `json:"finished_at,omitempty"`
	Duration       time.Duration `json:"-"`
}

// CaseResult is one case's outcome.
type CaseResult struct {
	ID     string `json:"id"`
	Task   string `json:"task"`
	Passed bool   `json:"passed"`
	// Error is why the case produced no answer (the model's output failed
	// validation, the input was refused): the case counts as failed.
	Error        string            `json:"error,omitempty"`
	Assertions   []AssertionResult `json:"assertions"`
	GenerationID *uuid.UUID        `json:"generation_id,omitempty"`
	Prompt       string            `json:"prompt,omitempty"`
	LatencyMS    float64           `json:"latency_ms"`
	Metrics      CaseMetrics       `json:"metrics"`
}

// Failures are the assertions of a case that ran and failed.
func (c CaseResult) Failures() []AssertionResult {
	var out []AssertionResult
	for _, a := range c.Assertions {
		if a.Failed() {
			out = append(out, a)
		}
	}
	return out
}

// CaseMetrics are what a case measured; nil when it did not apply.
type CaseMetrics struct {
	RecallAt5  *float64 `json:"recall_at_5,omitempty"`
	MRR        *float64 `json:"mrr,omitempty"`
	Similarity *float64 `json:"similarity,omitempty"`
	JudgeScore *float64 `json:"judge_score,omitempty"`
}

// Metrics summarise a run. Means are over the cases that measured them
// (nil when none did).
type Metrics struct {
	Cases    int     `json:"cases"`
	Passed   int     `json:"passed"`
	Failed   int     `json:"failed"`
	Errors   int     `json:"errors"`
	Skipped  int     `json:"skipped_assertions"`
	PassRate float64 `json:"pass_rate"`
	// RecallAt5 and MRR are over the cases with labelled sources.
	RecallAt5    *float64 `json:"recall_at_5,omitempty"`
	MRR          *float64 `json:"mrr,omitempty"`
	Similarity   *float64 `json:"similarity,omitempty"`
	JudgeScore   *float64 `json:"judge_score,omitempty"`
	LatencyP50MS float64  `json:"latency_p50_ms"`
	LatencyP95MS float64  `json:"latency_p95_ms"`
}

// metricInfo lists the metrics thresholds may name.
var metricInfo = map[string]struct {
	lowerBetter bool
	get         func(Metrics) *float64
}{
	"pass_rate":      {false, func(m Metrics) *float64 { return &m.PassRate }},
	"recall_at_5":    {false, func(m Metrics) *float64 { return m.RecallAt5 }},
	"mrr":            {false, func(m Metrics) *float64 { return m.MRR }},
	"similarity":     {false, func(m Metrics) *float64 { return m.Similarity }},
	"judge_score":    {false, func(m Metrics) *float64 { return m.JudgeScore }},
	"latency_p50_ms": {true, func(m Metrics) *float64 { return &m.LatencyP50MS }},
	"latency_p95_ms": {true, func(m Metrics) *float64 { return &m.LatencyP95MS }},
}

func metricNames() string { return strings.Join(slices.Sorted(maps.Keys(metricInfo)), ", ") }

// Run executes suite's cases in opts.Tenant as an ops caller with no
// region limit, at most opts.Concurrency at once, checks every assertion,
// computes the metrics and the gate (against opts.Baseline when set) and
// sets the status. A case that fails (its answer invalid, its input
// refused) is a failed case, not an error of the run; Run returns an
// error only when ctx ends, with the partial run.
func Run(ctx context.Context, deps Deps, suite *Suite, opts Options) (*Result, error) {
	if deps.Assistant == nil || deps.Models == nil {
		return nil, errors.New("evals: Deps.Assistant and Deps.Models are required")
	}
	if opts.Tenant == uuid.Nil {
		return nil, errors.New("evals: no tenant")
	}
	r := newRun(suite, opts, deps.Models.Info)
	start := time.Now()
	caller := assistant.Caller{Scope: store.Scope{Tenant: opts.Tenant, Role: "ops"}, Name: "eval " + suite.Name}
	r.Results = make([]CaseResult, len(suite.Cases))
	workers := cmp.Or(max(opts.Concurrency, 0), 4)
	sem := make(chan struct{}, workers)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for i := range suite.Cases {
		c := &suite.Cases[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			r.Results[i] = CaseResult{ID: c.ID, Task: c.Task, Error: "not run: " + ctx.Err().Error(), Assertions: []AssertionResult{}}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			cl := caller
			cl.RequestID = fmt.Sprintf("eval-%s-%s", r.ID.String()[:8], c.ID)
			r.Results[i] = runCase(ctx, deps, suite, c, opts, cl)
			mu.Lock()
			defer mu.Unlock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(suite.Cases))
			}
		})
	}
	wg.Wait()
	r.Duration = time.Since(start)
	r.finish(opts.Baseline)
	if err := ctx.Err(); err != nil {
		r.Status, r.Error = StatusError, "the run did not complete: "+err.Error()
		return r, err
	}
	return r, nil
}

func newRun(suite *Suite, opts Options, info providers.Info) *Result {
	id := opts.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	return &Result{
		ID: id, TenantID: opts.Tenant, Suite: suite.Name, SuiteDigest: suite.Digest, Tasks: suite.Tasks(),
		PromptVersion: opts.PromptVersion, PromptVersions: []string{}, Provider: info.Provider, Model: info.ChatModel,
		Status: StatusRunning, Results: []CaseResult{}, Thresholds: suite.Thresholds, CreatedBy: opts.CreatedBy,
		StartedAt: time.Now().UTC(),
	}
}

// finish computes the metrics and the gate, and sets the status.
func (r *Result) finish(baseline *Result) {
	now := time.Now().UTC()
	r.FinishedAt = &now
	r.Metrics = summarise(r.Results)
	r.PassRate = r.Metrics.PassRate
	versions := map[string]bool{}
	for _, c := range r.Results {
		if c.Prompt != "" {
			versions[c.Prompt] = true
		}
	}
	r.PromptVersions = slices.Sorted(maps.Keys(versions))
	if r.PromptVersions == nil {
		r.PromptVersions = []string{} // every case failed before choosing a prompt
	}
	if baseline != nil {
		id := baseline.ID
		r.BaselineRunID = &id
	}
	g := Compare(r, baseline, r.Thresholds)
	r.Gate = &g
	r.Status = StatusFailed
	if g.Passed {
		r.Status = StatusPassed
	}
}

// runCase runs one case and checks its assertions.
func runCase(ctx context.Context, deps Deps, suite *Suite, c *Case, opts Options, caller assistant.Caller) CaseResult {
	res := CaseResult{ID: c.ID, Task: c.Task, Assertions: []AssertionResult{}}
	start := time.Now()
	gen, err := generate(ctx, deps, c, opts, caller)
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.GenerationID = &gen.ID
	res.Prompt = gen.Model.Prompt
	s := subject{gen: gen, input: c.Input, expect: c.Expect, latency: time.Since(start), models: deps.Models}
	res.Passed = true
	var sims, judged []float64
	for _, a := range suite.assertions(c) {
		ar := a.check(ctx, s)
		res.Assertions = append(res.Assertions, ar)
		if ar.Failed() {
			res.Passed = false
		}
		if ar.Score != nil {
			switch a.Type {
			case AssertSimilarity:
				sims = append(sims, *ar.Score)
			case AssertLLMJudge:
				judged = append(judged, *ar.Score)
			}
		}
	}
	if len(c.Expect.Sources) > 0 {
		paths := retrievedPaths(gen)
		recall, rr := recallAtK(paths, c.Expect.Sources, 5), reciprocalRank(paths, c.Expect.Sources)
		res.Metrics.RecallAt5, res.Metrics.MRR = &recall, &rr
	}
	res.Metrics.Similarity, res.Metrics.JudgeScore = mean(sims), mean(judged)
	return res
}

// generate builds the case's task input and runs it.
func generate(ctx context.Context, deps Deps, c *Case, opts Options, caller assistant.Caller) (*assistant.Generation, error) {
	req, err := c.request()
	if err != nil {
		return nil, err
	}
	if c.Document != "" {
		if err := readDocument(ctx, deps, caller.Scope, c.Document, req); err != nil {
			return nil, err
		}
	}
	in, err := req.Input()
	if err != nil {
		return nil, err
	}
	version := opts.PromptVersion
	if version == 0 {
		version = req.Options().PromptVersion
	}
	return deps.Assistant.Run(ctx, caller, in, assistant.Options{PromptVersion: version})
}

// readDocument fills a request's document field (tender, transcript,
// intel text) with the text of a knowledge-base document, as the API does
// for a tender's document_id.
func readDocument(ctx context.Context, deps Deps, scope store.Scope, source string, req assistant.Request) error {
	if deps.Knowledge == nil {
		return errors.New("document: this run has no knowledge store to read it from")
	}
	id, err := deps.Knowledge.DocumentIDFor(ctx, scope.Tenant, source)
	if err != nil {
		return fmt.Errorf("document %s: %w", source, err)
	}
	if id == uuid.Nil {
		return fmt.Errorf("document %s is not in the tenant's knowledge base (load it first, e.g. `dealdesk demo`)", source)
	}
	doc, text, err := deps.Knowledge.Text(ctx, scope, id)
	if err != nil {
		return fmt.Errorf("document %s: %w", source, err)
	}
	switch r := req.(type) {
	case *assistant.TenderRequest:
		r.Tender, r.DocumentID = text, nil
		r.Title = cmp.Or(r.Title, doc.Title)
		r.Customer = cmp.Or(r.Customer, doc.Customer)
	case *assistant.MeetingNotesRequest:
		r.Transcript = text
		r.Customer = cmp.Or(r.Customer, doc.Customer)
	case *assistant.IntelRequest:
		r.Text = text
		r.Title = cmp.Or(r.Title, doc.Title)
	default:
		return fmt.Errorf("document: a %T reads no document", req)
	}
	return nil
}

// summarise computes a run's metrics from its cases.
func summarise(results []CaseResult) Metrics {
	m := Metrics{Cases: len(results)}
	var recall, rr, sims, judged, latencies []float64
	for _, c := range results {
		switch {
		case c.Passed:
			m.Passed++
		case c.Error != "":
			m.Errors++
			m.Failed++
		default:
			m.Failed++
		}
		for _, a := range c.Assertions {
			if a.Skipped {
				m.Skipped++
			}
		}
		latencies = append(latencies, c.LatencyMS)
		for _, p := range []struct {
			v   *float64
			dst *[]float64
		}{{c.Metrics.RecallAt5, &recall}, {c.Metrics.MRR, &rr}, {c.Metrics.Similarity, &sims}, {c.Metrics.JudgeScore, &judged}} {
			if p.v != nil {
				*p.dst = append(*p.dst, *p.v)
			}
		}
	}
	if m.Cases > 0 {
		m.PassRate = float64(m.Passed) / float64(m.Cases)
	}
	m.RecallAt5, m.MRR, m.Similarity, m.JudgeScore = mean(recall), mean(rr), mean(sims), mean(judged)
	m.LatencyP50MS, m.LatencyP95MS = percentile(latencies, 50), percentile(latencies, 95)
	return m
}

func mean(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	m := sum / float64(len(v))
	return &m
}

// percentile is the nearest-rank percentile p of v (0 for none).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
