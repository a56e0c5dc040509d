package knowledge

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// VectorIndexDDL creates the HNSW index on chunk embeddings (cosine). It is
// the same definition as the migration's, kept here so that a bulk load can
// rebuild it and start-up can restore it after an interrupted one.
const VectorIndexDDL = `CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)`

// bulkLock serialises bulk loads (they drop and rebuild a shared index).
const bulkLock = 0x62756c6b // "bulk"

// EnsureVectorIndex restores the HNSW index if an interrupted bulk load
// left it missing. Building it can take a while on a large table.
func EnsureVectorIndex(ctx context.Context, db *pgxpool.Pool) error {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('chunks_embedding') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check vector index: %w", err)
	}
	if exists {
		return nil
	}
	return buildVectorIndex(ctx, db)
}

func buildVectorIndex(ctx context.Context, db *pgxpool.Pool) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// An in-memory graph build with parallel workers is many times faster
	// than inserting the same rows one by one into a live index.
	for _, q := range []string{`SET maintenance_work_mem = '1GB'`, `SET max_parallel_maintenance_workers = 2`, VectorIndexDDL,
		`RESET maintenance_work_mem`, `RESET max_parallel_maintenance_workers`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("build vector index: %w", err)
		}
	}
	return nil
}

// BulkLoad runs load with the HNSW index dropped and rebuilds the index
// afterwards: the path for large initial imports, where maintaining the
// graph row by row (about 1 ms a row here) dominates. While it runs, vector
// search still works but scans exactly, so use it for imports and
// maintenance windows, not for routine uploads. It reports how long the
// rebuild took.
func (s *Store) BulkLoad(ctx context.Context, load func() error) (rebuild time.Duration, err error) {
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, bulkLock); err != nil {
		return 0, fmt.Errorf("bulk load: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, bulkLock) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `DROP INDEX IF EXISTS chunks_embedding`); err != nil {
		return 0, fmt.Errorf("bulk load: drop vector index (the database role must own the chunks table): %w", err)
	}
	loadErr := load()
	start := time.Now()
	// Rebuild even when the load failed or was cancelled: search needs it.
	if err := buildVectorIndex(context.WithoutCancel(ctx), s.db); err != nil {
		return 0, err
	}
	return time.Since(start), loadErr
}
