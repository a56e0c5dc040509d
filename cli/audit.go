package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store"
)

// auditCommand verifies and reads the tenants' hash-chained audit logs.
func auditCommand() boundCommand {
	c, cfg := newCommand("audit", "verify|list", "Verify the tamper-evident audit chains (all tenants unless --tenant; exit 1 when one is broken) or list a tenant's entries, newest first", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "", "tenant slug (list: required; verify: all tenants when empty)")
	subject := c.fs.String("subject", "", "list: only entries about this id")
	action := c.fs.String("action", "", "list: only this action, e.g. key.revoke")
	limit := c.fs.Int("limit", audit.DefaultLimit, fmt.Sprintf("list: at most this many entries (up to %d)", audit.MaxLimit))
	before := c.fs.Int64("before", 0, "list: only entries with a smaller seq (paging)")
	asJSON := c.fs.Bool("json", false, "list: print one JSON object per entry")
	c.run = func(e *env, args []string) error {
		if len(args) != 1 || (args[0] != "verify" && args[0] != "list") {
			return fmt.Errorf("%w: want 'audit verify' or 'audit list --tenant SLUG'", errUsage)
		}
		if args[0] == "list" && *tenant == "" {
			return fmt.Errorf("%w: --tenant is required", errUsage)
		}
		if *limit < 1 || *limit > audit.MaxLimit {
			return fmt.Errorf("%w: --limit must be 1..%d", errUsage, audit.MaxLimit)
		}
		pool, err := e.openDB(false)
		if err != nil {
			return err
		}
		defer pool.Close()
		var tenants []audit.Tenant
		if *tenant != "" {
			t, err := auth.NewService(pool).TenantBySlug(e.ctx, *tenant)
			if err != nil {
				return err
			}
			tenants = []audit.Tenant{{ID: t.ID, Slug: t.Slug}}
		} else if tenants, err = audit.Tenants(e.ctx, pool); err != nil {
			return err
		}
		if args[0] == "verify" {
			return verifyChains(e, pool, tenants)
		}
		var entries []audit.Entry
		err = store.InTenant(e.ctx, pool, tenants[0].ID, func(tx pgx.Tx) error {
			entries, err = audit.List(e.ctx, tx, audit.Filter{Subject: *subject, Action: *action, Limit: *limit, BeforeSeq: *before})
			return err
		})
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			for _, en := range entries {
				if err := enc.Encode(en); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tACTOR\tROLE\tACTION\tSUBJECT\tDETAILS")
		for _, en := range entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, en.At.Local().Format(time.DateTime), en.Actor,
				en.ActorRole, en.Action, en.Subject, clip(oneLine(string(en.Details)), 80))
		}
		return tw.Flush()
	}
	return c
}

// verifyChains prints one line per tenant (and one per problem below it)
// and fails when any chain is broken or could not be read.
func verifyChains(e *env, db store.Beginner, tenants []audit.Tenant) error {
	broken, failed := 0, 0
	for _, t := range tenants {
		r, err := audit.Verify(e.ctx, db, t.ID)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(e.stdout, "%s: ERROR %v\n", t.Slug, err)
			continue
		case r.OK && r.HeadSeq == 0:
			fmt.Fprintf(e.stdout, "%s: 0 entries OK (empty chain)\n", t.Slug)
			continue
		case r.OK:
			fmt.Fprintf(e.stdout, "%s: %d entries OK, head %d %s\n", t.Slug, r.Entries, r.HeadSeq, r.HeadHash)
			continue
		}
		broken++
		problems := fmt.Sprintf("%d problems", len(r.Problems)+r.Omitted)
		if problems == "1 problems" {
			problems = "1 problem"
		}
		fmt.Fprintf(e.stdout, "%s: %d entries TAMPERED (%s), head %d %s\n", t.Slug, r.Entries, problems, r.HeadSeq, r.HeadHash)
		for _, p := range r.Problems {
			fmt.Fprintf(e.stdout, "  %s\n", p)
		}
		if r.Omitted > 0 {
			fmt.Fprintf(e.stdout, "  ... and %d more\n", r.Omitted)
		}
	}
	var errs []error
	if broken > 0 {
		errs = append(errs, fmt.Errorf("the audit chain of %d of %d tenants is broken", broken, len(tenants)))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("could not verify %d of %d tenants", failed, len(tenants)))
	}
	return errors.Join(errs...)
}
