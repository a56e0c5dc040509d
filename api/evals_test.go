package api

import (
	"os"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/retrieval"
)

// evalRun is the part of GET /v1/evals/runs/{id} the tests read.
type evalRun struct {
	ID            string  `json:"id"`
	Suite         string  `json:"suite"`
	Status        string  `json:"status"`
	PassRate      float64 `json:"pass_rate"`
	BaselineRunID string  `json:"baseline_run_id"`
	Metrics       struct {
		Cases  int `json:"cases"`
		Errors int `json:"errors"`
	} `json:"metrics"`
	Gate struct {
		Passed bool `json:"passed"`
		Checks []struct {
			Metric string `json:"metric"`
			Passed bool   `json:"passed"`
		} `json:"checks"`
	} `json:"gate"`
	Results []struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"results"`
}

func TestEvalRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.loadDemo()
	ops := must(h.auth.CreateKey(t.Context(), h.tenant.ID, auth.KeySpec{Name: "ops", Role: auth.RoleOps}))(t)
	manager := must(h.auth.CreateKey(t.Context(), h.tenant.ID, auth.KeySpec{Name: "mgr", Role: auth.RoleManager}))(t)

	// start runs a suite and waits for it; get reads it back.
	start := func(key, body string) evalRun {
		t.Helper()
		r := h.do("POST", "/v1/evals/runs", key, body)
		var acc evalRunAccepted
		r.json(t, &acc)
		if r.status != 202 || acc.Status != "running" || r.header.Get("Location") != acc.Location {
			t.Fatalf("start: %d %s", r.status, r.body)
		}
		h.srv.evals.Wait()
		var run evalRun
		g := h.do("GET", acc.Location, manager.Secret, "")
		g.json(t, &run)
		if g.status != 200 || run.ID != acc.ID.String() {
			t.Fatalf("get: %d %s", g.status, g.body)
		}
		return run
	}
	base := start(ops.Secret, `{"suite":"email_draft"}`)
	if base.Status != "passed" || !base.Gate.Passed || base.Metrics.Cases != 7 || base.PassRate != 1 {
		t.Fatalf("email_draft run: %+v", base)
	}

	// The same server with a registry holding the broken email_draft@v9:
	// pinned to it and gated against the first run, the run fails.
	h.srv.evals = brokenEvals(t, h)
	worse := start(h.admin.Secret, `{"suite":"email_draft","prompt_version":9,"baseline_run_id":"`+base.ID+`"}`)
	if worse.Status != "failed" || worse.Gate.Passed || worse.BaselineRunID != base.ID || worse.Metrics.Errors != 7 ||
		!strings.Contains(worse.Results[0].Error, "failed validation") {
		t.Fatalf("v9 run: %+v", worse)
	}

	inline := start(ops.Secret, `{"suite_yaml":"name: mini\ntask: objection\ncases:\n  - id: price\n    input: {objection: 价格太贵了}\n    assert: [{type: citations_valid, min_cited: 1}]\n"}`)
	if inline.Suite != "mini" || inline.Status != "passed" {
		t.Fatalf("inline suite: %+v", inline)
	}

	h.do("POST", "/v1/evals/runs", h.rep.Secret, `{"suite":"email_draft"}`).problem(t, 403, "forbidden")
	h.do("POST", "/v1/evals/runs", manager.Secret, `{"suite":"email_draft"}`).problem(t, 403, "forbidden")
	h.do("GET", "/v1/evals/runs/"+base.ID, h.rep.Secret, "").problem(t, 403, "forbidden")
	h.do("GET", "/v1/evals/runs/"+base.ID, h.otherK.Secret, "").problem(t, 404, "not_found")
	h.do("POST", "/v1/evals/runs", ops.Secret, `{"suite":"nope"}`).problem(t, 404, "not_found")
	h.do("POST", "/v1/evals/runs", ops.Secret, `{"suite":"../../etc/passwd"}`).problem(t, 400, "validation_failed")
	h.do("POST", "/v1/evals/runs", ops.Secret, `{}`).problem(t, 400, "validation_failed")
	h.do("POST", "/v1/evals/runs", ops.Secret, `{"suite":"email_draft","baseline_run_id":"`+h.tenant.ID.String()+`"}`).problem(t, 404, "not_found")
	p := h.do("POST", "/v1/evals/runs", ops.Secret, `{"suite_yaml":"name: bad\ntask: objection\ncases: [{id: a, input: {objection: x}, assert: [{type: vibes}]}]"}`).problem(t, 400, "invalid_suite")
	if !strings.Contains(p.Detail, "vibes") {
		t.Fatalf("invalid_suite detail: %s", p.Detail)
	}
}

// brokenEvals is an eval service whose assistant also knows the
// deliberately broken email_draft@v9 of evals/testdata.
func brokenEvals(t *testing.T, h *harness) *evals.Service {
	t.Helper()
	registry, err := prompts.LoadWith(os.DirFS("../evals/testdata/prompts"))
	if err != nil {
		t.Fatal(err)
	}
	models := h.srv.models
	searcher := retrieval.NewSearcher(h.db.Pool, models.Embedder, retrieval.Config{})
	tasks := assistant.New(h.db.Pool, searcher, models, registry, assistant.Config{}, nil)
	return evals.NewService(evals.Deps{Assistant: tasks, Models: models, Knowledge: h.kstore}, h.db.Pool, 0, nil)
}
