package evals

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tmc/langchaingo/llms"
	"gopkg.in/yaml.v3"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
)

// testGeneration is an email answer with three retrieved sources.
func testGeneration() *assistant.Generation {
	src := func(label, path string, cited bool) assistant.Source {
		return assistant.Source{Source: retrieval.Source{Label: label, Source: path, Kind: strings.Split(path, "/")[0]}, Cited: cited}
	}
	return &assistant.Generation{
		ID:   uuid.New(),
		Task: "email_draft",
		Output: map[string]any{
			"subject":   "苏州市数据局：方案要点",
			"body":      "尊敬的李明：\n\n苏州项目 100 天上线，单集群支持 5,000 并发办件。\n\n此致\n周宁 13912345678",
			"citations": []any{"S1", "S3"},
			"meta":      map[string]any{"score": 4.5, "tags": []any{"govdata", "Jiangsu"}},
		},
		// S2 and S4 are two parts of one document: recall counts it once.
		Sources: []assistant.Source{
			src("S2", "won_deal/suzhou-data-bureau-govdata.md", false),
			src("S1", "meeting/suzhou-data-bureau-requirements-2024-12.md", true),
			src("S3", "product/govdata-product-sheet.md", true),
			src("S4", "won_deal/suzhou-data-bureau-govdata.md", false),
		},
		Model:  assistant.ModelInfo{Provider: "offline", Offline: true, Prompt: "email_draft@v1", PromptVersion: 1},
		Checks: assistant.Checks{CitationsValid: true, Cited: []string{"S1", "S3"}},
	}
}

// parseAssertion compiles one assertion written as YAML.
func parseAssertion(t *testing.T, src string) Assertion {
	t.Helper()
	var a Assertion
	if err := yaml.Unmarshal([]byte(src), &a); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if err := a.compile(); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return a
}

// judgeModel is a chat model that answers every judge call with reply.
type judgeModel struct{ reply string }

func (m judgeModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

func (m judgeModel) GenerateContent(context.Context, []llms.MessageContent, ...llms.CallOption) (*llms.ContentResponse, error) {
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: m.reply}}}, nil
}

