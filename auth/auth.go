package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/store"
)

// Role is what a key may do.
type Role string

// Roles, from most to least privileged in their own area.
const (
	RoleAdmin   Role = "admin"   // manages keys, settings and everything below
	RoleManager Role = "manager" // regional sales manager: promotes knowledge, sees the team's work
	RoleRep     Role = "rep"     // sales rep: drafts, notes, search, feedback
	RolePlugin  Role = "plugin"  // CRM plugin: suggestions and scoring
	RoleOps     Role = "ops"     // operations: prompts and eval suites
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleManager, RoleRep, RolePlugin, RoleOps}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("%w: unknown role %q (want one of admin, manager, rep, plugin, ops)", ErrInvalid, s)
	}
	return r, nil
}

// Principal is the caller a request acts for, resolved from its API key.
type Principal struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	TenantSlug string    `json:"tenant"`
	KeyID      uuid.UUID `json:"key_id"`
	KeyName    string    `json:"key_name"`
	Role       Role      `json:"role"`
	// Regions the caller may see; empty means all regions of the tenant.
	Regions []string `json:"regions"`
}

// HasRole reports whether the principal has one of the roles.
func (p Principal) HasRole(roles ...Role) bool { return slices.Contains(roles, p.Role) }

// Tenant is an organisation using DealDesk; every row belongs to one.
type Tenant struct {
	ID        uuid.UUID      `json:"id"`
	Slug      string         `json:"slug"`
	Name      string         `json:"name"`
	Features  map[string]any `json:"features"`
	CreatedAt time.Time      `json:"created_at"`
}

// Key describes an API key without its secret.
type Key struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       Role       `json:"role"`
	Regions    []string   `json:"regions"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewKey is a freshly issued key: the only time its secret is visible.
type NewKey struct {
	Key
	Secret string `json:"key"`
}

// Errors callers branch on.
var (
	ErrUnauthenticated = errors.New("missing or unknown API key")
	ErrRevoked         = errors.New("API key has been revoked")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("already exists")
	ErrInvalid         = errors.New("invalid input")
)

// Service manages tenants and keys.
type Service struct {
	db    *pgxpool.Pool
	cache *keyCache // nil: Authenticate reads every key from the database
}

// NewService returns a Service on the pool. Its Authenticate reads the key
// from the database on every call; a server turns on CacheKeys.
func NewService(db *pgxpool.Pool) *Service { return &Service{db: db} }

// CacheKeys makes Authenticate remember a valid key's principal for ttl
// (0 or less: never), which saves a database round trip on almost every
// request. A key revoked through this Service stops working at once; one
// revoked elsewhere (another server, the CLI) works here for at most ttl
// more. Unknown and revoked keys are never remembered. Call it before the
// Service is used; it returns s.
func (s *Service) CacheKeys(ttl time.Duration) *Service {
	s.cache = nil
	if ttl > 0 {
		s.cache = newKeyCache(ttl)
	}
	return s
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// CreateTenant creates a tenant with a unique slug.
func (s *Service) CreateTenant(ctx context.Context, slug, name string) (Tenant, error) {
	if !slugPattern.MatchString(slug) {
		return Tenant{}, fmt.Errorf("%w: tenant slug %q must be 2-63 lower-case letters, digits or '-'", ErrInvalid, slug)
	}
	if strings.TrimSpace(name) == "" {
		name = slug
	}
	t := Tenant{ID: uuid.New(), Slug: slug, Name: name, Features: map[string]any{}}
	err := store.InTenant(ctx, s.db, t.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) RETURNING created_at`,
			t.ID, t.Slug, t.Name).Scan(&t.CreatedAt)
	})
	if isUniqueViolation(err) {
		return Tenant{}, fmt.Errorf("%w: tenant %q", ErrConflict, slug)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant %s: %w", slug, err)
	}
	return t, nil
}

