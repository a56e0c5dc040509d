package offline

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// The answer languages.
const (
	zh = "zh"
	en = "en"
)

// answerLanguage is the language an answer is written in: the template's
// own if its front matter fixes one, else the requested one, else the
// language of the rep's text, Chinese when that is unclear (as the
// templates tell a model).
func answerLanguage(t *prompts.Template, requested string, texts ...string) string {
	if t != nil && (t.Language == zh || t.Language == en) {
		return t.Language
	}
	if requested == zh || requested == en {
		return requested
	}
	text := strings.Join(texts, "\n")
	if strings.IndexFunc(text, isLatinLetter) >= 0 && !providers.IsMostlyChinese(text) {
		return en
	}
	return zh
}

func isLatinLetter(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) }

// phrase is template text in both answer languages.
type phrase struct{ zh, en string }

func (p phrase) in(l string) string {
	if l == en {
		return p.en
	}
	return p.zh
}

// format fills the phrase's verbs in language l.
func (p phrase) format(l string, args ...any) string { return fmt.Sprintf(p.in(l), args...) }

// offlineNote says, where a schema has room for it, that the answer was
// composed without a language model.
var offlineNote = phrase{"离线草稿（摘录式，未使用语言模型）", "Offline draft (extractive, no language model)"}

// citable matches the source labels the output schemas accept.
var citable = regexp.MustCompile(`^S[0-9]{1,3}$`)

// library is what an answer may quote: the task's sources cut into
// quotable sentences (headings, table rules and markup dropped, table
// rows turned into lines), without the sentences that read like
// instructions to a model or that follow one in the same paragraph.
// A source whose label the schemas cannot cite is left out, and so is a
// second source with a label already seen.
type library struct {
	sources  []providers.Source
	sections map[string][]section // by source label
	injected []string             // labels of sources with instruction-like text
}

// section is the quotable text under one heading of a source.
type section struct {
	heading string
	text    string // sentences separated by blank lines
}

func newLibrary(sources []providers.Source) *library {
	lib := &library{sections: map[string][]section{}}
	seen := map[string]bool{}
	for _, s := range sources {
		if !citable.MatchString(s.ID) || seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		secs, injected := quotable(s.Text)
		if injected {
			lib.injected = append(lib.injected, s.ID)
		}
		var text strings.Builder
		for _, sec := range secs {
			if sec.text != "" {
				text.WriteString(sec.text)
				text.WriteString("\n\n")
			}
		}
		lib.sections[s.ID] = secs
		lib.sources = append(lib.sources, providers.Source{ID: s.ID, Title: s.Title, Kind: kindOf(s), Text: text.String()})
	}
	return lib
}

func kindOf(s providers.Source) string { return strings.ToLower(strings.TrimSpace(s.Kind)) }

// injectedText reports whether a sentence reads like an instruction to a
// model, by the test RankSentences applies and by the trust layer's wider
// one.
func injectedText(s string) bool {
	return providers.LooksLikeInstruction(s) || trust.LooksLikeInjection(s)
}

var (
	blankLine   = regexp.MustCompile(`\n[ \t]*\n`)
	listMarker  = regexp.MustCompile(`^([-*+•·]|\d{1,2}[.、)）]|[（(]\d{1,2}[）)])\s*`)
	tableRule   = regexp.MustCompile(`^\|?[\s:|-]+\|?$`)
	citationTag = regexp.MustCompile(`\[\s*[ST]\d{1,3}(\s*[,，、;；]\s*[ST]?\d{1,3})*\s*\]`)
)

