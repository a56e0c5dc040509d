package trust

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

func TestMaskMeetingNotes(t *testing.T) {
	var m Masker
	masked := m.Mask(meetingNotes)
	want := strings.NewReplacer(
		"138 0013 8000", "⟦PHONE_1⟧",
		"(0755) 8888 6666 转 801", "⟦LANDLINE_1⟧",
		"zhang.wei@dealdesk.example.cn", "⟦EMAIL_1⟧",
		"11010519491231002X", "⟦ID_CARD_1⟧",
		"4000 0233 0920 0123 456", "⟦BANK_CARD_1⟧",
		"6222 0212 3456 7890 128", "⟦BANK_CARD_2⟧",
	).Replace(meetingNotes)
	if masked != want {
		t.Errorf("Mask(meeting notes) =\n%s\nwant\n%s", masked, want)
	}
	// What the model needs to reason about the deal is still there.
	for _, keep := range []string{"4,860,000 元", "880 万元", "2025-03-18", "SZSJ-2025-GK-017", "HC-2000K", "99.95%", "192.168.10.0/24", "v2.3"} {
		if !strings.Contains(masked, keep) {
			t.Errorf("masked notes lost %q", keep)
		}
	}
	if got := m.Unmask(masked); got != meetingNotes {
		t.Errorf("Unmask(Mask(notes)) =\n%s\nwant the notes", got)
	}
	wantCounts := map[Kind]int{Phone: 1, Landline: 1, Email: 1, IDCard: 1, BankCard: 2}
	if got := m.Counts(); !maps.Equal(got, wantCounts) {
		t.Errorf("Counts() = %v, want %v", got, wantCounts)
	}
}

// The inputs of one request share a Masker, so the model sees one
// placeholder for one value wherever it appears.
func TestMaskNumbersStablyAcrossInputs(t *testing.T) {
	var m Masker
	steps := []struct{ in, want string }{
		{"王总的手机 13800138000 还能打通吗？", "王总的手机 ⟦PHONE_1⟧ 还能打通吗？"},
		{"纪要：王总 13800138000，李工 13912345678，邮箱 li@sz.gov.cn", "纪要：王总 ⟦PHONE_1⟧，李工 ⟦PHONE_2⟧，邮箱 ⟦EMAIL_1⟧"},
		{"来源：李工 13912345678 / li@sz.gov.cn / wang@sz.gov.cn", "来源：李工 ⟦PHONE_2⟧ / ⟦EMAIL_1⟧ / ⟦EMAIL_2⟧"},
		{"no personal data here: 4,860,000 元", "no personal data here: 4,860,000 元"},
	}
	for _, s := range steps {
		if got := m.Mask(s.in); got != s.want {
			t.Errorf("Mask(%q) = %q, want %q", s.in, got, s.want)
		}
	}
	answer := "请联系王总⟦PHONE_1⟧，抄送⟦EMAIL_2⟧。"
	if got, want := m.Unmask(answer), "请联系王总13800138000，抄送wang@sz.gov.cn。"; got != want {
		t.Errorf("Unmask(%q) = %q, want %q", answer, got, want)
	}
	if got, want := m.Counts(), map[Kind]int{Phone: 2, Email: 2}; !maps.Equal(got, want) {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
}

func TestUnmaskForgivesMangledPlaceholders(t *testing.T) {
	var m Masker
	m.Mask("13800138000 11010519491231002X wang@sz.gov.cn 6222021234567890128 010-62345678")
	tests := []struct{ out, want string }{
		{"call ⟦PHONE_1⟧.", "call 13800138000."},
		{"call [PHONE_1].", "call 13800138000."},
		{"拨打【PHONE_1】。", "拨打13800138000。"},
		{"拨打［PHONE_1］。", "拨打13800138000。"},
		{"拨打〖PHONE_1〗或〔PHONE_1〕", "拨打13800138000或13800138000"},
		{"call {PHONE_1}", "call 13800138000"},
		{"call ⟦phone_1⟧", "call 13800138000"},
		{"call ⟦ PHONE_1 ⟧", "call 13800138000"},
		{"call [Phone-1]", "call 13800138000"},
		{`call PHONE\_1 now`, "call 13800138000 now"},
		{"call PHONE_1 now", "call 13800138000 now"},
		{"call ⟦PHONE_1 now", "call 13800138000 now"},
		{"call PHONE_1⟧ now", "call 13800138000 now"},
		{"证件 [ID_CARD_1]、[id-card-1]、ID\\_CARD\\_1", "证件 11010519491231002X、11010519491231002X、11010519491231002X"},
		{"mail [EMAIL_1], pay [BANK_CARD_1], ring [LANDLINE_1]", "mail wang@sz.gov.cn, pay 6222021234567890128, ring 010-62345678"},
		{"[[PHONE_1]]", "[13800138000]"},
		// Not placeholders, or not ones this Masker issued: left alone.
		{"⟦PHONE_9⟧ and ⟦PHONE_01⟧", "⟦PHONE_9⟧ and ⟦PHONE_01⟧"},
		{"MYPHONE_1 and PHONE_12 and PHONE_1X", "MYPHONE_1 and PHONE_12 and PHONE_1X"},
		{"phone 1 and (PHONE_1) text", "phone 1 and (13800138000) text"},
		{"PHONE1 and PHONE 1", "PHONE1 and PHONE 1"},
	}
	for _, tt := range tests {
		if got := m.Unmask(tt.out); got != tt.want {
			t.Errorf("Unmask(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

// Text that looks like a placeholder must come back as written, not as
// someone's phone number, and must not hide personal data.
func TestMaskEscapesPlaceholderLookalikes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"模板：[PHONE_1] 填手机号", "模板：⟦TEXT_1⟧ 填手机号"},
		{"⟦PHONE_1⟧ 13800138000", "⟦TEXT_1⟧ ⟦PHONE_1⟧"},
		{"13800138000 ⟦PHONE_1⟧ ⟦phone_1⟧", "⟦PHONE_1⟧ ⟦TEXT_1⟧ ⟦TEXT_2⟧"},
		{"env EMAIL_1=x and 【Bank-Card-2】", "env ⟦TEXT_1⟧=x and ⟦TEXT_2⟧"},
		{"phone_1@example.com", "⟦EMAIL_1⟧"},
		{"PHONE_13800138000", "PHONE_13800138000"}, // neither a placeholder (too many digits) nor a phone (glued to "_")
	}
	for _, tt := range tests {
		var m Masker
		masked := m.Mask(tt.in)
		if masked != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, masked, tt.want)
		}
		if got := m.Unmask(masked); got != tt.in {
			t.Errorf("Unmask(Mask(%q)) = %q", tt.in, got)
		}
		if got := m.Counts()[literal]; got != 0 {
			t.Errorf("Counts() reports %d literals; they are not personal data", got)
		}
	}
}

