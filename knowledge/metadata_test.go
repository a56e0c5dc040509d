package knowledge

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{"tender", KindTender},
		{" Won-Deal ", KindWonDeal},
		{"lost deal", KindLostDeal},
		{"competitors", KindCompetitor},
		{"中标", KindWonDeal},
		{"会议纪要", KindMeeting},
	}
	for _, tt := range tests {
		got, err := ParseKind(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseKind("brochure")
	if !errors.Is(err, ErrInvalidMetadata) {
		t.Fatalf("ParseKind(brochure) err = %v, want ErrInvalidMetadata", err)
	}
	for _, k := range Kinds() {
		if !strings.Contains(err.Error(), string(k)) {
			t.Errorf("error %q does not list kind %s", err, k)
		}
	}
}

func TestParseDate(t *testing.T) {
	want := Date{2025, time.January, 6}
	for _, in := range []string{"2025-01-06", "2025-1-6", "2025/01/06", "2025.1.6", "2025年1月6日", "2025-01-06T10:30:00+08:00", " 2025-01-06 "} {
		got, err := ParseDate(in)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2025-02-30", "2025-13-01", "06/01/2025", "yesterday", "2025", ""} {
		if _, err := ParseDate(in); !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "date") {
			t.Errorf("ParseDate(%q) err = %v, want a bad date error", in, err)
		}
	}
	if s := want.String(); s != "2025-01-06" {
		t.Errorf("String() = %q", s)
	}
}

