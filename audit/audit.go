package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Event is what happened, as the caller describes it.
type Event struct {
	// Actor is who did it: an API key id, or "cli:<user>" for operators.
	Actor string
	// ActorRole is the actor's role (admin, rep, ...), empty when none.
	ActorRole string
	// Action names what happened: generation.create, feedback.create,
	// key.create, key.revoke, prompt.activate, prompt.policy, feature.set.
	Action string
	// Subject is the id acted on, empty when there is none.
	Subject string
	// Details is any JSON-encodable value (nil: {}); a json.RawMessage is
	// taken as is.
	Details any
}

// Hash is a SHA-256 digest; it prints and marshals as lower-case hex.
type Hash [sha256.Size]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash in hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// Entry is a stored audit log entry.
type Entry struct {
	Tenant    uuid.UUID       `json:"tenant_id"`
	Seq       int64           `json:"seq"`
	ID        uuid.UUID       `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	ActorRole string          `json:"actor_role"`
	Action    string          `json:"action"`
	Subject   string          `json:"subject"`
	Details   json.RawMessage `json:"details"`
	PrevHash  Hash            `json:"prev_hash"`
	Hash      Hash            `json:"hash"`
}

// ErrInvalid marks an event that cannot be recorded.
var ErrInvalid = errors.New("invalid audit event")

// domain starts every hashed message, so that the encoding can change
// (v2) without old and new hashes ever colliding.
const domain = "dealdesk.audit.v1"

// computeHash is the chain hash of e with the given canonical details (see
// the package documentation for the encoding).
func computeHash(e *Entry, canonicalDetails []byte) Hash {
	prefix, suffix := hashParts(e, canonicalDetails)
	return chainHash(e, prefix, suffix)
}

// chainHash is the hash of e's message from its parts (see hashParts) and
// its place in the chain: seq, id, at and prev_hash.
func chainHash(e *Entry, prefix, suffix []byte) Hash {
	h := sha256.New()
	h.Write(prefix)
	writeUint64(h, uint64(e.Seq))
	h.Write(e.ID[:])
	writeUint64(h, uint64(e.At.UnixMicro()))
	h.Write(suffix)
	h.Write(e.PrevHash[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// hashParts are the parts of e's hashed message that do not depend on its
// place in the chain: what comes before seq (the domain and the tenant) and
// what comes between at and prev_hash (the texts and the details).
// dealdesk_audit_append (migration 0010) puts seq, id, at and prev_hash
// around them under the chain's lock, as computeHash does.
func hashParts(e *Entry, canonicalDetails []byte) (prefix, suffix []byte) {
	prefix = append([]byte(domain), e.Tenant[:]...)
	for _, s := range []string{e.Actor, e.ActorRole, e.Action, e.Subject} {
		suffix = appendBytes(suffix, []byte(s))
	}
	return prefix, appendBytes(suffix, canonicalDetails)
}

func writeUint64(h hash.Hash, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

// appendBytes appends b with its length in front. A PostgreSQL text or
// jsonb value is at most 1 GB, so 32 bits always hold the length.
func appendBytes(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// validText is what a PostgreSQL text column accepts.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func (e Event) canonicalDetails() ([]byte, error) {
	if e.Details == nil {
		return []byte("{}"), nil
	}
	raw, err := json.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	out, err := canonicalJSON(raw, true)
	if err != nil {
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	if strings.Contains(string(out), `\u0000`) {
		return nil, fmt.Errorf("%w: details: PostgreSQL cannot store U+0000 in jsonb", ErrInvalid)
	}
	return out, nil
}

// Append records e as the next entry of the tenant's chain, inside tx, which
// must be in the tenant's scope (store.InTenant or store.InScope): the entry
// then commits or rolls back with the change it records. It locks the
// tenant's chain head until tx ends.
func Append(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, e Event) (Entry, error) {
	return AppendAfter(ctx, tx, tenant, e, nil)
}

// AppendAfter is Append that first runs the change it records: the
// statements queued in change (with their result callbacks) and the entry
// go in one round trip. The error of a failing change is returned, wrapped,
// and nothing is appended.
func AppendAfter(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, e Event, change *pgx.Batch) (Entry, error) {
	if change == nil {
		change = &pgx.Batch{}
	}
	entry, err := Queue(change, tenant, e)
	if err != nil {
		return Entry{}, err
	}
	// Close runs the statements in order, with their callbacks, and
	// returns the first error.
	if err := tx.SendBatch(ctx, change).Close(); err != nil {
		return Entry{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return *entry, nil
}

// Queue queues the append of e onto b, after the statements already in it,
// and returns the entry, which is filled in when b runs. b must run in the
// tenant's scope: inside a transaction of store.InTenant or store.InScope,
// or as a batch of its own that sets the scope first (store.TenantBatch),
// which PostgreSQL runs as one implicit transaction, so the entry commits
// with the statements before it or not at all.
func Queue(b *pgx.Batch, tenant uuid.UUID, e Event) (*Entry, error) {
	switch {
	case tenant == uuid.Nil:
		return nil, fmt.Errorf("%w: no tenant", ErrInvalid)
	case e.Actor == "" || e.Action == "":
		return nil, fmt.Errorf("%w: actor and action are required", ErrInvalid)
	case !validText(e.Actor) || !validText(e.ActorRole) || !validText(e.Action) || !validText(e.Subject):
		return nil, fmt.Errorf("%w: actor, role, action and subject must be UTF-8 without NUL", ErrInvalid)
	}
	details, err := e.canonicalDetails()
	if err != nil {
		return nil, err
	}
	entry := &Entry{
		Tenant:    tenant,
		ID:        uuid.New(),
		Actor:     e.Actor,
		ActorRole: e.ActorRole,
		Action:    e.Action,
		Subject:   e.Subject,
		Details:   details,
	}
	prefix, suffix := hashParts(entry, details)
	// The database locks the head, reads the clock under the lock, hashes
	// and writes (migration 0010); the hash is checked here against the
	// encoding that Verify uses, so the two can never drift apart unseen.
	b.Queue(`SELECT entry_seq, entry_at, entry_prev_hash, entry_hash
		FROM dealdesk_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		tenant, entry.ID, e.Actor, e.ActorRole, e.Action, e.Subject, string(details), prefix, suffix).
		QueryRow(func(r pgx.Row) error {
			var at time.Time
			var prev, hash []byte
			if err := r.Scan(&entry.Seq, &at, &prev, &hash); err != nil {
				return err
			}
			if len(prev) != len(entry.PrevHash) || len(hash) != len(entry.Hash) {
				return fmt.Errorf("audit %s: the chain returned hashes of %d and %d bytes", e.Action, len(prev), len(hash))
			}
			entry.At = at.UTC()
			copy(entry.PrevHash[:], prev)
			copy(entry.Hash[:], hash)
			if want := chainHash(entry, prefix, suffix); want != entry.Hash {
				return fmt.Errorf("audit %s: the database hashed entry %d as %s, the audit encoding gives %s",
					e.Action, entry.Seq, entry.Hash, want)
			}
			return nil
		})
	return entry, nil
}

