package evals

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes a run for a terminal: one line per case (id, task,
// pass or fail, the failed assertions), then the metrics and the gate.
func WriteTable(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "suite %s (%s) run %s: prompt %s, %s/%s\n", r.Suite, shortDigest(r.SuiteDigest), r.ID,
		promptLabel(r), r.Provider, modelLabel(r))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tTASK\tRESULT\tLATENCY\tFAILED ASSERTIONS")
	for _, c := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f ms\t%s\n", c.ID, c.Task, caseOutcome(c), c.LatencyMS, oneLine(failureSummary(c), 160))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := r.Metrics
	fmt.Fprintf(w, "\n%d cases: %d passed, %d failed (%d errors); pass rate %.1f%%", m.Cases, m.Passed, m.Failed, m.Errors, 100*m.PassRate)
	if m.Skipped > 0 {
		fmt.Fprintf(w, "; %d assertions skipped", m.Skipped)
	}
	fmt.Fprintf(w, "\nrecall@5 %s  MRR %s  similarity %s  judge %s  latency p50 %.0f ms  p95 %.0f ms\n",
		optional(m.RecallAt5), optional(m.MRR), optional(m.Similarity), optional(m.JudgeScore), m.LatencyP50MS, m.LatencyP95MS)
	if r.Gate == nil {
		return nil
	}
	fmt.Fprintf(w, "\ngate: %s", verdict(r.Gate.Passed))
	if r.BaselineRunID != nil {
		fmt.Fprintf(w, " (baseline %s)", r.BaselineRunID)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tRULE\tBASELINE\tCURRENT\tALLOWED\tRESULT")
	for _, c := range r.Gate.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Metric, c.Rule, optional(c.Baseline), optional(c.Current), number(c.Allowed), verdict(c.Passed))
	}
	return tw.Flush()
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func caseOutcome(c CaseResult) string {
	switch {
	case c.Passed:
		return "PASS"
	case c.Error != "":
		return "ERROR"
	}
	return "FAIL"
}

// failureSummary lists what went wrong in a case, one item per failed
// assertion (or the error).
func failureSummary(c CaseResult) string {
	if c.Error != "" {
		return c.Error
	}
	var parts []string
	for _, a := range c.Failures() {
		parts = append(parts, assertionLabel(a)+": "+a.Detail)
	}
	return strings.Join(parts, "; ")
}

