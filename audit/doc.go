// Package audit keeps each tenant's audit log: an append-only record of who
// did what (generations, feedback, key and prompt changes, feature switches),
// chained with SHA-256 so that changing, deleting, reordering or truncating
// history is detectable.
//
// Append writes an entry inside the caller's transaction, so the entry
// commits or rolls back with the change it records; Queue adds it to a
// batch instead (one round trip with the change). The database function
// dealdesk_audit_append takes the head's lock, reads the clock, hashes and
// writes in one statement; the application checks the hash it returns.
// Verify walks a tenant's chain in order and reports every broken link.
// PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the log (triggers, and
// the owner revokes those privileges from itself); the chain catches what
// someone with owner rights does after undoing that. The chain has no
// secret: someone who can rewrite the table can also recompute every hash
// after the row they changed. Copy the head hash that `dealdesk audit
// verify` prints to somewhere the database owner cannot write (a ticket, a
// log sink, a signed commit) to anchor it.
//
// # Chain
//
// Entries of a tenant are numbered seq = 1, 2, 3, ... without gaps. Entry n
// stores prev_hash = hash of entry n-1; entry 1 stores 32 zero bytes. The
// table audit_heads keeps the last seq and hash of each tenant, updated in
// the same transaction as the entry, so deleting the newest entries is
// detected too. Append locks the head row, which serialises the appends of
// one tenant until the appending transaction ends: append late in a
// transaction.
//
// # Hash encoding (version 1)
//
// hash = SHA-256 of the concatenation of
//
//	"dealdesk.audit.v1" (17 ASCII bytes, no terminator)
//	tenant_id   16 bytes, the UUID in RFC 9562 byte order
//	seq         8 bytes, big-endian
//	id          16 bytes, the UUID in RFC 9562 byte order
//	at          8 bytes, big-endian two's complement: microseconds since
//	            1970-01-01T00:00:00Z (PostgreSQL stores microseconds; in
//	            SQL: (extract(epoch FROM at) * 1000000)::bigint)
//	actor       4-byte big-endian length in bytes, then the UTF-8 bytes
//	actor_role  likewise
//	action      likewise
//	subject     likewise
//	details     likewise, of the canonical JSON of details (below)
//	prev_hash   32 bytes
//
// The canonical JSON of details is the JSON Canonicalization Scheme of
// RFC 8785: no insignificant whitespace; object members sorted by the UTF-16
// code units of their names; strings escaped only where JSON requires
// (\" \\ \b \f \n \r \t, other controls below U+0020 as \u00xx with
// lower-case hex), everything else as UTF-8; numbers as IEEE-754 doubles
// printed like ECMAScript's Number.prototype.toString (1, 0.5, 1e+21, 1e-7;
// -0 as 0). PostgreSQL's jsonb keeps numbers as exact decimals, which map to
// the same double however jsonb spells them, so the canonical form survives
// storage. Append refuses a number that a double cannot hold exactly (an
// integer above 2^53, say), so the hash always covers the stored value; send
// such values as strings. Details absent (nil) are stored as {}.
package audit
