package store

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerUUID makes pgx encode github.com/google/uuid values directly as
// the 16 bytes of PostgreSQL's binary uuid. Without it pgx takes the
// driver.Valuer path for them: it formats the UUID as text, fails to encode
// that string in binary (building an error with fmt), parses the text back
// and only then encodes it, for every UUID parameter of every statement.
// A *uuid.UUID (an optional id, such as a generation's creating key) takes
// the same plan; pgx sends a nil pointer as NULL before any plan runs.
func registerUUID(m *pgtype.Map) {
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUID}, m.TryWrapEncodePlanFuncs...)
}

func tryWrapUUID(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	switch u := value.(type) {
	case uuid.UUID:
		return &uuidEncodePlan{}, uuidValue(u), true
	case *uuid.UUID:
		if u != nil {
			return &uuidEncodePlan{}, uuidValue(*u), true
		}
	}
	return nil, nil, false
}

// uuidValue is a uuid.UUID as pgx's UUIDValuer.
type uuidValue uuid.UUID

func (u uuidValue) UUIDValue() (pgtype.UUID, error) {
	return pgtype.UUID{Bytes: u, Valid: true}, nil
}

// TextValue is the UUID's canonical text, for a parameter of a text type.
func (u uuidValue) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: uuid.UUID(u).String(), Valid: true}, nil
}

// uuidEncodePlan encodes a uuid.UUID or a *uuid.UUID (nil is NULL).
type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	switch u := value.(type) {
	case uuid.UUID:
		return p.next.Encode(uuidValue(u), buf)
	case *uuid.UUID:
		if u == nil {
			return nil, nil // NULL
		}
		return p.next.Encode(uuidValue(*u), buf)
	}
	return nil, fmt.Errorf("store: cannot encode %T as a uuid", value)
}
