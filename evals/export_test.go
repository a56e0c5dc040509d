package evals

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/store"
)

// TestExportFeedbackBecomesRegressionCases: an edited and a rejected
// answer become cases that fail until a prompt does better, an accepted
// one becomes nothing, and personal data stays masked.
func TestExportFeedbackBecomesRegressionCases(t *testing.T) {
	d := demoDB(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Second)
	caller := assistant.Caller{Scope: store.Scope{Tenant: d.tenant, Role: "ops"}}
	run := func(in any) string {
		t.Helper()
		g, err := d.deps.Assistant.Run(ctx, caller, in, assistant.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return g.ID.String()
	}
	email := run(prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局", RecipientName: "王建国",
		DealContext: "客户手机 13812345678，关注专项债审计合规。"})
	objection := run(prompts.ObjectionInput{Objection: "你们的价格太贵了"})
	accepted := run(prompts.ObjectionInput{Objection: "交付周期太长"})

	fb := feedback.NewService(d.db.Pool)
	scope := store.Scope{Tenant: d.tenant, Role: "ops"}
	for _, in := range []feedback.Input{
		{GenerationID: mustUUID(t, email), Verdict: "edited", RepID: "crm-7", Reasons: []string{"missing_info"},
			CorrectedText: "王总您好：附上授权运营模块说明，并邀请您 2 月上旬参观苏州一网通办平台，合同后第 100 天上线。"},
		{GenerationID: mustUUID(t, objection), Verdict: "rejected", RepID: "crm-7", Reasons: []string{"wrong_fact", "hallucinated_source"}},
		{GenerationID: mustUUID(t, accepted), Verdict: "accepted", RepID: "crm-7"},
	} {
		if _, _, err := fb.Record(ctx, scope, in); err != nil {
			t.Fatal(err)
		}
	}
	suite, raw, err := ExportFeedback(ctx, d.db.Pool, ExportOptions{Tenant: d.tenant, Since: &since, Models: d.models})
	if err != nil {
		t.Fatal(err)
	}
	if len(suite.Cases) != 2 || suite.Cases[0].Task != "email_draft" || suite.Cases[1].Task != "objection" {
		t.Fatalf("cases: %+v\n%s", suite.Cases, raw)
	}
	if strings.Contains(string(raw), "13812345678") || !strings.Contains(string(raw), "⟦PHONE_1⟧") {
		t.Fatalf("export is not masked:\n%s", raw)
	}
	if _, ok := suite.Cases[0].Input["sources"]; ok {
		t.Fatalf("retrieved sources leaked into the request: %v", suite.Cases[0].Input)
	}
	// Run against the same prompt: both corrections still stand, so both
	// cases fail on the similarity check and nothing else.
	res, err := Run(ctx, d.deps, suite, Options{Tenant: d.tenant})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Results {
		var failed []string
		for _, a := range c.Failures() {
			failed = append(failed, a.Type)
		}
		if c.Passed || strings.Join(failed, ",") != "similarity" {
			t.Errorf("%s: passed=%v failed=%v error=%q", c.ID, c.Passed, failed, c.Error)
		}
	}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
