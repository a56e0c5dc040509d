package trust

import (
	"iter"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
)

// CitationReport says which sources an answer cites and what it claims
// without a source.
type CitationReport struct {
	// Cited are the known labels the answer cites, in order of first use,
	// spelt as in the known list.
	Cited []string
	// Unknown are the labels the answer cites that are not among the
	// retrieved sources (hallucinated sources), in order of first use.
	Unknown []string
	// Uncited are the sentences that state facts (a number, a named
	// organisation, a quoted title, or length alone) without citing a
	// known source.
	Uncited []string
	// Valid reports that every citation names a known source.
	Valid bool
}

// minClaimRunes is the number of letters and digits from which a
// sentence counts as a claim even without a number or a name.
const minClaimRunes = 40

// VerifyCitations checks the citation markers in an answer against the
// labels of the sources it was given.
//
// A marker is a bracketed list of labels: [S1], [S1, S3], [S1][S2],
// [S1-S3] (a range of at most 50), full-width 【S1】 and ［S1］, with
// ',', '，', ';', '；', '、' or spaces between labels; labels ignore case
// and leading zeros (s01 is S1). A label is "S" and a number, or
// exactly one of the known labels. Parentheses are not markers: "(S1)"
// reads as prose too often (a model name, a list item), and bare numbers
// like [1] are footnotes as often as sources.
//
// Sentences are split by line and then with lang.Sentences. A marker
// alone on its sentence, or at the start of one ("。[S2]下一句"), also
// counts for the sentence before it, since models often put the marker
// after the full stop. Headings, list numbers and placeholders
// (⟦PHONE_1⟧) do not make a sentence a claim.
func VerifyCitations(text string, known []string) CitationReport {
	labels := newLabelSet(known)
	var rep CitationReport
	seen := map[string]bool{}
	for c := range citations(text, labels) {
		for _, l := range c.labels {
			if seen[l.label] {
				continue
			}
			seen[l.label] = true
			if l.known {
				rep.Cited = append(rep.Cited, l.label)
			} else {
				rep.Unknown = append(rep.Unknown, l.label)
			}
		}
	}
	rep.Uncited = uncitedClaims(text, labels)
	rep.Valid = len(rep.Unknown) == 0
	return rep
}

// StripUnknownCitations removes the labels of unknown sources from the
// citation markers in text, and markers left empty with the space before
// them. Markers citing only known sources are kept as written.
func StripUnknownCitations(text string, known []string) string {
	labels := newLabelSet(known)
	var b strings.Builder
	last := 0
	for c := range citations(text, labels) {
		var kept []string
		for _, l := range c.labels {
			if l.known {
				kept = append(kept, l.label)
			}
		}
		if len(kept) == len(c.labels) {
			continue
		}
		start := c.start
		if len(kept) == 0 && start > last && text[start-1] == ' ' {
			start-- // "budget [S9]." -> "budget."
		}
		b.WriteString(text[last:start])
		if len(kept) > 0 {
			b.WriteString(c.open)
			b.WriteString(strings.Join(kept, c.sep))
			b.WriteString(c.close)
		}
		last = c.end
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// labelSet is the known labels, by their normal form.
type labelSet map[string]string

func newLabelSet(known []string) labelSet {
	set := labelSet{}
	for _, k := range known {
		if k = strings.TrimSpace(k); k != "" {
			set[normalLabel(k)] = k
		}
	}
	return set
}

// normalLabel upper-cases a label and drops leading zeros from an
// "S<n>" label.
func normalLabel(l string) string {
	l = strings.ToUpper(l)
	if n, ok := sourceNumber(l); ok {
		return "S" + strconv.Itoa(n)
	}
	return l
}

// sourceNumber returns n for a label "S<n>" (any case), n < 10000.
func sourceNumber(l string) (int, bool) {
	if len(l) < 2 || len(l) > 5 || l[0]|0x20 != 's' || !onlyDigits(l[1:]) {
		return 0, false
	}
	return atoi(l[1:]), true
}

// cite is one label in a marker, normalised.
type cite struct {
	label string // the known spelling, or "S<n>"
	known bool
}

// marker is a citation marker in a text.
type marker struct {
	start, end  int
	open, close string
	sep         string // the first separator written, ", " when none
	labels      []cite
}

const maxRange = 50

// citations returns the citation markers in text, in order.
func citations(text string, labels labelSet) iter.Seq[marker] {
	return func(yield func(marker) bool) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == '[' || r == '【' || r == '［' {
				if c, ok := parseMarker(text, i, n, labels); ok {
					if !yield(c) {
						return
					}
					i = c.end
					continue
				}
			}
			i += n
		}
	}
}

