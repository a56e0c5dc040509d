package knowledge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/store"
)

func TestQueueRunsJobsOnceEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	q := knowledge.NewQueue(e.db.Pool, e.store, nil)
	var ids []uuid.UUID
	for i, name := range []string{"a.md", "b.md", "c.md", "d.md"} {
		tenant := e.tenant
		if i%2 == 1 {
			tenant = e.other
		}
		j, err := q.Enqueue(ctx, tenant, knowledge.Input{Name: name, Data: []byte(tenderMD)}, "test")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	// Two workers race for four jobs of two tenants: each job runs once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ran := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				worked, err := q.RunOne(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if !worked {
					return
				}
				mu.Lock()
				ran++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ran != 4 {
		t.Fatalf("ran %d jobs, want 4", ran)
	}
	for i, id := range ids {
		tenant := e.tenant
		if i%2 == 1 {
			tenant = e.other
		}
		j, err := q.Get(ctx, tenant, id)
		if err != nil || j.Status != knowledge.JobSucceeded || j.Attempts != 1 || j.Result == nil || j.Result.Outcome != knowledge.Created {
			t.Fatalf("job %d: %+v %v", i, j, err)
		}
		// Jobs are tenant data: the other tenant cannot read them.
		other := e.other
		if tenant == e.other {
			other = e.tenant
		}
		if _, err := q.Get(ctx, other, id); !errors.Is(err, knowledge.ErrNotFound) {
			t.Fatalf("job of another tenant: %v", err)
		}
	}
	// The payload is dropped once a job ends.
	var payloads int
	err := store.InTenant(ctx, e.db.Pool, e.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM ingest_jobs WHERE payload IS NOT NULL`).Scan(&payloads)
	})
	if err != nil || payloads != 0 {
		t.Fatalf("%d payloads kept (%v)", payloads, err)
	}
}

func TestQueueRecordsFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	q := knowledge.NewQueue(e.db.Pool, e.store, nil)
	j, err := q.Enqueue(ctx, e.tenant, knowledge.Input{Name: "broken.pdf", Data: []byte("%PDF-1.4 broken"), Meta: knowledge.Metadata{Kind: knowledge.KindTender}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if worked, err := q.RunOne(ctx); !worked || err != nil {
		t.Fatalf("RunOne = %v %v", worked, err)
	}
	j, err = q.Get(ctx, e.tenant, j.ID)
	if err != nil || j.Status != knowledge.JobFailed || j.ErrorCode != "corrupt_file" || j.Error == "" || j.FinishedAt == nil {
		t.Fatalf("failed job = %+v %v", j, err)
	}
}

func TestQueueRetriesJobsOfDeadWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	q := knowledge.NewQueue(e.db.Pool, e.store, nil)
	j, err := q.Enqueue(ctx, e.tenant, knowledge.Input{Name: "a.md", Data: []byte(tenderMD)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// A worker claimed it and died: the lease has run out.
	err = store.InTenant(ctx, e.db.Pool, e.tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE ingest_jobs SET status = 'running', attempts = 1, locked_until = now() - interval '1 second' WHERE id = $1`, j.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if worked, err := q.RunOne(ctx); !worked || err != nil {
		t.Fatalf("RunOne = %v %v", worked, err)
	}
	j, _ = q.Get(ctx, e.tenant, j.ID)
	if j.Status != knowledge.JobSucceeded || j.Attempts != 2 {
		t.Fatalf("retried job = %+v", j)
	}
}

func TestQueueRunStopsWithContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := knowledge.NewQueue(e.db.Pool, e.store, nil)
	q.Poll = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, 2); close(done) }()
	j, err := q.Enqueue(context.Background(), e.tenant, knowledge.Input{Name: "a.md", Data: []byte(tenderMD)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := q.Get(context.Background(), e.tenant, j.ID)
		if got.Status == knowledge.JobSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not run by the workers: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("workers did not stop")
	}
}

func TestVectorIndexParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := knowledge.RebuildVectorIndex(ctx, e.db.Pool, knowledge.IndexParams{M: 1, EfConstruction: 10}); err == nil {
		t.Fatal("m 1 accepted")
	}
	if _, err := knowledge.RebuildVectorIndex(ctx, e.db.Pool, knowledge.IndexParams{M: 24, EfConstruction: 100}); err != nil {
		t.Fatal(err)
	}
	// A bulk load keeps the parameters the index had.
	if _, err := e.store.BulkLoad(ctx, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	var opts []string
	if err := e.db.Pool.QueryRow(ctx, `SELECT reloptions FROM pg_class WHERE relname = 'chunks_embedding'`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if strings.Join(opts, ",") != "m=24,ef_construction=100" {
		t.Fatalf("index options after bulk load: %v", opts)
	}
}
