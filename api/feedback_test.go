package api

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
)

// generate runs a task as key and returns the generation id.
func (h *harness) generate(key, path, body string) string {
	h.t.Helper()
	var a taskAnswer
	r := h.do("POST", path, key, body)
	r.json(h.t, &a)
	if r.status != 200 || a.GenerationID == "" {
		h.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	return a.GenerationID
}

func TestFeedbackValidationAndPermissions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	gen := h.generate(h.rep.Secret, "/v1/drafts/email", `{"purpose":"first_contact","customer":"杭州市公安局"}`)
	otherRep := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "rep2", Role: auth.RoleRep, Regions: []string{"jiangsu"}}))(t)

	for _, c := range []struct {
		key, body   string
		status      int
		code, field string
	}{
		{h.rep.Secret, `{"verdict":"accepted"}`, 400, "validation_failed", "generation_id"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"meh"}`, 400, "validation_failed", "verdict"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"edited"}`, 400, "validation_failed", "corrected_text"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"rejected"}`, 400, "validation_failed", "reasons"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"rejected","reasons":["boring"]}`, 400, "validation_failed", "reasons"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"accepted","corrected_text":"x"}`, 400, "validation_failed", "corrected_text"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"edited","corrected_text":"x","field":"/nope"}`, 400, "validation_failed", "field"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"edited","corrected_text":"x","field":"body"}`, 400, "validation_failed", "field"},
		{h.rep.Secret, `{"generation_id":"` + gen + `","verdict":"accepted","rep_id":"` + strings.Repeat("x", 201) + `"}`, 400, "validation_failed", "rep_id"},
		// Another rep cannot see the generation, so cannot judge it; nor can another tenant.
		{otherRep.Secret, `{"generation_id":"` + gen + `","verdict":"accepted"}`, 404, "not_found", ""},
		{h.otherK.Secret, `{"generation_id":"` + gen + `","verdict":"accepted"}`, 404, "not_found", ""},
		{h.rep.Secret, `{"generation_id":"00000000-0000-0000-0000-000000000001","verdict":"accepted"}`, 404, "not_found", ""},
	} {
		p := h.do("POST", "/v1/feedback", c.key, c.body).problem(t, c.status, c.code)
		if c.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != c.field) {
			t.Errorf("%s: errors %+v, want field %s", c.body, p.Errors, c.field)
		}
	}

	// Idempotent per rep and generation: 201, then 200 with the same id.
	body := `{"generation_id":"` + gen + `","verdict":"edited","corrected_text":"王处长您好：想约您 20 分钟，电话 13812345678。","reasons":["wrong_tone"]}`
	var first, again feedbackResponse
	r := h.do("POST", "/v1/feedback", h.rep.Secret, body)
	r.json(t, &first)
	if r.status != 201 || !first.Created || first.EditDistance == 0 || first.EditRatio <= 0 || len(first.Changes) == 0 ||
		first.Field != "/body" || first.Task != "email_draft" || first.PromptVersion != 1 {
		t.Fatalf("first feedback: %d %s", r.status, r.body)
	}
	// The correction is stored masked.
	if strings.Contains(first.CorrectedText, "13812345678") || !strings.Contains(first.CorrectedText, "⟦PHONE_1⟧") {
		t.Fatalf("corrected text not masked: %q", first.CorrectedText)
	}
	r = h.do("POST", "/v1/feedback", h.rep.Secret, body)
	r.json(t, &again)
	if r.status != 200 || again.Created || again.ID != first.ID {
		t.Fatalf("again: %d %s", r.status, r.body)
	}
	// Changing the verdict updates the same record.
	r = h.do("POST", "/v1/feedback", h.rep.Secret, `{"generation_id":"`+gen+`","verdict":"accepted"}`)
	r.json(t, &again)
	if r.status != 200 || again.ID != first.ID || again.Verdict != "accepted" || again.EditDistance != 0 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	// The audit log has the create and the update, not the unchanged resend.
	var actions []string
	rep, err := audit.Verify(context.Background(), h.db.Pool, h.tenant.ID)
	if err != nil || !rep.OK {
		t.Fatalf("verify %+v %v", rep, err)
	}
	var rec struct {
		Audit []struct{ Action string } `json:"audit"`
	}
	h.do("GET", "/v1/generations/"+gen, h.admin.Secret, "").json(t, &rec)
	for _, a := range rec.Audit {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "feedback.update,feedback.create,generation.create" {
		t.Fatalf("audit trail %v", actions)
	}
	// Reps do not read statistics.
	h.do("GET", "/v1/feedback/stats", h.rep.Secret, "").problem(t, 403, "forbidden")
}

func TestFeedbackStatsOnConstructedData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ctx := context.Background()
	ops := must(h.auth.CreateKey(ctx, h.tenant.ID, auth.KeySpec{Name: "ops", Role: auth.RoleOps}))(t)
	zjRep := must(h.auth.CreateKey(ctx, h.tenant.ID, auth.KeySpec{Name: "zj", Role: auth.RoleRep, Regions: []string{"zhejiang"}}))(t)
	jsManager := must(h.auth.CreateKey(ctx, h.tenant.ID, auth.KeySpec{Name: "jsm", Role: auth.RoleManager, Regions: []string{"jiangsu"}}))(t)

	email := `{"purpose":"first_contact","customer":"杭州市公安局"}`
	objection := `{"objection":"价格太贵了"}`
	// jiangsu rep: 4 emails (accepted, lightly edited, heavily edited,
	// rejected) and 1 objection (rejected); zhejiang rep: 1 email accepted.
	var ids []string
	for range 4 {
		ids = append(ids, h.generate(h.rep.Secret, "/v1/drafts/email", email))
	}
	objID := h.generate(h.rep.Secret, "/v1/objections", objection)
	zjID := h.generate(zjRep.Secret, "/v1/drafts/email", email)

	var original struct{ Body string }
	h.do("GET", "/v1/generations/"+ids[1], h.admin.Secret, "").json(t, &struct {
		Output *struct{ Body string } `json:"output"`
	}{&original})
	light := original.Body + "祝好。"
	// A few characters added: an edit ratio well under 0.2. And a rewrite.
	heavy := "完全重写的一封邮件，与原稿几乎没有相同的内容。"
	send := func(key, body string, want int) {
		t.Helper()
		if r := h.do("POST", "/v1/feedback", key, body); r.status != want {
			t.Fatalf("feedback %s: %d %s", body, r.status, r.body)
		}
	}
	send(h.rep.Secret, `{"generation_id":"`+ids[0]+`","verdict":"accepted"}`, 201)
	send(h.rep.Secret, `{"generation_id":"`+ids[1]+`","verdict":"edited","corrected_text":"`+jsonEscape(light)+`"}`, 201)
	send(h.rep.Secret, `{"generation_id":"`+ids[2]+`","verdict":"edited","corrected_text":"`+heavy+`","reasons":["wrong_tone"]}`, 201)
	send(h.rep.Secret, `{"generation_id":"`+ids[3]+`","verdict":"rejected","reasons":["wrong_fact","missing_info"]}`, 201)
	send(h.rep.Secret, `{"generation_id":"`+objID+`","verdict":"rejected","reasons":["wrong_fact"]}`, 201)
	send(zjRep.Secret, `{"generation_id":"`+zjID+`","verdict":"accepted"}`, 201)
	// ids[4] has no feedback: generations without verdicts do not count.

	var st struct {
		Groups []struct {
			Key                                  map[string]string
			Feedback, Accepted, Edited, Rejected int
			LightlyEdited                        int     `json:"lightly_edited"`
			AdoptionRate                         float64 `json:"adoption_rate"`
			CorrectionRate                       float64 `json:"correction_rate"`
			Reasons                              map[string]int
		}
		Total struct {
			Feedback     int
			AdoptionRate float64 `json:"adoption_rate"`
			Reasons      map[string]int
		}
	}
	r := h.do("GET", "/v1/feedback/stats?by=task,region", ops.Secret, "")
	r.json(t, &st)
	if r.status != 200 || len(st.Groups) != 3 || st.Total.Feedback != 6 || st.Total.Reasons["wrong_fact"] != 2 ||
		st.Total.AdoptionRate != 3.0/6 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	want := map[string][6]int{ // feedback, accepted, edited, lightly edited, rejected, wrong_fact
		"email_draft/jiangsu":  {4, 1, 2, 1, 1, 1},
		"email_draft/zhejiang": {1, 1, 0, 0, 0, 0},
		"objection/jiangsu":    {1, 0, 0, 0, 1, 1},
	}
	for _, g := range st.Groups {
		k := g.Key["task"] + "/" + g.Key["region"]
		w, ok := want[k]
		got := [6]int{g.Feedback, g.Accepted, g.Edited, g.LightlyEdited, g.Rejected, g.Reasons["wrong_fact"]}
		if !ok || got != w {
			t.Errorf("%s: %v, want %v", k, got, w)
		}
		if k == "email_draft/jiangsu" && (g.AdoptionRate != 0.5 || g.CorrectionRate != 0.75 || g.Reasons["missing_info"] != 1 || g.Reasons["wrong_tone"] != 1) {
			t.Errorf("jiangsu email rates: %+v", g)
		}
	}
	// A jiangsu manager's statistics stop at jiangsu.
	h.do("GET", "/v1/feedback/stats?by=region", jsManager.Secret, "").json(t, &st)
	if len(st.Groups) != 1 || st.Groups[0].Key["region"] != "jiangsu" || st.Total.Feedback != 5 {
		t.Fatalf("manager stats: %+v", st)
	}
	for _, bad := range []string{"?by=colour", "?by=task,task", "?from=yesterday"} {
		h.do("GET", "/v1/feedback/stats"+bad, ops.Secret, "").problem(t, 400, "validation_failed")
	}
	// By prompt version and week work too.
	r = h.do("GET", "/v1/feedback/stats?by=prompt_version,week,model", ops.Secret, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"prompt_version":"email_draft@v1"`) || !strings.Contains(string(r.body), `"model":"offline/extractive-v1"`) {
		t.Fatalf("by prompt version: %s", r.body)
	}
}