func assertionLabel(a AssertionResult) string {
	if a.Path != "" {
		return a.Type + " " + a.Path
	}
	return a.Type
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func optional(v *float64) string {
	if v == nil {
		return "-"
	}
	return number(*v)
}

func number(v float64) string {
	if v == float64(int64(v)) && (v >= 10 || v <= -10) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func shortDigest(d string) string { return d[:min(12, len(d))] }

func promptLabel(r *Result) string {
	used := strings.Join(r.PromptVersions, ", ")
	if used == "" {
		used = "none"
	}
	if r.PromptVersion > 0 {
		return fmt.Sprintf("v%d pinned (%s)", r.PromptVersion, used)
	}
	return used
}

func modelLabel(r *Result) string {
	if r.Model == "" {
		return "composer"
	}
	return r.Model
}

// JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes runs as JUnit XML: one testsuite per run, one
// testcase per case, a failure listing the failed assertions of each
// failed case (an error for a case without an answer), and a failing
// "gate" testcase when the gate failed.
func WriteJUnit(w io.Writer, runs ...*Result) error {
	out := junitSuites{Name: "dealdesk-evals"}
	var total time.Duration
	for _, r := range runs {
		s := junitSuite{Name: r.Suite, Time: seconds(r.Duration), Timestamp: r.StartedAt.UTC().Format(time.RFC3339), Skipped: 0,
			Properties: []junitProperty{
				{"run_id", r.ID.String()}, {"suite_digest", r.SuiteDigest}, {"prompt_versions", strings.Join(r.PromptVersions, ",")},
				{"provider", r.Provider}, {"model", r.Model}, {"pass_rate", number(r.PassRate)},
			}}
		total += r.Duration
		for _, c := range r.Results {
			jc := junitCase{Name: c.ID, Classname: r.Suite + "." + c.Task, Time: seconds(time.Duration(c.LatencyMS * float64(time.Millisecond)))}
			if c.GenerationID != nil {
				jc.SystemOut = "generation " + c.GenerationID.String() + " (" + c.Prompt + ")"
			}
			switch {
			case c.Error != "":
				jc.Error = &junitMessage{Message: oneLine(c.Error, 200), Type: "error", Text: c.Error}
				s.Errors++
			case !c.Passed:
				fails := c.Failures()
				lines := make([]string, len(fails))
				for i, a := range fails {
					lines[i] = assertionLabel(a) + ": " + a.Detail
				}
				jc.Failure = &junitMessage{Message: fmt.Sprintf("%d assertion(s) failed", len(fails)), Type: "assertion", Text: strings.Join(lines, "\n")}
				s.Failures++
			}
			for _, a := range c.Assertions {
				if a.Skipped {
					s.Skipped++
				}
			}
			s.Cases = append(s.Cases, jc)
		}
		if r.Gate != nil && !r.Gate.Passed {
			var lines []string
			for _, c := range r.Gate.Failures() {
				lines = append(lines, fmt.Sprintf("%s (%s): %s, allowed %s, baseline %s", c.Metric, c.Rule, optional(c.Current), number(c.Allowed), optional(c.Baseline)))
			}
			s.Cases = append(s.Cases, junitCase{Name: "gate", Classname: r.Suite + ".gate", Time: "0",
				Failure: &junitMessage{Message: "the run fails its thresholds", Type: "gate", Text: strings.Join(lines, "\n")}})
			s.Failures++
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	out.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteMarkdown writes runs as a Markdown report (a CI job summary, a
// pull-request comment).
func WriteMarkdown(w io.Writer, runs ...*Result) error {
	var b strings.Builder
	b.WriteString("# Eval report\n")
	for _, r := range runs {
		m := r.Metrics
		fmt.Fprintf(&b, "\n## %s: %s\n\n", mdEscape(r.Suite), gateWord(r))
		fmt.Fprintf(&b, "Run `%s`, suite digest `%s`, prompt %s, %s/%s, %s.\n\n", r.ID, shortDigest(r.SuiteDigest),
			mdEscape(promptLabel(r)), mdEscape(r.Provider), mdEscape(modelLabel(r)), r.StartedAt.UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "| cases | passed | failed | errors | pass rate | recall@5 | MRR | similarity | judge | p50 ms | p95 ms |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %.1f%% | %s | %s | %s | %s | %.0f | %.0f |\n\n", m.Cases, m.Passed, m.Failed, m.Errors,
			100*m.PassRate, optional(m.RecallAt5), optional(m.MRR), optional(m.Similarity), optional(m.JudgeScore), m.LatencyP50MS, m.LatencyP95MS)
		if r.Gate != nil {
			b.WriteString("| gate check | rule | baseline | current | allowed | result |\n|---|---|---|---|---|---|\n")
			for _, c := range r.Gate.Checks {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", c.Metric, mdEscape(c.Rule), optional(c.Baseline), optional(c.Current), number(c.Allowed), verdict(c.Passed))
			}
			b.WriteString("\n")
		}
		b.WriteString("| case | task | result | latency | failed assertions |\n|---|---|---|---|---|\n")
		for _, c := range r.Results {
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f ms | %s |\n", mdEscape(c.ID), c.Task, caseOutcome(c), c.LatencyMS, mdEscape(oneLine(failureSummary(c), 300)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func gateWord(r *Result) string {
	if r.Gate == nil {
		return r.Status
	}
	return strings.ToLower(verdict(r.Gate.Passed)) + "ed"
}

// mdEscape keeps text inside a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

//go:embed report.html.tmpl
var htmlReport string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"optional":  optional,
	"number":    number,
	"outcome":   caseOutcome,
	"verdict":   verdict,
	"percent":   func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"label":     assertionLabel,
	"prompt":    promptLabel,
	"model":     modelLabel,
	"short":     shortDigest,
	"timestamp": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(htmlReport))

// WriteHTML writes runs as a standalone HTML page; every value from a run
// is escaped by html/template.
func WriteHTML(w io.Writer, runs ...*Result) error {
	return htmlTemplate.Execute(w, runs)
}

// WriteReport writes runs as Markdown or HTML, by the file name's
// extension (.md, .html or .htm).
func WriteReport(w io.Writer, name string, runs ...*Result) error {
	switch {
	case strings.HasSuffix(name, ".md"), strings.HasSuffix(name, ".markdown"):
		return WriteMarkdown(w, runs...)
	case strings.HasSuffix(name, ".html"), strings.HasSuffix(name, ".htm"):
		return WriteHTML(w, runs...)
	}
	return fmt.Errorf("report %s: want a .md or .html file", name)
}
