package prompts

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// validOutput reads the hand-written valid answer for a template.
func validOutput(t *testing.T, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "outputs", id+".json"))
	if err != nil {
		t.Fatalf("%v (every template needs a valid sample answer)", err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidOutputsPass(t *testing.T) {
	for _, tmpl := range registry(t).List() {
		t.Run(tmpl.ID(), func(t *testing.T) {
			if err := tmpl.Schema.Validate(validOutput(t, tmpl.ID())); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestInvalidOutputsAreRejectedWithPaths(t *testing.T) {
	r := registry(t)
	tests := []struct {
		id     string
		name   string
		mutate func(v map[string]any)
		want   string // a problem, "path: message"
	}{
		{"email_draft@v1", "missing field", func(v map[string]any) { delete(v, "subject") },
			"/subject: required field is missing"},
		{"email_draft@v1", "too long", func(v map[string]any) { v["subject"] = strings.Repeat("长", 201) },
			"/subject: too long: 201 characters, at most 200 allowed"},
		{"email_draft@v1", "extra field", func(v map[string]any) { v["tone"] = "warm" },
			"/tone: field is not allowed by the schema"},
		{"email_draft@v1", "bracketed citation", func(v map[string]any) { v["citations"] = []any{"[S1]"} },
			`/citations/0: '[S1]' does not match pattern`},
		{"email_draft@v1", "wrong type", func(v map[string]any) { v["citations"] = "S1" },
			"/citations: wrong type: got string, want array"},
		{"email_draft@v2", "no call to action", func(v map[string]any) { delete(v, "call_to_action") },
			"/call_to_action: required field is missing"},
		{"email_draft@v2", "subject over the stricter limit", func(v map[string]any) { v["subject"] = strings.Repeat("x", 61) },
			"/subject: too long: 61 characters, at most 60 allowed"},
		{"meeting_notes@v1", "wrong enum", func(v map[string]any) { at(v, "sentiment", 0)["sentiment"] = "angry" },
			"/sentiment/0/sentiment: value must be one of 'positive', 'neutral', 'negative', 'mixed'"},
		{"meeting_notes@v1", "relative due date", func(v map[string]any) { at(v, "action_items", 0)["due_date"] = "下周五" },
			"/action_items/0/due_date: '下周五' is not valid date"},
		{"meeting_notes@v1", "budget as text", func(v map[string]any) {
			v["crm_fields"].(map[string]any)["budget_amount"].(map[string]any)["value"] = "610万"
		}, "/crm_fields/budget_amount/value: wrong type: got string, want number"},
		{"meeting_notes@v1", "span missing in a nested item", func(v map[string]any) {
			delete(v["crm_fields"].(map[string]any)["decision_makers"].([]any)[1].(map[string]any), "span")
		}, "/crm_fields/decision_makers/1/span: required field is missing"},
		{"talk_track@v1", "uncited point", func(v map[string]any) { at(v, "proof_points", 1)["citations"] = []any{} },
			"/proof_points/1/citations: too few items: 0, at least 1 required"},
		{"objection@v1", "rank zero", func(v map[string]any) { at(v, "responses", 0)["rank"] = 0 },
			"/responses/0/rank: minimum: got 0, want 1"},
		{"objection@v1", "unknown category", func(v map[string]any) { v["category"] = "money" },
			"/category: value must be one of"},
		{"tender_analysis@v1", "wrong verdict", func(v map[string]any) { at(v, "technical_parameters", 0)["verdict"] = "ok" },
			"/technical_parameters/0/verdict: value must be one of 'meets', 'partly', 'fails', 'unknown'"},
		{"tender_analysis@v1", "free-form deadline", func(v map[string]any) { at(v, "deadlines", 0)["datetime"] = "3月16日上午" },
			"/deadlines/0/datetime: '3月16日上午' does not match pattern"},
		{"competitive_intel@v1", "wrong assessment", func(v map[string]any) { at(v, "claims", 0)["assessment"] = "true" },
			"/claims/0/assessment: value must be one of 'supported', 'contradicted', 'unverified'"},
		{"competitive_intel@v1", "over-long span", func(v map[string]any) { at(v, "claims", 1)["span"] = strings.Repeat("字", 301) },
			"/claims/1/span: too long: 301 characters, at most 300 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.name, func(t *testing.T) {
			name, version, _ := strings.Cut(tt.id, "@v")
			n, _ := strconv.Atoi(version)
			tmpl, err := r.Get(name, n)
			if err != nil {
				t.Fatal(err)
			}
			v := validOutput(t, tt.id)
			tt.mutate(v)
			err = tmpl.Schema.Validate(v)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not say %q:\n%v", tt.want, err)
			}
		})
	}
}

func TestValidationErrorListsEveryProblemInPathOrder(t *testing.T) {
	tmpl, err := registry(t).Get("email_draft", 1)
	if err != nil {
		t.Fatal(err)
	}
	err = tmpl.Schema.Validate(map[string]any{"subject": "Hi", "body": 3, "extra/field": true})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a *ValidationError", err)
	}
	want := []Problem{
		{"/body", "wrong type: got number, want string"},
		{"/citations", "required field is missing"},
		{"/extra~1field", "field is not allowed by the schema"},
		{"/rationale", "required field is missing"},
		{"/subject", "too short: 2 characters, at least 3 required"},
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("problems = %v, want %v", ve.Problems, want)
	}
	for i := range want {
		if ve.Problems[i] != want[i] {
			t.Errorf("problem %d = %v, want %v", i, ve.Problems[i], want[i])
		}
	}
	if got := tmpl.Schema.Validate("not an object"); got == nil || !strings.Contains(got.Error(), "/: wrong type: got string, want object") {
		t.Errorf("Validate(string) = %v", got)
	}
}

// at returns item i of the array field of v.
func at(v map[string]any, field string, i int) map[string]any {
	return v[field].([]any)[i].(map[string]any)
}