// parseMarker reads a marker whose opening bracket, n bytes long, is at
// text[start].
func parseMarker(text string, start, n int, labels labelSet) (marker, bool) {
	c := marker{start: start, open: text[start : start+n], sep: ", "}
	sepSeen := false
	i := start + n
	for {
		i = skipSpace(text, i)
		label, next, ok := parseLabel(text, i, labels)
		if !ok {
			return marker{}, false
		}
		i = skipSpace(text, next)
		if r, rn := utf8.DecodeRuneInString(text[i:]); r == '-' || r == '–' || r == '—' || r == '~' || r == '～' {
			j := skipSpace(text, i+rn)
			hi, after, ok := parseLabel(text, j, labels)
			if !ok {
				hi, after, ok = bareNumber(text, j)
			}
			lo, okLo := sourceNumber(label)
			h, okHi := sourceNumber(hi)
			if !ok || !okLo || !okHi || h < lo || h-lo > maxRange {
				return marker{}, false
			}
			for k := lo; k <= h; k++ {
				c.labels = append(c.labels, labels.cite("S"+strconv.Itoa(k)))
			}
			i = skipSpace(text, after)
		} else {
			c.labels = append(c.labels, labels.cite(label))
		}
		r, rn := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == ']' || r == '】' || r == '］':
			c.end, c.close = i+rn, text[i:i+rn]
			return c, true
		case strings.ContainsRune(",，;；、", r):
			if !sepSeen {
				c.sep, sepSeen = text[i:i+rn], true
				if r == ',' || r == ';' {
					c.sep += " "
				}
			}
			i += rn
		case i > 0 && (text[i-1] == ' ' || text[i-1] == '\t'):
			// labels separated by spaces only
		default:
			return marker{}, false
		}
		if i-start > 200 {
			return marker{}, false
		}
	}
}

// parseLabel reads a known label or an "S<n>" label at text[i:] and
// returns it normalised with the offset after it.
func parseLabel(text string, i int, labels labelSet) (string, int, bool) {
	best := ""
	for norm := range labels {
		if len(norm) > len(best) && hasPrefixFold(text[i:], norm) && endsLabel(text, i+len(norm)) {
			best = norm
		}
	}
	if best != "" {
		return best, i + len(best), true
	}
	if i >= len(text) || text[i]|0x20 != 's' {
		return "", 0, false
	}
	j := i + 1
	for j < len(text) && j-i <= 5 && text[j] >= '0' && text[j] <= '9' {
		j++
	}
	if j == i+1 || !endsLabel(text, j) {
		return "", 0, false
	}
	l, ok := sourceNumber(text[i:j])
	if !ok {
		return "", 0, false
	}
	return "S" + strconv.Itoa(l), j, true
}

// bareNumber reads the "3" of a range written "S1-3".
func bareNumber(text string, i int) (string, int, bool) {
	j := i
	for j < len(text) && j-i < 4 && text[j] >= '0' && text[j] <= '9' {
		j++
	}
	if j == i || !endsLabel(text, j) {
		return "", 0, false
	}
	return "S" + text[i:j], j, true
}

// endsLabel reports whether a label may end before text[i]: not inside a
// word.
func endsLabel(text string, i int) bool {
	r := runeAt(text, i)
	return !(r < utf8.RuneSelf && (isASCIIAlnum(byte(r)) || r == '_'))
}

