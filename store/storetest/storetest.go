// Package storetest gives tests a real, private PostgreSQL database: each call
// to New clones the pgvector-enabled template database that scripts/pg.sh
// prepares, applies the migrations and drops the database when the test ends.
// Tests never share rows, so they can run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/store"
)

// EnvURL names the variable holding the maintenance-database URL that tests
// create their databases from. `make test` sets it.
const EnvURL = "DEALDESK_TEST_DATABASE_URL"

// Template is the database that test databases are cloned from.
const Template = "dealdesk_template"

// EmbedDim is the embedding dimension test schemas are created with.
const EmbedDim = 384

// DB is a private test database.
type DB struct {
	Pool *pgxpool.Pool
	// URL connects to this database as the application role.
	URL  string
	Name string
}

// New creates a migrated private database for t and drops it at cleanup.
func New(t testing.TB) *DB {
	t.Helper()
	db, drop, err := Create(sanitize(t.Name()))
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return db
}

// Create makes a migrated private database named after label, for fixtures
// shared by a whole test binary (TestMain). Call drop when done.
func Create(label string) (db *DB, drop func() error, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		return nil, nil, fmt.Errorf("%s is not set: run `make test`, or start a cluster with `scripts/pg.sh up` and `eval \"$(scripts/pg.sh env)\"`", EnvURL)
	}
	name := "t_" + sanitize(label) + "_" + randomSuffix()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, pgx.Identifier{name}.Sanitize(), Template)); err != nil {
		return nil, nil, fmt.Errorf("create database from %s: %w", Template, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	u.Path = "/" + name
	db = &DB{URL: u.String(), Name: name}
	drop = func() error {
		if db.Pool != nil {
			db.Pool.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		defer c.Close(ctx)
		// A backend of another role can hold the database for a moment
		// (a connection of the test's own superuser fixture closing, an
		// autovacuum worker) and FORCE may not terminate it: retry.
		for attempt := 0; ; attempt++ {
			_, err = c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, pgx.Identifier{name}.Sanitize()))
			if err == nil {
				return nil
			}
			if attempt == 20 || ctx.Err() != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	db.Pool, err = store.Open(ctx, store.PoolConfig{URL: db.URL})
	if err == nil {
		_, err = store.Migrate(ctx, db.Pool, store.MigrateOptions{EmbedDim: EmbedDim})
	}
	if err != nil {
		_ = drop()
		return nil, nil, err
	}
	// Reconnect so that every pooled connection sees the vector types the
	// migration may just have created.
	db.Pool.Reset()
	return db, drop, nil
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

func sanitize(name string) string {
	s := unsafe.ReplaceAllString(strings.ToLower(name), "_")
	if len(s) > 30 {
		s = s[:30]
	}
	return strings.Trim(s, "_")
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
