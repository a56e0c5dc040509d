package api

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/providers"
)

// TestDatabaseDownIsUnavailable: a server whose database cannot be reached
// answers 503 unavailable with a Retry-After, not 500, for a request that
// needs it (every key check does), and its readiness probe says so.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A port nothing listens on: taken, then closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pool, err := pgxpool.New(ctx, "postgres://dealdesk:x@"+addr+"/dealdesk?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, _, _ := newServer(t, pool, Config{}, providers.Config{})
	h := &harness{t: t, srv: srv, http: httptest.NewServer(srv.Handler())}
	t.Cleanup(h.http.Close)

	// A well-formed key: its check needs the database.
	r := h.do("GET", "/v1/me", "ddk_"+strings.Repeat("A", 43), "")
	p := r.problem(t, 503, "unavailable")
	if r.header.Get("Retry-After") != "5" || p.RetryAfter != 5 {
		t.Fatalf("Retry-After %q, problem %+v", r.header.Get("Retry-After"), p)
	}
	if r := h.do("GET", "/readyz", "", ""); r.status != 503 {
		t.Fatalf("readyz with the database down: %d %s", r.status, r.body)
	}
}
