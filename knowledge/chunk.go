package knowledge

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
)

// Default chunk sizes, in tokens (cl100k_base, see lang.CountTokens).
const (
	DefaultTargetTokens  = 400
	DefaultOverlapTokens = 60
	DefaultMaxTokens     = 800
)

// Chunker splits a parsed document into chunks for embedding and search.
// It is structure-aware: it packs whole blocks up to TargetTokens, starts a
// new chunk at a heading once the current one is half full, never splits a
// table row, and splits a long paragraph only between sentences. The zero
// value uses the defaults.
type Chunker struct {
	// TargetTokens is the size chunks are packed to. Default 400, at
	// least 8.
	TargetTokens int
	// OverlapTokens bounds the trailing whole sentences of a chunk that are
	// repeated at the start of the next one when both are in the same
	// section, so a fact cut at a boundary is still found with its
	// context. Default 60; negative for none. At most TargetTokens/2.
	OverlapTokens int
	// MaxTokens is a hard cap no chunk exceeds. Only a single sentence
	// (or table row) longer than this is cut, between tokens. Default
	// 800, and at least TargetTokens.
	MaxTokens int
}

// Chunk is a piece of a document small enough to embed and to quote in a
// prompt, carrying where it sits in the document.
type Chunk struct {
	// Ordinal is the chunk's 0-based position in the document.
	Ordinal int    `json:"ordinal"`
	Text    string `json:"text"`
	// HeadingPath is the section the chunk starts in, outermost heading
	// first.
	HeadingPath []string `json:"heading_path,omitempty"`
	// Page and LastPage are the pages the chunk starts and ends on, for
	// paged formats; zero otherwise.
	Page     int `json:"page,omitempty"`
	LastPage int `json:"last_page,omitempty"`
	// TokenCount is lang.CountTokens(Text).
	TokenCount int `json:"token_count"`
	// Overlap is the length in bytes of the prefix of Text repeated from
	// the end of the previous chunk; Text[Overlap:] is new. Snippets can
	// skip it.
	Overlap int `json:"overlap,omitempty"`
}

// Contextual returns the text to embed and index for the chunk: the
// document title and heading path on a first line, then the text. A chunk
// read alone ("价格分: 30") then still says which document and section it
// is from. Path entries the title or the text already start with are not
// repeated.
func (c Chunk) Contextual(title string) string {
	title = strings.TrimSpace(title)
	path := c.HeadingPath
	if len(path) > 0 && path[0] == title {
		path = path[1:]
	}
	body := c.Text[c.Overlap:]
	if n := len(path); n > 0 && strings.HasPrefix(body, path[n-1]) {
		path = path[:n-1]
	}
	parts := make([]string, 0, len(path)+1)
	if title != "" {
		parts = append(parts, title)
	}
	parts = append(parts, path...)
	if len(parts) == 0 {
		return c.Text
	}
	return strings.Join(parts, " > ") + "\n\n" + c.Text
}

// minTargetTokens keeps token windows whole characters: one character can
// take up to four tokens.
const minTargetTokens = 8

func (c Chunker) sizes() (target, overlap, maxTokens int) {
	target = max(orDefault(c.TargetTokens, DefaultTargetTokens), minTargetTokens)
	maxTokens = max(orDefault(c.MaxTokens, DefaultMaxTokens), target)
	switch {
	case c.OverlapTokens < 0:
		overlap = 0
	case c.OverlapTokens == 0:
		overlap = DefaultOverlapTokens
	default:
		overlap = c.OverlapTokens
	}
	return target, min(overlap, target/2), maxTokens
}

// unit is an indivisible piece of text the packer places: a heading, a
// block that fits the target, a table row, a sentence of a longer block, or
// a token window of a sentence longer than the cap.
type unit struct {
	text   string
	tokens int
	typ    BlockType
	path   []string
	page   int
	block  int    // index of the block it came from
	sep    string // what joins it to the previous unit of the same block
}

// Chunk splits p into chunks. It is deterministic: the same blocks and
// sizes always give the same chunks.
func (c Chunker) Chunk(p *Parsed) []Chunk {
	if p == nil {
		return nil
	}
	target, overlap, maxTokens := c.sizes()
	pk := packer{target: target, overlap: overlap, max: maxTokens}
	for i, b := range p.Blocks {
		for _, u := range splitBlock(b, i, target, maxTokens) {
			pk.add(u)
		}
	}
	pk.flush(nil)
	return pk.chunks
}

