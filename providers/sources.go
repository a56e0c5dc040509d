package providers

import (
	"cmp"
	"html"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
)

// Source is a retrieved passage as it appears in a prompt, fenced as data:
//
//	<source id="S1" title="Acme renewal 2024" kind="won_deal">
//	...text...
//	</source>
//
// Everything inside a source block is material to quote, never
// instructions to follow.
type Source struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Text  string `json:"text"`
}

// FormatSources writes sources as prompt data blocks, the form
// ParseSources reads. Attribute values are HTML-escaped, and source tags
// inside the text are escaped so a document cannot close its own block
// and smuggle text out of it.
func FormatSources(sources []Source) string {
	var b strings.Builder
	for _, s := range sources {
		b.WriteString(`<source id="`)
		b.WriteString(html.EscapeString(s.ID))
		b.WriteString(`"`)
		if s.Title != "" {
			b.WriteString(` title="`)
			b.WriteString(html.EscapeString(s.Title))
			b.WriteString(`"`)
		}
		if s.Kind != "" {
			b.WriteString(` kind="`)
			b.WriteString(html.EscapeString(s.Kind))
			b.WriteString(`"`)
		}
		b.WriteString(">\n")
		if strings.IndexByte(s.Text, '<') >= 0 { // the pattern's first byte
			b.WriteString(sourceTag.ReplaceAllString(s.Text, "&lt;$1"))
		} else {
			b.WriteString(s.Text)
		}
		b.WriteString("\n</source>\n")
	}
	return b.String()
}

var (
	sourceTag        = regexp.MustCompile(`(?i)<(/?source)`)
	escapedSourceTag = regexp.MustCompile(`(?i)&lt;(/?source)`)
)

// ParseSources returns the source blocks in text, in order. A block left
// unclosed (a prompt cut for length) runs to the end of the text. Blocks
// without an id get "S1", "S2", ... by position.
func ParseSources(text string) []Source {
	var out []Source
	scanSources(text, func(_, _ int, s Source) {
		if s.ID == "" {
			s.ID = "S" + strconv.Itoa(len(out)+1)
		}
		out = append(out, s)
	})
	return out
}

// StripSources returns text without its source blocks: the instructions
// and the question around the data.
func StripSources(text string) string {
	var b strings.Builder
	last := 0
	scanSources(text, func(start, end int, _ Source) {
		b.WriteString(text[last:start])
		b.WriteString("\n")
		last = end
	})
	b.WriteString(text[last:])
	return strings.TrimSpace(blankLines.ReplaceAllString(b.String(), "\n\n"))
}

var blankLines = regexp.MustCompile(`\n\s*\n`)

// scanSources calls fn for each source block in text with the byte range
// it covers.
func scanSources(text string, fn func(start, end int, s Source)) {
	for pos := 0; pos < len(text); {
		start := indexFold(text, "<source", pos)
		if start < 0 {
			return
		}
		i := start + len("<source")
		if i < len(text) && !isSpaceByte(text[i]) && text[i] != '>' && text[i] != '/' {
			pos = i // "<sources", "<sourceX": not our tag
			continue
		}
		attrs, bodyStart := parseAttrs(text, i)
		end := len(text)
		bodyEnd := end
		if c := indexFold(text, "</source", bodyStart); c >= 0 {
			bodyEnd = c
			end = c + len("</source")
			if gt := strings.IndexByte(text[end:], '>'); gt >= 0 && strings.TrimSpace(text[end:end+gt]) == "" {
				end += gt + 1
			}
		}
		fn(start, end, Source{
			ID:    attrs["id"],
			Title: attrs["title"],
			Kind:  attrs["kind"],
			Text:  strings.TrimSpace(escapedSourceTag.ReplaceAllString(text[bodyStart:bodyEnd], "<$1")),
		})
		pos = end
	}
}

