package cli

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestEvalGate runs the email suite as CI would: a passing run exported
// as the baseline, then a run on a deliberately broken prompt version
// (a template folder with email_draft@v9, whose budget cuts every answer)
// that must exit non-zero.
func TestEvalGate(t *testing.T) {
	db := storetest.New(t)
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text", "DEALDESK_EMBED_DIM": "384", "DEALDESK_LOG_LEVEL": "warn"}
	dir := t.TempDir()
	if code, _, stderr := run(t, env, "demo", "--key-file", filepath.Join(dir, "key")); code != 0 {
		t.Fatalf("demo: %s", stderr)
	}
	base, junit, report := filepath.Join(dir, "base.json"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.html")
	code, out, stderr := run(t, env, "eval", "run", "email_draft", "--json", base, "--junit", junit, "--report", report)
	if code != 0 || !strings.Contains(out, "gate: PASS") || !strings.Contains(out, "jiangning-follow-up-zh") {
		t.Fatalf("eval run: %d\n%s\n%s", code, out, stderr)
	}
	var exported struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if b, err := os.ReadFile(base); err != nil || json.Unmarshal(b, &exported) != nil || exported.Status != "passed" {
		t.Fatalf("--json: %v %+v", err, exported)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if b, err := os.ReadFile(junit); err != nil || xml.Unmarshal(b, &suites) != nil || suites.Tests != 7 || suites.Failures != 0 {
		t.Fatalf("--junit: %v %+v", err, suites)
	}
	if b, err := os.ReadFile(report); err != nil || !strings.Contains(string(b), "<html") {
		t.Fatalf("--report: %v", err)
	}

	code, list, _ := run(t, env, "eval", "list")
	if code != 0 || !strings.Contains(list, exported.ID) || !strings.Contains(list, "passed") {
		t.Fatalf("eval list: %s", list)
	}
	if code, show, _ := run(t, env, "eval", "show", exported.ID); code != 0 || !strings.Contains(show, "gate: PASS") {
		t.Fatalf("eval show: %s", show)
	}

	templates := filepath.Join(dir, "templates")
	if err := os.Mkdir(templates, 0o700); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../prompts/templates/*.tmpl")
	for _, f := range append(files, "../evals/testdata/prompts/email_draft@v9.tmpl") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(templates, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr = run(t, env, "eval", "run", "email_draft", "--prompt-dir", templates, "--prompt-version", "9",
		"--baseline-file", base, "--quiet", "--junit", junit)
	if code != 1 || !strings.Contains(stderr, "eval gate failed: email_draft") || !strings.Contains(out, "email_draft: FAILED") {
		t.Fatalf("broken prompt: exit %d\n%s\n%s", code, out, stderr)
	}
	if b, _ := os.ReadFile(junit); !strings.Contains(string(b), `name="gate"`) {
		t.Fatalf("the JUnit report of a failed gate has no gate failure:\n%s", b)
	}
	if code, _, stderr := run(t, env, "eval", "run", "nope"); code != 1 || !strings.Contains(stderr, "unknown eval suite") {
		t.Fatalf("unknown suite: %d %s", code, stderr)
	}
	if code, _, _ := run(t, env, "eval", "show", "x"); code != 2 {
		t.Fatalf("bad run id: exit %d", code)
	}
}
