package feedback

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/store"
)

func TestDiff(t *testing.T) {
	for _, c := range []struct {
		a, b     string
		distance int
		ops      string
	}{
		{"same", "same", 0, ""},
		{"您好，想约您见面。", "您好，想约您下周见面。", 2, "insert"},
		{"Dear Ms. Gu, thanks for the call.", "Dear Ms. Gu, thank you for the meeting.", 11, "replace,replace"},
		{"删除这一句。保留这一句。", "保留这一句。", 6, "delete"},
		{"", "新写的", 3, "insert"},
	} {
		d, changes := diff(c.a, c.b)
		ops := ""
		for i, ch := range changes {
			if i > 0 {
				ops += ","
			}
			ops += ch.Op
		}
		if d != c.distance || ops != c.ops {
			t.Errorf("diff(%q, %q) = %d %s %+v, want %d %s", c.a, c.b, d, ops, changes, c.distance, c.ops)
		}
	}
	// Offsets are in runes of the original.
	_, changes := diff("您好，想约您见面。", "您好，想约您下周见面。")
	if changes[0].At != 6 || changes[0].Corrected != "下周" {
		t.Fatalf("change %+v", changes[0])
	}
}

func TestPlaceholdersCompareByKind(t *testing.T) {
	d, _ := diff(neutral("请拨打 ⟦PHONE_2⟧。"), neutral("请拨打 ⟦PHONE_1⟧。"))
	if d != 0 {
		t.Fatalf("renumbered placeholder counted as an edit: %d", d)
	}
}

func TestTextAt(t *testing.T) {
	out := map[string]any{"body": "hi", "responses": []any{map[string]any{"response": "r0"}}, "a/b": "slash"}
	for ptr, want := range map[string]string{"/body": "hi", "/responses/0/response": "r0", "/a~1b": "slash"} {
		if got, ok := textAt(out, ptr); !ok || got != want {
			t.Errorf("%s = %q %v", ptr, got, ok)
		}
	}
	for _, ptr := range []string{"/nope", "/responses/3/response", "/body/x"} {
		if _, ok := textAt(out, ptr); ok {
			t.Errorf("%s found", ptr)
		}
	}
	if whole, ok := textAt(out, ""); !ok || whole[0] != '{' {
		t.Errorf("whole answer: %q", whole)
	}
}

func TestValidateDefaultsRepToKey(t *testing.T) {
	key := uuid.New()
	in := Input{GenerationID: uuid.New(), Verdict: Rejected, Reasons: []string{"other", "wrong_fact", "other"}}
	if err := in.validate(store.Scope{KeyID: key}); err != nil {
		t.Fatal(err)
	}
	if in.RepID != "key:"+key.String() || len(in.Reasons) != 2 || in.Reasons[0] != "other" {
		t.Fatalf("%+v", in)
	}
	in = Input{GenerationID: uuid.New(), Verdict: Accepted}
	var fe *FieldError
	if err := in.validate(store.Scope{}); !errors.As(err, &fe) || fe.Field != "rep_id" {
		t.Fatalf("no key, no rep: %v", err)
	}
}
