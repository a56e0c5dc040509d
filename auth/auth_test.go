package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

type fixture struct {
	svc          *auth.Service
	db           *storetest.DB
	a, b         auth.Tenant
	aKey, bKey   auth.NewKey
	aRepEastOnly auth.NewKey
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.New(t)
	f := &fixture{svc: auth.NewService(db.Pool), db: db}
	var err error
	if f.a, err = f.svc.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if f.b, err = f.svc.CreateTenant(ctx, "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	if f.aKey, err = f.svc.CreateKey(ctx, f.a.ID, auth.KeySpec{Name: "a admin", Role: auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if f.bKey, err = f.svc.CreateKey(ctx, f.b.ID, auth.KeySpec{Name: "b admin", Role: auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if f.aRepEastOnly, err = f.svc.CreateKey(ctx, f.a.ID, auth.KeySpec{Role: auth.RoleRep, Regions: []string{" Zhejiang", "jiangsu", "jiangsu"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	p, err := f.svc.Authenticate(ctx, f.aRepEastOnly.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID != f.a.ID || p.TenantSlug != "acme" || p.Role != auth.RoleRep || !slices.Equal(p.Regions, []string{"jiangsu", "zhejiang"}) {
		t.Fatalf("principal = %+v", p)
	}
	keys, err := f.svc.ListKeys(ctx, f.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if (k.ID == f.aRepEastOnly.ID) != (k.LastUsedAt != nil) {
			t.Errorf("key %s last used %v: only the key that authenticated has a use recorded", k.Name, k.LastUsedAt)
		}
	}
	for _, bad := range []string{"", "ddk_", "Bearer x", f.aKey.Secret + "x", strings.Repeat("a", 500)} {
		if _, err := f.svc.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
}

func TestKeysAreHashedAndShownOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var stored []byte
	err := store.InTenant(ctx, f.db.Pool, f.a.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT key_hash FROM api_keys WHERE id = $1`, f.aKey.ID).Scan(&stored)
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), f.aKey.Secret) || len(stored) != 32 {
		t.Fatalf("stored key material %q is not a SHA-256 hash", stored)
	}
	keys, err := f.svc.ListKeys(ctx, f.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("tenant a lists %d keys, want 2", len(keys))
	}
	for _, k := range keys {
		if !strings.HasPrefix(f.aKey.Secret, k.Prefix) && !strings.HasPrefix(f.aRepEastOnly.Secret, k.Prefix) {
			t.Errorf("key prefix %q matches no secret", k.Prefix)
		}
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.svc.RevokeKey(ctx, f.a.ID, f.aRepEastOnly.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, f.aRepEastOnly.Secret); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("revoked key: err = %v, want ErrRevoked", err)
	}
	// Revoking again keeps the first revocation time.
	k1, _ := f.svc.RevokeKey(ctx, f.a.ID, f.aRepEastOnly.ID, "test")
	k2, err := f.svc.RevokeKey(ctx, f.a.ID, f.aRepEastOnly.ID, "test")
	if err != nil || k1.RevokedAt == nil || !k1.RevokedAt.Equal(*k2.RevokedAt) {
		t.Fatalf("second revoke: %v %v %v", err, k1.RevokedAt, k2.RevokedAt)
	}
	// Other keys still work.
	if _, err := f.svc.Authenticate(ctx, f.aKey.Secret); err != nil {
		t.Fatalf("unrevoked key refused: %v", err)
	}
}

func TestTenantCannotTouchAnotherTenantsKeys(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.svc.RevokeKey(ctx, f.a.ID, f.bKey.ID, "test"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("tenant a revoking b's key: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Authenticate(ctx, f.bKey.Secret); err != nil {
		t.Fatalf("b's key must still work: %v", err)
	}
	keys, err := f.svc.ListKeys(ctx, f.b.ID)
	if err != nil || len(keys) != 1 || keys[0].ID != f.bKey.ID {
		t.Fatalf("tenant b keys = %v, %v", keys, err)
	}
}

// TestRowLevelSecurity goes under the application: even raw SQL in tenant
// a's scope cannot read, count, change or create tenant b's rows, and a
// transaction without a tenant sees nothing at all.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := store.CheckRole(ctx, f.db.Pool); err != nil {
		t.Fatalf("the test role must be subject to RLS: %v", err)
	}
	inA := func(fn func(tx pgx.Tx) error) {
		t.Helper()
		if err := store.InTenant(ctx, f.db.Pool, f.a.ID, fn); err != nil {
			t.Fatal(err)
		}
	}
	inA(func(tx pgx.Tx) error {
		var keys, tenants, bRows int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&keys); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE tenant_id = $1`, f.b.ID).Scan(&bRows); err != nil {
			return err
		}
		if keys != 2 || tenants != 1 || bRows != 0 {
			t.Errorf("tenant a counts keys=%d tenants=%d b-keys=%d, want 2 1 0", keys, tenants, bRows)
		}
		for _, q := range []string{
			`UPDATE api_keys SET name = 'pwned' WHERE id = $1`,
			`DELETE FROM api_keys WHERE id = $1`,
			`UPDATE api_keys SET revoked_at = now() WHERE id = $1`,
		} {
			tag, err := tx.Exec(ctx, q, f.bKey.ID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 0 {
				t.Errorf("%s changed %d of tenant b's rows", q, tag.RowsAffected())
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE tenants SET name = 'pwned' WHERE id = $1`, f.b.ID)
		if err != nil || tag.RowsAffected() != 0 {
			t.Errorf("update of tenant b: %v, %d rows", err, tag.RowsAffected())
		}
		return nil
	})
	// Writing a row into tenant b from tenant a's scope violates the policy.
	err := store.InTenant(ctx, f.db.Pool, f.a.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) VALUES ($1, $2, 'x', 'x', 'x', 'admin')`, uuid.New(), f.b.ID)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("insert into tenant b from tenant a: err = %v, want a row-level security violation", err)
	}
	// No tenant in scope: nothing is visible.
	var n int
	if err := f.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM tenants)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("unscoped query sees %d rows (%v), want 0", n, err)
	}
	// b's key still authenticates to b, untouched.
	p, err := f.svc.Authenticate(ctx, f.bKey.Secret)
	if err != nil || p.TenantID != f.b.ID || p.KeyName != "b admin" {
		t.Fatalf("b's key after a's attempts: %+v %v", p, err)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"duplicate slug", auth.ErrConflict, func() error { _, err := f.svc.CreateTenant(ctx, "acme", ""); return err }},
		{"bad slug", auth.ErrInvalid, func() error { _, err := f.svc.CreateTenant(ctx, "Bad Slug!", ""); return err }},
		{"bad role", auth.ErrInvalid, func() error {
			_, err := f.svc.CreateKey(ctx, f.a.ID, auth.KeySpec{Role: "root"})
			return err
		}},
		{"bad region", auth.ErrInvalid, func() error {
			_, err := f.svc.CreateKey(ctx, f.a.ID, auth.KeySpec{Role: auth.RoleRep, Regions: []string{"east china;drop"}})
			return err
		}},
		{"unknown tenant", auth.ErrNotFound, func() error {
			_, err := f.svc.CreateKey(ctx, uuid.New(), auth.KeySpec{Role: auth.RoleRep})
			return err
		}},
		{"unknown slug", auth.ErrNotFound, func() error { _, err := f.svc.TenantBySlug(ctx, "nope"); return err }},
	}
	for _, tt := range tests {
		if err := tt.fn(); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
	got, err := f.svc.EnsureTenant(ctx, "acme", "")
	if err != nil || got.ID != f.a.ID {
		t.Fatalf("EnsureTenant existing = %v, %v", got, err)
	}
}