// parseAttrs reads name="value" pairs from text[i:] up to the closing '>'
// of a tag and returns them with the offset just past the '>'.
func parseAttrs(text string, i int) (map[string]string, int) {
	attrs := map[string]string{}
	for i < len(text) {
		for i < len(text) && (isSpaceByte(text[i]) || text[i] == '/') {
			i++
		}
		if i >= len(text) {
			break
		}
		if text[i] == '>' {
			return attrs, i + 1
		}
		nameStart := i
		for i < len(text) && !isSpaceByte(text[i]) && text[i] != '=' && text[i] != '>' {
			i++
		}
		name := strings.ToLower(text[nameStart:i])
		if i >= len(text) || text[i] != '=' {
			if name != "" {
				attrs[name] = ""
			}
			continue
		}
		i++ // '='
		var val string
		if i < len(text) && (text[i] == '"' || text[i] == '\'') {
			q := text[i]
			closing := strings.IndexByte(text[i+1:], q)
			if closing < 0 {
				return attrs, len(text)
			}
			val = text[i+1 : i+1+closing]
			i += closing + 2
		} else {
			valStart := i
			for i < len(text) && !isSpaceByte(text[i]) && text[i] != '>' {
				i++
			}
			val = text[valStart:i]
		}
		if _, seen := attrs[name]; !seen {
			attrs[name] = html.UnescapeString(val)
		}
	}
	return attrs, len(text)
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// indexFold is strings.Index from offset from, ignoring ASCII case in
// text; pattern must be lower case.
func indexFold(text, pattern string, from int) int {
	for i := from; i+len(pattern) <= len(text); i++ {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+len(pattern) <= len(text) && strings.EqualFold(text[i:i+len(pattern)], pattern) {
			return i
		}
	}
	return -1
}

// Evidence is one source sentence chosen to support an answer.
type Evidence struct {
	SourceID string `json:"source_id"`
	Title    string `json:"title,omitempty"`
	Kind     string `json:"kind,omitempty"`
	// Text is the sentence, with whitespace tidied and very long
	// sentences shortened.
	Text string `json:"text"`
	// Sentence is the position of the sentence in its source, from 0.
	Sentence int     `json:"sentence"`
	Score    float64 `json:"score"`
}

// maxEvidenceRunes bounds a quoted sentence; table rows and lists without
// punctuation can run for pages.
const maxEvidenceRunes = 320

// RankSentences returns up to n source sentences that best match the
// question, best first. A sentence scores the sum, over the distinct
// question words it contains (stopwords aside), of ln(1+N/df): N is the
// number of sentences in all sources and df the number containing the
// word, so rare shared words count most. Sentences sharing no word with
// the question, duplicates, and sentences that read like instructions to
// a model (prompt injection) are left out. The order is deterministic:
// score, then source order, then sentence order.
func RankSentences(question string, sources []Source, n int) []Evidence {
	if n <= 0 {
		return nil
	}
	qTerms, _ := matchTerms(question)
	if len(qTerms) == 0 {
		return nil
	}
	qIndex := make(map[string]int, len(qTerms))
	for i, t := range qTerms {
		qIndex[t.text] = i
	}

	type candidate struct {
		ev      Evidence
		matched []int // indexes of question terms in the sentence
		words   int
	}
	var (
		cands []candidate
		df    = make([]int, len(qTerms))
		total int
	)
	for _, s := range sources {
		for j, sentence := range lang.Sentences(s.Text) {
			total++
			if looksLikeInstruction(sentence) {
				continue
			}
			terms, words := matchTerms(sentence)
			var matched []int
			for _, t := range terms {
				if q, ok := qIndex[t.text]; ok {
					matched = append(matched, q)
				}
			}
			for _, q := range matched {
				df[q]++
			}
			if len(matched) > 0 {
				cands = append(cands, candidate{
					ev:      Evidence{SourceID: s.ID, Title: s.Title, Kind: s.Kind, Text: tidySentence(sentence), Sentence: j},
					matched: matched,
					words:   words,
				})
			}
		}
	}
	for i := range cands {
		c := &cands[i]
		for _, q := range c.matched {
			c.ev.Score += qTerms[q].weight * math.Log(1+float64(total)/float64(df[q]))
		}
		// Headings and fragments rarely answer anything; run-on table
		// rows rarely answer precisely.
		if c.words < 4 {
			c.ev.Score *= 0.5
		} else if c.words > 80 {
			c.ev.Score *= 80 / float64(c.words)
		}
		c.ev.Score = math.Round(c.ev.Score*1e6) / 1e6
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Compare(b.ev.Score, a.ev.Score) // sources and sentences are already in order
	})
	var out []Evidence
	seen := map[string]bool{}
	for _, c := range cands {
		if len(out) == n {
			break
		}
		if key := strings.ToLower(c.ev.Text); !seen[key] {
			seen[key] = true
			out = append(out, c.ev)
		}
	}
	return out
}

// term is a unit of matching between a question and a sentence.
type term struct {
	text   string
	weight float64
}

// cjkPairWeight is the weight of a shared pair of Chinese characters
// relative to a shared word. Pairs catch what segmentation splits
// differently: "等保" in a question and "等保三级" in a document.
const cjkPairWeight = 0.4