// BPE tokenisation costs the square of the length of a run of letters with
// no space or punctuation between them (a pasted table, a hash, OCR output
// without punctuation). Text longer than maxMeasureBytes is therefore not
// measured whole: long blocks go straight to sentences, and a longer
// sentence is cut into segments of at most maxSegmentBytes before its
// tokens are counted.
const (
	maxMeasureBytes = 4 << 10
	maxSegmentBytes = 1 << 10
)

// splitBlock turns a block into units: whole if it fits (a table row if it
// fits the cap), else its sentences, each sentence over the cap cut into
// token windows of the target size.
func splitBlock(b Block, index, target, maxTokens int) []unit {
	text := strings.TrimSpace(b.Text)
	if text == "" {
		return nil
	}
	base := unit{typ: b.Type, path: b.HeadingPath, page: b.Page, block: index}
	if len(text) <= maxMeasureBytes {
		n := lang.CountTokens(text)
		if n <= target || b.Type == BlockTableRow && n <= maxTokens {
			base.text, base.tokens = text, n
			return []unit{base}
		}
	}
	var units []unit
	for _, s := range sentenceSpans(text) {
		if len(s.text) <= maxMeasureBytes {
			if st := lang.CountTokens(s.text); st <= maxTokens {
				u := base
				u.text, u.tokens, u.sep = s.text, st, s.sep
				units = append(units, u)
				continue
			}
		}
		sep := s.sep
		for _, seg := range segments(s.text, maxSegmentBytes) {
			for _, w := range tokenWindows(seg, target) {
				u := base
				u.text, u.tokens, u.sep = w, lang.CountTokens(w), sep
				units = append(units, u)
				sep = ""
			}
		}
	}
	return units
}

