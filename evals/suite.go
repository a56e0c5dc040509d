package evals

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dealdesk/dealdesk/assistant"
)

// ErrInvalidSuite marks a suite file that cannot be run as written.
var ErrInvalidSuite = errors.New("invalid eval suite")

// ErrUnknownSuite means no bundled suite has the name asked for.
var ErrUnknownSuite = errors.New("unknown eval suite")

//go:embed suites/*.yaml
var bundled embed.FS

// Suite is a named set of cases with the thresholds its runs must meet.
type Suite struct {
	Name        string     `yaml:"name" json:"name"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Task        string     `yaml:"task" json:"task,omitempty"`
	Defaults    Defaults   `yaml:"defaults,omitempty" json:"defaults"`
	Thresholds  Thresholds `yaml:"thresholds,omitempty" json:"thresholds"`
	Cases       []Case     `yaml:"cases,omitempty" json:"cases"`
	// Digest is the SHA-256 of the suite file, so a run says exactly
	// which cases it ran.
	Digest string `yaml:"-" json:"digest"`
}

// Defaults apply to every case of a suite.
type Defaults struct {
	// Input fields are merged under each case's input (the case wins).
	Input map[string]any `yaml:"input" json:"input,omitempty"`
	// Assert is checked on every case, before the case's own assertions.
	Assert []Assertion `yaml:"assert,omitempty" json:"assert,omitempty"`
}

// Case is one request to a task with what its answer must satisfy.
type Case struct {
	ID   string `yaml:"id" json:"id"`
	Task string `yaml:"task" json:"task"`
	// Input is the task's API request body (assistant.DecodeRequest).
	Input map[string]any `yaml:"input" json:"input"`
	// Document, when set, is the source path of a knowledge-base document
	// whose text becomes the case's tender, transcript or intel text.
	Document string      `yaml:"document,omitempty" json:"document,omitempty"`
	Expect   Expect      `yaml:"expect,omitempty" json:"expect"`
	Assert   []Assertion `yaml:"assert,omitempty" json:"assert,omitempty"`
}

// Expect is what a case's answer should contain and find.
type Expect struct {
	// Facts must appear in the answer (case-insensitive).
	Facts []string `yaml:"facts,omitempty" json:"facts,omitempty"`
	// Sources are the knowledge-base documents (source paths) relevant to
	// the case, for recall@k and MRR.
	Sources []string `yaml:"sources,omitempty" json:"sources,omitempty"`
}

// Thresholds decide whether a run passes, alone and against a baseline.
type Thresholds struct {
	// MinPassRate is the lowest share of passing cases (0-1).
	MinPassRate float64 `yaml:"min_pass_rate,omitempty" json:"min_pass_rate"`
	// MaxPassRateDrop is how far the pass rate may fall below the
	// baseline's.
	MaxPassRateDrop float64 `yaml:"max_pass_rate_drop,omitempty" json:"max_pass_rate_drop"`
	// MinMetrics are absolute floors of higher-is-better metrics.
	MinMetrics map[string]float64 `yaml:"min_metrics,omitempty" json:"min_metrics,omitempty"`
	// MaxMetricDrop is how far each metric may regress against the
	// baseline: down for higher-is-better metrics, up for latencies.
	MaxMetricDrop map[string]Allowance `yaml:"max_metric_drop,omitempty" json:"max_metric_drop,omitempty"`
}

// Allowance is a permitted regression: an absolute amount (0.05) or a
// share of the baseline ("10%", "+50%").
type Allowance struct {
	Abs      float64
	Relative bool
}

// UnmarshalYAML reads 0.05, "0.05", "10%" or "+50%".
func (a *Allowance) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number or a percentage such as \"10%%\"", n.Line)
	}
	v, err := parseAllowance(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = v
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Allowance) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	v, err := parseAllowance(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalJSON writes a number or a percentage string.
func (a Allowance) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

func (a Allowance) String() string {
	if a.Relative {
		return strconv.FormatFloat(a.Abs*100, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(a.Abs, 'f', -1, 64)
}

func parseAllowance(s string) (Allowance, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	rel := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || v < 0 {
		return Allowance{}, fmt.Errorf("allowance %q: want a non-negative number or a percentage such as \"10%%\"", s)
	}
	if rel {
		v /= 100
	}
	return Allowance{Abs: v, Relative: rel}, nil
}

// Bundled lists the names of the suites embedded in the binary.
func Bundled() []string {
	files, _ := fs.Glob(bundled, "suites/*.yaml")
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(path.Base(f), ".yaml")
	}
	return names
}

// Load reads a suite by bundled name ("email_draft") or by file path.
func Load(nameOrPath string) (*Suite, error) {
	if !strings.ContainsAny(nameOrPath, `/\`) && !strings.HasSuffix(nameOrPath, ".yaml") && !strings.HasSuffix(nameOrPath, ".yml") {
		raw, err := bundled.ReadFile("suites/" + nameOrPath + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("%w %q (bundled: %s; or give a file path)", ErrUnknownSuite, nameOrPath, strings.Join(Bundled(), ", "))
		}
		return Parse(raw, nameOrPath)
	}
	raw, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("read suite: %w", err)
	}
	return Parse(raw, strings.TrimSuffix(strings.TrimSuffix(path.Base(nameOrPath), ".yaml"), ".yml"))
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Parse reads a suite file and checks everything that can be checked
// without running it: known fields only, every case input decodes as its
// task's request, assertions are complete and their patterns and schemas
// compile. fallbackName names a suite without a name field. Errors wrap
// ErrInvalidSuite and name the case at fault.
func Parse(raw []byte, fallbackName string) (*Suite, error) {
	var s Suite
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSuite, err)
	}
	sum := sha256.Sum256(raw)
	s.Digest = hex.EncodeToString(sum[:])
	if s.Name == "" {
		s.Name = fallbackName
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalidSuite, s.Name, err)
	}
	return &s, nil
}

func (s *Suite) check() error {
	var errs []error
	if !idPattern.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("name %q: want letters, digits, '_', '-' or '.'", s.Name))
	}
	if len(s.Cases) == 0 {
		errs = append(errs, errors.New("no cases"))
	}
	th := s.Thresholds
	if th.MinPassRate < 0 || th.MinPassRate > 1 || th.MaxPassRateDrop < 0 || th.MaxPassRateDrop > 1 {
		errs = append(errs, errors.New("thresholds: min_pass_rate and max_pass_rate_drop are shares from 0 to 1"))
	}
	for _, m := range slices.Sorted(maps.Keys(th.MaxMetricDrop)) {
		if _, ok := metricInfo[m]; !ok {
			errs = append(errs, fmt.Errorf("thresholds.max_metric_drop: unknown metric %q (known: %s)", m, metricNames()))
		}
	}
	for _, m := range slices.Sorted(maps.Keys(th.MinMetrics)) {
		if info, ok := metricInfo[m]; !ok || info.lowerBetter {
			errs = append(errs, fmt.Errorf("thresholds.min_metrics: %q is not a higher-is-better metric (known: %s)", m, metricNames()))
		}
	}
	for i := range s.Defaults.Assert {
		if err := s.Defaults.Assert[i].compile(); err != nil {
			errs = append(errs, fmt.Errorf("defaults.assert[%d]: %w", i, err))
		}
	}
	seen := map[string]bool{}
	for i := range s.Cases {
		c := &s.Cases[i]
		if err := s.checkCase(c); err != nil {
			label := c.ID
			if label == "" {
				label = fmt.Sprintf("#%d", i+1)
			}
			errs = append(errs, fmt.Errorf("case %s: %w", label, err))
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("case %s: the id is used twice", c.ID))
		}
		seen[c.ID] = true
	}
	return errors.Join(errs...)
}

func (s *Suite) checkCase(c *Case) error {
	if !idPattern.MatchString(c.ID) {
		return fmt.Errorf("id %q: want letters, digits, '_', '-' or '.'", c.ID)
	}
	if c.Task == "" {
		c.Task = s.Task
	}
	if !slices.Contains(assistant.Tasks, c.Task) {
		return fmt.Errorf("task %q: want one of %s (set it on the case or the suite)", c.Task, strings.Join(assistant.Tasks, ", "))
	}
	if c.Input == nil {
		c.Input = map[string]any{}
	}
	merged := maps.Clone(s.Defaults.Input)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, c.Input)
	c.Input = merged
	if _, err := c.request(); err != nil {
		return err
	}
	if c.Document != "" && !slices.Contains([]string{assistant.TaskTenderAnalysis, assistant.TaskMeetingNotes, assistant.TaskCompetitiveIntel}, c.Task) {
		return fmt.Errorf("document: only tender_analysis, meeting_notes and competitive_intel cases read a document")
	}
	var errs []error
	for i := range c.Assert {
		a := &c.Assert[i]
		if err := a.compile(); err != nil {
			errs = append(errs, fmt.Errorf("assert[%d]: %w", i, err))
			continue
		}
		if (a.Type == AssertRecallAtK || a.Type == AssertMRR) && len(c.Expect.Sources) == 0 {
			errs = append(errs, fmt.Errorf("assert[%d]: %s needs expect.sources", i, a.Type))
		}
	}
	return errors.Join(errs...)
}

// request decodes the case's input as its task's request.
func (c *Case) request() (assistant.Request, error) {
	raw, err := json.Marshal(c.Input)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	req, err := assistant.DecodeRequest(c.Task, raw)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	return req, nil
}

// assertions are the checks of a case: the suite's defaults, one for the
// expected facts, then the case's own.
func (s *Suite) assertions(c *Case) []Assertion {
	out := slices.Clone(s.Defaults.Assert)
	if len(c.Expect.Facts) > 0 {
		out = append(out, Assertion{Type: AssertFacts, Value: c.Expect.Facts, IgnoreCase: true})
	}
	return append(out, c.Assert...)
}

// Tasks lists the tasks a suite's cases use, in first-use order.
func (s *Suite) Tasks() []string {
	var out []string
	for _, c := range s.Cases {
		if !slices.Contains(out, c.Task) {
			out = append(out, c.Task)
		}
	}
	return out
}