// particles are Chinese characters that glue words together rather than
// belong to them; a character pair across one is not a term.
const particles = "的了是在和与及或也都就而吗呢吧啊着过之其这那我你他她它"

// matchTerms returns the distinct content words of text (stopwords
// aside) and the distinct pairs of adjacent Chinese characters without a
// particle, in order of first appearance, and the number of
// words in text.
func matchTerms(text string) ([]term, int) {
	var out []term
	seen := map[string]bool{}
	words := lang.Words(text)
	for _, w := range words {
		if !seen[w] && !isStopword(w) && hasLetterOrDigit(w) {
			seen[w] = true
			out = append(out, term{w, 1})
		}
	}
	prevStart, prevCJK := 0, false
	for i, r := range text {
		cjk := lang.IsCJK(r) && !strings.ContainsRune(particles, r)
		if cjk && prevCJK {
			pair := "\x00" + text[prevStart:i+utf8.RuneLen(r)]
			if !seen[pair] {
				seen[pair] = true
				out = append(out, term{pair, cjkPairWeight})
			}
		}
		prevStart, prevCJK = i, cjk
	}
	return out, len(words)
}

// leadSentences returns the first usable sentence of each source, up to
// n: what to quote when no sentence matches the question.
func leadSentences(sources []Source, n int) []Evidence {
	var out []Evidence
	for _, s := range sources {
		if len(out) == n {
			break
		}
		for j, sentence := range lang.Sentences(s.Text) {
			if !looksLikeInstruction(sentence) && len(lang.Words(sentence)) > 0 {
				out = append(out, Evidence{SourceID: s.ID, Title: s.Title, Kind: s.Kind, Text: tidySentence(sentence), Sentence: j})
				break
			}
		}
	}
	return out
}

// injection matches sentences that address a model rather than inform a
// reader. Quoting them in an answer would pass the attack on to whoever
// reads it, so the offline generator never does.
var injection = regexp.MustCompile(`(?i)` +
	`\b(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(instructions?|prompts?|rules|directions|above|previous|prior)\b` +
	`|\b(you are now|system prompt|new instructions|developer mode)\b` +
	`|(忽略|无视|忘记|忘掉|不要理会|不要遵守)[^。！？\n]{0,12}(指令|指示|提示|规则|要求|设定|命令)` +
	`|系统提示词|你现在是|你的新任务`)

// injectionKeywords are literals one of which every match of injection
// contains, lower-cased. Most sentences contain none, and looking for them
// is far cheaper than running the expression on every retrieved sentence.
var injectionKeywords = []string{
	"ignore", "disregard", "forget", "override", "you are now", "system prompt", "new instructions", "developer mode",
	"忽略", "无视", "忘记", "忘掉", "不要理会", "不要遵守", "系统提示词", "你现在是", "你的新任务",
}

// keywordFolder lower-cases like (?i) folds the keywords' letters: ToLower
// already maps the Kelvin sign to k; the long s (ſ) folds to s only there.
var keywordFolder = strings.NewReplacer("ſ", "s")

func looksLikeInstruction(sentence string) bool {
	lower := strings.ToLower(sentence)
	if strings.Contains(lower, "ſ") {
		lower = keywordFolder.Replace(lower)
	}
	for _, k := range injectionKeywords {
		if strings.Contains(lower, k) {
			return injection.MatchString(sentence)
		}
	}
	return false
}

// tidySentence collapses whitespace (dropping it between Chinese
// characters, where a line break is not a word break), removes list
// markers, and shortens very long sentences.
func tidySentence(s string) string {
	s = strings.TrimLeft(strings.TrimSpace(s), "-*•·#> \t")
	var b strings.Builder
	b.Grow(len(s))
	var prev rune
	pendingSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace && !(lang.IsCJK(prev) && lang.IsCJK(r)) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
		prev = r
	}
	out := b.String()
	if utf8.RuneCountInString(out) > maxEvidenceRunes {
		runes := []rune(out)
		out = strings.TrimSpace(string(runes[:maxEvidenceRunes])) + "…"
	}
	return out
}

func hasLetterOrDigit(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// LooksLikeInstruction reports whether sentence reads like an instruction
// to a model (prompt injection): the test RankSentences applies before it
// quotes a sentence, for callers that split documents themselves.
func LooksLikeInstruction(sentence string) bool { return looksLikeInstruction(sentence) }

// IsMostlyChinese reports whether text reads as Chinese, the test the
// offline generator uses to pick its answer language: two Han characters
// count as one word against the Latin words.
func IsMostlyChinese(text string) bool { return isMostlyChinese(text) }
