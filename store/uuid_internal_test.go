package store

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestUUIDEncodesAsSixteenBytes checks that registerUUID gives uuid.UUID
// its own binary plan, the 16 bytes, rather than pgx's driver.Valuer
// fallback through text.
func TestUUIDEncodesAsSixteenBytes(t *testing.T) {
	id := uuid.New()
	if _, ok := pgtype.NewMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id).(*uuidEncodePlan); ok {
		t.Fatal("the plan is registerUUID's without it")
	}
	m := pgtype.NewMap()
	registerUUID(m)
	if _, ok := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id).(*uuidEncodePlan); !ok {
		t.Fatalf("plan %T, want *uuidEncodePlan", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id))
	}
	buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id, nil)
	if err != nil || !bytes.Equal(buf, id[:]) {
		t.Fatalf("binary = %x, %v; want %x", buf, err, id[:])
	}
	buf, err = m.Encode(pgtype.TextOID, pgtype.TextFormatCode, id, nil)
	if err != nil || string(buf) != id.String() {
		t.Fatalf("text = %q, %v; want %q", buf, err, id.String())
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id, buf[:0]) }); n > 2 {
		t.Errorf("%v allocations to encode a UUID, want at most 2", n)
	}
}

// TestUUIDPointerEncodesAsSixteenBytes checks the same of *uuid.UUID, and
// that a nil one is NULL.
func TestUUIDPointerEncodesAsSixteenBytes(t *testing.T) {
	id := uuid.New()
	m := pgtype.NewMap()
	registerUUID(m)
	if _, ok := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id).(*uuidEncodePlan); !ok {
		t.Fatalf("plan %T, want *uuidEncodePlan", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id))
	}
	buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id, nil)
	if err != nil || !bytes.Equal(buf, id[:]) {
		t.Fatalf("binary = %x, %v; want %x", buf, err, id[:])
	}
	buf, err = m.Encode(pgtype.TextOID, pgtype.TextFormatCode, &id, nil)
	if err != nil || string(buf) != id.String() {
		t.Fatalf("text = %q, %v; want %q", buf, err, id.String())
	}
	var none *uuid.UUID
	if buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, none, nil); err != nil || buf != nil {
		t.Fatalf("nil = %x, %v; want NULL", buf, err)
	}
	if buf, err := (&uuidEncodePlan{}).Encode(none, nil); err != nil || buf != nil {
		t.Fatalf("plan on nil = %x, %v; want NULL", buf, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id, buf[:0]) }); n > 2 {
		t.Errorf("%v allocations to encode a *uuid.UUID, want at most 2", n)
	}
}
