package knowledge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// IndexParams are the HNSW build parameters: M links per node and the
// candidate list while building. Higher values give better recall at a
// given ef_search, for a larger index that is slower to build.
type IndexParams struct {
	M              int
	EfConstruction int
}

// DefaultIndexParams are the parameters migration 0013 builds the index
// with. Over 1,000,000 chunks in make bench they reached recall@10
// 0.970-0.976 at ef_search 250 (p50 4.2-4.4 ms) in two builds;
// m 24 / ef_construction 128 gave 0.942-0.96 at ef_search 400 across four
// builds, and pgvector's defaults (m 16, ef_construction 64) stayed under
// 0.94 at any ef_search.
var DefaultIndexParams = IndexParams{M: 32, EfConstruction: 200}

func (p IndexParams) ddl() string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops) WITH (m = %d, ef_construction = %d)`,
		p.M, p.EfConstruction)
}

// Validate checks the parameters against pgvector's limits.
func (p IndexParams) Validate() error {
	if p.M < 2 || p.M > 100 {
		return fmt.Errorf("HNSW m %d must be between 2 and 100", p.M)
	}
	if p.EfConstruction < 4 || p.EfConstruction > 1000 || p.EfConstruction < 2*p.M {
		return fmt.Errorf("HNSW ef_construction %d must be between 4 and 1000 and at least twice m", p.EfConstruction)
	}
	return nil
}

// currentIndexParams reads the parameters of the existing index, so that a
// bulk load rebuilds it as it was.
func currentIndexParams(ctx context.Context, db *pgxpool.Pool) IndexParams {
	p := DefaultIndexParams
	var opts []string
	if err := db.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = 'chunks_embedding'`).Scan(&opts); err != nil {
		return p
	}
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "m="); ok {
			fmt.Sscan(v, &p.M)
		}
		if v, ok := strings.CutPrefix(o, "ef_construction="); ok {
			fmt.Sscan(v, &p.EfConstruction)
		}
	}
	return p
}

// maxBuildMemoryMB caps the memory an index build asks for.
const maxBuildMemoryMB = 8 << 10

// buildMemory estimates the memory (MB) an HNSW build of the chunks table
// needs to keep its graph in memory: per row the vector, up to 2M
// neighbour links on layer 0, and bookkeeping; with a floor of 256 MB.
func buildMemory(ctx context.Context, conn *pgx.Conn, p IndexParams) (int64, error) {
	var rows, dim int64
	err := conn.QueryRow(ctx, `SELECT greatest(c.reltuples, 0)::bigint, a.atttypmod
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding'
		WHERE c.relname = 'chunks'`).Scan(&rows, &dim)
	if err != nil {
		return 0, fmt.Errorf("size the index build: %w", err)
	}
	perRow := dim*4 + int64(p.M)*2*8 + 128
	mb := rows * perRow * 5 / 4 >> 20
	return min(max(mb, 256), maxBuildMemoryMB), nil
}

// RebuildVectorIndex replaces the HNSW index with one built with p.
func RebuildVectorIndex(ctx context.Context, db *pgxpool.Pool, p IndexParams) (time.Duration, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := db.Exec(ctx, `DROP INDEX IF EXISTS chunks_embedding`); err != nil {
		return 0, fmt.Errorf("drop vector index (the database role must own the chunks table): %w", err)
	}
	err := buildVectorIndex(ctx, db, p)
	return time.Since(start), err
}

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
	return buildVectorIndex(ctx, db, DefaultIndexParams)
}

func buildVectorIndex(ctx context.Context, db *pgxpool.Pool, p IndexParams) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// An in-memory graph build with parallel workers is many times faster
	// than inserting the same rows one by one into a live index, and far
	// faster than a build whose graph outgrows maintenance_work_mem.
	// Fresh statistics size the build (and help the planner after a load).
	if _, err := conn.Exec(ctx, `ANALYZE chunks`); err != nil {
		return fmt.Errorf("analyze chunks: %w", err)
	}
	mem, err := buildMemory(ctx, conn.Conn(), p)
	if err != nil {
		return err
	}
	for _, q := range []string{fmt.Sprintf(`SET maintenance_work_mem = '%dMB'`, mem), `SET max_parallel_maintenance_workers = 2`, p.ddl(),
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
	params := currentIndexParams(ctx, s.db)
	if _, err := conn.Exec(ctx, `DROP INDEX IF EXISTS chunks_embedding`); err != nil {
		return 0, fmt.Errorf("bulk load: drop vector index (the database role must own the chunks table): %w", err)
	}
	loadErr := load()
	start := time.Now()
	// Rebuild even when the load failed or was cancelled: search needs it.
	if err := buildVectorIndex(context.WithoutCancel(ctx), s.db, params); err != nil {
		return 0, err
	}
	return time.Since(start), loadErr
}
