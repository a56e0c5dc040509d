package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/auth"
)

type suggestionsAnswer struct {
	Suggestions []struct {
		Type         string         `json:"type"`
		Title        string         `json:"title"`
		Why          string         `json:"why"`
		GenerationID string         `json:"generation_id"`
		Output       map[string]any `json:"output"`
		Reasons      []string       `json:"reasons"`
	} `json:"suggestions"`
	Score *struct {
		Probability float64 `json:"probability"`
	} `json:"score"`
	Cached bool     `json:"cached"`
	Errors []string `json:"errors"`
}

func TestSuggestionsForCRMRecords(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.loadDemo()
	plugin := must(h.auth.CreateKey(context.Background(), h.tenant.ID, auth.KeySpec{Name: "crm", Role: auth.RolePlugin, Regions: []string{"jiangsu"}}))(t)
	stale := time.Now().AddDate(0, 0, -45).Format(time.DateOnly)
	if r := h.do("POST", "/v1/opportunities", plugin.Secret, `{"external_id":"OPP-9","customer":"南京市江宁区数据局","stage":"proposal",
		"region":"jiangsu","competitors":["华拓数科"],"last_activity_at":"`+stale+`T09:00:00Z","meetings":1}`); r.status != 201 {
		t.Fatalf("opportunity: %d %s", r.status, r.body)
	}
	body := func(version string) string {
		return `{"record":{"type":"opportunity","external_id":"OPP-9","version":"` + version + `","customer":"南京市江宁区数据局",
			"stage":"proposal","region":"jiangsu","competitors":["华拓数科"],"contact":{"name":"王建国","role":"总经理","side":"customer"},
			"recent_activity":[{"type":"meeting","date":"` + stale + `","summary":"二期方案交流，客户关注专项债审计合规。"}]}}`
	}
	var first suggestionsAnswer
	r := h.do("POST", "/v1/suggestions", plugin.Secret, body("7"))
	r.json(t, &first)
	if r.status != 200 || first.Cached || r.header.Get("X-Cache") != "miss" || len(first.Errors) > 0 {
		t.Fatalf("suggestions: %d %s", r.status, r.body)
	}
	types := map[string]int{}
	for i, s := range first.Suggestions {
		types[s.Type] = i
		if s.Type != "risk" && (s.GenerationID == "" || len(s.Output) == 0 || s.Why == "") {
			t.Errorf("%s suggestion without generation or reason: %+v", s.Type, s)
		}
	}
	for _, want := range []string{"email", "talk_track", "objection"} {
		if _, ok := types[want]; !ok {
			t.Fatalf("no %s suggestion: %s", want, r.body)
		}
	}
	// The last activity was a meeting: the email follows it up.
	if email := first.Suggestions[types["email"]]; !strings.Contains(email.Why, "meeting") {
		t.Errorf("email why: %q", email.Why)
	}
	if objection := first.Suggestions[types["objection"]]; !strings.Contains(objection.Title, "华拓数科") {
		t.Errorf("objection: %q", objection.Title)
	}
	if first.Score == nil {
		t.Errorf("no score for a stored opportunity: %s", r.body)
	}
	if i, ok := types["risk"]; !ok || len(first.Suggestions[i].Reasons) == 0 {
		t.Errorf("no risk for a deal silent for 45 days: %s", r.body)
	}

	// The same record version is served from the cache: same generations.
	var again suggestionsAnswer
	r = h.do("POST", "/v1/suggestions", plugin.Secret, body("7"))
	r.json(t, &again)
	if !again.Cached || r.header.Get("X-Cache") != "hit" || again.Suggestions[0].GenerationID != first.Suggestions[0].GenerationID {
		t.Fatalf("cache: %s", r.body)
	}
	// A new version of the record gets fresh suggestions.
	var next suggestionsAnswer
	h.do("POST", "/v1/suggestions", plugin.Secret, body("8")).json(t, &next)
	if next.Cached || next.Suggestions[0].GenerationID == first.Suggestions[0].GenerationID {
		t.Fatalf("new version served from cache: %+v", next)
	}
	// Suggestions are generations the plugin key can read.
	if r := h.do("GET", "/v1/generations/"+first.Suggestions[0].GenerationID, plugin.Secret, ""); r.status != 200 {
		t.Fatalf("generation: %d", r.status)
	}

	// A contact page, and a won deal: no talk track and no risk.
	var won suggestionsAnswer
	h.do("POST", "/v1/suggestions", plugin.Secret, `{"record":{"type":"contact","external_id":"C-1","version":"1","customer":"苏州市数据局",
		"stage":"won","contact":{"name":"李明","role":"处长"}},"types":["email","talk_track","risk"]}`).json(t, &won)
	if len(won.Suggestions) != 1 || won.Suggestions[0].Type != "email" {
		raw, _ := json.Marshal(won)
		t.Fatalf("won deal: %s", raw)
	}

	for _, bad := range []struct{ body, field string }{
		{`{"record":{"type":"lead","external_id":"x","version":"1","customer":"c"}}`, "record.type"},
		{`{"record":{"type":"contact","external_id":"x","customer":"c"}}`, "record.version"},
		{`{"record":{"type":"contact","external_id":"x","version":"1"}}`, "record.customer"},
		{`{"record":{"type":"contact","external_id":"x","version":"1","customer":"c"},"types":["poem"]}`, "types"},
	} {
		p := h.do("POST", "/v1/suggestions", plugin.Secret, bad.body).problem(t, 400, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != bad.field {
			t.Errorf("%s: %+v", bad.body, p.Errors)
		}
	}
}
