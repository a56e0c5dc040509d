package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestPoliciesMatchTheirFunctions checks that the row-level security
// policies (migration 0016 reads the scope once per statement) show every
// kind of caller exactly the rows that the rule functions of 0003 and 0005,
// dealdesk_can_see and dealdesk_can_see_generation, allow: for documents,
// generations, feedback, opportunities and opportunity scores, over every
// combination of row attributes and caller scope, with another tenant's
// rows never visible. Chunks carry the documents' rule word for word.
func TestPoliciesMatchTheirFunctions(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := context.Background()
	tenantA, tenantB := uuid.New(), uuid.New()
	keyA, keyB := uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{tenantA, tenantB} {
		if err := store.InTenant(ctx, db.Pool, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'policy test')`, id, fmt.Sprintf("policy-%d", i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	regionValues := []string{"", "jiangsu", "guangdong"}
	listValues := [][]string{{}, {"jiangsu"}, {"guangdong", "zhejiang"}}
	roleLists := [][]string{{}, {"manager"}, {"rep", "manager"}}
	type document struct {
		id                uuid.UUID
		region            string
		regions, roles    []string
		tenant            uuid.UUID
		generationKey     *uuid.UUID
		generationRegions []string
		opportunityRegion string
	}
	var rows []document
	for _, region := range regionValues {
		for _, regions := range listValues {
			for _, roles := range roleLists {
				rows = append(rows, document{id: uuid.New(), region: region, regions: regions, roles: roles, tenant: tenantA})
			}
		}
	}
	keys := []*uuid.UUID{nil, &keyA, &keyB}
	for i := range rows {
		rows[i].generationKey = keys[i%len(keys)]
		rows[i].generationRegions = listValues[(i/len(keys))%len(listValues)]
		rows[i].opportunityRegion = regionValues[i%len(regionValues)]
	}
	// Tenant B has rows that every rule would show, to tenant A's callers too.
	rows = append(rows, document{id: uuid.New(), regions: []string{}, roles: []string{}, tenant: tenantB,
		generationKey: &keyA, generationRegions: []string{"jiangsu"}})

	for i, r := range rows {
		if err := store.InTenant(ctx, db.Pool, r.tenant, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO documents (id, tenant_id, kind, title, source, region, access_regions, access_roles, content_hash)
				VALUES ($1, $2, 'note', 'policy test', $3, $4, $5, $6, 'x')`, r.id, r.tenant, r.id.String(), r.region, r.regions, r.roles)
			b.Queue(`INSERT INTO generations (id, tenant_id, task, status, prompt_name, prompt_version, prompt_digest,
					provider, model, offline, created_by, role, regions, input)
				VALUES ($1, $2, 'email_draft', 'ok', 'email_draft', 1, 'd', 'offline', 'offline', true, $3, 'rep', $4, '{}')`,
				r.id, r.tenant, r.generationKey, r.generationRegions)
			b.Queue(`INSERT INTO feedback (id, tenant_id, generation_id, rep_id, key_id, verdict, task, prompt_version, provider, model, regions)
				VALUES ($1, $2, $1, 'rep', $3, 'accepted', 'email_draft', 1, 'offline', 'offline', $4)`,
				r.id, r.tenant, r.generationKey, r.generationRegions)
			b.Queue(`INSERT INTO opportunities (id, tenant_id, external_id, stage, region) VALUES ($1, $2, $3, 'qualify', $4)`,
				r.id, r.tenant, fmt.Sprintf("crm-%d", i), r.opportunityRegion)
			b.Queue(`INSERT INTO opportunity_scores (tenant_id, opportunity_id, region, model_version, method, probability, band)
				VALUES ($1, $2, $3, 0, 'rules', 0.5, 'medium')`, r.tenant, r.id, r.opportunityRegion)
			return tx.SendBatch(ctx, b).Close()
		}); err != nil {
			t.Fatalf("insert row %d: %v", i, err)
		}
	}

	// visible reads each table's rows (by document id) as the caller sees
	// them, and what the rule functions say the caller may see, in one
	// transaction with the caller's settings.
	type sets struct{ got, want map[string][]uuid.UUID }
	visible := func(run func(context.Context, func(pgx.Tx) error) error) sets {
		t.Helper()
		s := sets{got: map[string][]uuid.UUID{}, want: map[string][]uuid.UUID{}}
		err := run(ctx, func(tx pgx.Tx) error {
			for table, col := range map[string]string{
				"documents": "id", "generations": "id", "feedback": "generation_id",
				"opportunities": "id", "opportunity_scores": "opportunity_id",
			} {
				q, err := tx.Query(ctx, `SELECT `+col+` FROM `+table)
				if err != nil {
					return fmt.Errorf("%s: %w", table, err)
				}
				ids, err := pgx.CollectRows(q, pgx.RowTo[uuid.UUID])
				if err != nil {
					return fmt.Errorf("%s: %w", table, err)
				}
				s.got[table] = ids
			}
			var tenant *uuid.UUID
			if err := tx.QueryRow(ctx, `SELECT dealdesk_tenant()`).Scan(&tenant); err != nil {
				return err
			}
			for _, r := range rows {
				if tenant == nil || *tenant != r.tenant {
					continue
				}
				var doc, gen, opp bool
				if err := tx.QueryRow(ctx, `SELECT coalesce(dealdesk_can_see($1, $2, $3), false), coalesce(dealdesk_can_see_generation($4, $5), false),
						coalesce(dealdesk_can_see($6, '{}', '{}'), false)`,
					r.region, r.regions, r.roles, r.generationKey, r.generationRegions, r.opportunityRegion).Scan(&doc, &gen, &opp); err != nil {
					return err
				}
				if doc {
					s.want["documents"] = append(s.want["documents"], r.id)
				}
				if gen {
					s.want["generations"] = append(s.want["generations"], r.id)
					s.want["feedback"] = append(s.want["feedback"], r.id)
				}
				if opp {
					s.want["opportunities"] = append(s.want["opportunities"], r.id)
					s.want["opportunity_scores"] = append(s.want["opportunity_scores"], r.id)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string][]uuid.UUID{s.got, s.want} {
			for table := range m {
				slices.SortFunc(m[table], func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
			}
		}
		return s
	}
	check := func(name string, s sets, wantAll bool) {
		t.Helper()
		for _, table := range []string{"documents", "generations", "feedback", "opportunities", "opportunity_scores"} {
			got, want := s.got[table], s.want[table]
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s shows %d rows, the rule allows %d: %v, want %v", name, table, len(got), len(want), got, want)
			}
			if wantAll && len(got) != len(rows)-1 {
				t.Errorf("%s: %s shows %d rows, want all %d of the tenant", name, table, len(got), len(rows)-1)
			}
		}
	}

	// Without a caller scope (the tenant alone): every row of the tenant.
	check("tenant only", visible(func(ctx context.Context, fn func(pgx.Tx) error) error {
		return store.InTenant(ctx, db.Pool, tenantA, fn)
	}), true)
	shown := 0
	for _, role := range []string{"admin", "ops", "manager", "rep", "plugin"} {
		for _, regions := range [][]string{nil, {"jiangsu"}, {"jiangsu", "guangdong"}, {"zhejiang"}} {
			for _, key := range []uuid.UUID{uuid.Nil, keyA} {
				scope := store.Scope{Tenant: tenantA, Role: role, Regions: regions, KeyID: key}
				s := visible(func(ctx context.Context, fn func(pgx.Tx) error) error {
					return store.InScope(ctx, db.Pool, scope, fn)
				})
				check(fmt.Sprintf("%s in %v with key %v", role, regions, key != uuid.Nil), s, false)
				shown += len(s.got["documents"])
			}
		}
	}
	if shown == 0 {
		t.Fatal("no scope saw any document: the comparison proves nothing")
	}

	// Chunks are read with the documents' rule, word for word.
	var docs, chunks string
	if err := db.Pool.QueryRow(ctx, `SELECT
			(SELECT qual FROM pg_policies WHERE tablename = 'documents' AND policyname = 'documents_tenant'),
			(SELECT qual FROM pg_policies WHERE tablename = 'chunks' AND policyname = 'chunks_tenant')`).Scan(&docs, &chunks); err != nil {
		t.Fatal(err)
	}
	if docs != chunks || !strings.Contains(docs, "SELECT dealdesk_tenant()") {
		t.Errorf("chunks policy differs from documents':\n%s\n%s", chunks, docs)
	}
}
