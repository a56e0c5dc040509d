package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/prompts"
)

// TestBundledSuitesPassTheGate is the prompt-change gate of `make test`:
// every bundled suite runs against the demo knowledge base with the
// default (offline) provider and must pass its thresholds. A template
// change that breaks a task's answers fails here.
func TestBundledSuitesPassTheGate(t *testing.T) {
	e := demoDB(t)
	st := NewStore(e.db.Pool)
	for _, name := range Bundled() {
		t.Run(name, func(t *testing.T) {
			s, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(context.Background(), e.deps, s, Options{Tenant: e.tenant, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != StatusPassed || !r.Gate.Passed {
				var b bytes.Buffer
				_ = WriteTable(&b, r)
				t.Fatalf("suite %s fails its gate:\n%s", name, b.String())
			}
			if len(r.PromptVersions) == 0 || r.Provider != "offline" || r.Metrics.Cases != len(s.Cases) {
				t.Fatalf("run %+v", r)
			}
			// A run stores and reads back whole.
			if err := st.Save(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(context.Background(), e.tenant, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != r.Status || got.PassRate != r.PassRate || len(got.Results) != len(r.Results) || !got.Gate.Passed ||
				got.SuiteDigest != s.Digest || got.Results[0].GenerationID == nil {
				t.Fatalf("stored run %+v", got)
			}
		})
	}
}

// brokenRegistry serves the embedded templates plus testdata's
// email_draft@v9, a copy of v1 whose 60-token budget cuts every answer.
func brokenRegistry(t testing.TB) *prompts.Registry {
	t.Helper()
	r, err := prompts.LoadWith(os.DirFS("testdata/prompts"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGateCatchesAWorsePromptVersion runs the email suite on the current
// prompt (the baseline), then pinned to the broken v9, and checks that
// the gate fails and says why.
func TestGateCatchesAWorsePromptVersion(t *testing.T) {
	e := demoDB(t)
	deps := e.with(brokenRegistry(t))
	s, err := Load("email_draft")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base, err := Run(ctx, deps, s, Options{Tenant: e.tenant})
	if err != nil {
		t.Fatal(err)
	}
	if base.Status != StatusPassed || strings.Join(base.PromptVersions, ",") != "email_draft@v1" {
		t.Fatalf("baseline: %s %v", base.Status, base.PromptVersions)
	}
	// The baseline travels as a file, as CI keeps it.
	path := filepath.Join(t.TempDir(), "baseline.json")
	raw, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	runs, err := ReadRunFile(path)
	if err != nil || len(runs) != 1 || runs[0].ID != base.ID || *runs[0].Metrics.RecallAt5 != *base.Metrics.RecallAt5 {
		t.Fatalf("baseline file: %v %v", runs, err)
	}

	worse, err := Run(ctx, deps, s, Options{Tenant: e.tenant, PromptVersion: 9, Baseline: runs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if worse.Status != StatusFailed || worse.Gate.Passed || *worse.BaselineRunID != base.ID {
		t.Fatalf("v9 run: status %s gate %+v", worse.Status, worse.Gate)
	}
	if worse.Metrics.Errors != len(s.Cases) || worse.PassRate != 0 {
		t.Fatalf("v9 metrics %+v: every answer is cut, so every case fails with an error", worse.Metrics)
	}
	for _, c := range worse.Results {
		if !strings.Contains(c.Error, "failed validation") {
			t.Fatalf("case %s error %q", c.ID, c.Error)
		}
	}
	var failed []string
	for _, c := range worse.Gate.Failures() {
		failed = append(failed, c.Metric+"@"+c.Rule)
	}
	for _, want := range []string{"pass_rate@min_pass_rate", "pass_rate@max_pass_rate_drop 0", "recall_at_5@min_metrics", "recall_at_5@max_metric_drop 0.05"} {
		if !strings.Contains(strings.Join(failed, " "), want) {
			t.Errorf("gate failures %v lack %s", failed, want)
		}
	}
	// Compare says the same on its own.
	if g := Compare(worse, base, s.Thresholds); g.Passed {
		t.Fatal("Compare passes the v9 run")
	}
}

func TestServiceRunsInTheBackground(t *testing.T) {
	e := demoDB(t)
	svc := NewService(e.deps, e.db.Pool, 0, nil)
	s, err := Parse([]byte(`
name: mini
task: objection
cases:
  - id: price
    input: {objection: 价格太贵了}
    assert: [{type: citations_valid, min_cited: 1}]
`), "mini")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pending, err := svc.Start(ctx, s, Options{Tenant: e.tenant, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if pending.Status != StatusRunning {
		t.Fatalf("pending status %s", pending.Status)
	}
	svc.Wait()
	r, err := svc.Store().Get(ctx, e.tenant, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusPassed || r.FinishedAt == nil || len(r.Results) != 1 || r.CreatedBy != "test" {
		t.Fatalf("finished run %+v", r)
	}
	list, err := svc.Store().List(ctx, e.tenant, ListFilter{Suite: "mini"})
	if err != nil || len(list) != 1 || list[0].ID != r.ID || len(list[0].Results) != 0 {
		t.Fatalf("list %v %v", list, err)
	}
	if _, err := svc.Store().Get(ctx, e.tenant, uuid.New()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
	// Another tenant sees nothing (row-level security).
	if _, err := svc.Store().Get(ctx, uuid.New(), r.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
}
