package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store/storetest"
)

func TestOpportunitiesImportAndScoringCommands(t *testing.T) {
	db := storetest.New(t)
	if _, err := auth.NewService(db.Pool).EnsureTenant(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text", "DEALDESK_EMBED_DIM": "384"}
	check := func(want []string, args ...string) string {
		t.Helper()
		code, out, stderr := run(t, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("%v: output lacks %q:\n%s", args, w, out)
			}
		}
		return out
	}
	check([]string{"600 rows: 600 imported", "560 newly closed", "trained model v1"},
		"opportunities", "import", "--tenant", "acme", "../scoring/testdata/opportunities.csv")
	check([]string{"model v2 (logistic_l2+platt)", "split: time (close_date)", "baseline", "calibration on the test split", "0.9-1.0"},
		"scoring", "train", "--tenant", "acme", "--exclude", "budget_confirmed")
	check([]string{"model v2", "active", "2 versions", "excluded fields: budget_confirmed"}, "scoring", "report", "--tenant", "acme")
	check([]string{"model v1"}, "scoring", "report", "--tenant", "acme", "--version", "1")
	check([]string{"OPP-0599:", "model v2", "next:"}, "scoring", "score", "--tenant", "acme", "OPP-0599")
	check([]string{"model v3 (rules (cold start))"}, "scoring", "train", "--tenant", "acme", "--min-outcomes", "100000")
	if code, _, stderr := run(t, env, "scoring", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown action") {
		t.Fatalf("bad action: %d %s", code, stderr)
	}
}
