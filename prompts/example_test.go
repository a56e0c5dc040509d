package prompts_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// The assistant's side of a task: choose the tenant's version, render,
// parse and validate the answer, and repair it once if it fails.
func Example() {
	reg, err := prompts.Load()
	if err != nil {
		log.Fatal(err)
	}
	// The tenant's stored policy: v1, with 10% of deals trying v2.
	policy := prompts.Policy{Name: prompts.TaskEmailDraft, Version: 1, Candidate: 2, CandidateShare: 0.1}
	tmpl, err := reg.Choose(policy, "tenant-42/deal-1001")
	if err != nil {
		log.Fatal(err)
	}
	system, user, err := tmpl.Render(prompts.EmailDraftInput{
		Common:   prompts.Common{Language: "zh", Sources: []providers.Source{{ID: "S1", Title: "苏州项目复盘", Text: "合同后第 100 天上线。"}}},
		Purpose:  "follow_up",
		Customer: "南京市江宁区数据局",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = system, user // sent with tmpl.Temperature and tmpl.MaxTokens

	answer := "好的：\n```json\n{\"subject\": \"江宁二期跟进\", \"body\": \"王总您好：……\", \"citations\": [\"S1\"]}\n```"
	out, err := prompts.ParseJSONOutput(answer)
	if err == nil {
		err = tmpl.Schema.Validate(out)
	}
	var invalid *prompts.ValidationError
	if errors.As(err, &invalid) {
		for _, p := range invalid.Problems {
			fmt.Println(p)
		}
		_, _ = prompts.RepairPrompt(tmpl, answer, err) // one retry
	}
	fmt.Println("record:", tmpl.ID())
	// Output:
	// /body: too short: 7 characters, at least 20 required
	// /rationale: required field is missing
	// record: email_draft@v1
}
