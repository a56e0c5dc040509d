package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

func TestAuditCommand(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text"}
	svc := auth.NewService(db.Pool)
	record := func(slug string, events ...audit.Event) auth.Tenant {
		t.Helper()
		tn, err := svc.EnsureTenant(ctx, slug, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			err := store.InTenant(ctx, db.Pool, tn.ID, func(tx pgx.Tx) error {
				_, err := audit.Append(ctx, tx, tn.ID, e)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return tn
	}
	acme := record("acme",
		audit.Event{Actor: "cli:ops", Action: "key.create", Subject: "k1", Details: map[string]string{"role": "rep"}},
		audit.Event{Actor: "k1", ActorRole: "rep", Action: "generation.create", Subject: "g1"},
		audit.Event{Actor: "cli:ops", Action: "key.revoke", Subject: "k1"})
	record("beta", audit.Event{Actor: "cli:ops", Action: "feature.set", Subject: "scoring"})
	record("empty")

	code, out, stderr := run(t, env, "audit", "verify")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"acme: 3 entries OK, head 3 ", "beta: 1 entries OK", "empty: 0 entries OK (empty chain)"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, env, "audit", "list", "--tenant", "acme", "--subject", "k1")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "key.revoke") || !strings.Contains(out, `{"role":"rep"}`) ||
		strings.Index(out, "key.revoke") > strings.Index(out, "key.create") {
		t.Fatalf("list --subject k1 (newest first): exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, env, "audit", "list", "--tenant", "acme", "--action", "generation.create", "--json"); code != 0 ||
		strings.Count(out, "\n") != 1 || !strings.Contains(out, `"subject":"g1"`) {
		t.Fatalf("list --json: exit %d\n%s", code, out)
	}

	// The table owner deletes the newest entry behind the triggers' back.
	err := store.InTenant(ctx, db.Pool, acme.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			ALTER TABLE audit_log DISABLE TRIGGER USER;
			GRANT DELETE ON audit_log TO CURRENT_USER;
			DELETE FROM audit_log WHERE seq = 3;
			REVOKE DELETE ON audit_log FROM CURRENT_USER;
			ALTER TABLE audit_log ENABLE TRIGGER USER`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, env, "audit", "verify")
	if code != 1 || !strings.Contains(out, "acme: 2 entries TAMPERED") || !strings.Contains(out, "seq 3 truncated") ||
		!strings.Contains(out, "beta: 1 entries OK") || !strings.Contains(stderr, "1 of 3 tenants is broken") {
		t.Fatalf("verify after tampering: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := run(t, env, "audit", "verify", "--tenant", "beta"); code != 0 || strings.Contains(out, "acme") {
		t.Fatalf("verify --tenant beta: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{{"audit"}, {"audit", "list"}, {"audit", "show"}, {"audit", "list", "--tenant", "acme", "--limit", "0"}} {
		if code, _, stderr := run(t, env, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	if code, _, stderr := run(t, env, "audit", "verify", "--tenant", "nope"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("unknown tenant: exit %d\n%s", code, stderr)
	}
}