// Filter selects entries for List.
type Filter struct {
	Subject string // only entries about this subject
	Action  string // only this action
	// BeforeSeq pages backwards: only entries with a smaller seq (0: from
	// the newest).
	BeforeSeq int64
	Limit     int // 0: DefaultLimit; at most MaxLimit
}

// Limits of List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// List returns the entries of the tenant in tx's scope that match f, newest
// first, with details in canonical JSON.
func List(ctx context.Context, tx pgx.Tx, f Filter) ([]Entry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	where := []string{"tenant_id = dealdesk_tenant()"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Subject != "" {
		add("subject = $%d", f.Subject)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.BeforeSeq > 0 {
		add("seq < $%d", f.BeforeSeq)
	}
	args = append(args, limit)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM audit_log WHERE %s ORDER BY seq DESC LIMIT $%d`,
		entryColumns, strings.Join(where, " AND "), len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		if _, err := scanEntry(r, &e); err != nil {
			return e, err
		}
		// Show details as they were hashed, not in jsonb's spelling.
		if c, err := canonicalJSON(e.Details, false); err == nil {
			e.Details = c
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

const entryColumns = `tenant_id, seq, id, at, actor, actor_role, action, subject, details, prev_hash, hash`

// scanEntry reads entryColumns. It reports whether the stored values are
// well-formed: only tampering (past the table's constraints) stores an
// infinite timestamp or a hash of the wrong length.
func scanEntry(r pgx.Row, e *Entry) (wellFormed bool, err error) {
	var (
		at         pgtype.Timestamptz
		prev, hash []byte
		details    []byte
	)
	if err := r.Scan(&e.Tenant, &e.Seq, &e.ID, &at, &e.Actor, &e.ActorRole, &e.Action, &e.Subject,
		&details, &prev, &hash); err != nil {
		return false, err
	}
	e.At = at.Time.UTC()
	e.Details = details
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	return at.Valid && at.InfinityModifier == pgtype.Finite && len(prev) == len(e.PrevHash) && len(hash) == len(e.Hash), nil
}
