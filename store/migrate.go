package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises concurrent
// migrators (two replicas starting at once).
const migrationLock = 0x6465616c // "deal"

// Migration is one versioned SQL file embedded in the binary.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// MigrationState is a migration and whether, and when, it was applied.
type MigrationState struct {
	Migration
	AppliedAt *time.Time
	// Modified is true when the applied checksum differs from the file: the
	// file was edited after it ran, which migrations must never be.
	Modified bool
}

// MigrateOptions parameterises the schema.
type MigrateOptions struct {
	// EmbedDim is the dimension of the embedding columns. It is fixed when
	// the tables are created; a later run with another dimension fails.
	EmbedDim int
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order, with the
// schema parameters substituted.
func Migrations(opts MigrateOptions) ([]Migration, error) {
	if opts.EmbedDim <= 0 || opts.EmbedDim > 16000 {
		return nil, fmt.Errorf("embedding dimension %d out of range 1..16000", opts.EmbedDim)
	}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		raw, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(m[1])
		sum := sha256.Sum256(raw)
		out = append(out, Migration{
			Version:  v,
			Name:     m[2],
			SQL:      strings.ReplaceAll(string(raw), "{{EMBED_DIM}}", strconv.Itoa(opts.EmbedDim)),
			Checksum: hex.EncodeToString(sum[:]),
		})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %04d", out[i].Version)
		}
	}
	return out, nil
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the pending migrations, each in its own transaction, under
// an advisory lock, and returns the ones it applied. Running it again is a
// no-op. It refuses to run when an applied migration was modified.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts MigrateOptions) ([]Migration, error) {
	all, err := Migrations(opts)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck // unlock also happens when the session ends
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	states, err := migrationStates(ctx, conn.Conn(), all)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, s := range states {
		if s.Modified {
			return applied, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum differs); add a new migration instead", s.Version, s.Name)
		}
		if s.AppliedAt != nil {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, s.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
				s.Version, s.Name, s.Checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", s.Version, s.Name, err)
		}
		applied = append(applied, s.Migration)
	}
	if err := checkEmbedDim(ctx, conn.Conn(), opts.EmbedDim); err != nil {
		return applied, err
	}
	return applied, nil
}

// MigrationStatus reports every embedded migration and whether it was applied.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool, opts MigrateOptions) ([]MigrationState, error) {
	all, err := Migrations(opts)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	return migrationStates(ctx, conn.Conn(), all)
}

// ErrPendingMigrations means the database schema is older than the binary.
var ErrPendingMigrations = errors.New("database has pending migrations; run `dealdesk migrate`")

// CheckMigrated returns ErrPendingMigrations unless every embedded migration
// has been applied.
func CheckMigrated(ctx context.Context, pool *pgxpool.Pool, opts MigrateOptions) error {
	states, err := MigrationStatus(ctx, pool, opts)
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.AppliedAt == nil {
			return fmt.Errorf("%w (first pending: %04d_%s)", ErrPendingMigrations, s.Version, s.Name)
		}
	}
	return checkEmbedDim(ctx, pool, opts.EmbedDim)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func migrationStates(ctx context.Context, q querier, all []Migration) ([]MigrationState, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	type row struct {
		checksum string
		at       time.Time
	}
	done := map[int]row{}
	if exists {
		rows, err := q.Query(ctx, `SELECT version, checksum, applied_at FROM schema_migrations`)
		if err != nil {
			return nil, fmt.Errorf("read migrations: %w", err)
		}
		for rows.Next() {
			var v int
			var r row
			if err := rows.Scan(&v, &r.checksum, &r.at); err != nil {
				return nil, err
			}
			done[v] = r
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]MigrationState, 0, len(all))
	for _, m := range all {
		s := MigrationState{Migration: m}
		if r, ok := done[m.Version]; ok {
			at := r.at
			s.AppliedAt = &at
			s.Modified = r.checksum != m.Checksum
		}
		out = append(out, s)
	}
	return out, nil
}

// checkEmbedDim compares the configured embedding dimension with the one the
// tables were created with.
func checkEmbedDim(ctx context.Context, q querier, want int) error {
	var got int
	err := q.QueryRow(ctx, `SELECT value::int FROM schema_settings WHERE key = 'embed_dim'`).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read embedding dimension: %w", err)
	}
	if got != want {
		return fmt.Errorf("the database stores %d-dimensional embeddings but the embedder is configured for %d (DEALDESK_EMBED_DIM); use a matching embedder or a fresh database", got, want)
	}
	return nil
}
