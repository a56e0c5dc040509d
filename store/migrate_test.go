package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

func TestMigrateIsIdempotentAndConcurrentSafe(t *testing.T) {
	t.Parallel()
	db := storetest.New(t) // already migrated once
	ctx := context.Background()
	opts := store.MigrateOptions{EmbedDim: storetest.EmbedDim}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := store.Migrate(ctx, db.Pool, opts)
			if err == nil && len(applied) != 0 {
				err = errors.New("re-run applied migrations again")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	states, err := store.MigrationStatus(ctx, db.Pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := store.Migrations(opts)
	if len(states) != len(all) || len(all) == 0 {
		t.Fatalf("status lists %d of %d migrations", len(states), len(all))
	}
	for _, s := range states {
		if s.AppliedAt == nil || s.Modified {
			t.Errorf("migration %04d_%s: applied=%v modified=%v", s.Version, s.Name, s.AppliedAt, s.Modified)
		}
	}
	if err := store.CheckMigrated(ctx, db.Pool, opts); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddingDimensionIsFixed(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	err := store.CheckMigrated(context.Background(), db.Pool, store.MigrateOptions{EmbedDim: 768})
	if err == nil || !strings.Contains(err.Error(), "384") || !strings.Contains(err.Error(), "DEALDESK_EMBED_DIM") {
		t.Fatalf("dimension mismatch: err = %v", err)
	}
	if _, err := store.Migrations(store.MigrateOptions{}); err == nil {
		t.Fatal("zero dimension accepted")
	}
}

func TestInTenantScopesAndRollsBack(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := context.Background()
	id := uuid.New()
	boom := errors.New("boom")
	err := store.InTenant(ctx, db.Pool, id, func(tx pgx.Tx) error {
		var got string
		if err := tx.QueryRow(ctx, `SELECT dealdesk_tenant()::text`).Scan(&got); err != nil {
			return err
		}
		if got != id.String() {
			t.Errorf("dealdesk_tenant() = %s, want %s", got, id)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, 'rolled-back', 'x')`, id); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	// The setting is transaction-local: a later transaction on the same
	// pool has no tenant, and the insert was rolled back.
	var n int
	err = store.InTenant(ctx, db.Pool, id, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n)
	})
	if err != nil || n != 0 {
		t.Fatalf("after rollback: %d rows, %v", n, err)
	}
	var leaked *string
	if err := db.Pool.QueryRow(ctx, `SELECT dealdesk_tenant()::text`).Scan(&leaked); err != nil || leaked != nil {
		t.Fatalf("tenant setting leaked outside the transaction: %v %v", leaked, err)
	}
	if err := store.InTenant(ctx, db.Pool, uuid.Nil, func(pgx.Tx) error { return nil }); err == nil {
		t.Fatal("nil tenant accepted")
	}
}
