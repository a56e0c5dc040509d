package analyze

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/dealdesk/dealdesk/prompts"
)

var registry = sync.OnceValues(prompts.Load)

// template loads a v1 template through the real registry.
func template(t testing.TB, name string) *prompts.Template {
	t.Helper()
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := reg.Get(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// decoded returns v after a JSON round trip, as a validator sees it.
func decoded(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustValidate(t testing.TB, tm *prompts.Template, v any) {
	t.Helper()
	if err := tm.Schema.Validate(decoded(t, v)); err != nil {
		t.Fatalf("%s: %v", tm.ID(), err)
	}
}

// spans walks a decoded answer and returns every "span" value.
func spans(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "span" {
				out = append(out, s)
			}
			out = append(out, spans(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, spans(e)...)
		}
	}
	return out
}

// allText is every string in a decoded answer.
func allText(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + "\n")
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

func checkSpans(t testing.TB, v any, doc string) {
	t.Helper()
	for _, s := range spans(decoded(t, v)) {
		if !strings.Contains(doc, s) {
			t.Errorf("span %q is not a substring of the document", s)
		}
	}
}

func TestMeetingNotesChinese(t *testing.T) {
	tm := template(t, "meeting_notes")
	r := MeetingNotes(tm, zhMeeting)
	mustValidate(t, tm, r)
	checkSpans(t, r, zhMeeting.Transcript)

	b := r.CRM.BudgetAmount
	if b == nil || b.Value != 6100000 || b.Currency != "CNY" || b.Span != "二期总盘子 610 万。" {
		t.Errorf("budget_amount = %+v, want 6100000 CNY from 二期总盘子 610 万。", b)
	}
	const funding = "这个项目要等财政拨款下来才能启动，预计下个月区人大审批。"
	if s := r.CRM.BudgetSource; s == nil || !strings.Contains(s.Value, "财政拨款") || s.Span != funding {
		t.Errorf("budget_source = %+v, want 财政拨款 from %q", s, funding)
	}
	if c := r.CRM.DecisionCycle; c == nil || !strings.Contains(c.Value, "取决于资金") || c.Span != funding {
		t.Errorf("decision_cycle = %+v, want dependence on funding from %q", c, funding)
	}
	if s := r.CRM.StageHint; s == nil || s.Value != "solution" {
		t.Errorf("stage_hint = %+v, want solution", s)
	}

	due := map[string]string{}
	owner := map[string]string{}
	for _, a := range r.ActionItems {
		d := "null"
		if a.DueDate != nil {
			d = *a.DueDate
		}
		due[a.Span], owner[a.Span] = d, a.Owner
	}
	for span, want := range map[string]string{
		"我们下周五前把授权运营模块说明发给您":              "2026-01-30", // 2026-01-20 is a Tuesday
		"并安排 2 月上旬去苏州参观。":                 "null",       // 上旬 is no exact day
		"我明天把分列报价模板发给赵晓雨，联系电话 ⟦PHONE_1⟧。": "2026-01-21",
		"月底前请把信创证书复印件发我们。":                "2026-01-31",
	} {
		if got, ok := due[span]; !ok || got != want {
			t.Errorf("action %q: due %q (found %v), want %q", span, got, ok, want)
		}
	}
	if owner["我们下周五前把授权运营模块说明发给您"] != "周宁" || owner["月底前请把信创证书复印件发我们。"] != "我方" {
		t.Errorf("owners = %v, want 周宁 for the promise and 我方 for the customer's request", owner)
	}

	if len(r.Competitors) != 1 || r.Competitors[0].Name != "华拓数科" {
		t.Errorf("competitors = %+v, want 华拓数科", r.Competitors)
	}
	if len(r.Decisions) == 0 || !strings.Contains(r.Decisions[0].Span, "同意") {
		t.Errorf("decisions = %+v, want the agreement to visit Suzhou", r.Decisions)
	}
	var sides []string
	for _, s := range r.Sentiment {
		sides = append(sides, s.Party+"/"+s.Side+"/"+s.Sentiment)
	}
	if !contains(sides, "孙立/customer/negative") {
		t.Errorf("sentiment = %v, want 孙立 negative (担心)", sides)
	}
	var makers []string
	for _, d := range r.CRM.DecisionMakers {
		makers = append(makers, d.Name)
	}
	if !reflect.DeepEqual(makers, []string{"王建国", "孙立"}) {
		t.Errorf("decision makers = %v, want the customer's speakers", makers)
	}
}

func TestMeetingNotesEnglish(t *testing.T) {
	tm := template(t, "meeting_notes")
	r := MeetingNotes(tm, enMeeting)
	mustValidate(t, tm, r)
	checkSpans(t, r, enMeeting.Transcript)
	if !strings.HasPrefix(r.Summary, "The meeting with") {
		t.Errorf("summary %q: want English (language detected from the transcript)", r.Summary)
	}
	if b := r.CRM.BudgetAmount; b == nil || b.Value != 1500000 {
		t.Errorf("budget_amount = %+v, want 1500000 (Northwind's quote is not the budget)", b)
	}
	if s := r.CRM.BudgetSource; s == nil || !strings.Contains(s.Value, "capital budget") {
		t.Errorf("budget_source = %+v, want capital budget", s)
	}
	if c := r.CRM.DecisionCycle; c == nil || !strings.HasPrefix(c.Value, "Depends on") {
		t.Errorf("decision_cycle = %+v, want the dependence on board approval", c)
	}
	due := map[string]string{}
	for _, a := range r.ActionItems {
		if a.DueDate != nil {
			due[a.Span] = *a.DueDate
		}
	}
	if got := due["We will send the TCO model by Friday and propose a live-migration test on one MES host."]; got != "2024-08-30" {
		t.Errorf("by Friday from Tuesday 2024-08-27 = %q, want 2024-08-30", got)
	}
	if got := due["Please send the reference list by March 5."]; got != "2025-03-05" {
		t.Errorf("by March 5 after an August meeting = %q, want 2025-03-05", got)
	}
}

// TestMeetingHeadline is the case the product is sold on: a customer
// says the project waits for a fiscal appropriation.
func TestMeetingHeadline(t *testing.T) {
	const line = "王总：这个项目要等财政拨款下来才能启动，预计下个月区人大审批。"
	for _, l := range []string{"zh", "en", ""} {
		tm := template(t, "meeting_notes")
		r := MeetingNotes(tm, prompts.MeetingNotesInput{Common: prompts.Common{Language: l}, Transcript: line})
		mustValidate(t, tm, r)
		s, c := r.CRM.BudgetSource, r.CRM.DecisionCycle
		if s == nil || !strings.Contains(s.Value, "财政拨款") || !strings.Contains(line, s.Span) {
			t.Errorf("%q: budget_source = %+v", l, s)
		}
		if l == "en" && (s == nil || !strings.Contains(s.Value, "government appropriation")) {
			t.Errorf("en: budget_source = %+v, want government appropriation", s)
		}
		if c == nil || !strings.Contains(c.Value, pick(l, "取决于资金", "Depends on funding")) || !strings.Contains(line, c.Span) {
			t.Errorf("%q: decision_cycle = %+v, want dependence on funding", l, c)
		}
		if len(r.Sentiment) != 1 || r.Sentiment[0].Party != "王总" || r.Sentiment[0].Side != "customer" {
			t.Errorf("%q: sentiment = %+v, want 王总 on the customer side", l, r.Sentiment)
		}
	}
}

func TestNoInjectionQuoted(t *testing.T) {
	cases := []struct {
		name string
		tm   string
		v    func(*prompts.Template) any
	}{
		{"meeting", "meeting_notes", func(tm *prompts.Template) any { return MeetingNotes(tm, zhMeeting) }},
		{"tender", "tender_analysis", func(tm *prompts.Template) any { return TenderAnalysis(tm, zhTender) }},
		{"intel", "competitive_intel", func(tm *prompts.Template) any { return CompetitiveIntel(tm, zhIntel) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := allText(decoded(t, c.v(template(t, c.tm))))
			for _, bad := range []string{"忽略之前", "Ignore all previous", "system prompt", "底价表", "1 万"} {
				if strings.Contains(text, bad) {
					t.Errorf("answer quotes injected text %q:\n%s", bad, text)
				}
			}
		})
	}
}

func TestTenderAnalysisChinese(t *testing.T) {
	tm := template(t, "tender_analysis")
	r := TenderAnalysis(tm, zhTender)
	mustValidate(t, tm, r)

	p := r.Project
	if p.Name != "南京市江宁区公共数据平台（二期）建设项目" || p.Number == nil || *p.Number != "JNSJ-2026-GK-003" ||
		p.Purchaser == nil || *p.Purchaser != "南京市江宁区数据局" || p.BudgetAmount == nil || *p.BudgetAmount != 6100000 {
		t.Errorf("project = %+v", p)
	}
	verdicts := map[string]string{}
	for _, prm := range r.Parameters {
		verdicts[prm.Parameter] = prm.Verdict
		if prm.Verdict == "unknown" && (prm.OurValue != nil || len(prm.Citations) != 1) {
			t.Errorf("%s: unknown verdict must have no value and cite only T1: %+v", prm.Parameter, prm)
		}
		if prm.Verdict != "unknown" && !reflect.DeepEqual(prm.Citations, []string{"T1", "S1"}) {
			t.Errorf("%s: citations %v, want T1 and the product sheet S1", prm.Parameter, prm.Citations)
		}
	}
	for name, want := range map[string]string{
		"API 网关峰值吞吐":                    "meets",   // 12,000 TPS >= 10,000 TPS
		"平台须与鲲鹏、飞腾、海光中":                 "meets",   // 三种 >= 至少两种
		"单个集群支持":                        "fails",   // 16 nodes < 32
		"支持达梦 DM8 或人大金仓 KingbaseES 数据库": "unknown", // the sheet is silent
	} {
		if verdicts[name] != want {
			t.Errorf("verdict %q = %q, want %q (all: %v)", name, verdicts[name], want, verdicts)
		}
	}
	for _, prm := range r.Parameters {
		if strings.Contains(prm.Requirement, "★") != prm.Critical {
			t.Errorf("%q: critical = %v, want true exactly for ★", prm.Requirement, prm.Critical)
		}
	}

	var scoring []string
	for _, c := range r.Scoring {
		scoring = append(scoring, c.Criterion+"="+strings.TrimSuffix(strings.TrimSuffix(jsonNumber(c.Points), ".0"), "")+"/"+c.Method)
	}
	if want := []string{"价格=30/低价优先法", "技术方案=30/架构、级联方案", "信创适配=8/三种 CPU 均有证书得满分"}; !reflect.DeepEqual(scoring, want) {
		t.Errorf("scoring = %v, want %v", scoring, want)
	}
	checkJiangningDeadlines(t, r)
	if d := r.Deposit; d == nil || d.Amount == nil || *d.Amount != 60000 || !strings.Contains(d.Terms, "保函") {
		t.Errorf("deposit = %+v, want 60000 with its terms", d)
	}
	var quals []string
	for _, q := range r.Qualifications {
		quals = append(quals, q.OurStatus)
	}
	if want := []string{"unknown", "meets", "partly", "unknown"}; !reflect.DeepEqual(quals, want) {
		t.Errorf("qualification statuses = %v, want %v (CS4 meets CS3; ISO 20000 missing)", quals, want)
	}
	risks := allText(decoded(t, r.Risks))
	for _, want := range []string{"单个集群支持不少于 32 个节点", "达梦 DM8", "不接受联合体", "付款与资金到位挂钩"} {
		if !strings.Contains(risks, want) {
			t.Errorf("risks lack %q:\n%s", want, risks)
		}
	}
}

// checkJiangningDeadlines checks the dated events of the Jiangning
// tender, pasted or ingested.
func checkJiangningDeadlines(t *testing.T, r TenderReport) {
	t.Helper()
	var deadlines []string
	for _, d := range r.Deadlines {
		deadlines = append(deadlines, d.Event+" "+d.Datetime)
	}
	if want := []string{"招标公告发布 2026-02-09", "投标截止 2026-03-16 09:30", "答疑/澄清 2026-02-26"}; !reflect.DeepEqual(deadlines, want) {
		t.Errorf("deadlines = %v, want %v", deadlines, want)
	}
}

func jsonNumber(p *float64) string {
	if p == nil {
		return "null"
	}
	b, _ := json.Marshal(*p)
	return string(b)
}

func TestTenderAnalysisEnglish(t *testing.T) {
	tm := template(t, "tender_analysis")
	r := TenderAnalysis(tm, enTender)
	mustValidate(t, tm, r)
	if r.Project.Number == nil || *r.Project.Number != "HR-2024-IT-07" || r.Project.BudgetAmount == nil || *r.Project.BudgetAmount != 1500000 {
		t.Errorf("project = %+v", r.Project)
	}
	if r.Deposit != nil {
		t.Errorf("deposit = %+v, want null for \"Bid bond: none\"", r.Deposit)
	}
	if len(r.Deadlines) != 1 || r.Deadlines[0].Datetime != "2024-09-20 17:00" || r.Deadlines[0].Event != "Bid deadline" {
		t.Errorf("deadlines = %+v", r.Deadlines)
	}
	verdicts := map[string]string{}
	for _, p := range r.Parameters {
		verdicts[p.Requirement] = p.Verdict
	}
	for req, want := range map[string]string{
		"★ At least 250k IOPS per node.":                 "meets",
		"★ Cluster scales to at least 32 nodes.":         "meets",
		"▲ GPU virtualisation for the PLM workstations.": "unknown",
	} {
		if verdicts[req] != want {
			t.Errorf("%q = %q, want %q", req, verdicts[req], want)
		}
	}
	if len(r.Scoring) != 4 || r.Scoring[0].Criterion != "five-year TCO" || jsonNumber(r.Scoring[0].Points) != "40" {
		t.Errorf("scoring = %+v", r.Scoring)
	}
}

func TestTenderWithoutSourcesIsUnknown(t *testing.T) {
	tm := template(t, "tender_analysis")
	in := zhTender
	in.Sources = nil
	r := TenderAnalysis(tm, in)
	mustValidate(t, tm, r)
	for _, p := range r.Parameters {
		if p.Verdict != "unknown" || p.OurValue != nil {
			t.Errorf("%q: %s with no sources, want unknown", p.Requirement, p.Verdict)
		}
	}
	for _, q := range r.Qualifications {
		if q.OurStatus != "unknown" {
			t.Errorf("%q: %s with no sources, want unknown", q.Requirement, q.OurStatus)
		}
	}
}

func TestCompetitiveIntel(t *testing.T) {
	tm := template(t, "competitive_intel")
	r := CompetitiveIntel(tm, zhIntel)
	mustValidate(t, tm, r)
	checkSpans(t, r, zhIntel.Text)
	var names []string
	for _, c := range r.Competitors {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"锐云信息", "华拓数科"}) {
		t.Errorf("competitors = %v", names)
	}
	if len(r.Prices) != 1 {
		t.Fatalf("prices = %+v, want 98 万 (not the injected line)", r.Prices)
	}
	p := r.Prices[0]
	if p.Competitor != "锐云信息" || p.Amount == nil || *p.Amount != 980000 || p.Currency != "CNY" || p.AsWritten != "约 98 万" ||
		p.Product == nil || *p.Product != "光明区 IOC 项目" {
		t.Errorf("price = %+v", p)
	}
	var claims []string
	for _, c := range r.Claims {
		claims = append(claims, c.Type+"/"+c.Assessment+"/"+strings.Join(c.Citations, ","))
	}
	if want := []string{"delivery/unverified/", "certification/contradicted/S1"}; !reflect.DeepEqual(claims, want) {
		t.Errorf("claims = %v, want %v", claims, want)
	}

	en := CompetitiveIntel(tm, enIntel)
	mustValidate(t, tm, en)
	checkSpans(t, en, enIntel.Text)
	if len(en.Competitors) != 1 || en.Competitors[0].Name != "Northwind Systems" || !reflect.DeepEqual(en.Competitors[0].Aliases, []string{"Northwind"}) {
		t.Errorf("competitors = %+v", en.Competitors)
	}
	if len(en.Products) != 1 || en.Products[0].Product != "HyperStack 9" {
		t.Errorf("products = %+v", en.Products)
	}
	if len(en.Prices) == 0 || *en.Prices[0].Amount != 1800000 || en.Prices[0].IncludesTax == nil || !*en.Prices[0].IncludesTax {
		t.Errorf("prices = %+v, want CNY 1.8M including tax first", en.Prices)
	}
}

func TestDeterministic(t *testing.T) {
	mt, tt, it := template(t, "meeting_notes"), template(t, "tender_analysis"), template(t, "competitive_intel")
	for i := 0; i < 3; i++ {
		for _, pair := range [][2]any{
			{MeetingNotes(mt, zhMeeting), MeetingNotes(mt, zhMeeting)},
			{TenderAnalysis(tt, zhTender), TenderAnalysis(tt, zhTender)},
			{CompetitiveIntel(it, enIntel), CompetitiveIntel(it, enIntel)},
		} {
			a, _ := json.Marshal(pair[0])
			b, _ := json.Marshal(pair[1])
			if string(a) != string(b) {
				t.Fatalf("two runs differ:\n%s\n%s", a, b)
			}
		}
	}
}

func TestAmounts(t *testing.T) {
	for _, c := range []struct {
		text     string
		value    float64
		currency string
	}{
		{"二期总盘子 610 万。", 6100000, "CNY"},
		{"预算 610万元", 6100000, "CNY"},
		{"总投资 1.2亿", 120000000, "CNY"},
		{"CNY 2,100,000 for three years", 2100000, "CNY"},
		{"about $300k per year", 300000, "USD"},
		{"投标保证金 60,000 元", 60000, "CNY"},
		{"down from 2.1M, and", 2100000, "CNY"},
	} {
		a := findAmounts(c.text)
		if len(a) != 1 || a[0].Value != c.value || a[0].Currency != c.currency {
			t.Errorf("findAmounts(%q) = %+v, want %v %s", c.text, a, c.value, c.currency)
		}
	}
	for _, text := range []string{"日交换量 ≥ 3 亿条", "300k IOPS per node", "P95 ≤ 200 ms", "比我们低 25%", "2026 年 3 月", "GB/T 28181"} {
		if a := findAmounts(text); len(a) != 0 {
			t.Errorf("findAmounts(%q) = %+v, want none", text, a)
		}
	}
}

func TestClipKeepsPlaceholdersWhole(t *testing.T) {
	s := strings.Repeat("联", 295) + "⟦PHONE_12⟧。"
	got := clipRunes(s, 300)
	if strings.Contains(got, "⟦") {
		t.Errorf("clip split a placeholder: ...%q", got[len(got)-12:])
	}
	if span, ok := spanOf(s); !ok || !strings.HasPrefix(s, span) {
		t.Errorf("spanOf = %q, %v", span, ok)
	}
}