func skipSpace(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

// cite returns the citation of a normalised label.
func (s labelSet) cite(norm string) cite {
	if k, ok := s[norm]; ok {
		return cite{label: k, known: true}
	}
	return cite{label: norm}
}

// uncitedClaims returns the claims in text that cite no known source.
func uncitedClaims(text string, labels labelSet) []string {
	type sentence struct {
		text            string
		cited, trailing bool // trailing: its marker belongs to the sentence before
		claim           bool
	}
	var all []sentence
	for _, line := range strings.Split(text, "\n") {
		if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "#") {
			continue // a heading
		}
		for _, s := range lang.Sentences(line) {
			st := sentence{text: s}
			var rest strings.Builder
			last := 0
			for c := range citations(s, labels) {
				for _, l := range c.labels {
					st.cited = st.cited || l.known
				}
				if strings.TrimSpace(s[:c.start]) == "" {
					st.trailing = true
				}
				rest.WriteString(s[last:c.start])
				last = c.end
			}
			rest.WriteString(s[last:])
			st.claim = isClaim(rest.String())
			all = append(all, st)
		}
	}
	var out []string
	for i, s := range all {
		if s.trailing && s.cited && i > 0 {
			all[i-1].cited = true
		}
	}
	for _, s := range all {
		if s.claim && !s.cited {
			out = append(out, s.text)
		}
	}
	return out
}

// isClaim reports whether a sentence, without its citation markers,
// states something a source should back: it has a number, a named
// organisation or title, or is long.
func isClaim(s string) bool {
	s = stripListMarker(s)
	var plain strings.Builder
	last := 0
	for t := range tokens(s) {
		plain.WriteString(s[last:t.start])
		last = t.end
	}
	plain.WriteString(s[last:])
	s = plain.String()
	letters, digit := 0, false
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			digit = true
			letters++
		case unicode.IsLetter(r):
			letters++
		}
	}
	if letters < 6 {
		return false
	}
	return digit || letters >= minClaimRunes || hasNamedEntity(s)
}

// stripListMarker removes a leading bullet or list number: "- ", "1. ",
// "(2) ", "（三）", "一、".
func stripListMarker(s string) string {
	s = strings.TrimLeft(strings.TrimSpace(s), "-*•·>|　 \t")
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && strings.IndexByte(".)、", s[i]) >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	if r, n := utf8.DecodeRuneInString(s); r == '(' || r == '（' {
		j := n
		for j < len(s) && strings.ContainsRune(numerals, runeAt(s, j)) {
			j += utf8.RuneLen(runeAt(s, j))
		}
		if r := runeAt(s, j); j > n && (r == ')' || r == '）') {
			return strings.TrimSpace(s[j+utf8.RuneLen(r):])
		}
	}
	if r, n := utf8.DecodeRuneInString(s); strings.ContainsRune(numerals[10:], r) {
		if rest, ok := strings.CutPrefix(s[n:], "、"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return s
}

// numerals are the digits and Chinese numerals lists are numbered with.
const numerals = "0123456789一二三四五六七八九十"

// orgSuffixes end the names of organisations in Chinese.
var orgSuffixes = []string{"公司", "集团", "医院", "大学", "学院", "银行", "政府", "委员会", "管理局", "研究院"}

// hasNamedEntity reports whether s names an organisation (by a Chinese
// suffix), a title in 《》, or a capitalised Latin word after its first
// word.
func hasNamedEntity(s string) bool {
	for _, suf := range orgSuffixes {
		if strings.Contains(s, suf) {
			return true
		}
	}
	if strings.Contains(s, "《") {
		return true
	}
	first := true
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !(r < utf8.RuneSelf && isASCIIAlnum(byte(r))) }) {
		if !first && isASCIILetter(w[0]) && w[0] < 'a' && len(w) > 1 {
			return true
		}
		first = false
	}
	return false
}
