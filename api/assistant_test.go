package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/store"
)

// loadDemo ingests the demo knowledge base into the harness tenant.
func (h *harness) loadDemo() {
	h.t.Helper()
	if _, err := knowledgetest.IngestDemo(context.Background(), h.kstore, h.tenant.ID); err != nil {
		h.t.Fatal(err)
	}
}

// taskAnswer is the common part of every task answer.
type taskAnswer struct {
	GenerationID string `json:"generation_id"`
	Task         string `json:"task"`
	Sources      []struct {
		Label      string `json:"label"`
		DocumentID string `json:"document_id"`
		Title      string `json:"title"`
		Kind       string `json:"kind"`
		Region     string `json:"region"`
		Cited      bool   `json:"cited"`
	} `json:"sources"`
	Model struct {
		Provider      string `json:"provider"`
		Offline       bool   `json:"offline"`
		Prompt        string `json:"prompt"`
		PromptVersion int    `json:"prompt_version"`
	} `json:"model"`
	Checks struct {
		CitationsValid    bool           `json:"citations_valid"`
		Cited             []string       `json:"cited"`
		UnknownCitations  []string       `json:"unknown_citations"`
		PIIMasked         map[string]int `json:"pii_masked"`
		SuspiciousSources []string       `json:"suspicious_sources"`
		Repaired          bool           `json:"repaired"`
		SpansNotFound     []string       `json:"spans_not_found"`
	} `json:"checks"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// checkAnswer checks what every task answer must have and returns it
// with the raw body as a map.
func checkAnswer(t *testing.T, r response, task string, fields ...string) (taskAnswer, map[string]any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", task, r.status, r.body)
	}
	var a taskAnswer
	r.json(t, &a)
	var raw map[string]any
	r.json(t, &raw)
	if a.GenerationID == "" || a.Task != task || !a.Model.Offline || a.Model.Provider != "offline" ||
		!strings.HasPrefix(a.Model.Prompt, task+"@v") || a.Usage.CompletionTokens == 0 {
		t.Fatalf("%s: answer shape: %s", task, r.body)
	}
	for _, f := range fields {
		if _, ok := raw[f]; !ok {
			t.Errorf("%s: no %q in %s", task, f, r.body)
		}
	}
	if !a.Checks.CitationsValid || len(a.Checks.UnknownCitations) > 0 {
		t.Errorf("%s: citations invalid: %+v", task, a.Checks)
	}
	labels := map[string]bool{"T1": true}
	for _, s := range a.Sources {
		labels[s.Label] = true
		if s.Cited != slices.Contains(a.Checks.Cited, s.Label) {
			t.Errorf("%s: source %s cited=%v but checks.cited=%v", task, s.Label, s.Cited, a.Checks.Cited)
		}
	}
	for _, l := range a.Checks.Cited {
		if !labels[l] {
			t.Errorf("%s: cites %s, which was not retrieved", task, l)
		}
	}
	// Retrieved sources are shown as the knowledge base has them; the
	// answer itself carries no personal data the request did not bring.
	answerOnly := map[string]any{}
	for k, v := range raw {
		if k != "sources" {
			answerOnly[k] = v
		}
	}
	if b, _ := json.Marshal(answerOnly); task != "meeting_notes" {
		if leaks := trust.Leaks(string(b)); len(leaks) > 0 {
			t.Errorf("%s: personal data in the answer: %v", task, leaks)
		}
	}
	return a, raw
}

func TestAssistantTasksOffline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.loadDemo()

	cases := []struct {
		path, task, body string
		fields           []string
		minSources       int
	}{
		{"/v1/drafts/email", "email_draft", `{"purpose":"follow_up","customer":"南京市江宁区数据局","recipient_name":"王建国","recipient_role":"总经理",
			"sender":"周宁","deal_context":"1 月 20 日交流会后跟进，客户关注专项债审计合规和授权运营收益结算。","language":"zh"}`,
			[]string{"subject", "body", "rationale", "citations"}, 1},
		{"/v1/notes/meeting", "meeting_notes", `{"customer":"南京市江宁区数据局","date":"2026-01-20","transcript":"王总：这个项目要等财政拨款下来才能启动，预计下个月区人大审批。二期总盘子 610 万。\n周宁：我们下周五前把授权运营模块说明发给您。\n孙立：华拓上个月也来过，他们说苏州、无锡都是他们做的。"}`,
			[]string{"summary", "action_items", "crm_fields", "sentiment"}, 0},
		{"/v1/talk-tracks", "talk_track", `{"customer":"南京市江宁区数据局","region":"jiangsu","industry":"government","stage":"solution",
			"competitors":["华拓数科"],"contacts":[{"name":"孙立","role":"数据局副局长","side":"customer"}]}`,
			[]string{"policy_fit", "competitor_weaknesses", "decision_maker_interests", "opening_lines", "proof_points", "likely_objections"}, 2},
		{"/v1/objections", "objection", `{"objection":"你们在江苏的政务数据平台案例太少了，华拓做过苏州和无锡。","competitor":"华拓数科","language":"zh"}`,
			[]string{"responses"}, 1},
		{"/v1/tenders/analyze", "tender_analysis", `{"title":"江宁区公共数据平台二期","tender":"一、资格要求\n1. 投标人须具有 CMMI 3 级及以上证书。\n二、技术参数\n★1. API 网关峰值吞吐不低于 10000 TPS。\n▲2. 资源目录支持不少于 100000 条。\n三、评分标准\n技术部分 60 分，价格部分 30 分，商务部分 10 分。\n四、投标截止时间：2026-03-10 09:30。\n投标保证金：人民币 5 万元。","products":["GovData"]}`,
			[]string{"technical_parameters", "qualification_requirements", "scoring_criteria", "deadlines", "risks"}, 1},
		{"/v1/intel/extract", "competitive_intel", `{"text":"锐云信息在光明区 IOC 项目报价约 98 万，比我们低 25% 左右，号称 30 天完成 POC。","competitors":["锐云信息"]}`,
			[]string{"competitors", "prices", "claims"}, 0},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			a, _ := checkAnswer(t, h.do("POST", c.path, h.rep.Secret, c.body), c.task, c.fields...)
			if len(a.Sources) < c.minSources {
				t.Fatalf("%d sources, want at least %d", len(a.Sources), c.minSources)
			}
			for _, s := range a.Sources {
				if s.Region != "" && s.Region != "jiangsu" {
					t.Errorf("rep (jiangsu) was given a %s source: %s", s.Region, s.Title)
				}
			}
			// The record is there for its author and for admins, not for
			// another tenant.
			rec := h.do("GET", "/v1/generations/"+a.GenerationID, h.rep.Secret, "")
			if rec.status != 200 || !strings.Contains(string(rec.body), `"status":"ok"`) {
				t.Fatalf("get generation: %d %s", rec.status, rec.body)
			}
			if r := h.do("GET", "/v1/generations/"+a.GenerationID, h.otherK.Secret, ""); r.status != 404 {
				t.Fatalf("other tenant reads generation: %d", r.status)
			}
			var full struct {
				Audit []struct {
					Action string `json:"action"`
				} `json:"audit"`
				Prompt string `json:"prompt"`
			}
			h.do("GET", "/v1/generations/"+a.GenerationID, h.admin.Secret, "").json(t, &full)
			if len(full.Audit) != 1 || full.Audit[0].Action != "generation.create" || full.Prompt != a.Model.Prompt {
				t.Fatalf("admin view of the record: %+v", full)
			}
		})
	}

	t.Run("meeting notes find the funding condition", func(t *testing.T) {
		r := h.do("POST", "/v1/notes/meeting", h.rep.Secret, cases[1].body)
		_, raw := checkAnswer(t, r, "meeting_notes")
		crm, _ := raw["crm_fields"].(map[string]any)
		src, _ := crm["budget_source"].(map[string]any)
		if src == nil || !strings.Contains(src["value"].(string), "财政拨款") {
			t.Fatalf("budget_source = %v", crm["budget_source"])
		}
		if crm["decision_cycle"] == nil {
			t.Fatalf("decision_cycle missing: %v", crm)
		}
	})

	t.Run("another rep cannot read my generation", func(t *testing.T) {
		other := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "rep2", Role: auth.RoleRep, Regions: []string{"jiangsu"}}))(t)
		manager := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "mgr", Role: auth.RoleManager, Regions: []string{"jiangsu"}}))(t)
		zjManager := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "zj", Role: auth.RoleManager, Regions: []string{"zhejiang"}}))(t)
		var a taskAnswer
		h.do("POST", "/v1/objections", h.rep.Secret, `{"objection":"价格太贵了"}`).json(t, &a)
		for key, want := range map[string]int{other.Secret: 404, manager.Secret: 200, zjManager.Secret: 404, h.admin.Secret: 200} {
			if r := h.do("GET", "/v1/generations/"+a.GenerationID, key, ""); r.status != want {
				t.Errorf("GET generation: %d, want %d", r.status, want)
			}
		}
	})

	t.Run("the audit chain verifies", func(t *testing.T) {
		rep, err := audit.Verify(context.Background(), h.db.Pool, h.tenant.ID)
		if err != nil || !rep.OK || rep.Entries < int64(len(cases)) {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}

func TestAssistantMasksPersonalData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	r := h.do("POST", "/v1/notes/meeting", h.rep.Secret, `{"date":"2026-01-20","transcript":"王总：我的手机是 13812345678，邮箱 wang.jg@jiangning.gov.cn，这个项目要等财政拨款。\n周宁：好的，我下周五前把方案发到您邮箱。"}`)
	a, _ := checkAnswer(t, r, "meeting_notes")
	if a.Checks.PIIMasked["phone"] != 1 || a.Checks.PIIMasked["email"] != 1 {
		t.Fatalf("pii_masked = %v", a.Checks.PIIMasked)
	}
	// The answer quotes the transcript unmasked for the caller ...
	if !strings.Contains(string(r.body), "13812345678") {
		t.Fatalf("the answer lost the caller's own data: %s", r.body)
	}
	// ... while the stored record keeps only placeholders.
	rec := h.do("GET", "/v1/generations/"+a.GenerationID, h.admin.Secret, "")
	if rec.status != 200 || strings.Contains(string(rec.body), "13812345678") || strings.Contains(string(rec.body), "wang.jg@") ||
		!strings.Contains(string(rec.body), "⟦PHONE_1⟧") {
		t.Fatalf("stored record: %s", rec.body)
	}
}

func TestAssistantStreamsOffline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	body := `{"purpose":"first_contact","customer":"杭州市公安局","recipient_name":"李处长","deal_context":"客户手机 13912345678","language":"zh"}`
	r := h.do("POST", "/v1/drafts/email", h.rep.Secret, body, "Accept", "text/event-stream")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s %s", r.status, r.header, r.body)
	}
	events := parseSSE(t, string(r.body))
	var text strings.Builder
	var result map[string]any
	for _, e := range events {
		switch e.event {
		case "token":
			var tok struct{ Text string }
			if err := json.Unmarshal([]byte(e.data), &tok); err != nil {
				t.Fatal(err)
			}
			text.WriteString(tok.Text)
		case "start":
			if !strings.Contains(e.data, `"generation_id"`) || !strings.Contains(e.data, `"sources"`) {
				t.Fatalf("start event: %s", e.data)
			}
		case "result":
			if err := json.Unmarshal([]byte(e.data), &result); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected event %q: %s", e.event, e.data)
		}
	}
	if len(events) < 5 || events[len(events)-1].event != "result" {
		t.Fatalf("want many token events then a result, got %d events", len(events))
	}
	var streamed map[string]any
	if err := json.Unmarshal([]byte(text.String()), &streamed); err != nil {
		t.Fatalf("streamed tokens do not join into the JSON answer: %v\n%s", err, text.String())
	}
	if streamed["subject"] != result["subject"] || streamed["body"] != result["body"] || result["generation_id"] == nil {
		t.Fatalf("stream and result differ:\n%v\n%v", streamed, result)
	}
	if strings.Contains(text.String(), "⟦") {
		t.Fatalf("placeholders reached the client: %s", text.String())
	}
}

type sseEvent struct{ event, data string }

func parseSSE(t *testing.T, s string) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" || cur.data != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data += strings.TrimPrefix(line, "data: ")
		}
	}
	return out
}

func TestAssistantBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	doc := h.do("POST", "/v1/documents", h.otherK.Secret, `{"title":"Globex tender","text":"★ 1. 吞吐不低于 1000 TPS。","kind":"tender"}`)
	var created struct {
		DocumentID string `json:"document_id"`
	}
	doc.json(t, &created)
	for _, c := range []struct {
		path, key, body string
		status          int
		code, field     string
	}{
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"follow_up"}`, 400, "validation_failed", "customer"},
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"spam","customer":"x"}`, 400, "validation_failed", "purpose"},
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"follow_up","customer":"x","length":"epic"}`, 400, "validation_failed", "length"},
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"follow_up","customer":"x","language":"fr"}`, 400, "validation_failed", "language"},
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"follow_up","customer":"x","bogus":1}`, 400, "validation_failed", "bogus"},
		{"/v1/drafts/email", h.rep.Secret, `{"purpose":"follow_up","customer":"x","prompt_version":2}`, 403, "forbidden", ""},
		{"/v1/drafts/email", h.admin.Secret, `{"purpose":"follow_up","customer":"x","prompt_version":9}`, 400, "validation_failed", ""},
		{"/v1/notes/meeting", h.rep.Secret, `{"transcript":"  "}`, 400, "validation_failed", "transcript"},
		{"/v1/notes/meeting", h.rep.Secret, `{"transcript":"x","date":"next week"}`, 400, "validation_failed", "date"},
		{"/v1/talk-tracks", h.rep.Secret, `{}`, 400, "validation_failed", "customer"},
		{"/v1/objections", h.rep.Secret, `{"objection":""}`, 400, "validation_failed", "objection"},
		{"/v1/tenders/analyze", h.rep.Secret, `{"title":"x"}`, 400, "validation_failed", "tender"},
		{"/v1/tenders/analyze", h.rep.Secret, `{"tender":"x"}`, 400, "validation_failed", "title"},
		{"/v1/tenders/analyze", h.admin.Secret, `{"document_id":"` + created.DocumentID + `"}`, 404, "not_found", ""},
		{"/v1/intel/extract", h.rep.Secret, `{"text":""}`, 400, "validation_failed", "text"},
		{"/v1/objections", "", `{"objection":"贵"}`, 401, "unauthenticated", ""},
	} {
		r := h.do("POST", c.path, c.key, c.body)
		p := r.problem(t, c.status, c.code)
		if c.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != c.field) {
			t.Errorf("%s %s: errors = %+v, want field %s", c.path, c.body, p.Errors, c.field)
		}
	}
	// A transcript over the token budget is cut, and the answer says so.
	long := strings.Repeat("王总：预算要等财政拨款，我们下周再谈。\n", 1200)
	r := h.do("POST", "/v1/notes/meeting", h.rep.Secret, `{"transcript":"`+strings.ReplaceAll(long, "\n", `\n`)+`"}`)
	if r.status != 200 || !strings.Contains(string(r.body), "only the first 8000 were analysed") {
		t.Fatalf("long transcript: %d %.300s", r.status, r.body)
	}
}

func TestTenderFromIngestedDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.loadDemo()
	var list struct {
		Documents []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"documents"`
	}
	h.do("GET", "/v1/documents?kind=tender&q=jiangning", h.admin.Secret, "").json(t, &list)
	if len(list.Documents) != 1 {
		t.Fatalf("documents: %+v", list)
	}
	r := h.do("POST", "/v1/tenders/analyze", h.admin.Secret, `{"document_id":"`+list.Documents[0].ID+`","products":["GovData"]}`)
	_, raw := checkAnswer(t, r, "tender_analysis", "technical_parameters")
	params, _ := raw["technical_parameters"].([]any)
	if len(params) < 5 {
		t.Fatalf("only %d technical parameters from the Jiangning tender: %s", len(params), r.body)
	}
}

func TestFeaturesAndPrompts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ops := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "ops", Role: auth.RoleOps}))(t)

	// Features: on by default, switched off per tenant by an admin only.
	var f featuresBody
	h.do("GET", "/v1/features", h.rep.Secret, "").json(t, &f)
	if len(f.Features) != 6 || !f.Features["talk_track"] {
		t.Fatalf("features: %+v", f)
	}
	h.do("PUT", "/v1/features", h.rep.Secret, `{"features":{"talk_track":false}}`).problem(t, 403, "forbidden")
	h.do("PUT", "/v1/features", h.admin.Secret, `{"features":{"teleport":false}}`).problem(t, 400, "validation_failed")
	if r := h.do("PUT", "/v1/features", h.admin.Secret, `{"features":{"talk_track":false}}`); r.status != 200 {
		t.Fatalf("set features: %d %s", r.status, r.body)
	}
	h.do("POST", "/v1/talk-tracks", h.rep.Secret, `{"customer":"x"}`).problem(t, 403, "feature_disabled")
	// The other tenant is not affected.
	if r := h.do("POST", "/v1/talk-tracks", h.otherK.Secret, `{"customer":"x"}`); r.status != 200 {
		t.Fatalf("other tenant talk track: %d %s", r.status, r.body)
	}

	// Prompts: listed with versions; ops pins, splits and resets.
	var pl promptList
	h.do("GET", "/v1/prompts", h.rep.Secret, "").json(t, &pl)
	i := slices.IndexFunc(pl.Prompts, func(p assistant.PromptState) bool { return p.Name == "email_draft" })
	if i < 0 || len(pl.Prompts[i].Versions) < 2 || pl.Prompts[i].Active != 1 || pl.Prompts[i].Versions[0].RawSchema == nil {
		t.Fatalf("prompts: %+v", pl)
	}
	email := `{"purpose":"first_contact","customer":"杭州市公安局"}`
	version := func(key string) int {
		var a taskAnswer
		h.do("POST", "/v1/drafts/email", key, email).json(t, &a)
		return a.Model.PromptVersion
	}
	if v := version(h.rep.Secret); v != 1 {
		t.Fatalf("default version %d", v)
	}
	h.do("PUT", "/v1/prompts/email_draft/active", h.rep.Secret, `{"version":2}`).problem(t, 403, "forbidden")
	h.do("PUT", "/v1/prompts/email_draft/active", ops.Secret, `{"version":7}`).problem(t, 400, "validation_failed")
	h.do("PUT", "/v1/prompts/nope/active", ops.Secret, `{"version":1}`).problem(t, 404, "not_found")
	h.do("PUT", "/v1/prompts/email_draft/active", ops.Secret, `{"version":1,"candidate":2,"candidate_share":1.5}`).problem(t, 400, "validation_failed")
	if r := h.do("PUT", "/v1/prompts/email_draft/active", ops.Secret, `{"version":2}`); r.status != 200 {
		t.Fatalf("pin v2: %d %s", r.status, r.body)
	}
	if v := version(h.rep.Secret); v != 2 {
		t.Fatalf("pinned version %d", v)
	}
	// A/B: every request goes to the candidate at share 1, none at 0.
	h.do("PUT", "/v1/prompts/email_draft/active", ops.Secret, `{"version":1,"candidate":2,"candidate_share":1}`)
	if v := version(h.rep.Secret); v != 2 {
		t.Fatalf("A/B share 1 gave version %d", v)
	}
	h.do("PUT", "/v1/prompts/email_draft/active", h.admin.Secret, `{"version":0}`)
	if v := version(h.rep.Secret); v != 1 {
		t.Fatalf("back to latest gave %d", v)
	}
	// An eval run pins a version per call.
	var a taskAnswer
	h.do("POST", "/v1/drafts/email", ops.Secret, `{"purpose":"first_contact","customer":"x","prompt_version":2}`).json(t, &a)
	if a.Model.PromptVersion != 2 {
		t.Fatalf("pinned per call: %d", a.Model.PromptVersion)
	}
	// Every change is in the audit log, and the chain holds.
	for action, want := range map[string]int{"feature.set": 1, "prompt.activate": 3} {
		var got []audit.Entry
		err := store.InTenant(context.Background(), h.db.Pool, h.tenant.ID, func(tx pgx.Tx) (err error) {
			got, err = audit.List(context.Background(), tx, audit.Filter{Action: action})
			return err
		})
		if err != nil || len(got) != want || got[0].Actor == "" || got[0].ActorRole == "" {
			t.Fatalf("audit %s: %d entries (%v), want %d: %+v", action, len(got), err, want, got)
		}
	}
	if rep, err := audit.Verify(context.Background(), h.db.Pool, h.tenant.ID); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