// TestFrontMatter checks the YAML forms people actually write.
func TestFrontMatter(t *testing.T) {
	src := `kind: Won-Deal
title: 某省大数据局一网通办项目
region: zhejiang
date: 2025-06-30
tags: 信创, 一网通办，政务云
access:
  regions: zhejiang
  roles: [sales, manager]
deal:
  amount: 860万
  stage: closed
  competitors: 华拓数字、睿云
  decision_makers:
    - role: 分管副局长
      name: 王局
      concerns: 信创合规, 等保三级
  reasons: [本地化服务, 全栈信创]
  product_lines: [govdata]
owner: 华东区
score: 87
`
	m, err := parseMetadataYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{
		Kind: KindWonDeal, Title: "某省大数据局一网通办项目", Region: "zhejiang",
		Date: Date{2025, time.June, 30}, Tags: []string{"信创", "一网通办", "政务云"},
		Access: Access{Regions: []string{"zhejiang"}, Roles: []string{"sales", "manager"}},
		Deal: &Deal{
			Amount: 8600000, Stage: "closed", Competitors: []string{"华拓数字", "睿云"},
			DecisionMakers: []DecisionMaker{{Role: "分管副局长", Name: "王局", Concerns: []string{"信创合规", "等保三级"}}},
			Reasons:        []string{"本地化服务", "全栈信创"}, ProductLines: []string{"govdata"},
		},
		Extra: map[string]any{"owner": "华东区", "score": 87},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	m.Normalize()
	if m.Deal.Currency != "CNY" {
		t.Errorf("currency = %q, want CNY by default", m.Deal.Currency)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestFrontMatterErrors(t *testing.T) {
	tests := []struct{ yaml, msg string }{
		{"kind: brochure", "unknown kind"},
		{"date: 2025-02-30", "bad date"},
		{"date: [2025]", "date must be"},
		{"deal:\n  amount: a lot", "bad deal amount"},
		{"- just\n- a list", "mapping"},
		{"title: [unclosed", "yaml"},
		{"tags: {a: b}", "cannot unmarshal"},
	}
	for _, tt := range tests {
		_, err := parseMetadataYAML([]byte(tt.yaml))
		if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: err = %v, want ErrInvalidMetadata saying %q", tt.yaml, err, tt.msg)
		}
	}
}

func TestSplitFrontMatter(t *testing.T) {
	tests := []struct {
		in, fm, body string
		ok           bool
	}{
		{"---\nkind: policy\n---\n# T\n", "kind: policy\n", "# T\n", true},
		{"---\nkind: policy\n...\nbody", "kind: policy\n", "body", true},
		{"---  \na: 1\n---", "a: 1\n", "", true},
		{"# T\n---\na: 1\n---\n", "", "# T\n---\na: 1\n---\n", false},
		{"---\nno closing line\n", "", "---\nno closing line\n", false}, // a thematic break
	}
	for _, tt := range tests {
		fm, body, ok := splitFrontMatter(tt.in)
		if fm != tt.fm || body != tt.body || ok != tt.ok {
			t.Errorf("splitFrontMatter(%q) = %q, %q, %v; want %q, %q, %v", tt.in, fm, body, ok, tt.fm, tt.body, tt.ok)
		}
	}
}

func TestMergeMetadataPrecedence(t *testing.T) {
	override := Metadata{Region: "override-region", Tags: []string{"from-request"}}
	front := Metadata{Kind: KindPolicy, Title: "front title", Region: "front-region", Extra: map[string]any{"a": "front"},
		Deal: &Deal{Stage: "closed"}}
	sidecar := Metadata{Kind: KindTender, Title: "sidecar title", Industry: "sidecar-industry", Customer: "sidecar-customer",
		Tags: []string{"from-sidecar"}, Extra: map[string]any{"a": "sidecar", "b": "sidecar"}, Deal: &Deal{Amount: 5, Stage: "open"}}
	inferred := Metadata{Kind: KindMeeting, Title: "inferred title", Source: "x/y.md", Language: "zh"}
	got := MergeMetadata(override, front, sidecar, inferred)
	want := Metadata{
		Kind: KindPolicy, Title: "front title", Source: "x/y.md", Region: "override-region",
		Industry: "sidecar-industry", Customer: "sidecar-customer", Language: "zh",
		Tags: []string{"from-request"}, Extra: map[string]any{"a": "front", "b": "sidecar"},
		Deal: &Deal{Amount: 5, Stage: "closed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// The layers are not modified, and the result does not alias them.
	got.Tags[0] = "changed"
	got.Deal.Stage = "changed"
	if override.Tags[0] != "from-request" || front.Deal.Stage != "closed" || sidecar.Deal.Stage != "open" {
		t.Error("MergeMetadata result aliases its inputs")
	}
}

func TestInferMetadata(t *testing.T) {
	tests := []struct {
		name   string
		p      *Parsed
		kind   Kind
		title  string
		lang   string
		source string
	}{
		{name: "demo/won_deal/hangzhou.md", kind: KindWonDeal, title: "hangzhou", source: "demo/won_deal/hangzhou.md"},
		{name: `docs\中标\2025\杭州项目.pdf`, kind: KindWonDeal, title: "杭州项目", source: "docs/中标/2025/杭州项目.pdf"},
		{name: "misc/notes.txt", title: "notes"},
		{name: "a.docx", p: &Parsed{Title: "Microsoft Word - 投标方案.docx"}, title: "投标方案"},
		{name: "a.docx", p: &Parsed{Title: "Document1", Blocks: []Block{{Type: BlockParagraph, Text: "x"}, {Type: BlockHeading, Text: "第一章 总则"}}}, title: "第一章 总则", lang: "zh"},
		{name: "b.md", p: &Parsed{Blocks: []Block{{Type: BlockParagraph, Text: "The customer wants a pilot before the budget review."}}}, title: "b", lang: "en"},
		{name: "c.md", p: &Parsed{Blocks: []Block{{Type: BlockParagraph, Text: "信创适配清单 Xinchuang compatibility matrix for bids"}}}, title: "c", lang: "zh-en"},
	}
	for _, tt := range tests {
		m := InferMetadata(tt.name, tt.p)
		source := tt.source
		if source == "" {
			source = tt.name
		}
		if m.Kind != tt.kind || m.Title != tt.title || m.Language != tt.lang || m.Source != source {
			t.Errorf("InferMetadata(%q) = kind %q title %q lang %q source %q; want %q %q %q %q",
				tt.name, m.Kind, m.Title, m.Language, m.Source, tt.kind, tt.title, tt.lang, source)
		}
	}
}

// TestResolveMetadata runs the whole precedence chain on the sidecar
// sample: request > front matter > sidecar > inferred.
func TestResolveMetadata(t *testing.T) {
	p := mustLoad(t, "price-list.csv")
	f, err := os.Open("testdata/" + SidecarName("price-list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sidecar, err := ParseSidecar(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ResolveMetadata("products/price-list.csv", p, Metadata{Region: "zhejiang"}, &sidecar)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindProduct || m.Title != "云擎科技 2025 年目录价格表" || m.Region != "zhejiang" ||
		m.Source != "products/price-list.csv" || m.Date.String() != "2025-01-06" ||
		!slices.Equal(m.Tags, []string{"price-list", "pricing", "信创"}) || m.Extra["owner"] != "渠道部" || m.Language != "zh-en" {
		t.Errorf("resolved %+v", m)
	}

	// Front matter beats the sidecar; the folder name gives the kind.
	md := mustLoad(t, "playbook.md")
	m, err = ResolveMetadata("won_deal/playbook.md", md, Metadata{}, &Metadata{Kind: KindTender, Title: "sidecar", Industry: "education"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindPlaybook || m.Title != "政务云项目销售打法" || m.Industry != "government" {
		t.Errorf("front matter should win over sidecar: %+v", m)
	}
	m, err = ResolveMetadata("won_deal/notes.txt", mustLoad(t, "notes_gbk.txt"), Metadata{}, nil)
	if err != nil || m.Kind != KindWonDeal || m.Title != "某市数据局拜访纪要" || m.Language != "zh" {
		t.Errorf("inferred: %+v, %v", m, err)
	}

	// Without any kind the error says how to set one.
	_, err = ResolveMetadata("notes.txt", mustLoad(t, "notes_gbk.txt"), Metadata{}, nil)
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "kind is required") || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("err = %v, want a missing kind error naming the file", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Metadata{Kind: KindTender, Title: "t"}
	tests := []struct {
		name string
		edit func(*Metadata)
		msg  string
	}{
		{"no kind", func(m *Metadata) { m.Kind = "" }, "kind is required"},
		{"unknown kind", func(m *Metadata) { m.Kind = "x" }, "unknown kind"},
		{"no title", func(m *Metadata) { m.Title = " " }, "title is required"},
		{"impossible date", func(m *Metadata) { m.Date = Date{2025, 2, 30} }, "bad date"},
		{"negative amount", func(m *Metadata) { m.Deal = &Deal{Amount: -1} }, "deal amount"},
		{"bad currency", func(m *Metadata) { m.Deal = &Deal{Amount: 1, Currency: "yuan"} }, "currency"},
		{"tag too long", func(m *Metadata) { m.Tags = []string{strings.Repeat("标", 100)} }, "at most 200"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid metadata: %v", err)
	}
	for _, tt := range tests {
		m := ok
		tt.edit(&m)
		if err := m.Validate(); !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.msg)
		}
	}
}

// TestMetadataJSON checks the shape the API reads and writes.
func TestMetadataJSON(t *testing.T) {
	in := `{"kind":"won-deal","title":"t","date":"2025-03-01","tags":["a"],"access":{"roles":["sales"]},"deal":{"amount":1.5,"currency":"CNY"},"extra":{"k":"v"}}`
	var m Metadata
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindWonDeal || m.Date != (Date{2025, 3, 1}) {
		t.Errorf("decoded %+v", m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"won_deal","title":"t","date":"2025-03-01","tags":["a"],"access":{"roles":["sales"]},"deal":{"amount":1.5,"currency":"CNY"},"extra":{"k":"v"}}`
	if string(out) != want {
		t.Errorf("encoded %s\nwant    %s", out, want)
	}
	if err := json.Unmarshal([]byte(`{"kind":"nope"}`), &m); !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("unknown kind in JSON: err = %v", err)
	}
	if out, _ := json.Marshal(Metadata{}); string(out) != "{}" {
		t.Errorf("zero metadata encodes as %s", out)
	}
}

func TestIsSidecar(t *testing.T) {
	if !IsSidecar("a/price.csv.meta.yaml") || !IsSidecar("X.PDF.META.YML") || IsSidecar("meta.yaml.md") {
		t.Error("IsSidecar")
	}
	if SidecarName("a/b.csv") != "a/b.csv.meta.yaml" {
		t.Error("SidecarName")
	}
}