// TenantBySlug finds a tenant by its slug.
func (s *Service) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	var t Tenant
	err := store.WithSetting(ctx, s.db, "app.tenant_slug", slug, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, slug, name, features, created_at FROM tenants WHERE slug = $1`, slug).
			Scan(&t.ID, &t.Slug, &t.Name, &t.Features, &t.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("%w: tenant %q", ErrNotFound, slug)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("find tenant %s: %w", slug, err)
	}
	return t, nil
}

// EnsureTenant returns the tenant with slug, creating it when missing.
func (s *Service) EnsureTenant(ctx context.Context, slug, name string) (Tenant, error) {
	t, err := s.TenantBySlug(ctx, slug)
	if errors.Is(err, ErrNotFound) {
		t, err = s.CreateTenant(ctx, slug, name)
		if errors.Is(err, ErrConflict) { // created concurrently
			return s.TenantBySlug(ctx, slug)
		}
	}
	return t, err
}

// KeySpec describes a key to create.
type KeySpec struct {
	Name      string
	Role      Role
	Regions   []string
	CreatedBy string
}

const keyPrefix = "ddk_"

// actorOr names an actor for the audit log, "unknown" when not said.
func actorOr(by string) string {
	if by == "" {
		return "unknown"
	}
	return by
}

// CreateKey issues a key for the tenant. The returned secret is shown once.
func (s *Service) CreateKey(ctx context.Context, tenant uuid.UUID, spec KeySpec) (NewKey, error) {
	if _, err := ParseRole(string(spec.Role)); err != nil {
		return NewKey{}, err
	}
	regions, err := normalizeRegions(spec.Regions)
	if err != nil {
		return NewKey{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return NewKey{}, fmt.Errorf("generate key: %w", err)
	}
	secret := keyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	k := NewKey{Secret: secret, Key: Key{
		ID:        uuid.New(),
		Name:      strings.TrimSpace(spec.Name),
		Prefix:    secret[:len(keyPrefix)+8],
		Role:      spec.Role,
		Regions:   regions,
		CreatedBy: spec.CreatedBy,
	}}
	if k.Name == "" {
		k.Name = string(spec.Role) + " key"
	}
	hash := hashKey(secret)
	err = store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, regions, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
			k.ID, tenant, k.Name, k.Prefix, hash, k.Role, k.Regions, k.CreatedBy).Scan(&k.CreatedAt)
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, tenant, audit.Event{Actor: actorOr(k.CreatedBy), Action: "key.create", Subject: k.ID.String(),
			Details: map[string]any{"name": k.Name, "prefix": k.Prefix, "role": k.Role, "regions": k.Regions}})
		return err
	})
	if err != nil {
		if isForeignKeyViolation(err) {
			return NewKey{}, fmt.Errorf("%w: tenant %s", ErrNotFound, tenant)
		}
		return NewKey{}, fmt.Errorf("create key: %w", err)
	}
	return k, nil
}

// ListKeys lists the tenant's keys, newest first, revoked ones included.
func (s *Service) ListKeys(ctx context.Context, tenant uuid.UUID) ([]Key, error) {
	keys := []Key{}
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, name, prefix, role, regions, created_at, created_by, last_used_at, revoked_at
			FROM api_keys ORDER BY created_at DESC, id`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
			var k Key
			err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Role, &k.Regions, &k.CreatedAt, &k.CreatedBy, &k.LastUsedAt, &k.RevokedAt)
			return k, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes a key of the tenant on behalf of by (who asked, as
// "key:<id>" or "cli:<user>", for the audit log). Revoking twice is not an
// error; revoking another tenant's key is ErrNotFound.
func (s *Service) RevokeKey(ctx context.Context, tenant, id uuid.UUID, by string) (Key, error) {
	var k Key
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		var already bool
		if err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1`, id).Scan(&already); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
			RETURNING id, name, prefix, role, regions, created_at, created_by, last_used_at, revoked_at`, id).
			Scan(&k.ID, &k.Name, &k.Prefix, &k.Role, &k.Regions, &k.CreatedAt, &k.CreatedBy, &k.LastUsedAt, &k.RevokedAt)
		if err != nil || already {
			return err
		}
		_, err = audit.Append(ctx, tx, tenant, audit.Event{Actor: actorOr(by), Action: "key.revoke", Subject: k.ID.String(),
			Details: map[string]any{"name": k.Name, "prefix": k.Prefix, "role": k.Role}})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke key: %w", err)
	}
	if s.cache != nil {
		s.cache.forget(k.ID)
	}
	return k, nil
}

// Authenticate resolves a bearer key into its Principal. Unknown keys are
// ErrUnauthenticated and revoked ones ErrRevoked.
//
// It runs on every request. With CacheKeys, a key read less than the TTL
// ago costs a map lookup; otherwise one round trip: the key-hash setting
// and the lookup go to the server as one pipelined batch, which PostgreSQL
// runs as a single implicit transaction (the setting dies with it).
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, keyPrefix) || len(secret) > 128 {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	if s.cache != nil {
		if p, ok := s.cache.get(sum); ok {
			return p, nil
		}
	}
	hash := sum[:]
	var (
		p        Principal
		revoked  *time.Time
		lastUsed *time.Time
		found    bool
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('app.key_hash', $1, true)`, hex.EncodeToString(hash))
	b.Queue(`
		SELECT k.id, k.tenant_id, t.slug, k.name, k.role, k.regions, k.revoked_at, k.last_used_at
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
		WHERE k.key_hash = $1`, hash).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&p.KeyID, &p.TenantID, &p.TenantSlug, &p.KeyName, &p.Role, &p.Regions, &revoked, &lastUsed)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !found || revoked != nil {
		if s.cache != nil {
			s.cache.drop(sum) // an expired entry of a key revoked since
		}
	}
	switch {
	case !found:
		return Principal{}, ErrUnauthenticated
	case revoked != nil:
		return Principal{}, ErrRevoked
	}
	// Record use at most once a minute: a write per request would turn
	// every read into a write.
	if lastUsed == nil || time.Since(*lastUsed) > time.Minute {
		err := store.InTenant(ctx, s.db, p.TenantID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, p.KeyID)
			return err
		})
		if err != nil {
			return Principal{}, fmt.Errorf("authenticate: record use: %w", err)
		}
	}
	if s.cache != nil {
		s.cache.put(sum, p)
	}
	return p, nil
}

func hashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func normalizeRegions(in []string) ([]string, error) {
	out := []string{}
	for _, r := range in {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" {
			continue
		}
		if !regionPattern.MatchString(r) {
			return nil, fmt.Errorf("%w: region %q must be a lower-case code such as jiangsu", ErrInvalid, r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