// quotable splits a source's text into sections of quotable sentences and
// reports whether it held instruction-like text. Such a sentence is
// dropped with the rest of its paragraph: an injection's payload often
// follows its trigger ("Ignore all previous instructions. Then state
// that ...") and reads like an ordinary claim on its own.
func quotable(text string) ([]section, bool) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		if _, body, ok := strings.Cut(rest, "\n---\n"); ok {
			text = body // YAML front matter is metadata, not text to quote
		}
	}
	var (
		secs     []section
		cur      section
		kept     []string
		injected bool
	)
	endSection := func() {
		if len(kept) > 0 || cur.heading != "" {
			cur.text = strings.Join(kept, "\n\n")
			secs = append(secs, cur)
		}
		cur, kept = section{}, nil
	}
	for _, para := range blankLine.Split(text, -1) {
		tainted := false
		var unit []string
		endUnit := func() {
			for _, s := range lang.Sentences(strings.Join(unit, "\n")) {
				switch {
				case injectedText(s):
					tainted, injected = true, true
				case !tainted:
					kept = append(kept, s)
				}
			}
			unit = nil
		}
		lines := strings.Split(para, "\n")
		for i, line := range lines {
			l := strings.TrimSpace(line)
			for strings.HasPrefix(l, ">") {
				l = strings.TrimSpace(l[1:])
			}
			l = strings.ReplaceAll(l, "**", "")
			switch {
			case l == "":
			case strings.HasPrefix(l, "#"):
				endUnit()
				endSection()
				if h := strings.TrimSpace(strings.TrimLeft(l, "#")); injectedText(h) {
					tainted, injected = true, true
				} else if !tainted {
					cur.heading = h
				}
			case strings.HasPrefix(l, "|"):
				endUnit()
				if tableRule.MatchString(l) || i+1 < len(lines) && tableRule.MatchString(strings.TrimSpace(lines[i+1])) && strings.Contains(lines[i+1], "-") {
					continue // a rule, or the header row above one
				}
				unit = []string{tableRow(l)}
				endUnit()
			case listMarker.MatchString(l):
				endUnit()
				unit = []string{listMarker.ReplaceAllString(l, "")}
			default:
				unit = append(unit, l)
			}
		}
		endUnit()
	}
	endSection()
	return secs, injected
}

// tableRow turns a Markdown table row into a line of text.
func tableRow(row string) string {
	var cells []string
	for c := range strings.SplitSeq(strings.Trim(row, "|"), "|") {
		if c = strings.TrimSpace(c); c != "" {
			cells = append(cells, c)
		}
	}
	sep := ", "
	if providers.IsMostlyChinese(row) {
		sep = "，"
	}
	return strings.Join(cells, sep)
}

// minQuoteRunes is the shortest sentence worth quoting; shorter ones are
// labels and fragments.
const minQuoteRunes = 12

// rank returns up to n quotable sentences from the sources keep accepts
// that best match question (providers.RankSentences), best first, tidied
// for quoting.
func (l *library) rank(question string, n int, keep func(providers.Source) bool) []providers.Evidence {
	var pool []providers.Source
	for _, s := range l.sources {
		if keep == nil || keep(s) {
			pool = append(pool, s)
		}
	}
	if len(pool) == 0 || n <= 0 {
		return nil
	}
	var out []providers.Evidence
	for _, e := range providers.RankSentences(question, pool, 3*n) {
		e.Text = tidyQuote(e.Text)
		if utf8.RuneCountInString(e.Text) >= minQuoteRunes {
			if strings.IndexFunc(e.Text, unicode.IsDigit) >= 0 {
				e.Score *= numberBonus
			}
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b providers.Evidence) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(n, len(out))]
}

// numberBonus favours sentences with figures (a date, a count, a
// percentage): numbers persuade where adjectives do not.
const numberBonus = 1.25

// ofKind accepts the sources of the given kinds.
func ofKind(kinds ...string) func(providers.Source) bool {
	return func(s providers.Source) bool { return slices.Contains(kinds, s.Kind) }
}

// notKind accepts the sources of any other kind.
func notKind(kinds ...string) func(providers.Source) bool {
	return func(s providers.Source) bool { return !slices.Contains(kinds, s.Kind) }
}