// segments cuts s into pieces of at most size bytes, after a space or
// punctuation mark near the limit when there is one, else between
// characters.
func segments(s string, size int) []string {
	var out []string
	for len(s) > size {
		cut := size
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if i := strings.LastIndexFunc(s[size*3/4:cut], func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }); i >= 0 {
			_, n := utf8.DecodeRuneInString(s[size*3/4+i:])
			cut = size*3/4 + i + n
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

type span struct {
	text string
	sep  string // the whitespace before it in the block, normalised
}

// sentenceSpans splits text with lang.Sentences and recovers what separated
// consecutive sentences: nothing (Chinese), a space, or a line break.
func sentenceSpans(text string) []span {
	sentences := lang.Sentences(text)
	spans := make([]span, 0, len(sentences))
	pos := 0
	for _, s := range sentences {
		sep := " "
		if i := strings.Index(text[pos:], s); i >= 0 {
			between := text[pos : pos+i]
			switch {
			case strings.Contains(between, "\n"):
				sep = "\n"
			case between == "":
				sep = ""
			}
			pos += i + len(s)
		}
		spans = append(spans, span{text: s, sep: sep})
	}
	return spans
}

// tokenWindows cuts text into pieces of at most size tokens, on token
// boundaries moved back to whole characters, losing nothing. (Re-encoding a
// piece can merge tokens differently; a piece that comes out over size is
// cut again.)
func tokenWindows(text string, size int) []string {
	size = max(size, 1)
	ids := lang.Tokens(text)
	var out []string
	carry := ""
	for i := 0; i < len(ids); i += size {
		w := carry + lang.DecodeTokens(ids[i:min(i+size, len(ids))])
		carry = ""
		// Hold back a character split between this window and the next.
		for k := 0; k < utf8.UTFMax && len(w) > 0; k++ {
			r, n := utf8.DecodeLastRuneInString(w)
			if r != utf8.RuneError || n != 1 {
				break
			}
			carry = w[len(w)-1:] + carry
			w = w[:len(w)-1]
		}
		if w != "" {
			out = append(out, w)
		}
	}
	if carry != "" {
		if len(out) == 0 {
			return []string{carry}
		}
		out[len(out)-1] += carry
	}
	if size == 1 {
		return out
	}
	checked := out[:0:0]
	for _, w := range out {
		if lang.CountTokens(w) > size {
			checked = append(checked, tokenWindows(w, size*3/4)...)
		} else {
			checked = append(checked, w)
		}
	}
	return checked
}

// packer accumulates units into chunks.
type packer struct {
	target, overlap, max int
	chunks               []Chunk
	cur                  []unit
	curTokens            int    // estimate: unit tokens plus one per join
	lead                 string // overlap text opening the current chunk
	leadTokens           int
}

func (p *packer) hasContent() bool { return len(p.cur) > 0 }

func (p *packer) add(u unit) {
	switch {
	case !p.hasContent():
	case u.typ == BlockHeading && p.curTokens > p.target/2:
		p.flush(&u)
	case p.curTokens+1+u.tokens > p.target:
		p.flush(&u)
	}
	if !p.hasContent() && p.lead != "" && p.leadTokens+1+u.tokens > p.max {
		p.lead, p.leadTokens, p.curTokens = "", 0, 0
	}
	if p.hasContent() || p.lead != "" {
		p.curTokens++
	}
	p.cur = append(p.cur, u)
	p.curTokens += u.tokens
}

// flush emits the current chunk and prepares the next, which starts with
// next. Headings at the end of the chunk move to the next one (a heading
// belongs with its content), and the next chunk opens with the overlap
// when it continues the same section.
func (p *packer) flush(next *unit) {
	units, carried := p.cur, []unit(nil)
	if next != nil {
		cut := len(units)
		for cut > 0 && units[cut-1].typ == BlockHeading {
			cut--
		}
		units, carried = units[:cut], slices.Clone(units[cut:])
	}
	if len(units) > 0 {
		p.emit(units)
	}
	p.cur, p.curTokens, p.lead, p.leadTokens = nil, 0, "", 0
	if next != nil && len(carried) == 0 && next.typ != BlockHeading && next.typ != BlockTableRow {
		p.lead, p.leadTokens = p.overlapText(units, next)
		p.curTokens = p.leadTokens
	}
	for _, u := range carried {
		if p.hasContent() {
			p.curTokens++
		}
		p.cur = append(p.cur, u)
		p.curTokens += u.tokens
	}
}

// overlapText returns the trailing whole sentences of units, at most
// p.overlap tokens, taken only from the text units that share next's
// section.
func (p *packer) overlapText(units []unit, next *unit) (string, int) {
	if p.overlap == 0 {
		return "", 0
	}
	start := len(units)
	for start > 0 {
		u := units[start-1]
		if u.typ == BlockHeading || u.typ == BlockTableRow || !slices.Equal(u.path, next.path) {
			break
		}
		start--
	}
	if start == len(units) {
		return "", 0
	}
	tail := joinUnits(units[start:])
	sentences := lang.Sentences(tail)
	// Candidate starts, nearest the end first, while the sentences alone
	// fit; the joined text can count a little more than its sentences, so
	// it is measured too.
	var starts []int
	from, total := len(tail), 0
	for i := len(sentences) - 1; i >= 0; i-- {
		s := sentences[i]
		total += lang.CountTokens(s)
		at := strings.LastIndex(tail[:from], s)
		if total > p.overlap || at < 0 {
			break
		}
		from = at
		starts = append(starts, at)
	}
	for i := len(starts) - 1; i >= 0; i-- {
		text := tail[starts[i]:]
		if n := lang.CountTokens(text); n <= p.overlap {
			return text, n
		}
	}
	return "", 0
}

// joinUnits joins units: units of one block with their own separators,
// different blocks on separate lines.
func joinUnits(units []unit) string {
	var b strings.Builder
	for i, u := range units {
		if i > 0 {
			if u.block == units[i-1].block {
				b.WriteString(u.sep)
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(u.text)
	}
	return b.String()
}

// emit appends the chunk made of units and the current lead, checking the
// exact token count: joins can tokenise differently from their parts, so a
// chunk near the cap is re-measured and, if over, loses its lead or is cut.
func (p *packer) emit(units []unit) {
	body := joinUnits(units)
	first, last := units[0], units[len(units)-1]
	c := Chunk{HeadingPath: slices.Clone(first.path), Page: first.page, LastPage: last.page}
	text, lead := body, ""
	if p.lead != "" {
		lead = p.lead + "\n"
		text = lead + body
	}
	n := lang.CountTokens(text)
	if n > p.max && lead != "" {
		text, lead, n = body, "", lang.CountTokens(body)
	}
	if n <= p.max {
		c.Text, c.TokenCount, c.Overlap = text, n, len(lead)
		p.append(c)
		return
	}
	for _, w := range tokenWindows(body, p.target) {
		part := c
		part.Text, part.TokenCount = w, lang.CountTokens(w)
		p.append(part)
	}
}

func (p *packer) append(c Chunk) {
	c.Ordinal = len(p.chunks)
	p.chunks = append(p.chunks, c)
}