func TestAssertions(t *testing.T) {
	offline, err := providers.New(context.Background(), providers.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	realModel := func(reply string) *providers.Models {
		return &providers.Models{LLM: judgeModel{reply}, Embedder: offline.Embedder, Info: providers.Info{Provider: "openai", ChatModel: "judge"}}
	}
	tests := []struct {
		name   string
		yaml   string
		edit   func(*subject)
		pass   bool
		skip   bool
		detail string
	}{
		{"contains string", "{type: contains, value: 5,000 并发}", nil, true, false, ""},
		{"contains list in a path", "{type: contains, path: /subject, value: [苏州, 方案]}", nil, true, false, ""},
		{"contains missing", "{type: contains, path: /subject, value: [苏州, 报价]}", nil, false, false, `missing ["报价"]`},
		{"contains is case-sensitive by default", "{type: contains, value: jiangsu}", nil, false, false, "missing"},
		{"contains ignore_case", "{type: contains, value: jiangsu, ignore_case: true}", nil, true, false, ""},
		{"contains any", "{type: contains, value: [报价, 100 天], any: true}", nil, true, false, ""},
		{"contains any of none", "{type: contains, value: [报价, 折扣], any: true}", nil, false, false, "none of"},
		{"contains a number", "{type: contains, path: /meta/score, value: '4.5'}", nil, true, false, ""},
		{"contains an array item", "{type: contains, path: /meta/tags/1, value: Jiangsu}", nil, true, false, ""},
		{"path missing", "{type: contains, path: /nope, value: x}", nil, false, false, "no value at /nope"},
		{"not_contains", "{type: not_contains, path: /body, value: ['[S', 最好的]}", nil, true, false, ""},
		{"not_contains found", "{type: not_contains, value: [GOVDATA, 国内第一], ignore_case: true}", nil, false, false, `found ["GOVDATA"]`},
		{"regex", `{type: regex, path: /body, pattern: "^尊敬的李明"}`, nil, true, false, ""},
		{"regex no match", `{type: regex, path: /subject, pattern: "^杭州"}`, nil, false, false, "no match"},
		{"json_schema", "{type: json_schema, schema: {type: object, required: [subject, body], properties: {citations: {type: array, minItems: 2}}}}", nil, true, false, ""},
		{"json_schema at a path", "{type: json_schema, path: /citations, schema: {type: array, items: {pattern: '^S[0-9]+$'}}}", nil, true, false, ""},
		{"json_schema violated", "{type: json_schema, schema: {type: object, required: [tone]}}", nil, false, false, "tone"},
		{"citations_valid", "{type: citations_valid, min_cited: 2}", nil, true, false, ""},
		{"citations_valid too few", "{type: citations_valid, min_cited: 3}", nil, false, false, "want at least 3"},
		{"citations_valid unknown", "{type: citations_valid}", func(s *subject) {
			s.gen.Checks.CitationsValid, s.gen.Checks.UnknownCitations = false, []string{"S9"}
		}, false, false, "S9"},
		{"no_pii: the input's own phone", "{type: no_pii}", func(s *subject) { s.input = map[string]any{"sender": "周宁 139 1234 5678"} }, true, false, ""},
		{"no_pii: a phone the input lacks", "{type: no_pii}", nil, false, false, "phone"},
		{"no_pii: an e-mail address the input lacks", "{type: no_pii, path: /subject}", func(s *subject) {
			s.gen.Output["subject"] = "请联系 li.ming@suzhou.example.cn"
		}, false, false, "email"},
		{"length", "{type: length, path: /subject, min: 5, max: 20}", nil, true, false, ""},
		{"length too short", "{type: length, path: /subject, min: 50}", nil, false, false, "11 runes"},
		{"length too long", "{type: length, path: /body, max: 10}", nil, false, false, "at most 10"},
		{"latency", "{type: latency, max_ms: 500}", nil, true, false, ""},
		{"latency over", "{type: latency, max_ms: 100}", func(s *subject) { s.latency = 250 * time.Millisecond }, false, false, "250 ms"},
		{"recall_at_k", "{type: recall_at_k, k: 2, min: 1}", nil, true, false, ""},
		{"recall_at_k below", "{type: recall_at_k, k: 1, min: 0.6}", nil, false, false, "recall@1 0.50"},
		{"mrr", "{type: mrr, min: 1}", nil, true, false, ""},
		{"mrr below", "{type: mrr, min: 0.5}", func(s *subject) { s.expect.Sources = []string{"product/govdata-product-sheet.md"} }, false, false, "MRR 0.33"},
		{"similarity", "{type: similarity, path: /subject, reference: 苏州市数据局：方案要点, min: 0.99}", nil, true, false, ""},
		{"similarity below", "{type: similarity, path: /subject, reference: Northwind database audit throughput per node, min: 0.5}", nil, false, false, "cosine"},
		{"llm_judge offline is skipped", "{type: llm_judge, rubric: Polite and grounded, min: 4}", nil, false, true, "needs a real model"},
		{"llm_judge passes", "{type: llm_judge, rubric: Polite and grounded, min: 4}", func(s *subject) {
			s.models = realModel(`{"score": 5, "reason": "grounded"}`)
		}, true, false, "score 5"},
		{"llm_judge fails", "{type: llm_judge, rubric: Polite and grounded, min: 4}", func(s *subject) {
			s.models = realModel("```json\n{\"score\": 2, \"reason\": \"invents a price\"}\n```")
		}, false, false, "invents a price"},
		{"llm_judge garbage", "{type: llm_judge, rubric: Polite, min: 3}", func(s *subject) { s.models = realModel(`{"score": 9}`) }, false, false, "not 1-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := parseAssertion(t, tt.yaml)
			s := subject{gen: testGeneration(), input: map[string]any{"customer": "苏州市数据局"}, latency: 120 * time.Millisecond, models: offline,
				expect: Expect{Sources: []string{"won_deal/suzhou-data-bureau-govdata.md", "meeting/suzhou-data-bureau-requirements-2024-12.md"}}}
			if tt.edit != nil {
				tt.edit(&s)
			}
			r := a.check(context.Background(), s)
			if r.Passed != tt.pass || r.Skipped != tt.skip {
				t.Fatalf("passed=%v skipped=%v (%s), want passed=%v skipped=%v", r.Passed, r.Skipped, r.Detail, tt.pass, tt.skip)
			}
			if r.Failed() && !strings.Contains(r.Detail, tt.detail) || r.Skipped && !strings.Contains(r.Detail, tt.detail) {
				t.Fatalf("detail %q, want it to mention %q", r.Detail, tt.detail)
			}
			if r.Type != a.Type {
				t.Fatalf("type %q", r.Type)
			}
		})
	}
}

func TestRetrievalMetrics(t *testing.T) {
	g := testGeneration()
	paths := retrievedPaths(g)
	want := []string{"meeting/suzhou-data-bureau-requirements-2024-12.md", "won_deal/suzhou-data-bureau-govdata.md", "product/govdata-product-sheet.md"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("paths in label order, once each = %v, want %v", paths, want)
	}
	rel := []string{"product/govdata-product-sheet.md", "won_deal/hangzhou-psb-vision.md"}
	if got := recallAtK(paths, rel, 2); got != 0 {
		t.Errorf("recall@2 = %v, want 0", got)
	}
	if got := recallAtK(paths, rel, 5); got != 0.5 {
		t.Errorf("recall@5 = %v, want 0.5", got)
	}
	if got := reciprocalRank(paths, rel); got != 1.0/3 {
		t.Errorf("MRR = %v, want 1/3", got)
	}
	if got := reciprocalRank(paths, []string{"x.md"}); got != 0 {
		t.Errorf("MRR without a relevant hit = %v", got)
	}
}

