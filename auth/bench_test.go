package auth_test

import (
	"context"
	"testing"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// BenchmarkAuthenticate measures the per-request cost of resolving a key: one
// short transaction with two indexed lookups.
func BenchmarkAuthenticate(b *testing.B) {
	db := storetest.New(b)
	svc := auth.NewService(db.Pool)
	ctx := context.Background()
	tenant, err := svc.CreateTenant(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	k, err := svc.CreateKey(ctx, tenant.ID, auth.KeySpec{Role: auth.RoleRep})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, k.Secret); err != nil {
			b.Fatal(err)
		}
	}
}
