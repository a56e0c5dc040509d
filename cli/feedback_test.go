package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

func TestFeedbackStatsCommand(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	tn, err := auth.NewService(db.Pool).EnsureTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	gen := func(task string, version int) uuid.UUID {
		id := uuid.New()
		err := store.InTenant(ctx, db.Pool, tn.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO generations (id, tenant_id, task, status, prompt_name, prompt_version, prompt_digest,
				provider, model, offline, role, regions, input, output)
				VALUES ($1, $2, $3, 'ok', $3, $4, 'd', 'offline', 'extractive-v1', true, 'rep', '{jiangsu}', '{}', '{"body":"您好，想约您见面。"}')`,
				id, tn.ID, task, version)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	svc := feedback.NewService(db.Pool)
	scope := store.Scope{Tenant: tn.ID, Role: "ops"}
	for _, in := range []feedback.Input{
		{GenerationID: gen("email_draft", 1), Verdict: "accepted", RepID: "u1"},
		{GenerationID: gen("email_draft", 1), Verdict: "rejected", Reasons: []string{"wrong_tone"}, RepID: "u1"},
		{GenerationID: gen("email_draft", 2), Verdict: "edited", CorrectedText: "您好，想约您下周见面。", RepID: "u2"},
	} {
		if _, _, err := svc.Record(ctx, scope, in); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text"}
	code, out, stderr := run(t, env, "feedback", "stats", "--tenant", "acme")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "TASK") || !strings.Contains(lines[1], "email_draft@v1") || !strings.Contains(lines[1], "50%") ||
		!strings.Contains(lines[1], "wrong_tone 1") || !strings.Contains(lines[2], "email_draft@v2") || !strings.HasPrefix(lines[3], "total") {
		t.Fatalf("table:\n%s", out)
	}
	if code, out, _ := run(t, env, "feedback", "stats", "--tenant", "acme", "--by", "week", "--json"); code != 0 || !strings.Contains(out, `"week"`) {
		t.Fatalf("json: %d %s", code, out)
	}
	if code, _, _ := run(t, env, "feedback", "stats", "--tenant", "acme", "--by", "colour"); code == 0 {
		t.Fatal("unknown dimension accepted")
	}
}
