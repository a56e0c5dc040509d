package evals

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func ptr(v float64) *float64 { return &v }

// constructedRun is a run with the given metrics.
func constructedRun(passRate float64, m Metrics) *Result {
	m.PassRate = passRate
	return &Result{ID: uuid.New(), Suite: "email_draft", PassRate: passRate, Metrics: m}
}

func TestCompare(t *testing.T) {
	th := Thresholds{
		MinPassRate:     0.8,
		MaxPassRateDrop: 0.1,
		MinMetrics:      map[string]float64{"recall_at_5": 0.5},
		MaxMetricDrop: map[string]Allowance{
			"recall_at_5":    {Abs: 0.05},
			"mrr":            {Abs: 0.05},
			"similarity":     {Abs: 0.1, Relative: true},
			"latency_p95_ms": {Abs: 0.5, Relative: true},
		},
	}
	baseline := constructedRun(1, Metrics{RecallAt5: ptr(0.9), MRR: ptr(0.8), Similarity: ptr(0.6), LatencyP95MS: 200})
	tests := []struct {
		name    string
		run     *Result
		base    *Result
		passed  bool
		failing []string // metric@rule of the failed checks
	}{
		{"no baseline, good", constructedRun(0.9, Metrics{RecallAt5: ptr(0.6)}), nil, true, nil},
		{"no baseline, pass rate low", constructedRun(0.75, Metrics{RecallAt5: ptr(0.6)}), nil, false, []string{"pass_rate@min_pass_rate"}},
		{"no baseline, recall missing", constructedRun(1, Metrics{}), nil, false, []string{"recall_at_5@min_metrics"}},
		{"same as baseline", constructedRun(1, Metrics{RecallAt5: ptr(0.9), MRR: ptr(0.8), Similarity: ptr(0.6), LatencyP95MS: 200}), baseline, true, nil},
		{"within every allowance", constructedRun(0.9, Metrics{RecallAt5: ptr(0.85), MRR: ptr(0.75), Similarity: ptr(0.54), LatencyP95MS: 300}), baseline, true, nil},
		{"pass rate drops too far", constructedRun(0.85, Metrics{RecallAt5: ptr(0.9), MRR: ptr(0.8), Similarity: ptr(0.6), LatencyP95MS: 200}), baseline, false,
			[]string{"pass_rate@max_pass_rate_drop 0.1"}},
		{"metrics regress", constructedRun(1, Metrics{RecallAt5: ptr(0.84), MRR: ptr(0.8), Similarity: ptr(0.53), LatencyP95MS: 301}), baseline, false,
			[]string{"latency_p95_ms@max_metric_drop 50%", "recall_at_5@max_metric_drop 0.05", "similarity@max_metric_drop 10%"}},
		{"a measured metric vanishes", constructedRun(1, Metrics{RecallAt5: ptr(0.9), Similarity: ptr(0.6), LatencyP95MS: 200}), baseline, false,
			[]string{"mrr@max_metric_drop 0.05"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Compare(tt.run, tt.base, th)
			var failing []string
			for _, c := range g.Failures() {
				failing = append(failing, c.Metric+"@"+c.Rule)
			}
			if g.Passed != tt.passed || strings.Join(failing, ",") != strings.Join(tt.failing, ",") {
				t.Fatalf("passed=%v failing=%v, want %v %v; checks %+v", g.Passed, failing, tt.passed, tt.failing, g.Checks)
			}
		})
	}

	// The exact figures of one comparison.
	g := Compare(constructedRun(0.85, Metrics{RecallAt5: ptr(0.84), MRR: ptr(0.8), Similarity: ptr(0.6), LatencyP95MS: 250}), baseline, th)
	want := []string{
		"pass_rate min_pass_rate base=- cur=0.850 allowed=0.800 PASS",
		"recall_at_5 min_metrics base=- cur=0.840 allowed=0.500 PASS",
		"pass_rate max_pass_rate_drop 0.1 base=1.000 cur=0.850 allowed=0.900 FAIL",
		"latency_p95_ms max_metric_drop 50% base=200 cur=250 allowed=300 PASS",
		"mrr max_metric_drop 0.05 base=0.800 cur=0.800 allowed=0.750 PASS",
		"recall_at_5 max_metric_drop 0.05 base=0.900 cur=0.840 allowed=0.850 FAIL",
		"similarity max_metric_drop 10% base=0.600 cur=0.600 allowed=0.540 PASS",
	}
	var got []string
	for _, c := range g.Checks {
		got = append(got, fmt.Sprintf("%s %s base=%s cur=%s allowed=%s %s", c.Metric, c.Rule, optional(c.Baseline), optional(c.Current), number(c.Allowed), verdict(c.Passed)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("checks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g.Passed {
		t.Fatal("the gate passed with two failing checks")
	}
}

func TestSummarise(t *testing.T) {
	results := []CaseResult{
		{ID: "a", Passed: true, LatencyMS: 10, Metrics: CaseMetrics{RecallAt5: ptr(1), MRR: ptr(1)}},
		{ID: "b", Passed: false, LatencyMS: 30, Metrics: CaseMetrics{RecallAt5: ptr(0.5), MRR: ptr(0.5)},
			Assertions: []AssertionResult{{Type: "contains"}, {Type: "llm_judge", Skipped: true}}},
		{ID: "c", Error: "model output failed validation", LatencyMS: 20},
		{ID: "d", Passed: true, LatencyMS: 40, Metrics: CaseMetrics{Similarity: ptr(0.7)}},
	}
	m := summarise(results)
	if m.Cases != 4 || m.Passed != 2 || m.Failed != 2 || m.Errors != 1 || m.Skipped != 1 || m.PassRate != 0.5 {
		t.Fatalf("counts %+v", m)
	}
	if *m.RecallAt5 != 0.75 || *m.MRR != 0.75 || *m.Similarity != 0.7 || m.JudgeScore != nil {
		t.Fatalf("means %v %v %v %v", *m.RecallAt5, *m.MRR, *m.Similarity, m.JudgeScore)
	}
	if m.LatencyP50MS != 20 || m.LatencyP95MS != 40 {
		t.Fatalf("latency p50 %v p95 %v", m.LatencyP50MS, m.LatencyP95MS)
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 95); p != 5 {
		t.Fatalf("p95 = %v", p)
	}
	if math.IsNaN(percentile(nil, 50)) {
		t.Fatal("NaN")
	}
}

// reportRun is a finished run with a passing case, a failing one, an
// error and a skipped judge, gated against a baseline it fails.
func reportRun() *Result {
	gen := uuid.New()
	r := &Result{ID: uuid.New(), Suite: "email_draft", SuiteDigest: strings.Repeat("ab", 32), Tasks: []string{"email_draft"},
		PromptVersion: 9, PromptVersions: []string{"email_draft@v9"}, Provider: "offline", StartedAt: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC),
		Duration: 1500 * time.Millisecond, Thresholds: Thresholds{MinPassRate: 1}}
	r.Results = []CaseResult{
		{ID: "ok", Task: "email_draft", Passed: true, GenerationID: &gen, Prompt: "email_draft@v9", LatencyMS: 40,
			Assertions: []AssertionResult{{Type: "contains", Passed: true}, {Type: "llm_judge", Skipped: true, Detail: "skipped"}}},
		{ID: "bad <b>", Task: "email_draft", LatencyMS: 50, Assertions: []AssertionResult{
			{Type: "contains", Path: "/subject", Detail: `missing ["<script>alert(1)</script>"]`},
			{Type: "citations_valid", Passed: true},
			{Type: "length", Path: "/body", Detail: "12 runes, want at least 60"},
		}},
		{ID: "broken", Task: "email_draft", Error: "model output failed validation after one repair attempt: unexpected end", LatencyMS: 5, Assertions: []AssertionResult{}},
	}
	r.finish(constructedRun(1, Metrics{}))
	return r
}

func TestJUnitParsesBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, reportRun(), reportRun()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Props    []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Class   string `xml:"classname,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	// Per suite: 3 cases + the failed gate = 4 tests, 2 failures (a case
	// and the gate), 1 error.
	if doc.Tests != 8 || doc.Failures != 4 || doc.Errors != 2 || len(doc.Suites) != 2 {
		t.Fatalf("totals %d tests %d failures %d errors %d suites\n%s", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites), buf.String())
	}
	s := doc.Suites[0]
	if s.Name != "email_draft" || s.Tests != 4 || s.Failures != 2 || s.Errors != 1 || s.Skipped != 1 || len(s.Cases) != 4 {
		t.Fatalf("suite %+v", s)
	}
	ok, bad, broken, gate := s.Cases[0], s.Cases[1], s.Cases[2], s.Cases[3]
	if ok.Name != "ok" || ok.Failure != nil || ok.Error != nil || ok.Class != "email_draft.email_draft" {
		t.Fatalf("passing case %+v", ok)
	}
	if bad.Name != "bad <b>" || bad.Failure == nil || bad.Failure.Message != "2 assertion(s) failed" ||
		!strings.Contains(bad.Failure.Text, `contains /subject: missing ["<script>alert(1)</script>"]`) ||
		!strings.Contains(bad.Failure.Text, "length /body: 12 runes") || strings.Contains(bad.Failure.Text, "citations_valid") {
		t.Fatalf("failing case %+v", bad)
	}
	if broken.Error == nil || !strings.Contains(broken.Error.Message, "failed validation") {
		t.Fatalf("error case %+v", broken)
	}
	if gate.Name != "gate" || gate.Failure == nil || !strings.Contains(gate.Failure.Text, "pass_rate") {
		t.Fatalf("gate case %+v", gate)
	}
	props := map[string]string{}
	for _, p := range s.Props {
		props[p.Name] = p.Value
	}
	if props["prompt_versions"] != "email_draft@v9" || props["provider"] != "offline" {
		t.Fatalf("properties %v", props)
	}
}

func TestReportsEscape(t *testing.T) {
	r := reportRun()
	var html, md, table bytes.Buffer
	for _, w := range []struct {
		name string
		buf  *bytes.Buffer
	}{{"r.html", &html}, {"r.md", &md}} {
		if err := WriteReport(w.buf, w.name, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteReport(&bytes.Buffer{}, "r.pdf", r); err == nil {
		t.Fatal("a .pdf report was accepted")
	}
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "<script>") || !strings.Contains(html.String(), "&lt;script&gt;") ||
		!strings.Contains(html.String(), `class="FAIL"`) || !strings.Contains(html.String(), "bad &lt;b&gt;") {
		t.Fatalf("HTML report does not escape or mark failures:\n%s", html.String())
	}
	if strings.Contains(md.String(), "<script>") || !strings.Contains(md.String(), "## email_draft: failed") ||
		!strings.Contains(md.String(), "| broken | email_draft | ERROR |") {
		t.Fatalf("Markdown report:\n%s", md.String())
	}
	for _, want := range []string{"bad <b>", "FAIL", "ERROR", "pass rate 33.3%", "gate: FAIL", "max_pass_rate_drop", "1 assertions skipped", "v9 pinned"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
