package trust

import (
	"iter"
	"maps"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/internal/textcache"
)

// Masker replaces personal data with placeholders before text goes to a
// model, and puts it back in what the model writes.
//
// A placeholder is the kind in capitals and a number, between the
// mathematical white square brackets U+27E6 and U+27E7: ⟦PHONE_1⟧,
// ⟦ID_CARD_1⟧, ⟦EMAIL_2⟧, ⟦LANDLINE_1⟧, ⟦BANK_CARD_1⟧. The brackets
// almost never occur in business text, so a placeholder cannot be taken
// for something a person wrote; they are not markup (<...>, {{...}}) or
// citation syntax ([S1]) that a prompt or a model uses for other things;
// and the ASCII name tells the model what stands there ("请致电⟦PHONE_1⟧"
// still reads as a sentence), so models copy placeholders rather than
// translate or drop them. Unmask forgives the ways models do mangle
// them: other brackets ([PHONE_1], 【PHONE_1】, ［PHONE_1］, 〖〗, 〔〕, {}),
// any case (⟦phone_1⟧), spaces inside the brackets, a dash or a
// Markdown-escaped underscore (PHONE\_1), one missing bracket, or none
// (PHONE_1, with an underscore).
//
// The same text always gets the same placeholder within one Masker, so
// the inputs of one request (question, transcript, retrieved sources)
// share numbering. Sameness is exact: "138 0013 8000" and "13800138000"
// get two placeholders, because each placeholder must unmask to exactly
// the text it replaced.
//
// Masking is reversible: m.Unmask(m.Mask(x)) == x. Text that already
// looks like a placeholder ([PHONE_1] typed by a user, or ⟦EMAIL_3⟧ in a
// retrieved document) is itself replaced by a ⟦TEXT_n⟧ placeholder that
// unmasks to it, so it can neither be mistaken for personal data nor
// swallow any. Masking is idempotent: the placeholders a Masker has
// issued, written exactly as it writes them, are left alone, so
// m.Mask(m.Mask(x)) == m.Mask(x); the price is that such a placeholder
// typed into a later input of the same Masker reads as that placeholder.
// Nothing Detect finds survives masking: Leaks(m.Mask(x)) is empty.
//
// The zero value is ready to use. A Masker holds the personal data of one
// request and should live no longer. Its methods are safe for concurrent
// use; inputs masked concurrently are numbered in the order the calls
// take the lock.
type Masker struct {
	mu     sync.Mutex
	keys   map[string]string // masked text -> placeholder key ("PHONE_1")
	values map[string]string // placeholder key -> masked text
	counts map[Kind]int      // placeholders issued per kind, literals included
}

// literal is the kind of text that looks like a placeholder and is
// masked so that it unmasks as written.
const literal Kind = "text"

// placeholderNames are the names of placeholders by kind, with their
// parts (a model may write ID-CARD or ID\_CARD). First letters differ.
var placeholderNames = []struct {
	kind  Kind
	name  string
	parts []string
}{
	{Phone, "PHONE", []string{"PHONE"}},
	{Landline, "LANDLINE", []string{"LANDLINE"}},
	{IDCard, "ID_CARD", []string{"ID", "CARD"}},
	{Email, "EMAIL", []string{"EMAIL"}},
	{BankCard, "BANK_CARD", []string{"BANK", "CARD"}},
	{literal, "TEXT", []string{"TEXT"}},
}

const (
	openMark  = "⟦"
	closeMark = "⟧"
	// maxPlaceholderDigits bounds the number in a placeholder, so that
	// PHONE_13800138000 is a phone after a word, not a placeholder.
	maxPlaceholderDigits = 9
)

