package prompts

import (
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// registry loads the embedded templates once per test.
func registry(t *testing.T) *Registry {
	t.Helper()
	r, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func TestLoadEmbeddedTemplates(t *testing.T) {
	r := registry(t)
	var ids []string
	for _, tmpl := range r.List() {
		ids = append(ids, tmpl.ID())
		if tmpl.Schema == nil || tmpl.RawSchema == nil || tmpl.Digest == "" || tmpl.File != tmpl.ID()+".tmpl" {
			t.Errorf("%s: incomplete template %+v", tmpl.ID(), tmpl)
		}
		if _, ok := tasks[tmpl.Task]; !ok {
			t.Errorf("%s: unknown task %q", tmpl.ID(), tmpl.Task)
		}
	}
	want := []string{
		"competitive_intel@v1", "email_draft@v1", "email_draft@v2", "meeting_notes@v1",
		"objection@v1", "talk_track@v1", "tender_analysis@v1",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("List() = %v, want %v", ids, want)
	}
	// Every task has a template, so the assistant can serve all of them.
	for task := range tasks {
		if _, err := r.Latest(task); err != nil {
			t.Errorf("task %s: %v", task, err)
		}
	}
}

func TestGetAndLatest(t *testing.T) {
	r := registry(t)
	tests := []struct {
		name    string
		get     func() (*Template, error)
		want    string
		wantErr string
	}{
		{"pinned version", func() (*Template, error) { return r.Get("email_draft", 2) }, "email_draft@v2", ""},
		{"latest skips the draft v2", func() (*Template, error) { return r.Latest("email_draft") }, "email_draft@v1", ""},
		{"latest of a single version", func() (*Template, error) { return r.Latest("tender_analysis") }, "tender_analysis@v1", ""},
		{"unknown name", func() (*Template, error) { return r.Get("email", 1) }, "", `no template named "email"`},
		{"unknown version", func() (*Template, error) { return r.Get("email_draft", 9) }, "", "email_draft has no version 9"},
		{"latest of unknown name", func() (*Template, error) { return r.Latest("nope") }, "", `no template named "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrNotFound saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.ID() != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestLatestSkipsDraftsInACustomDir(t *testing.T) {
	r, err := LoadFS(os.DirFS("testdata/good"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Latest("mini"); err != nil || got.Version != 2 {
		t.Fatalf("Latest = %v, %v; want mini@v2 (v3 is a draft)", got, err)
	}

	// A name with only drafts has no latest version.
	v3, err := os.ReadFile("testdata/good/mini@v3.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	r, err = LoadFS(fstest.MapFS{"mini@v3.tmpl": {Data: v3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Latest("mini"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "only draft") {
		t.Fatalf("Latest = %v, want ErrNotFound (only drafts)", err)
	}
}

func TestChoose(t *testing.T) {
	r := registry(t)
	tests := []struct {
		name    string
		policy  Policy
		want    string
		wantErr error
	}{
		{"latest", Policy{Name: "email_draft"}, "email_draft@v1", nil},
		{"pinned", Policy{Name: "email_draft", Version: 2}, "email_draft@v2", nil},
		{"zero share never picks the candidate", Policy{Name: "email_draft", Candidate: 2}, "email_draft@v1", nil},
		{"full share always picks the candidate", Policy{Name: "email_draft", Version: 1, Candidate: 2, CandidateShare: 1}, "email_draft@v2", nil},
		{"share above one", Policy{Name: "email_draft", Candidate: 2, CandidateShare: 1.5}, "", ErrInvalidPolicy},
		{"negative share", Policy{Name: "email_draft", Candidate: 2, CandidateShare: -0.1}, "", ErrInvalidPolicy},
		{"NaN share", Policy{Name: "email_draft", Candidate: 2, CandidateShare: math.NaN()}, "", ErrInvalidPolicy},
		{"share without candidate", Policy{Name: "email_draft", CandidateShare: 0.5}, "", ErrInvalidPolicy},
		{"negative version", Policy{Name: "email_draft", Version: -1}, "", ErrInvalidPolicy},
		{"unknown name", Policy{Name: "nope"}, "", ErrNotFound},
		{"unknown pinned version", Policy{Name: "email_draft", Version: 7}, "", ErrNotFound},
		{"unknown candidate", Policy{Name: "email_draft", Candidate: 7, CandidateShare: 0.5}, "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, key := range []string{"", "deal-1", "张三"} {
				got, err := r.Choose(tt.policy, key)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Choose(%+v) error = %v, want %v", tt.policy, err, tt.wantErr)
					}
					if checkErr := r.Check(tt.policy); !errors.Is(checkErr, tt.wantErr) {
						t.Fatalf("Check(%+v) = %v, want %v", tt.policy, checkErr, tt.wantErr)
					}
					return
				}
				if err != nil || got.ID() != tt.want {
					t.Fatalf("Choose(%+v, %q) = %v, %v; want %s", tt.policy, key, got, err, tt.want)
				}
			}
		})
	}
}

func TestChooseSplitsTrafficStablyAndInProportion(t *testing.T) {
	r := registry(t)
	const n = 10000
	for _, share := range []float64{0.05, 0.1, 0.3, 0.5, 0.9} {
		p := Policy{Name: "email_draft", Version: 1, Candidate: 2, CandidateShare: share}
		candidates := 0
		for i := range n {
			key := "tenant-7/deal-" + strconv.Itoa(i)
			got, err := r.Choose(p, key)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := r.Choose(p, key); again != got {
				t.Fatalf("key %s got %s then %s", key, got.ID(), again.ID())
			}
			if got.Version == 2 {
				candidates++
			}
		}
		if got := float64(candidates) / n; math.Abs(got-share) > 0.02 {
			t.Errorf("share %.2f: candidate got %.4f of %d keys", share, got, n)
		}
	}
}

func TestRaisingTheShareOnlyMovesKeysToTheCandidate(t *testing.T) {
	r := registry(t)
	low := Policy{Name: "email_draft", Candidate: 2, CandidateShare: 0.1}
	high := low
	high.CandidateShare = 0.3
	for i := range 2000 {
		key := strconv.Itoa(i)
		a, _ := r.Choose(low, key)
		b, _ := r.Choose(high, key)
		if a.Version == 2 && b.Version != 2 {
			t.Fatalf("key %s left the candidate when the share went up", key)
		}
	}
}

func TestLoadFSReportsBadTemplates(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // all must appear in the error
	}{
		{"duplicate", []string{"mini@v2.tmpl", "mini@v1 is declared by more than one file (mini@v1.tmpl, mini@v2.tmpl)", "must be named mini@v1.tmpl"}},
		{"broken_yaml", []string{"mini@v1.tmpl: front matter: yaml: line 11"}},
		{"bad_schema", []string{"mini@v1.tmpl: output_schema does not compile"}},
		{"missing_section", []string{"mini@v1.tmpl: missing section", `{{define "user"}}`}},
		{"unknown_field", []string{"mini@v1.tmpl", "can't evaluate field Budget in type prompts.EmailDraftInput"}},
		{"no_schema", []string{"mini@v1.tmpl: the prompt does not show the output schema"}},
		{"unknown_key", []string{"mini@v1.tmpl: front matter", "field max_token not found"}},
		{"no_front_matter", []string{"mini@v1.tmpl: the file must start with a \"---\" line"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			r, err := LoadFS(os.DirFS("testdata/bad/" + tt.dir))
			if err == nil {
				t.Fatalf("LoadFS succeeded with %d templates, want an error", len(r.List()))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadFSCatchesFrontMatterMistakes(t *testing.T) {
	good, err := os.ReadFile("testdata/good/mini@v1.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown task", "task: email_draft", "task: email", `task "email" is not one this package knows`},
		{"bad language", "language: auto", "language: fr", `language "fr": want zh, en or auto`},
		{"no temperature", "temperature: 0.2\n", "", "temperature is missing"},
		{"hot temperature", "temperature: 0.2", "temperature: 3", "temperature 3: want 0 to 2"},
		{"no max tokens", "max_tokens: 100", "max_tokens: 0", "max_tokens 0"},
		{"bad name", "name: mini", "name: Mini-Draft", `name "Mini-Draft"`},
		{"schema not an object", "  type: object\n", "  type: array\n", `"type: object"`},
		{"text outside sections", "{{define \"system\"}}", "Stray text.\n{{define \"system\"}}", "mini@v1.tmpl:16: text outside the {{define}} sections"},
		{"template syntax error", "{{schema}}", "{{schema}", "mini@v1.tmpl:16: bad character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := strings.Replace(string(good), tt.from, tt.to, 1)
			_, err := LoadFS(fstest.MapFS{"mini@v1.tmpl": {Data: []byte(content)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