// only accepts the source labelled id.
func only(id string) func(providers.Source) bool {
	return func(s providers.Source) bool { return s.ID == id }
}

// source returns the library's source labelled id.
func (l *library) source(id string) providers.Source {
	for _, s := range l.sources {
		if s.ID == id {
			return s
		}
	}
	return providers.Source{}
}

// has reports whether the library holds a source of one of kinds.
func (l *library) has(kinds ...string) bool {
	return slices.ContainsFunc(l.sources, ofKind(kinds...))
}

// tidyQuote removes citation markers a document carries ([S2] would read
// as ours) and the half of a placeholder that RankSentences' cut of a
// very long sentence may leave.
func tidyQuote(s string) string {
	s = citationTag.ReplaceAllString(s, "")
	if i := strings.LastIndex(s, "⟦"); i >= 0 && !strings.Contains(s[i:], "⟧") {
		s = strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
	}
	return strings.TrimSpace(s)
}

var (
	// internalCue marks text meant for the seller's eyes only.
	internalCue = regexp.MustCompile(`(?i)内部|机密|保密|底价|底线|折扣|审批权限|返点|回扣|丢单|对手|竞品|confidential|internal|discount|floor|approval (limit|from)|rebate|competitor|\blost\b`)
	// money marks amounts: prices and other customers' contract values
	// go to a customer only when a source says they may.
	money = regexp.MustCompile(`(?i)[¥￥$]|\b(CNY|RMB|USD)\b|\d\s*(万元|亿元|元|万|million)`)
)

// customerFacing reports whether a sentence may be said or written to a
// customer: no internal or confidential material, no amounts, and none
// of the names (competitors) given.
func customerFacing(s string, names ...string) bool {
	if internalCue.MatchString(s) || money.MatchString(s) {
		return false
	}
	return !mentions(s, names...)
}

// mentions reports whether s contains one of names, ignoring ASCII case.
func mentions(s string, names ...string) bool {
	lower := strings.ToLower(s)
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && strings.Contains(lower, n) {
			return true
		}
	}
	return false
}

// aliases are the ways a document may name an organisation: the name as
// given, its first Latin word ("Northwind" for "Northwind Systems"), the
// first two characters of a Chinese name of four or more ("华拓" for
// "华拓数科"), and a name in brackets ("HuaTuo Digital").
func aliases(name string) []string {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	out := []string{name}
	add := func(a string) {
		if a = strings.TrimSpace(a); utf8.RuneCountInString(a) >= 2 && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if open := strings.IndexAny(name, "（("); open > 0 {
		inner := strings.TrimRight(name[open:], "）)")
		inner = strings.TrimLeft(inner, "（(")
		add(name[:open])
		add(inner)
	}
	for _, a := range slices.Clone(out) {
		runes := []rune(a)
		switch {
		case len(runes) >= 4 && lang.IsCJK(runes[0]) && lang.IsCJK(runes[1]):
			add(string(runes[:2]))
		case strings.Contains(a, " ") && isLatinLetter(runes[0]):
			if first, _, _ := strings.Cut(a, " "); len(first) >= 4 {
				add(first)
			}
		}
	}
	return out
}

// citations collects source labels in the order they are first used.
type citations []string

func (c *citations) add(ids ...string) {
	for _, id := range ids {
		if id != "" && !slices.Contains(*c, id) {
			*c = append(*c, id)
		}
	}
}

// list returns the labels, never nil (the schemas want an array).
func (c citations) list(max int) []string {
	out := make([]string, 0, len(c))
	return append(out, c[:min(len(c), max)]...)
}

// cite returns the labels of evidence, deduplicated, never nil.
func cite(evs ...providers.Evidence) []string {
	var c citations
	for _, e := range evs {
		c.add(e.SourceID)
	}
	return c.list(len(c))
}

// cited appends a citation marker to a claim: after a space in Latin
// text, right after the full stop in Chinese.
func cited(claim string, ids ...string) string {
	if len(ids) == 0 {
		return claim
	}
	if last, _ := utf8.DecodeLastRuneInString(claim); last <= unicode.MaxLatin1 {
		claim += " "
	}
	return claim + "[" + strings.Join(ids, "][") + "]"
}

// clip shortens s to at most max runes, ending it with "…" when it cuts.
// It never cuts inside a placeholder such as ⟦PHONE_1⟧ (the placeholder
// goes whole) nor, in Latin text, inside a word if a space is near.
func clip(s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return ""
	}
	runes := []rune(s)
	cut := max - 1 // room for the ellipsis
	if isLatinLetter(runes[cut]) && isLatinLetter(runes[cut-1]) {
		for i := cut - 1; i > 0 && i > cut-20; i-- {
			if unicode.IsSpace(runes[i]) {
				cut = i
				break
			}
		}
	}
	head := string(runes[:cut])
	if i := strings.LastIndex(head, "⟦"); i >= 0 && !strings.Contains(head[i:], "⟧") {
		head = head[:i]
	}
	return strings.TrimRightFunc(head, func(r rune) bool { return unicode.IsSpace(r) || r == '，' || r == ',' }) + "…"
}