// Mask returns text with its personal data and its placeholder-like text
// replaced by placeholders.
func (m *Masker) Mask(text string) string {
	cacheable := len(text) >= minCachedText
	if cacheable {
		if _, ok := plainTexts.Get(text); ok {
			return text
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A second pass finds nothing in all but contrived input; it makes
	// "no leaks" and idempotence hold when replacing one span frees a
	// neighbour from a context check (a digit next to an address).
	for pass := 0; ; pass++ {
		masked, plain := m.maskOnce(text)
		if pass == 0 && plain && cacheable {
			plainTexts.Put(text, struct{}{})
		}
		if masked == text {
			return masked
		}
		text = masked
	}
}

// plainTexts holds recent texts that have neither personal data nor
// placeholder-like text, which every Masker returns unchanged: the same
// retrieved chunks are masked request after request.
var plainTexts = textcache.New[struct{}](4096)

// minCachedText is the shortest text worth a cache lookup; shorter ones
// are checked faster than they are hashed and compared.
const minCachedText = 64

// span is a part of a text to replace with a placeholder.
type span struct {
	start, end int
	kind       Kind
}

// maskOnce masks text once. plain reports that text has neither personal
// data nor placeholder-like text, so that any Masker returns it unchanged.
func (m *Masker) maskOnce(text string) (masked string, plain bool) {
	findings := Detect(text)
	var spans []span
	f := 0
	plain = len(findings) == 0
	for t := range tokens(text) {
		plain = false
		for f < len(findings) && findings[f].End <= t.start {
			spans = append(spans, span{findings[f].Start, findings[f].End, findings[f].Kind})
			f++
		}
		if f < len(findings) && findings[f].Start < t.end {
			continue // inside personal data ("phone_1@example.com"): masked with it
		}
		if _, issued := m.values[t.key]; issued && t.canonical {
			continue
		}
		spans = append(spans, span{t.start, t.end, literal})
	}
	for _, fd := range findings[f:] {
		spans = append(spans, span{fd.Start, fd.End, fd.Kind})
	}
	if len(spans) == 0 {
		return text, plain
	}
	var b strings.Builder
	b.Grow(len(text) + 8*len(spans))
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		b.WriteString(openMark)
		b.WriteString(m.key(s.kind, text[s.start:s.end]))
		b.WriteString(closeMark)
		last = s.end
	}
	b.WriteString(text[last:])
	return b.String(), false
}

// key returns the placeholder key for value, issuing one if needed.
func (m *Masker) key(kind Kind, value string) string {
	if k, ok := m.keys[value]; ok {
		return k
	}
	if m.keys == nil {
		m.keys, m.values, m.counts = map[string]string{}, map[string]string{}, map[Kind]int{}
	}
	m.counts[kind]++
	k := placeholderName(kind) + "_" + strconv.Itoa(m.counts[kind])
	m.keys[value], m.values[k] = k, value
	return k
}

func placeholderName(kind Kind) string {
	for _, p := range placeholderNames {
		if p.kind == kind {
			return p.name
		}
	}
	panic("trust: no placeholder name for kind " + string(kind))
}

// Unmask returns text with the placeholders this Masker issued replaced
// by what they stand for, however the brackets, case and spacing were
// written. Placeholders it did not issue are left as they are.
func (m *Masker) Unmask(text string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.values) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for t := range tokens(text) {
		if v, ok := m.values[t.key]; ok {
			b.WriteString(text[last:t.start])
			b.WriteString(v)
			last = t.end
		}
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// Counts returns how many distinct values of each kind of personal data
// the Masker has replaced, for audit records. Kinds it has not seen are
// absent.
func (m *Masker) Counts() map[Kind]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := maps.Clone(m.counts)
	delete(out, literal)
	if out == nil {
		out = map[Kind]int{}
	}
	return out
}

// token is text that reads as a placeholder.
type token struct {
	start, end int
	key        string // "PHONE_1": the name in capitals and the number as written
	canonical  bool   // written exactly as Mask writes it
}

// tokens returns the placeholder-like text in text, in order, without
// overlaps. The grammar: an optional opening bracket and spaces, a
// placeholder name in any case whose parts are joined by '_' or "\_" (or
// '-' inside brackets), the same joiner, 1-9 digits, then spaces and an
// optional closing bracket. Without an opening bracket the name must not
// follow a letter, digit or underscore; without a closing one the number
// must not be followed by one.
func tokens(text string) iter.Seq[token] {
	return func(yield func(token) bool) {
		for i := 0; i < len(text); i++ {
			if !mayStartToken(text[i]) {
				continue
			}
			t, ok := parseToken(text, i)
			if !ok {
				continue
			}
			if !yield(t) {
				return
			}
			i = t.end - 1
		}
	}
}

// mayStartToken reports whether a token can start at a byte: an ASCII
// bracket, the lead byte of a non-ASCII one, or a name's first letter.
func mayStartToken(c byte) bool {
	switch c | 0x20 {
	case 'p', 'l', 'i', 'e', 'b', 't':
		return true
	}
	return c == '[' || c == '{' || c == 0xE2 || c == 0xE3 || c == 0xEF
}

var (
	openBrackets  = "⟦〚[［【〖〔{｛"
	closeBrackets = "⟧〛]］】〗〕}｝"
)

func parseToken(text string, start int) (token, bool) {
	i := start
	r, n := utf8.DecodeRuneInString(text[i:])
	bracketed := strings.ContainsRune(openBrackets, r)
	if bracketed {
		i = skipBlanks(text, i+n)
	} else if !isASCIILetter(text[i]) || isWordRune(lastRune(text[:i])) {
		return token{}, false
	}
	key, i, ok := parseKey(text, i, bracketed)
	if !ok {
		return token{}, false
	}
	end := i
	if bracketed {
		i = skipBlanks(text, i)
	}
	if r, n := utf8.DecodeRuneInString(text[i:]); strings.ContainsRune(closeBrackets, r) {
		end = i + n
	} else if isWordRune(runeAt(text, end)) {
		return token{}, false
	}
	return token{start: start, end: end, key: key, canonical: text[start:end] == openMark+key+closeMark}, true
}

// parseKey reads a placeholder name, joiner and number at text[i:] and
// returns the key they spell and the offset after them.
func parseKey(text string, i int, bracketed bool) (string, int, bool) {
	if i >= len(text) {
		return "", 0, false
	}
	for _, p := range placeholderNames {
		if text[i]|0x20 != p.name[0]|0x20 {
			continue
		}
		j := i
		for k, part := range p.parts {
			if k > 0 {
				var ok bool
				if j, ok = skipJoiner(text, j, bracketed); !ok {
					return "", 0, false
				}
			}
			if !hasPrefixFold(text[j:], part) {
				return "", 0, false
			}
			j += len(part)
		}
		j, ok := skipJoiner(text, j, bracketed)
		if !ok {
			return "", 0, false
		}
		d := j
		for d < len(text) && text[d] >= '0' && text[d] <= '9' {
			d++
		}
		if d == j || d-j > maxPlaceholderDigits {
			return "", 0, false
		}
		return p.name + "_" + text[j:d], d, true
	}
	return "", 0, false
}

func skipJoiner(text string, i int, bracketed bool) (int, bool) {
	switch {
	case i >= len(text):
		return i, false
	case text[i] == '_', bracketed && text[i] == '-':
		return i + 1, true
	case strings.HasPrefix(text[i:], `\_`):
		return i + 2, true
	}
	return i, false
}

func skipBlanks(text string, i int) int {
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if r != ' ' && r != '\u3000' && r != '\u00a0' {
			break
		}
		i += n
	}
	return i
}
