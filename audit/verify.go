package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/store"
)

// Kind classifies a Problem.
type Kind string

// Kinds of broken chain.
const (
	// Modified: the entry's content no longer matches its hash.
	Modified Kind = "modified"
	// Missing: entries are absent from the middle of the chain.
	Missing Kind = "missing"
	// BrokenLink: an entry does not follow the one before it (an entry
	// moved, replaced or rehashed), or the chain head disagrees with the
	// log.
	BrokenLink Kind = "broken_link"
	// Truncated: the newest entries recorded by the chain head are gone.
	Truncated Kind = "truncated"
)

// Problem is one broken spot of a chain.
type Problem struct {
	Seq    int64  `json:"seq"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("seq %d %s: %s", p.Seq, p.Kind, p.Detail) }

// MaxProblems bounds Report.Problems; a chain broken everywhere is still
// walked to the end and counted.
const MaxProblems = 100

// Report is the result of verifying one tenant's chain.
type Report struct {
	Tenant uuid.UUID `json:"tenant_id"`
	// Entries is how many entries were checked.
	Entries int64 `json:"entries"`
	OK      bool  `json:"ok"`
	// HeadSeq and HeadHash are the chain head as recorded (0 and zeros for
	// an empty chain). Keep them outside the database to anchor the chain.
	HeadSeq  int64 `json:"head_seq"`
	HeadHash Hash  `json:"head_hash"`
	// Problems in chain order: the first is the first broken link.
	Problems []Problem `json:"problems"`
	// Omitted counts problems beyond MaxProblems.
	Omitted int `json:"omitted,omitempty"`
}

func (r *Report) add(seq int64, kind Kind, format string, args ...any) {
	r.OK = false
	if len(r.Problems) >= MaxProblems {
		r.Omitted++
		return
	}
	r.Problems = append(r.Problems, Problem{Seq: seq, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// Verify walks the tenant's chain in seq order, one row at a time, and
// reports every entry whose hash does not match its content, every gap, every
// entry that does not link to its predecessor, and a log that ends before or
// after the recorded head. It reads one consistent snapshot, so appends
// running meanwhile do not show as problems.
func Verify(ctx context.Context, db store.Beginner, tenant uuid.UUID) (Report, error) {
	r := Report{Tenant: tenant, OK: true, Problems: []Problem{}}
	if tenant == uuid.Nil {
		return r, errors.New("audit: verify without a tenant")
	}
	err := inSnapshot(ctx, db, tenant, func(tx pgx.Tx) error {
		var headHash []byte
		hasHead := true
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`, tenant).Scan(&r.HeadSeq, &headHash)
		if errors.Is(err, pgx.ErrNoRows) {
			hasHead, err = false, nil
		}
		if err != nil {
			return fmt.Errorf("read chain head: %w", err)
		}
		copy(r.HeadHash[:], headHash)

		rows, err := tx.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE tenant_id = $1 ORDER BY seq`, tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			e    Entry
			last int64
			prev Hash // the stored hash of the previous entry; genesis: zeros
		)
		for rows.Next() {
			wellFormed, err := scanEntry(rows, &e)
			if err != nil {
				return err
			}
			r.Entries++
			switch {
			case e.Seq > last+1:
				if e.Seq == last+2 {
					r.add(last+1, Missing, "entry %d is missing", last+1)
				} else {
					r.add(last+1, Missing, "entries %d to %d are missing", last+1, e.Seq-1)
				}
			case e.PrevHash != prev:
				r.add(e.Seq, BrokenLink, "prev_hash %s is not the hash of entry %d (%s)", short(e.PrevHash), last, short(prev))
			}
			details, err := canonicalJSON(e.Details, false)
			switch {
			case !wellFormed:
				r.add(e.Seq, Modified, "stored timestamp or hash is malformed")
			case err != nil:
				r.add(e.Seq, Modified, "details are not valid JSON: %v", err)
			case computeHash(&e, details) != e.Hash:
				r.add(e.Seq, Modified, "content does not match its hash %s (%s by %s)", short(e.Hash), e.Action, e.Actor)
			}
			prev, last = e.Hash, e.Seq
		}
		if err := rows.Err(); err != nil {
			return err
		}
		switch {
		case !hasHead && r.Entries > 0:
			r.add(last, BrokenLink, "the chain head is missing")
		case !hasHead:
		case r.HeadSeq > last:
			r.add(last+1, Truncated, "the head records entry %d but the log ends at %d", r.HeadSeq, last)
		case r.HeadSeq < last:
			r.add(r.HeadSeq+1, BrokenLink, "entries %d to %d follow the recorded head %d", r.HeadSeq+1, last, r.HeadSeq)
		case r.HeadHash != prev || len(headHash) != len(r.HeadHash):
			r.add(last, BrokenLink, "the head hash %s is not the hash of entry %d (%s)", short(r.HeadHash), last, short(prev))
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("verify audit chain of tenant %s: %w", tenant, err)
	}
	return r, nil
}

func short(h Hash) string { return h.String()[:12] }

// inSnapshot runs fn read-only in the tenant's scope on one snapshot
// (REPEATABLE READ), so that the head and the entries agree. Nested in a
// caller's transaction it uses that transaction's isolation.
func inSnapshot(ctx context.Context, db store.Beginner, tenant uuid.UUID, fn func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to keep
	if _, nested := db.(pgx.Tx); !nested {
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
		return fmt.Errorf("set tenant scope: %w", err)
	}
	return fn(tx)
}

// Tenant names a tenant whose chain an operator verifies.
type Tenant struct {
	ID   uuid.UUID
	Slug string
}

// Tenants lists every tenant, by slug, for verifying all chains. The
// tenants_list policy shows them to a transaction that sets
// app.list_tenants (the tenant rows only, read-only).
func Tenants(ctx context.Context, db store.Beginner) ([]Tenant, error) {
	var out []Tenant
	err := store.WithSetting(ctx, db, "app.list_tenants", "on", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, slug FROM tenants ORDER BY slug`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Tenant])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}
