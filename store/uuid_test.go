package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestUUIDParameters checks that google/uuid values travel as uuid, text,
// arrays and pointers, in both directions.
func TestUUIDParameters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	id := uuid.MustParse("8c812109-b489-4194-a0a2-2e62d088e95f")
	other := uuid.New()

	var asText string
	var back uuid.UUID
	if err := db.Pool.QueryRow(ctx, `SELECT $1::uuid::text, $1::uuid`, id).Scan(&asText, &back); err != nil {
		t.Fatal(err)
	}
	if asText != id.String() || back != id {
		t.Fatalf("uuid parameter: %q, %s; want %s", asText, back, id)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT $1::text`, id).Scan(&asText); err != nil {
		t.Fatal(err)
	}
	if asText != id.String() {
		t.Fatalf("text parameter: %q, want %q", asText, id.String())
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT cardinality($1::uuid[]) FROM (SELECT 1) s WHERE $2::uuid = ANY ($1::uuid[])`,
		[]uuid.UUID{other, id}, id).Scan(&n); err != nil || n != 2 {
		t.Fatalf("array parameter: %d, %v", n, err)
	}
	var isNull, same bool
	var nilID *uuid.UUID
	if err := db.Pool.QueryRow(ctx, `SELECT $1::uuid IS NULL, $2::uuid = $3::uuid`, nilID, &id, id.String()).Scan(&isNull, &same); err != nil {
		t.Fatal(err)
	}
	if !isNull || !same {
		t.Fatalf("pointers: nil is NULL %v, &id equals its text %v; want both", isNull, same)
	}
}