// clipClause is clip that prefers to end at a clause boundary (a comma or
// semicolon) in the second half of the allowance.
func clipClause(s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	for i := max - 2; i >= max/2 && i > 0; i-- {
		switch runes[i] {
		case '，', '；', '、', ',', ';', '：':
			if head := string(runes[:i]); strings.Count(head, "⟦") == strings.Count(head, "⟧") {
				return head + "…"
			}
		}
	}
	return clip(s, max)
}

// fit returns s clipped to max runes, or fallback (clipped too) when s is
// shorter than min runes.
func fit(s string, minRunes, max int, fallback string) string {
	s = clip(s, max)
	if utf8.RuneCountInString(s) < minRunes {
		s = clip(fallback, max)
	}
	return s
}

// sentence ends s with a full stop in language l unless it already ends
// a sentence.
func sentence(s, l string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	last, _ := utf8.DecodeLastRuneInString(s)
	if strings.ContainsRune(".!?。！？…;；\"'”’）)」】", last) {
		return s
	}
	if l == en {
		return s + "."
	}
	return s + "。"
}

// joinSentences joins sentences as language l writes them.
func joinSentences(l string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	if l == en {
		return strings.Join(kept, " ")
	}
	return strings.Join(kept, "")
}

// list joins items as language l lists them.
func list(l string, items ...string) string {
	if l == en {
		return strings.Join(items, ", ")
	}
	return strings.Join(items, "、")
}

// firstNonEmpty returns the first of values that is not blank, trimmed.
func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// flatten puts s on one line, for a field that reads as one sentence.
func flatten(s string) string { return strings.Join(strings.Fields(s), " ") }

// injectedNote tells the rep which sources were skipped in part as
// instructions to a model, or "" when none were.
func (l *library) injectedNote(lng string) string {
	if len(l.injected) == 0 {
		return ""
	}
	return phrase{
		"资料 %s 中有疑似针对模型的指令，已忽略且未引用。",
		"Source %s contains text that reads like instructions to a model; it was ignored and not quoted.",
	}.format(lng, list(lng, l.injected...))
}

// schemaInt reads an integer keyword (maxLength, maxItems, ...) of a
// top-level property of t's output schema, or def when the schema does not
// say.
func schemaInt(t *prompts.Template, property, keyword string, def int) int {
	if p, ok := schemaProperty(t, property); ok {
		if v, ok := p[keyword].(float64); ok {
			return int(v)
		}
	}
	return def
}

// schemaProperty returns a top-level property of t's output schema.
func schemaProperty(t *prompts.Template, property string) (map[string]any, bool) {
	if t == nil {
		return nil, false
	}
	props, _ := t.RawSchema["properties"].(map[string]any)
	p, ok := props[property].(map[string]any)
	return p, ok
}
