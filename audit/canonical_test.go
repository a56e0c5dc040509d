package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`{"b": 1, "a": [true, null, "x"]}`, `{"a":[true,null,"x"],"b":1}`},
		{`{"z":{"y":1,"x":2}}`, `{"z":{"x":2,"y":1}}`},
		// jsonb and Go spell numbers differently; the value decides.
		{`[1.0, 1e2, 1E+2, 100, 0.10, -0, 1.5e-7, 1e21, 123456789012345678e3]`, `[1,100,100,100,0.1,0,1.5e-7,1e+21,123456789012345680000]`},
		{`"<&>\u2028 é \u0001 \" \\ \/ \t"`, "\"<&>\u2028 é \\u0001 \\\" \\\\ / \\t\""},
		// RFC 8785 orders names by UTF-16 code units: U+1F600 (D83D ...)
		// sorts before U+FB01 although its UTF-8 bytes sort after.
		{`{"\ufb01":1,"😀":2,"a":3}`, `{"a":3,"😀":2,"ﬁ":1}`},
		{`{"a":1,"a":2}`, `{"a":2}`}, // last wins, as in jsonb
	}
	for _, tt := range tests {
		got, err := canonicalJSON([]byte(tt.in), false)
		if err != nil || string(got) != tt.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalJSONRefusesInexactNumbers(t *testing.T) {
	for _, in := range []string{`12345678901234567891`, `{"n":1e400}`, `[0.1e-400]`, `9007199254740993`} {
		if got, err := canonicalJSON([]byte(in), true); err == nil {
			t.Errorf("canonicalJSON(%s, exact) = %s, want an error", in, got)
		}
	}
	for _, in := range []string{`9007199254740992`, `0.1`, `1e-300`, `-2.5E3`} {
		if _, err := canonicalJSON([]byte(in), true); err != nil {
			t.Errorf("canonicalJSON(%s, exact): %v", in, err)
		}
	}
}

// FuzzCanonicalJSON checks that canonicalisation is idempotent and yields
// valid JSON with the same value.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":[1,2.5,"x"],"a":null}`, `"\u00e9\n"`, `[1e21,-0,1.5e-7]`, `{"😀":{"":true}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return
		}
		once, err := canonicalJSON([]byte(in), false)
		if err != nil {
			if strings.Contains(err.Error(), "out of range") {
				return
			}
			t.Fatalf("canonicalJSON(%q): %v", in, err)
		}
		if !json.Valid(once) {
			t.Fatalf("canonicalJSON(%q) = %q: invalid JSON", in, once)
		}
		twice, err := canonicalJSON(once, false)
		if err != nil || string(twice) != string(once) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, once, twice, err)
		}
	})
}

// TestHashEncoding pins the documented encoding: the expected digest was
// computed by an independent implementation of the package documentation
// (Python's hashlib and struct), so a change here breaks every stored chain.
func TestHashEncoding(t *testing.T) {
	e := Entry{
		Tenant:    uuid.MustParse("11111111-2222-3333-4444-555555555555"),
		Seq:       7,
		ID:        uuid.MustParse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
		At:        time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC),
		Actor:     "key-1",
		ActorRole: "admin",
		Action:    "key.create",
		Subject:   "主题",
	}
	for i := range e.PrevHash {
		e.PrevHash[i] = byte(i)
	}
	details, err := canonicalJSON([]byte(`{"b":[1,0.5,1e21,"é\n"],"a":true}`), true)
	if err != nil {
		t.Fatal(err)
	}
	const want = "ad45518f08bb54e6b93ef4c3c3c3b22a786d3ab8f3af94c54d1d5aa1ecea2d33"
	if got := computeHash(&e, details).String(); got != want {
		t.Fatalf("hash = %s, want %s (canonical details %s)", got, want, details)
	}
}
