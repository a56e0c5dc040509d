package analyze

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// Limits shared by the v1 schemas.
const (
	maxSpan = 300 // span: verbatim excerpt of T1
	maxText = 400 // descriptions, reasons, requirements
)

// docLabel is the citation label of the task's own document.
const docLabel = "T1"

// answerLanguage is the language the answer is written in: the
// template's when it fixes one, else the requested one, else the
// document's.
func answerLanguage(t *prompts.Template, requested, text string) string {
	if t != nil && (t.Language == "zh" || t.Language == "en") {
		return t.Language
	}
	if requested == "zh" || requested == "en" {
		return requested
	}
	return detectLanguage(text)
}

// detectLanguage says "en" for text that is clearly Latin-script and
// "zh" otherwise, Chinese being the product's default. A Chinese
// character carries about as much as three Latin letters, so mixed text
// ("API 网关峰值吞吐 12,000 TPS") counts as Chinese.
func detectLanguage(text string) string {
	var cjk, latin int
	for _, r := range text {
		switch {
		case lang.IsCJK(r):
			cjk++
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			latin++
		}
	}
	if latin > 3*cjk {
		return "en"
	}
	return "zh"
}

// pick returns the Chinese or the English text for language l.
func pick(l, zh, en string) string {
	if l == "en" {
		return en
	}
	return zh
}

// cleanDoc makes a document safe to quote from: invalid UTF-8 becomes
// U+FFFD (which is what a JSON round trip would make of it, so spans stay
// substrings of what the caller sees), and CRLF line ends become LF.
func cleanDoc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// clipRunes cuts s to at most max runes, on a rune boundary and never
// inside a placeholder: a ⟦PHONE_1⟧ is kept whole or dropped whole. The
// result is a prefix of s.
func clipRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			s = s[:i]
			break
		}
		n++
	}
	if open := strings.LastIndex(s, "⟦"); open >= 0 && !strings.Contains(s[open:], "⟧") {
		s = s[:open]
	}
	return s
}

// clipText cuts prose to at most max runes, marking the cut with "…".
func clipText(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return strings.TrimRightFunc(clipRunes(s, max-1), unicode.IsSpace) + "…"
}

// fitText is clipText with a floor: text shorter than min runes gives
// fallback instead.
func fitText(s string, min, max int, fallback string) string {
	s = clipText(strings.TrimSpace(s), max)
	if utf8.RuneCountInString(s) < min {
		return fallback
	}
	return s
}

// spanOf returns a span for text, which must be a substring of the
// document: trimmed, cut to maxSpan runes, at least two runes long.
func spanOf(text string) (string, bool) {
	s := strings.TrimRightFunc(clipRunes(strings.TrimSpace(text), maxSpan), unicode.IsSpace)
	return s, utf8.RuneCountInString(s) >= 2
}

var (
	markdownNoise = strings.NewReplacer("**", "", "__", "", "`", "")
	// listMarker matches "- ", "1. ", "1、", "（1）", "一、"; "3.5 万" is no
	// list item.
	listMarker = regexp.MustCompile(`^\s*(?:[-*•·>#]+\s*|\(?[0-9]{1,2}(?:[)、．]|\.\s)\s*|（[0-9]{1,2}）\s*|[一二三四五六七八九十]{1,3}、\s*)`)
)

// tidy prepares a document excerpt for prose: markdown emphasis and list
// markers go, whitespace collapses (and disappears between Chinese
// characters, where a line break is no word break).
func tidy(s string) string {
	s = markdownNoise.Replace(s)
	s = listMarker.ReplaceAllString(s, "")
	var b strings.Builder
	var prev rune
	pending := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) {
			pending = b.Len() > 0
			continue
		}
		if pending && !(lang.IsCJK(prev) && lang.IsCJK(r)) {
			b.WriteByte(' ')
		}
		pending = false
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// unsafeText reports whether text reads like an instruction to a model;
// such text is data to the analysis and is never quoted.
func unsafeText(text string) bool { return trust.LooksLikeInjection(text) }

// segment is a sentence of a document: Text is doc[Start:Start+len(Text)].
type segment struct {
	Text  string
	Start int
	Line  int
}

// segments splits doc into sentences with their offsets, line by line
// (a transcript turn or a table row ends at its line). YAML front matter
// is skipped, and so are lines that read like injected instructions and
// markdown table rules.
func segments(doc string) []segment {
	var out []segment
	offset := 0
	lines := strings.Split(doc, "\n")
	skipUntil := -1
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for i := 1; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == "---" {
				skipUntil = i
				break
			}
		}
	}
	for i, line := range lines {
		start := offset
		offset += len(line) + 1
		if i <= skipUntil || tableRule.MatchString(line) || unsafeText(line) {
			continue
		}
		out = append(out, sentencesAt(line, start, i)...)
	}
	return out
}

