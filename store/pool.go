package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

// PoolConfig tunes the connection pool.
type PoolConfig struct {
	URL      string
	MaxConns int32 // 0 keeps pgx's default (max(4, NumCPU))
}

// Open connects to PostgreSQL and registers the pgvector types on every
// connection so vectors travel in binary form. It pings once so that a wrong
// URL or a stopped server fails here with a clear error.
func Open(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		registerUUID(conn.TypeMap())
		// Before the first migration the extension may not exist yet; the
		// types are then registered on connections opened after it.
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'vector')`).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		return pgxvec.RegisterTypes(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(pc.ConnConfig), err)
	}
	return pool, nil
}

func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// ErrBypassesRLS is returned by CheckRole when the database role would
// silently skip row-level security.
var ErrBypassesRLS = errors.New("database role bypasses row-level security")

// CheckRole verifies that the connected role is subject to row-level
// security: not a superuser and without BYPASSRLS.
func CheckRole(ctx context.Context, pool *pgxpool.Pool) error {
	var name string
	var super, bypass bool
	err := pool.QueryRow(ctx,
		`SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&name, &super, &bypass)
	if err != nil {
		return fmt.Errorf("check database role: %w", err)
	}
	if super || bypass {
		return fmt.Errorf("%w: role %q is superuser=%t bypassrls=%t; connect as a role without SUPERUSER and BYPASSRLS (make run creates one named dealdesk)", ErrBypassesRLS, name, super, bypass)
	}
	return nil
}

// LexicalIndexUsable reports whether PostgreSQL may use the GIN index on
// chunks.lex under row-level security: only conditions whose operator is
// leakproof may be index conditions there, and tsvector @@ tsquery is not
// marked leakproof by default. Without it every lexical search scans all of
// the tenant's chunks. scripts/pg.sh marks it; for another database a
// superuser runs the statement in the returned hint once per database.
func LexicalIndexUsable(ctx context.Context, pool *pgxpool.Pool) (ok bool, hint string, err error) {
	err = pool.QueryRow(ctx, `SELECT proleakproof FROM pg_proc WHERE oid = 'ts_match_vq(tsvector, tsquery)'::regprocedure`).Scan(&ok)
	if err != nil {
		return false, "", fmt.Errorf("check lexical index: %w", err)
	}
	return ok, "ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF", nil
}
