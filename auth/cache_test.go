package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/store/storetest"
)

// fakeClock is a keyCache clock that moves only when told to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestKeyCacheServesValidKeysUntilTheyExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	cached := NewService(db.Pool).CacheKeys(time.Minute)
	clock := &fakeClock{t: time.Now()}
	cached.cache.now = clock.now
	other := NewService(db.Pool) // another server, or the CLI
	tenant, err := other.CreateTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	key, err := other.CreateKey(ctx, tenant.ID, KeySpec{Role: RoleRep, Regions: []string{"jiangsu"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cached.Authenticate(ctx, key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	// A caller changing its principal does not change the cached one.
	p.Regions[0] = "zhejiang"

	// Revoked elsewhere, the key still works here until the entry expires:
	// the answer comes from the cache, not the database.
	if _, err := other.RevokeKey(ctx, tenant.ID, key.ID, "test"); err != nil {
		t.Fatal(err)
	}
	p, err = cached.Authenticate(ctx, key.Secret)
	if err != nil || p.KeyID != key.ID || p.Regions[0] != "jiangsu" {
		t.Fatalf("cached key within its TTL: %+v, %v", p, err)
	}
	clock.t = clock.t.Add(time.Minute)
	if _, err := cached.Authenticate(ctx, key.Secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the TTL: err = %v, want ErrRevoked", err)
	}
	// Revoked keys are not remembered: each call reads the key again.
	if len(cached.cache.m) != 0 {
		t.Fatalf("cache holds %d entries after a refused key, want 0", len(cached.cache.m))
	}
	if _, err := cached.Authenticate(ctx, "ddk_"+uuid.NewString()); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown key: err = %v", err)
	}
	if len(cached.cache.m) != 0 {
		t.Fatal("an unknown key was cached")
	}
}

func TestRevokingThroughTheServiceForgetsTheKeyAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	svc := NewService(db.Pool).CacheKeys(time.Hour)
	tenant, err := svc.CreateTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	keep, err := svc.CreateKey(ctx, tenant.ID, KeySpec{Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := svc.CreateKey(ctx, tenant.ID, KeySpec{Role: RoleRep})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []NewKey{keep, drop} {
		if _, err := svc.Authenticate(ctx, k.Secret); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.RevokeKey(ctx, tenant.ID, drop.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, drop.Secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("key revoked through the cached service: err = %v, want ErrRevoked", err)
	}
	if _, err := svc.Authenticate(ctx, keep.Secret); err != nil {
		t.Fatalf("the other key: %v", err)
	}
}

func TestKeyCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := newKeyCache(time.Minute)
	clock := &fakeClock{t: time.Now()}
	c.now = clock.now
	var h [32]byte
	for i := range maxCachedKeys {
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(h, Principal{KeyID: uuid.New()})
	}
	// Full of live entries: the next put starts over.
	h[3] = 1
	c.put(h, Principal{})
	if len(c.m) != 1 {
		t.Fatalf("after overflow the cache holds %d entries, want 1", len(c.m))
	}
	// Full again with half of it expired: only the expired ones go.
	clear(c.m)
	for i := range maxCachedKeys {
		if i == maxCachedKeys/2 {
			clock.t = clock.t.Add(time.Minute)
		}
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		c.put(h, Principal{})
	}
	h[3] = 2
	c.put(h, Principal{})
	if want := maxCachedKeys - maxCachedKeys/2 + 1; len(c.m) != want {
		t.Fatalf("cache holds %d entries, want %d", len(c.m), want)
	}
	if _, ok := c.get(h); !ok {
		t.Fatal("the newest entry is missing")
	}
}
