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
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(e.Tenant[:])
	writeUint64(h, uint64(e.Seq))
	h.Write(e.ID[:])
	writeUint64(h, uint64(e.At.UnixMicro()))
	for _, s := range []string{e.Actor, e.ActorRole, e.Action, e.Subject} {
		writeBytes(h, []byte(s))
	}
	writeBytes(h, canonicalDetails)
	h.Write(e.PrevHash[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

func writeUint64(h hash.Hash, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

// writeBytes writes b with its length in front. A PostgreSQL text or jsonb
// value is at most 1 GB, so 32 bits always hold the length.
func writeBytes(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
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
// statements queued in change (with their result callbacks) go in the
// same round trip as the lock of the chain head, which is queued onto
// change, after which the entry is written. The error of a failing change is returned, wrapped, and nothing
// is appended.
func AppendAfter(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, e Event, change *pgx.Batch) (Entry, error) {
	switch {
	case tenant == uuid.Nil:
		return Entry{}, fmt.Errorf("%w: no tenant", ErrInvalid)
	case e.Actor == "" || e.Action == "":
		return Entry{}, fmt.Errorf("%w: actor and action are required", ErrInvalid)
	case !validText(e.Actor) || !validText(e.ActorRole) || !validText(e.Action) || !validText(e.Subject):
		return Entry{}, fmt.Errorf("%w: actor, role, action and subject must be UTF-8 without NUL", ErrInvalid)
	}
	details, err := e.canonicalDetails()
	if err != nil {
		return Entry{}, err
	}
	// Create or lock the head. ON CONFLICT DO UPDATE locks the newest
	// version of the row, so a transaction that waited here reads the head
	// its predecessor committed. The clock is read under the lock, so that
	// "at" follows seq.
	var (
		headSeq  int64
		headHash []byte
		at       time.Time
	)
	if change == nil {
		change = &pgx.Batch{}
	}
	change.Queue(`
		INSERT INTO audit_heads AS h (tenant_id, seq, hash) VALUES ($1, 0, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
		RETURNING h.seq, h.hash, clock_timestamp()`, tenant, make([]byte, sha256.Size)).
		QueryRow(func(r pgx.Row) error { return r.Scan(&headSeq, &headHash, &at) })
	// Close runs the statements in order, with their callbacks, and
	// returns the first error.
	if err := tx.SendBatch(ctx, change).Close(); err != nil {
		return Entry{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	entry := Entry{
		Tenant:    tenant,
		Seq:       headSeq + 1,
		ID:        uuid.New(),
		At:        at.UTC().Truncate(time.Microsecond),
		Actor:     e.Actor,
		ActorRole: e.ActorRole,
		Action:    e.Action,
		Subject:   e.Subject,
		Details:   details,
	}
	if len(headHash) != len(entry.PrevHash) {
		return Entry{}, fmt.Errorf("audit %s: chain head hash has %d bytes", e.Action, len(headHash))
	}
	copy(entry.PrevHash[:], headHash)
	entry.Hash = computeHash(&entry, details)

	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO audit_log (tenant_id, seq, id, at, actor, actor_role, action, subject, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		entry.Tenant, entry.Seq, entry.ID, entry.At, entry.Actor, entry.ActorRole, entry.Action, entry.Subject,
		string(details), entry.PrevHash[:], entry.Hash[:])
	b.Queue(`UPDATE audit_heads SET seq = $2, hash = $3, updated_at = $4 WHERE tenant_id = $1`,
		entry.Tenant, entry.Seq, entry.Hash[:], entry.At)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Entry{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
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
