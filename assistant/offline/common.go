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
// quotable sentences and table rows (headings, table rules and markup
// dropped, overview and metadata rows left out, the other language's
// half of a bilingual line left out), without the sentences that read
// like instructions to a model or that follow one in the same paragraph.
// A source whose label the schemas cannot cite is left out, and so is a
// second source with a label already seen.
type library struct {
	sources  []providers.Source   // each quote a paragraph of Text
	sections map[string][]section // by source label
	quotes   map[string][]quote   // by source label, in reading order
	injected []string             // labels of sources with instruction-like text
}

// section is the quotable text under one heading of a source.
type section struct {
	heading string
	text    string // sentences separated by blank lines
}

// quote is one quotable sentence or table row and what its place in the
// source says about it.
type quote struct {
	text    string
	heading string // of its section, numbering removed
	// role is what a table row's subject column holds (roleWeakness,
	// roleStrength, ...); "" for a sentence.
	role string
	// response is a weakness row's "our response" column.
	response string
}

// newLibrary prepares sources for answers in language lng.
func newLibrary(sources []providers.Source, lng string) *library {
	lib := &library{sections: map[string][]section{}, quotes: map[string][]quote{}}
	seen := map[string]bool{}
	for _, s := range sources {
		if !citable.MatchString(s.ID) || seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		quotes, injected := quotable(s.Text, s.Title, lng)
		if injected {
			lib.injected = append(lib.injected, s.ID)
		}
		var secs []section
		for _, q := range quotes {
			if len(secs) == 0 || secs[len(secs)-1].heading != q.heading {
				secs = append(secs, section{heading: q.heading})
			}
			if q.text != "" {
				sec := &secs[len(secs)-1]
				sec.text = strings.TrimPrefix(sec.text+"\n\n"+q.text, "\n\n")
			}
		}
		lib.sections[s.ID] = secs
		lib.quotes[s.ID] = slices.DeleteFunc(quotes, func(q quote) bool { return q.text == "" })
		lib.sources = append(lib.sources, providers.Source{ID: s.ID, Title: s.Title, Kind: kindOf(s), Text: joinQuotes(lib.quotes[s.ID], nil)})
	}
	return lib
}

// joinQuotes is the text of the quotes keep accepts (nil: all), one
// paragraph each.
func joinQuotes(quotes []quote, keep func(quote) bool) string {
	var b strings.Builder
	for _, q := range quotes {
		if keep == nil || keep(q) {
			b.WriteString(q.text)
			b.WriteString("\n\n")
		}
	}
	return b.String()
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
	// keyLine matches a line that starts with a short label: a speaker
	// in a transcript, a field of a list ("时间：…").
	keyLine = regexp.MustCompile(`^[^：:。，,]{1,16}[：:]`)
)

// quotable splits a source's text into quotes in language lng and
// reports whether it held instruction-like text. Such a sentence is
// dropped with the rest of its paragraph: an injection's payload often
// follows its trigger ("Ignore all previous instructions. Then state
// that ...") and reads like an ordinary claim on its own.
//
// Retrieved chunks are not Markdown: the loader has already turned
// headings into plain lines ("二、核心优势"), list items into lines
// without markers and table rows into "header: value | header: value"
// lines, which packing sometimes runs together. Each line is therefore
// read on its own: a heading starts a section, a table row becomes one
// quote, and only a line that continues an unfinished sentence joins the
// one before it.
func quotable(text, title, lng string) ([]quote, bool) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		if _, body, ok := strings.Cut(rest, "\n---\n"); ok {
			text = body // YAML front matter is metadata, not text to quote
		}
	}
	var (
		quotes   []quote
		heading  string
		injected bool
	)
	for _, para := range blankLine.Split(text, -1) {
		tainted := false
		var (
			unit   []string
			header []string // of the Markdown table being read
		)
		add := func(q quote) {
			switch {
			case injectedText(q.text) || injectedText(q.response):
				tainted, injected = true, true
			case !tainted:
				q.heading = heading
				quotes = append(quotes, q)
			}
		}
		endUnit := func() {
			for _, s := range inLanguage(lang.Sentences(strings.Join(unit, "\n")), lng) {
				add(quote{text: s})
			}
			unit = nil
		}
		startSection := func(h string) {
			endUnit()
			if injectedText(h) {
				tainted, injected = true, true
			} else if !tainted {
				heading = headingNumber.ReplaceAllString(h, "")
				quotes = append(quotes, quote{heading: heading}) // marks the section even when empty
			}
		}
		addRow := func(r tableRow) {
			endUnit()
			if q, ok := r.quote(lng); ok {
				add(q)
			}
		}
		lines := strings.Split(para, "\n")
		prev := "" // the previous line of text, to tell a wrapped sentence
		for i, line := range lines {
			l := strings.TrimSpace(line)
			for strings.HasPrefix(l, ">") {
				l = strings.TrimSpace(l[1:])
			}
			l = strings.ReplaceAll(l, "**", "")
			switch {
			case l == "":
				continue
			case strings.HasPrefix(l, "#"):
				startSection(strings.TrimSpace(strings.TrimLeft(l, "#")))
			case strings.HasPrefix(l, "|"):
				endUnit()
				cells := pipeCells(l)
				switch {
				case tableRule.MatchString(l):
				case i+1 < len(lines) && tableRule.MatchString(strings.TrimSpace(lines[i+1])) && strings.Contains(lines[i+1], "-"):
					header = cells // the header row above a rule
				default:
					addRow(tableRow{labels: header, cells: cells})
				}
			default:
				for _, p := range splitRows(l) {
					switch {
					case p.row != nil:
						addRow(*p.row)
					case isHeading(p.text, title):
						startSection(p.text)
					case listMarker.MatchString(p.text):
						endUnit()
						unit = []string{listMarker.ReplaceAllString(p.text, "")}
					case len(unit) > 0 && continues(prev, p.text):
						unit = append(unit, p.text)
					default:
						endUnit()
						unit = []string{p.text}
					}
					prev = p.text
				}
				continue
			}
			prev = ""
		}
		endUnit()
	}
	return quotes, injected
}