func TestMaskIsIdempotent(t *testing.T) {
	for _, in := range []string{meetingNotes, "[PHONE_1] 13800138000", "⟦TEXT_1⟧", "plain text", ""} {
		var m Masker
		once := m.Mask(in)
		if twice := m.Mask(once); twice != once {
			t.Errorf("Mask(Mask(%q)) = %q, want %q", in, twice, once)
		}
	}
}

func TestMaskerZeroValue(t *testing.T) {
	var m Masker
	if got := m.Unmask("⟦PHONE_1⟧"); got != "⟦PHONE_1⟧" {
		t.Errorf("Unmask on an unused Masker = %q", got)
	}
	if got := m.Counts(); got == nil || len(got) != 0 {
		t.Errorf("Counts() on an unused Masker = %#v, want an empty map", got)
	}
	if got := m.Mask("4,860,000 元"); got != "4,860,000 元" {
		t.Errorf("Mask(no personal data) = %q", got)
	}
}

func TestMaskerConcurrentUse(t *testing.T) {
	var m Masker
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			in := fmt.Sprintf("source %d: 1380013%04d, user%d@example.com, %s", i, i, i, meetingNotes)
			if got := m.Unmask(m.Mask(in)); got != in {
				t.Errorf("concurrent round trip %d failed: %q", i, got)
			}
		})
	}
	wg.Wait()
	if got := m.Counts(); got[Phone] != 17 || got[Email] != 17 {
		t.Errorf("Counts() = %v, want 17 phones and 17 emails", got)
	}
}

// checkMaskProperties checks what callers rely on: masking is reversible
// and idempotent, and leaves no personal data behind.
func checkMaskProperties(t *testing.T, m *Masker, in string) {
	t.Helper()
	masked := m.Mask(in)
	if got := m.Unmask(masked); got != in {
		t.Fatalf("Unmask(Mask(%q)) = %q via %q", in, got, masked)
	}
	if again := m.Mask(masked); again != masked {
		t.Fatalf("Mask(Mask(%q)) = %q, want %q", in, again, masked)
	}
	if l := Leaks(masked); len(l) > 0 {
		t.Fatalf("Leaks(Mask(%q)) = %v (masked %q)", in, l, masked)
	}
}