func TestFeedbackPromotesToPlaybook(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	gen := h.generate(h.rep.Secret, "/v1/objections", `{"objection":"你们的价格比别家贵太多了"}`)
	var fb feedbackResponse
	h.do("POST", "/v1/feedback", h.rep.Secret, `{"generation_id":"`+gen+`","verdict":"edited","corrected_text":"先认同客户对预算的关注，再用五年总拥有成本对比说明价值，并提出分期付款方案。"}`).json(t, &fb)
	rejected := h.generate(h.rep.Secret, "/v1/objections", `{"objection":"交付太慢"}`)
	var rj feedbackResponse
	h.do("POST", "/v1/feedback", h.rep.Secret, `{"generation_id":"`+rejected+`","verdict":"rejected","reasons":["wrong_fact"]}`).json(t, &rj)

	h.do("POST", "/v1/feedback/"+fb.ID.String()+"/promote", h.rep.Secret, "").problem(t, 403, "forbidden")
	h.do("POST", "/v1/feedback/"+rj.ID.String()+"/promote", h.admin.Secret, "").problem(t, 409, "conflict")
	r := h.do("POST", "/v1/feedback/"+fb.ID.String()+"/promote", h.admin.Secret, `{"title":"价格异议：TCO 与分期付款"}`)
	var res struct {
		DocumentID string `json:"document_id"`
		Kind       string `json:"kind"`
	}
	r.json(t, &res)
	if r.status != 201 || res.Kind != "playbook" {
		t.Fatalf("promote: %d %s", r.status, r.body)
	}
	doc := h.do("GET", "/v1/documents/"+res.DocumentID, h.admin.Secret, "")
	if doc.status != 200 || !strings.Contains(string(doc.body), `"generation_id":"`+gen+`"`) || !strings.Contains(string(doc.body), "from-feedback") {
		t.Fatalf("document: %s", doc.body)
	}
	// The playbook is now knowledge: search finds it.
	s := h.do("POST", "/v1/search", h.rep.Secret, `{"query":"分期付款 总拥有成本","filters":{"kinds":["playbook"]}}`)
	if !strings.Contains(string(s.body), "价格异议：TCO 与分期付款") {
		t.Fatalf("search: %s", s.body)
	}
}

func jsonEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

func TestListGenerations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	other := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "rep2", Role: auth.RoleRep, Regions: []string{"jiangsu"}}))(t)
	for range 2 {
		h.generate(h.rep.Secret, "/v1/drafts/email", `{"purpose":"first_contact","customer":"杭州市公安局"}`)
	}
	obj := h.generate(h.rep.Secret, "/v1/objections", `{"objection":"太贵了"}`)
	h.generate(other.Secret, "/v1/objections", `{"objection":"太贵了"}`)
	type list struct {
		Generations []struct {
			ID   string `json:"generation_id"`
			Task string `json:"task"`
		} `json:"generations"`
		NextBefore string `json:"next_before"`
	}
	var l list
	h.do("GET", "/v1/generations", h.rep.Secret, "").json(t, &l)
	if len(l.Generations) != 3 || l.Generations[0].ID != obj {
		t.Fatalf("rep sees %+v", l)
	}
	h.do("GET", "/v1/generations", h.admin.Secret, "").json(t, &l)
	if len(l.Generations) != 4 {
		t.Fatalf("admin sees %d", len(l.Generations))
	}
	h.do("GET", "/v1/generations?task=objection", h.rep.Secret, "").json(t, &l)
	if len(l.Generations) != 1 || l.Generations[0].Task != "objection" {
		t.Fatalf("task filter: %+v", l)
	}
	h.do("GET", "/v1/generations?limit=2", h.rep.Secret, "").json(t, &l)
	if len(l.Generations) != 2 || l.NextBefore == "" {
		t.Fatalf("page 1: %+v", l)
	}
	var page2 list
	h.do("GET", "/v1/generations?limit=2&before="+url.QueryEscape(l.NextBefore), h.rep.Secret, "").json(t, &page2)
	if len(page2.Generations) != 1 || page2.NextBefore != "" {
		t.Fatalf("page 2: %+v", page2)
	}
	h.do("GET", "/v1/generations?status=ok&task=objection", h.rep.Secret, "").json(t, &l)
	if len(l.Generations) != 1 || l.Generations[0].ID != obj {
		t.Fatalf("status filter ok: %+v", l)
	}
	h.do("GET", "/v1/generations?status=failed", h.admin.Secret, "").json(t, &l)
	if len(l.Generations) != 0 {
		t.Fatalf("status filter failed: %+v", l)
	}
	for _, bad := range []string{"?limit=0", "?limit=500", "?task=poem", "?before=yesterday", "?status=done"} {
		h.do("GET", "/v1/generations"+bad, h.rep.Secret, "").problem(t, 400, "validation_failed")
	}
}