var tableRule = regexp.MustCompile(`^\s*\|?\s*:?-{2,}`)

// sentencesAt splits one line into sentences; base is the line's offset
// in its document.
func sentencesAt(line string, base, lineNo int) []segment {
	var out []segment
	pos := 0
	for _, s := range lang.Sentences(line) {
		i := strings.Index(line[pos:], s)
		if i < 0 {
			continue // lang.Sentences only trims, so this does not happen
		}
		out = append(out, segment{Text: s, Start: base + pos + i, Line: lineNo})
		pos += i + len(s)
	}
	return out
}

// clauses splits a sentence at commas and semicolons (a comma between
// digits is a thousands separator, not a clause break). Each clause is a
// substring of s.
func clauses(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		brk := r == '，' || r == '；' || r == ';'
		if r == ',' {
			brk = i+1 >= len(s) || s[i+1] == ' '
		}
		if brk {
			if c := strings.TrimSpace(s[start:i]); c != "" {
				out = append(out, c)
			}
			start = i + utf8.RuneLen(r)
		}
	}
	if c := strings.TrimSpace(s[start:]); c != "" {
		out = append(out, c)
	}
	return out
}

var sourceLabel = regexp.MustCompile(`^S[0-9]{1,3}$`)

// citableSources are the sources an answer may cite: the schemas only
// accept labels S1..S999, so a source with another ID is left out rather
// than cited under a label that was not given.
func citableSources(sources []providers.Source) []providers.Source {
	var out []providers.Source
	for _, s := range sources {
		if sourceLabel.MatchString(s.ID) {
			out = append(out, s)
		}
	}
	return out
}

// cites returns the labels deduplicated, in order.
func cites(labels ...string) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if l != "" && !contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matchesSchema reports whether v, after a JSON round trip, validates
// against the template's schema.
func matchesSchema(t *prompts.Template, v any) bool {
	if t == nil || t.Schema == nil {
		return true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var decoded any
	if err := json.Unmarshal(b, &decoded); err != nil {
		return false
	}
	return t.Schema.Validate(decoded) == nil
}

// asciiLower lower-cases ASCII letters only, so byte offsets into the
// result are offsets into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// indexWord finds needle in haystack (both ASCII-lower-cased) from
// offset from; a needle that starts or ends with a Latin letter or digit
// must not touch one in haystack ("ms" is not in "terms").
func indexWord(haystack, needle string, from int) int {
	for from <= len(haystack) {
		i := strings.Index(haystack[from:], needle)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(needle)
		okStart := i == 0 || !isASCIIAlnum(needle[0]) || !isASCIIAlnum(haystack[i-1])
		okEnd := end == len(haystack) || !isASCIIAlnum(needle[len(needle)-1]) || !isASCIIAlnum(haystack[end])
		if okStart && okEnd {
			return i
		}
		from = i + 1
	}
	return -1
}

// cueList is a list of cue words and phrases, lower-case; Latin ones
// match whole words only.
type cueList []string

// find returns the first cue in text (lower-cased ASCII) and its offset,
// skipping occurrences negated by a preceding 不/没/未/无 when
// skipNegated is set.
func (cl cueList) find(text string, skipNegated bool) (string, int) {
	low := asciiLower(text)
	best, bestAt := "", -1
	for _, c := range cl {
		for from := 0; ; {
			i := indexWord(low, c, from)
			if i < 0 {
				break
			}
			if skipNegated && negated(low, i) {
				from = i + 1
				continue
			}
			if bestAt < 0 || i < bestAt {
				best, bestAt = c, i
			}
			break
		}
	}
	return best, bestAt
}

func (cl cueList) has(text string) bool {
	_, at := cl.find(text, false)
	return at >= 0
}

// negated reports whether the text just before offset i negates what
// follows: 不/没/未/无/别, or "not"/"no"/"never"/"don't".
func negated(low string, i int) bool {
	if r, _ := utf8.DecodeLastRuneInString(low[:i]); strings.ContainsRune("不没未无别非", r) {
		return true
	}
	before := strings.TrimRight(low[:i], " ")
	for _, w := range []string{"not", "no", "never", "don't", "didn't", "isn't", "wasn't", "aren't", "won't"} {
		if strings.HasSuffix(before, " "+w) || before == w {
			return true
		}
	}
	return false
}