// fragments are the pieces personal data, placeholders and their
// neighbours are made of; composing them at random reaches corners a
// byte-level fuzzer takes long to find.
var fragments = []string{
	"1", "3", "8", "0", "138", "0013", "8000", "13800138000", "11010519491231002X", "x", "X", " ", "-", "@", "a", ".", "cn",
	"_", "⟦", "⟧", "[", "]", "【", "】", "PHONE", "EMAIL", "TEXT", "ID", "CARD", "_1", "_2", "王", "转", "账号", "：", "(", "（",
	")", "）", "+", "86", "0086", "010", "62345678", "6222021234567890128", "4000 0233 0920 0123 456", `\_`, "phone", "¥",
	"元", "编号", "ext.", "⟦PHONE_1⟧", "[PHONE_1]", "wang@x.cn", "６", "２",
}

func composeFragments(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(12) {
		b.WriteString(fragments[r.IntN(len(fragments))])
	}
	return b.String()
}

func TestMaskPropertiesOnComposedText(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkMaskProperties(t, &Masker{}, composeFragments(r))
	}
}

func FuzzMaskRoundTrip(f *testing.F) {
	for _, s := range []string{
		meetingNotes, "王总 13800138000 wang@x.com", "[PHONE_1] 13800138000", "⟦PHONE_1⟧", "phone_1@x.com",
		"(010) 62345678", "11010519491231002X 6222021234567890128", "账号 12345678", "PHONE_13800138000",
		"【TEXT_1】⟦TEXT_1⟧TEXT_1", "a@b.cn13800138000", "+86 138 0013 8000@x.cn",
	} {
		f.Add(s, "13800138000 ⟦EMAIL_1⟧ x@y.cn")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(composeFragments(r), composeFragments(r))
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		var m Masker
		checkMaskProperties(t, &m, first)
		// A second input of the same request round-trips too, unless it
		// contains a placeholder the Masker has issued, written exactly
		// (the price of idempotence).
		issued := false
		for t := range tokens(second) {
			_, ok := m.values[t.key]
			issued = issued || ok && t.canonical
		}
		if masked := m.Mask(second); !issued && m.Unmask(masked) != second {
			t.Fatalf("second input: Unmask(Mask(%q)) = %q via %q", second, m.Unmask(masked), masked)
		}
	})
}

// transcript5K is about 5 KB of meeting notes with a dozen people's
// contact details.
var transcript5K = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 5000; i++ {
		fmt.Fprintf(&b, "%s\n第%d轮补充：联系人%d 手机 1391234%04d，邮箱 contact%d@example.com.cn；报价 %d,000 元，交付 2025-0%d-1%d。\n",
			meetingNotes, i+1, i, i, i, 480+i, i%9+1, i%9)
	}
	return b.String()
}()

func BenchmarkMask(b *testing.B) {
	b.SetBytes(int64(len(transcript5K)))
	for b.Loop() {
		var m Masker
		m.Mask(transcript5K)
	}
}

func BenchmarkUnmask(b *testing.B) {
	var m Masker
	masked := m.Mask(transcript5K)
	b.SetBytes(int64(len(masked)))
	for b.Loop() {
		m.Unmask(masked)
	}
}

// TestMaskRemembersOnlyPlainTexts checks the cache of texts every Masker
// returns unchanged: a plain text is remembered and still returned as it
// is; a text with personal data, or with placeholder-like text, is never
// remembered, so each Masker still masks it.
func TestMaskRemembersOnlyPlainTexts(t *testing.T) {
	filler := strings.Repeat("苏州市数据局一网通办平台二期项目，客户关注信创适配。", 3)
	plain := "plain: " + filler
	if m := new(Masker); m.Mask(plain) != plain {
		t.Fatal("plain text changed")
	}
	if _, ok := plainTexts.Get(plain); !ok {
		t.Fatal("plain text not remembered")
	}
	if m := new(Masker); m.Mask(plain) != plain {
		t.Fatal("remembered plain text changed")
	}
	for _, text := range []string{
		filler + "请致电 13800138000 联系王总。",
		filler + "邮件 wang@example.com",
		filler + "文中写着 ⟦PHONE_1⟧ 这样的占位符。",
		filler + "[PHONE_1] typed by a user",
	} {
		for round := range 2 {
			m := new(Masker)
			masked := m.Mask(text)
			if masked == text {
				t.Errorf("round %d: %q came back unmasked", round, text)
			}
			if got := m.Unmask(masked); got != text {
				t.Errorf("round %d: Unmask(Mask(x)) = %q, want %q", round, got, text)
			}
		}
		if _, ok := plainTexts.Get(text); ok {
			t.Errorf("%q remembered as plain", text)
		}
	}
	// Short texts are not cached at all.
	short := "no data here"
	new(Masker).Mask(short)
	if _, ok := plainTexts.Get(short); ok {
		t.Error("short text cached")
	}
}
