package suggest

import (
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/scoring"
)

func TestEmailPurposeFollowsTheRecord(t *testing.T) {
	day := func(daysAgo int) string { return time.Now().AddDate(0, 0, -daysAgo).Format(time.DateOnly) }
	for _, c := range []struct {
		name string
		rec  Record
		want string
	}{
		{"lost deal", Record{Stage: "lost"}, "win_back"},
		{"new lead", Record{Stage: "prospecting"}, "first_contact"},
		{"after a meeting", Record{Stage: "qualification", Activity: []Activity{{Type: "call", Date: day(9)}, {Type: "meeting", Date: day(2)}}}, "follow_up"},
		{"a concern was raised", Record{Stage: "solution", Activity: []Activity{{Type: "call", Date: day(1), Summary: "客户担心交付周期"}}}, "objection_reply"},
		{"negotiation", Record{Stage: "negotiation", Activity: []Activity{{Type: "email", Date: day(3)}}}, "proposal"},
		{"silent for weeks", Record{Stage: "qualification", Activity: []Activity{{Type: "email", Date: day(40)}}}, "follow_up"},
	} {
		if got, why := emailPurpose(c.rec); got != c.want || why == "" {
			t.Errorf("%s: %s (%q), want %s", c.name, got, why, c.want)
		}
	}
}

func TestLikelyObjectionAndRisk(t *testing.T) {
	if o, _ := likelyObjection(Record{Customer: "南京市江宁区数据局", Competitors: []string{"华拓数科"}}); !strings.Contains(o, "华拓数科") {
		t.Errorf("competitor objection: %q", o)
	}
	if o, _ := likelyObjection(Record{Customer: "Suzhou Medical", Stage: "negotiation"}); !strings.Contains(o, "price") {
		t.Errorf("negotiation objection: %q", o)
	}
	// A score's risk flag becomes the risk; a won deal has none.
	score := &scoring.Score{Risk: scoring.Risk{Flag: true, Reasons: []string{"no activity for 45 days"}}, NextActions: []string{"book a meeting"}}
	if r := riskSuggestion(Record{Stage: "proposal"}, score); r == nil || r.Reasons[0] != "no activity for 45 days" || len(r.Actions) != 1 {
		t.Errorf("risk from score: %+v", r)
	}
	if r := riskSuggestion(Record{Stage: "won"}, score); r != nil {
		t.Errorf("risk on a won deal: %+v", r)
	}
	// Without a score, a record silent for weeks is still at risk.
	stale := Record{Stage: "qualification", Activity: []Activity{{Type: "call", Date: time.Now().AddDate(0, 0, -30).Format(time.DateOnly)}}}
	if r := riskSuggestion(stale, nil); r == nil || !strings.Contains(r.Reasons[0], "no activity") {
		t.Errorf("risk from activity: %+v", r)
	}
}

func TestRequestValidation(t *testing.T) {
	ok := Request{Record: Record{Type: "contact", ExternalID: "c1", Version: "1", Customer: "x"}}
	if err := ok.validate(); err != nil || len(ok.Types) != 4 {
		t.Fatalf("valid request: %v %v", err, ok.Types)
	}
	long := ok
	long.Record.Activity = make([]Activity, 51)
	if err := long.validate(); err == nil {
		t.Fatal("51 activities accepted")
	}
}