// continues reports whether line goes on with the sentence prev left
// unfinished (a paragraph wrapped across lines) rather than starting a
// line of its own.
func continues(prev, line string) bool {
	last, _ := utf8.DecodeLastRuneInString(prev)
	if prev == "" || strings.ContainsRune(".!?。！？;；:：)）」”\"", last) {
		return false
	}
	return !keyLine.MatchString(line) && !keyLine.MatchString(prev)
}

// pipeCells are the cells of a Markdown table row.
func pipeCells(row string) []string {
	var cells []string
	for c := range strings.SplitSeq(strings.Trim(row, "|"), "|") {
		cells = append(cells, strings.TrimSpace(c))
	}
	return cells
}

// minQuoteRunes is the shortest sentence worth quoting; shorter ones are
// labels and fragments.
const minQuoteRunes = 12

// rank returns up to n quotable sentences from the sources keep accepts
// that best match question (providers.RankSentences), best first, tidied
// for quoting.
func (l *library) rank(question string, n int, keep func(providers.Source) bool) []providers.Evidence {
	return l.rankQuotes(question, n, keep, nil)
}

// rankQuotes is rank over the quotes keepQuote accepts (nil: all) of the
// sources keep accepts.
func (l *library) rankQuotes(question string, n int, keep func(providers.Source) bool, keepQuote func(quote) bool) []providers.Evidence {
	var pool []providers.Source
	for _, s := range l.sources {
		if keep == nil || keep(s) {
			if keepQuote != nil {
				s.Text = joinQuotes(l.quotes[s.ID], keepQuote)
			}
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

// quoteOf returns the quote evidence was taken from.
func (l *library) quoteOf(e providers.Evidence) (quote, bool) {
	text := compact(e.Text)
	for _, q := range l.quotes[e.SourceID] {
		if c := compact(q.text); c == text || strings.Contains(c, strings.TrimSuffix(text, "…")) {
			return q, true
		}
	}
	return quote{}, false
}

// compact is s without whitespace, to match a quote against the tidied
// sentence RankSentences made of it.
func compact(s string) string {
	return strings.Join(strings.Fields(s), "")
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
	// Who lost a tender, and why, is about other vendors too.
	internalCue = regexp.MustCompile(`(?i)内部|机密|保密|底价|底线|折扣|审批权限|返点|回扣|分成|毛利|佣金|利润率|丢单|对手|竞品|出局|否决|落选|confidential|internal|discount|floor|approval (limit|from)|rebate|revenue share|commission|margin|competitor|disqualified|\blost\b`)
	// money marks amounts: prices and other customers' contract values
	// go to a customer only when a source says they may.
	money = regexp.MustCompile(`(?i)[¥￥$]|\b(CNY|RMB|USD)\b|\d\s*(万元|亿元|元|万|million)`)

	// hearsay marks a sentence reporting what someone said ("张明局长在述标时
	// 明确说：“…”"): another customer's words are not ours to repeat.
	hearsay = regexp.MustCompile(`(说|表示|提到|强调|said|says)\s*[：:,，]?\s*["“「]`)
)

// customerFacing reports whether a sentence may be said or written to a
// customer: no internal or confidential material, no amounts, no
// reported speech, and none of the names (competitors) given.
func customerFacing(s string, names ...string) bool {
	if internalCue.MatchString(s) || money.MatchString(s) || hearsay.MatchString(s) {
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
	// A closing quote or bracket ends a sentence when what it closes
	// does: "（合同后第 100 天）" does not.
	body := strings.TrimRightFunc(s, func(r rune) bool { return strings.ContainsRune("\"'”’）)」】", r) })
	if last, _ := utf8.DecodeLastRuneInString(body); body != "" && strings.ContainsRune(".!?。！？…;；", last) {
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