func TestParseRejectsBadSuites(t *testing.T) {
	head := "name: t\ntask: objection\n"
	tests := []struct{ name, yaml, want string }{
		{"unknown field", head + "cases: [{id: a, input: {objection: x}, asert: []}]", "asert"},
		{"unknown input field", head + "cases: [{id: a, input: {objection: x, colour: red}}]", "colour"},
		{"unknown task", "name: t\ncases: [{id: a, task: poem, input: {}}]", `task "poem"`},
		{"no cases", head, "no cases"},
		{"duplicate ids", head + "cases: [{id: a, input: {objection: x}}, {id: a, input: {objection: y}}]", "used twice"},
		{"unknown assertion", head + "cases: [{id: a, input: {objection: x}, assert: [{type: vibes}]}]", `type "vibes"`},
		{"field the type does not take", head + "cases: [{id: a, input: {objection: x}, assert: [{type: latency, max_ms: 5, k: 3}]}]", "does not take k"},
		{"bad regex", head + "cases: [{id: a, input: {objection: x}, assert: [{type: regex, pattern: '('}]}]", "does not compile"},
		{"bad schema", head + "cases: [{id: a, input: {objection: x}, assert: [{type: json_schema, schema: {type: 12}}]}]", "json_schema"},
		{"recall without sources", head + "cases: [{id: a, input: {objection: x}, assert: [{type: recall_at_k, k: 5, min: 1}]}]", "expect.sources"},
		{"judge without min", head + "cases: [{id: a, input: {objection: x}, assert: [{type: llm_judge, rubric: r}]}]", "min (score 1-5)"},
		{"path without slash", head + "cases: [{id: a, input: {objection: x}, assert: [{type: contains, path: body, value: x}]}]", "JSON Pointer"},
		{"document on a task without one", head + "cases: [{id: a, document: x.md, input: {objection: x}}]", "document"},
		{"unknown metric", head + "thresholds: {max_metric_drop: {bleu: 0.1}}\ncases: [{id: a, input: {objection: x}}]", `"bleu"`},
		{"bad allowance", head + "thresholds: {max_metric_drop: {mrr: lots}}\ncases: [{id: a, input: {objection: x}}]", "allowance"},
		{"floor on latency", head + "thresholds: {min_metrics: {latency_p95_ms: 10}}\ncases: [{id: a, input: {objection: x}}]", "higher-is-better"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "t")
			if !errors.Is(err, ErrInvalidSuite) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidSuite mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	s, err := Parse([]byte(`
name: d
task: email_draft
defaults:
  input: {seller: 云擎科技, language: zh}
  assert: [{type: no_pii}]
thresholds:
  max_metric_drop: {mrr: 0.05, latency_p95_ms: "+50%"}
cases:
  - id: a
    input: {purpose: follow_up, customer: 苏州市数据局, language: en}
    expect: {facts: [苏州]}
    assert: [{type: citations_valid}]
`), "x")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Cases[0]
	if c.Task != "email_draft" || c.Input["seller"] != "云擎科技" || c.Input["language"] != "en" {
		t.Fatalf("case = %+v: the suite's task and default input apply, the case's own input wins", c)
	}
	var types []string
	for _, a := range s.assertions(&c) {
		types = append(types, a.Type)
	}
	if strings.Join(types, ",") != "no_pii,facts,citations_valid" {
		t.Fatalf("assertions = %v", types)
	}
	if a := s.Thresholds.MaxMetricDrop["latency_p95_ms"]; !a.Relative || a.Abs != 0.5 || a.String() != "50%" {
		t.Fatalf("latency allowance = %+v", a)
	}
	if len(s.Digest) != 64 {
		t.Fatalf("digest %q", s.Digest)
	}
}

func TestBundledSuitesParse(t *testing.T) {
	names := Bundled()
	for _, task := range assistant.Tasks {
		s, err := Load(task)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != task || len(s.Cases) < 5 || len(s.Cases) > 10 {
			t.Errorf("suite %s: %d cases", s.Name, len(s.Cases))
		}
	}
	if len(names) != len(assistant.Tasks) {
		t.Errorf("bundled = %v", names)
	}
	if _, err := Load("nope"); !errors.Is(err, ErrUnknownSuite) {
		t.Fatalf("unknown suite: %v", err)
	}
}
