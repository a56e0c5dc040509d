package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

type fixture struct {
	t  *testing.T
	db *storetest.DB
}

func newFixture(t *testing.T) *fixture {
	t.Parallel()
	return &fixture{t: t, db: storetest.New(t)}
}

func (f *fixture) tenant(slug string) uuid.UUID {
	f.t.Helper()
	tn, err := auth.NewService(f.db.Pool).CreateTenant(context.Background(), slug, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return tn.ID
}

// append records n events, each in its own transaction.
func (f *fixture) append(tenant uuid.UUID, n int) []audit.Entry {
	f.t.Helper()
	var out []audit.Entry
	for i := range n {
		err := store.InTenant(context.Background(), f.db.Pool, tenant, func(tx pgx.Tx) error {
			e, err := audit.Append(context.Background(), tx, tenant, audit.Event{
				Actor: "key-" + fmt.Sprint(i%3), ActorRole: "rep", Action: "generation.create",
				Subject: fmt.Sprintf("gen-%d", i), Details: map[string]any{"i": i, "model": "offline"},
			})
			out = append(out, e)
			return err
		})
		if err != nil {
			f.t.Fatal(err)
		}
	}
	return out
}

func (f *fixture) verify(tenant uuid.UUID) audit.Report {
	f.t.Helper()
	r, err := audit.Verify(context.Background(), f.db.Pool, tenant)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// tamper runs statements in the tenant's scope the way an attacker with the
// table owner's rights would: switch the triggers off and grant back the
// revoked privileges, change history, and restore both so that nothing
// looks touched. The test role owns the tables (it ran the migrations).
func (f *fixture) tamper(tenant uuid.UUID, stmts ...string) {
	f.t.Helper()
	ctx := context.Background()
	err := store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
		for _, s := range slices.Concat([]string{
			`ALTER TABLE audit_log DISABLE TRIGGER USER`,
			`ALTER TABLE audit_heads DISABLE TRIGGER USER`,
			`GRANT UPDATE, DELETE ON audit_log, audit_heads TO CURRENT_USER`,
		}, stmts, []string{
			`REVOKE UPDATE, DELETE ON audit_log FROM CURRENT_USER`,
			`REVOKE DELETE ON audit_heads FROM CURRENT_USER`,
			`ALTER TABLE audit_log ENABLE TRIGGER USER`,
			`ALTER TABLE audit_heads ENABLE TRIGGER USER`,
		}) {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestAppendVerifyAndList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.tenant("acme")
	if r := f.verify(a); !r.OK || r.Entries != 0 || r.HeadSeq != 0 {
		t.Fatalf("empty chain: %+v", r)
	}
	entries := f.append(a, 3)
	// Details whose spelling jsonb changes (number forms, key order,
	// escapes) still verify: the hash covers their canonical form.
	var odd audit.Entry
	err := store.InScope(ctx, f.db.Pool, store.Scope{Tenant: a, Role: "admin"}, func(tx pgx.Tx) error {
		var err error
		odd, err = audit.Append(ctx, tx, a, audit.Event{
			Actor: "cli:ops", Action: "key.revoke", Subject: "gen-1",
			Details: json.RawMessage(`{"z": 1E2, "a": [0.10, -0, 1.5e-7, 1e21], "s": "é\u2028<&>\t😀", "n": null}`),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if odd.Seq != 4 || odd.PrevHash != entries[2].Hash || entries[0].PrevHash != (audit.Hash{}) {
		t.Fatalf("chain links: seq %d prev %s, genesis prev %s", odd.Seq, odd.PrevHash, entries[0].PrevHash)
	}
	r := f.verify(a)
	if !r.OK || r.Entries != 4 || r.HeadSeq != 4 || r.HeadHash != odd.Hash || len(r.Problems) != 0 {
		t.Fatalf("verify: %+v", r)
	}

	// A rolled-back change takes its audit entry with it.
	boom := errors.New("boom")
	err = store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		if _, err := audit.Append(ctx, tx, a, audit.Event{Actor: "k", Action: "feature.set"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if next := f.append(a, 1)[0]; next.Seq != 5 || next.PrevHash != odd.Hash {
		t.Fatalf("after a rollback the next entry is seq %d", next.Seq)
	}

	err = store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		tests := []struct {
			filter audit.Filter
			want   []int64
		}{
			{audit.Filter{}, []int64{5, 4, 3, 2, 1}},
			{audit.Filter{Subject: "gen-1"}, []int64{4, 2}},
			{audit.Filter{Action: "key.revoke"}, []int64{4}},
			{audit.Filter{Action: "generation.create", Limit: 2}, []int64{5, 3}},
			{audit.Filter{BeforeSeq: 3}, []int64{2, 1}},
		}
		for _, tt := range tests {
			got, err := audit.List(ctx, tx, tt.filter)
			if err != nil {
				return err
			}
			var seqs []int64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if !slices.Equal(seqs, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.filter, seqs, tt.want)
			}
		}
		got, err := audit.List(ctx, tx, audit.Filter{Action: "key.revoke"})
		if err != nil {
			return err
		}
		if e := got[0]; e.ID != odd.ID || !e.At.Equal(odd.At) || e.Hash != odd.Hash || e.Actor != "cli:ops" {
			t.Errorf("listed entry %+v differs from the appended %+v", e, odd)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.tenant("acme")
	for _, e := range []audit.Event{
		{Action: "x.y"},
		{Actor: "k"},
		{Actor: "k", Action: "x.y", Details: map[string]any{"id": int64(1) << 60}},
		{Actor: "k", Action: "x.y", Details: func() {}},
		{Actor: "k\x00", Action: "x.y"},
		{Actor: "k", Action: "x.y", Details: "nul \x00"},
	} {
		err := store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, a, e)
			return err
		})
		if !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Append(%+v): err = %v, want ErrInvalid", e, err)
		}
	}
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.tenant("acme"), f.tenant("beta")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range 2 * workers {
		tenant := []uuid.UUID{a, b}[w%2]
		wg.Go(func() {
			for i := range each {
				err := store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
					_, err := audit.Append(ctx, tx, tenant, audit.Event{Actor: fmt.Sprintf("worker-%d", w), Action: "feedback.create",
						Details: map[string]int{"worker": w, "i": i}})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, tenant := range []uuid.UUID{a, b} {
		r := f.verify(tenant)
		if !r.OK || r.Entries != workers*each || r.HeadSeq != workers*each {
			t.Fatalf("after concurrent appends: %+v", r)
		}
	}
	// Gap-free and in time order.
	err := store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		var n, maxSeq int64
		var ordered bool
		err := tx.QueryRow(ctx, `
			SELECT count(*), max(seq), bool_and(at >= prev_at) FROM (
				SELECT seq, at, lag(at, 1, '-infinity') OVER (ORDER BY seq) AS prev_at FROM audit_log) s`).Scan(&n, &maxSeq, &ordered)
		if err == nil && (n != workers*each || maxSeq != n || !ordered) {
			t.Errorf("%d entries, max seq %d, at ordered by seq: %v", n, maxSeq, ordered)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		stmts []string
		want  []audit.Problem // Detail is matched as a substring
	}{
		{"modified details", []string{`UPDATE audit_log SET details = '{"i": 4, "model": "gpt"}' WHERE seq = 5`},
			[]audit.Problem{{Seq: 5, Kind: audit.Modified, Detail: "does not match its hash"}}},
		{"modified timestamp", []string{`UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 2`},
			[]audit.Problem{{Seq: 2, Kind: audit.Modified}}},
		{"rehashed row", []string{`UPDATE audit_log SET actor = 'someone-else', hash = sha256('forged') WHERE seq = 5`},
			[]audit.Problem{{Seq: 5, Kind: audit.Modified}, {Seq: 6, Kind: audit.BrokenLink, Detail: "is not the hash of entry 5"}}},
		{"deleted middle row", []string{`DELETE FROM audit_log WHERE seq = 5`},
			[]audit.Problem{{Seq: 5, Kind: audit.Missing, Detail: "entry 5 is missing"}}},
		{"deleted rows", []string{`DELETE FROM audit_log WHERE seq BETWEEN 3 AND 6`},
			[]audit.Problem{{Seq: 3, Kind: audit.Missing, Detail: "entries 3 to 6"}}},
		{"deleted first row", []string{`DELETE FROM audit_log WHERE seq = 1`},
			[]audit.Problem{{Seq: 1, Kind: audit.Missing}}},
		{"deleted last row", []string{`DELETE FROM audit_log WHERE seq = 10`},
			[]audit.Problem{{Seq: 10, Kind: audit.Truncated, Detail: "head records entry 10 but the log ends at 9"}}},
		{"reordered rows", []string{
			`UPDATE audit_log SET seq = 1000 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
			`UPDATE audit_log SET seq = 4 WHERE seq = 1000`},
			[]audit.Problem{{Seq: 3, Kind: audit.BrokenLink}, {Seq: 3, Kind: audit.Modified}, {Seq: 4, Kind: audit.BrokenLink}, {Seq: 4, Kind: audit.Modified}, {Seq: 5, Kind: audit.BrokenLink}}},
		{"deleted head", []string{`DELETE FROM audit_heads`},
			[]audit.Problem{{Seq: 10, Kind: audit.BrokenLink, Detail: "head is missing"}}},
		{"forged entry past the head", []string{
			`INSERT INTO audit_log SELECT tenant_id, 11, gen_random_uuid(), at, actor, actor_role, action, subject, details, hash, hash FROM audit_log WHERE seq = 10`},
			[]audit.Problem{{Seq: 11, Kind: audit.Modified}, {Seq: 11, Kind: audit.BrokenLink, Detail: "follow the recorded head 10"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := f.tenant(fmt.Sprintf("t%d", i))
			f.append(tenant, 10)
			f.tamper(tenant, tt.stmts...)
			r := f.verify(tenant)
			if r.OK || len(r.Problems) != len(tt.want) {
				t.Fatalf("verify after tampering: OK=%v problems %v, want %v", r.OK, r.Problems, tt.want)
			}
			for j, w := range tt.want {
				p := r.Problems[j]
				if p.Seq != w.Seq || p.Kind != w.Kind || !strings.Contains(p.Detail, w.Detail) {
					t.Errorf("problem %d = %v, want %v", j, p, w)
				}
			}
		})
	}
	// Tampering with one tenant's chain leaves the others intact.
	intact := f.tenant("intact")
	f.append(intact, 3)
	if r := f.verify(intact); !r.OK {
		t.Fatalf("untouched chain: %+v", r)
	}
}

func TestHistoryCannotBeChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.tenant("acme")
	f.append(a, 3)
	try := func(sql string) error {
		return store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
	}
	changes := []string{
		`UPDATE audit_log SET details = '{}' WHERE seq = 2`,
		`DELETE FROM audit_log WHERE seq = 3`,
		`TRUNCATE audit_log`,
		`UPDATE audit_heads SET seq = 2`,
		`DELETE FROM audit_heads`,
		`TRUNCATE audit_heads`,
	}
	// The application role has given up these privileges on its own table.
	for _, sql := range changes {
		var pgErr *pgconn.PgError
		if err := try(sql); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: err = %v, want permission denied", sql, err)
		}
	}
	// With the privileges granted back the triggers still refuse.
	err := store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `GRANT UPDATE, DELETE, TRUNCATE ON audit_log, audit_heads TO CURRENT_USER`); err != nil {
			return err
		}
		for _, sql := range changes {
			_, err := tx.Exec(ctx, "SAVEPOINT s; "+sql)
			if err == nil || !strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "only move forward") {
				t.Errorf("%s with privileges: err = %v, want the trigger's refusal", sql, err)
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
				return err
			}
		}
		return errors.New("roll back the grant")
	})
	if err == nil || !strings.Contains(err.Error(), "roll back the grant") {
		t.Fatal(err)
	}
	if r := f.verify(a); !r.OK || r.Entries != 3 {
		t.Fatalf("after refused changes: %+v", r)
	}
}

func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.tenant("acme"), f.tenant("beta")
	f.append(a, 2)
	f.append(b, 3)
	err := store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		got, err := audit.List(ctx, tx, audit.Filter{})
		if err != nil {
			return err
		}
		var bRows, heads int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log WHERE tenant_id = $1), (SELECT count(*) FROM audit_heads)`, b).
			Scan(&bRows, &heads); err != nil {
			return err
		}
		if len(got) != 2 || bRows != 0 || heads != 1 {
			t.Errorf("tenant a sees %d entries, %d of b's, %d heads; want 2, 0, 1", len(got), bRows, heads)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writing into b's chain from a's scope violates the policy.
	err = store.InTenant(ctx, f.db.Pool, a, func(tx pgx.Tx) error {
		_, err := audit.Append(ctx, tx, b, audit.Event{Actor: "k", Action: "key.create"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("append to b from a's scope: err = %v", err)
	}
	if ra, rb := f.verify(a), f.verify(b); !ra.OK || ra.Entries != 2 || !rb.OK || rb.Entries != 3 {
		t.Fatalf("verify: a %+v, b %+v", ra, rb)
	}
	// Without a scope nothing is visible; an operator lists tenants only.
	var n int
	if err := f.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM audit_heads) + (SELECT count(*) FROM tenants)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("unscoped query sees %d rows (%v)", n, err)
	}
	tenants, err := audit.Tenants(ctx, f.db.Pool)
	if err != nil || len(tenants) != 2 || tenants[0].Slug != "acme" || tenants[1].ID != b {
		t.Fatalf("Tenants = %+v, %v", tenants, err)
	}
}

// Verify also runs inside a caller's transaction (as a savepoint).
func TestVerifyInTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.tenant("acme")
	f.append(a, 2)
	tx, err := f.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	r, err := audit.Verify(ctx, tx, a)
	if err != nil || !r.OK || r.Entries != 2 {
		t.Fatalf("Verify in a transaction: %+v %v", r, err)
	}
}

// TestAppendAfterRunsTheChangeFirst: the recorded change runs in the same
// round trip as the head lock, its callbacks see their rows, and a failing
// change appends nothing.
func TestAppendAfterRunsTheChangeFirst(t *testing.T) {
	f := newFixture(t)
	tenant := f.tenant("acme")
	ctx := context.Background()
	ev := audit.Event{Actor: "key-1", ActorRole: "rep", Action: "generation.create", Subject: "gen-1"}
	var got int
	err := store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
		change := &pgx.Batch{}
		change.Queue(`SELECT 41 + 1`).QueryRow(func(r pgx.Row) error { return r.Scan(&got) })
		e, err := audit.AppendAfter(ctx, tx, tenant, ev, change)
		if err == nil && e.Seq != 1 {
			t.Errorf("first entry has seq %d", e.Seq)
		}
		return err
	})
	if err != nil || got != 42 {
		t.Fatalf("AppendAfter: %v, the change's callback read %d; want nil and 42", err, got)
	}

	err = store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
		change := &pgx.Batch{}
		change.Queue(`SELECT 1 / 0`)
		_, err := audit.AppendAfter(ctx, tx, tenant, ev, change)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("a failing change: err = %v, want division by zero", err)
	}
	if r := f.verify(tenant); !r.OK || r.Entries != 1 {
		t.Fatalf("after a failed change: %d entries, ok %v; want the one entry, intact", r.Entries, r.OK)
	}
}

// TestQueueInATenantBatch appends through a batch of its own (one round
// trip, one implicit transaction): the entry commits with the statements
// before it, or not at all when one of them fails, and appends made this
// way and inside transactions form one chain.
func TestQueueInATenantBatch(t *testing.T) {
	f := newFixture(t)
	tenant := f.tenant("acme")
	ctx := context.Background()
	send := func(before string, ev audit.Event) (*audit.Entry, error) {
		b, err := store.TenantBatch(tenant)
		if err != nil {
			t.Fatal(err)
		}
		b.Queue(before)
		e, err := audit.Queue(b, tenant, ev)
		if err != nil {
			return nil, err
		}
		return e, f.db.Pool.SendBatch(ctx, b).Close()
	}
	f.append(tenant, 2)
	ev := audit.Event{Actor: "key-1", ActorRole: "rep", Action: "generation.create", Subject: "gen-x",
		Details: map[string]any{"text": "王总说要等财政拨款 \"quoted\" \\ back", "n": 1.5}}
	e, err := send(`SELECT 1`, ev)
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	if e.Seq != 3 || e.At.IsZero() || e.Hash == (audit.Hash{}) || e.PrevHash == (audit.Hash{}) {
		t.Fatalf("entry after the batch = %+v, want seq 3 with its clock and hashes", e)
	}
	if _, err := send(`SELECT 1 / 0`, ev); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("a failing statement before the entry: err = %v, want division by zero", err)
	}
	f.append(tenant, 1)
	r := f.verify(tenant)
	if !r.OK || r.Entries != 4 || r.HeadSeq != 4 {
		t.Fatalf("chain after batch appends: %d entries, head %d, ok %v (%v); want 4, 4, intact", r.Entries, r.HeadSeq, r.OK, r.Problems)
	}
	err = store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
		got, err := audit.List(ctx, tx, audit.Filter{BeforeSeq: 5, Limit: 2}) // entries 4, 3
		if err != nil {
			return err
		}
		if got[1].Hash != e.Hash || !got[1].At.Equal(e.At) || got[0].PrevHash != e.Hash {
			t.Errorf("stored entry 3 %s at %s, entry 4 links to %s; want %s at %s as Queue returned",
				got[1].Hash, got[1].At, got[0].PrevHash, e.Hash, e.At)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	other := f.tenant("other")
	b, err := store.TenantBatch(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Queue(b, tenant, ev); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Pool.SendBatch(ctx, b).Close(); err == nil {
		t.Fatal("a batch scoped to another tenant appended to acme's chain")
	}
	if r := f.verify(tenant); r.Entries != 4 || !r.OK {
		t.Fatalf("acme's chain after another tenant's attempt: %d entries, ok %v", r.Entries, r.OK)
	}
}

// TestAppendWritesTheHeadOnce checks that an entry moves its chain head with
// one row write (migration 0017; the version before wrote it twice per
// entry), and that a tenant's first entry inserts the head, then moves it.
func TestAppendWritesTheHeadOnce(t *testing.T) {
	f := newFixture(t)
	tenant := f.tenant("acme")
	ctx := context.Background()
	// The counters are the backend's pending ones, which may still hold
	// earlier transactions' writes: each entry's are the difference.
	writes := func(tx pgx.Tx) (w [2]int64) {
		t.Helper()
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0)
			FROM pg_stat_xact_user_tables WHERE relname = 'audit_heads'`).Scan(&w[0], &w[1]); err != nil {
			t.Fatal(err)
		}
		return w
	}
	for i, want := range [][2]int64{{1, 1}, {0, 1}, {0, 1}} { // inserted, updated
		err := store.InTenant(ctx, f.db.Pool, tenant, func(tx pgx.Tx) error {
			before := writes(tx)
			if _, err := audit.Append(ctx, tx, tenant, audit.Event{Actor: "key-1", Action: "feedback.create"}); err != nil {
				return err
			}
			after := writes(tx)
			if got := [2]int64{after[0] - before[0], after[1] - before[1]}; got != want {
				t.Errorf("entry %d: the head was inserted %d and updated %d times, want %d and %d", i+1, got[0], got[1], want[0], want[1])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if r := f.verify(tenant); !r.OK || r.HeadSeq != 3 {
		t.Fatalf("chain: %+v", r)
	}
}
