package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// BenchmarkAuthenticate measures the per-request cost of resolving a key:
// "read" is one round trip with two indexed lookups (every request without
// the key cache, and the first after each TTL with it), "cached" a key the
// server read less than DefaultKeyCacheTTL ago.
func BenchmarkAuthenticate(b *testing.B) {
	db := storetest.New(b)
	ctx := context.Background()
	setup := auth.NewService(db.Pool)
	tenant, err := setup.CreateTenant(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	k, err := setup.CreateKey(ctx, tenant.ID, auth.KeySpec{Role: auth.RoleRep})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"read", 0}, {"cached", auth.DefaultKeyCacheTTL}} {
		b.Run(c.name, func(b *testing.B) {
			svc := auth.NewService(db.Pool).CacheKeys(c.ttl)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, k.Secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
