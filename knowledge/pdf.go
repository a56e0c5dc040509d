package knowledge

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// parsePDF reads the text layer of a PDF with github.com/ledongthuc/pdf,
// which decodes CID fonts through their ToUnicode maps (what Chinese PDFs
// from Word, WPS and browsers use). Layout is rebuilt from glyph positions:
// runs on one baseline form a line, and lines form paragraphs where the
// vertical spacing, indentation or a short sentence-ending line says so.
// Lines set clearly larger than the body text, and short numbered lines
// ("一、", "（二）", "3.1"), become headings. Running headers, footers and page
// numbers repeated across pages are dropped.
func parsePDF(ctx context.Context, data []byte) (*Parsed, error) {
	data = normalizePDFHeader(data)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || strings.Contains(err.Error(), "encrypt") {
			return nil, fmt.Errorf("%w: encrypted PDF: %v", ErrUnsupportedType, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	n := r.NumPage()
	if n == 0 {
		return nil, fmt.Errorf("%w: PDF has no pages", ErrCorrupt)
	}
	p := &Parsed{Pages: n, Title: cleanText(pdfInfoTitle(r))}
	pages := make([][]pdfLine, n)
	var failed, garbled int
	var lastErr error
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lines, err := pageLines(ctx, r.Page(i+1))
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			return nil, err
		case err != nil:
			failed++
			lastErr = err
			continue
		case isGarbled(lines):
			garbled++
			continue
		}
		pages[i] = lines
	}
	if failed == n {
		return nil, fmt.Errorf("%w: no page could be read: %v", ErrCorrupt, lastErr)
	}
	if failed > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d of %d pages could not be read", failed, n))
	}
	if !hasPDFText(pages) {
		if garbled > 0 {
			return nil, fmt.Errorf("%w: the text has no Unicode mapping", ErrNoTextLayer)
		}
		return nil, fmt.Errorf("%w: %d pages without text", ErrNoTextLayer, n)
	}
	if garbled > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d pages have text without a Unicode mapping and were skipped", garbled))
	}
	dropRunningLines(pages)
	b := newBuilder(0, 0)
	layoutPages(b, pages)
	p.Blocks = b.blocks
	return p, nil
}

// normalizePDFHeader lets the reader, which accepts PDF 1.x headers only,
// open PDF 2.0 files: the syntax it needs is unchanged.
func normalizePDFHeader(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("%PDF-2.")) {
		data = bytes.Clone(data)
		copy(data, "%PDF-1.7")
	}
	return data
}

func pdfInfoTitle(r *pdf.Reader) (title string) {
	defer func() {
		if recover() != nil {
			title = ""
		}
	}()
	return r.Trailer().Key("Info").Key("Title").Text()
}

// pdfRun is text shown by one text-showing operator: its start point, end
// x, and font size in user space.
type pdfRun struct {
	x, y, x1, size float64
	text           string
}

// pdfLine is runs on one baseline.
type pdfLine struct {
	x0, x1, y, size float64
	text            string
}

// pdfFont is what the layout needs from a font: text decoding and glyph
// widths for positioning.
type pdfFont struct {
	enc     pdf.TextEncoding
	twoByte bool
	widths  map[int]float64 // glyph widths in 1/1000 em
	dw      float64         // default width
}

func loadFont(v pdf.Value) *pdfFont {
	font := pdf.Font{V: v}
	f := &pdfFont{enc: font.Encoder(), widths: map[int]float64{}, dw: 500}
	if v.Key("Subtype").Name() == "Type0" {
		f.twoByte = true
		desc := v.Key("DescendantFonts").Index(0)
		f.dw = 1000
		if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dw = dw.Float64()
		}
		w := desc.Key("W")
		// W is [c [w1 w2 ...]] or [cfirst clast w] groups.
		for i := 0; i+1 < w.Len() && len(f.widths) < 1<<16; {
			c := int(w.Index(i).Int64())
			if next := w.Index(i + 1); next.Kind() == pdf.Array {
				for j := 0; j < next.Len() && j < 1<<16; j++ {
					f.widths[c+j] = next.Index(j).Float64()
				}
				i += 2
				continue
			}
			if i+2 >= w.Len() {
				break
			}
			last, width := int(w.Index(i+1).Int64()), w.Index(i+2).Float64()
			for c2 := c; c2 <= last && c2-c < 1<<16; c2++ {
				f.widths[c2] = width
			}
			i += 3
		}
		return f
	}
	first := int(v.Key("FirstChar").Int64())
	ws := v.Key("Widths")
	for i := 0; i < ws.Len() && i < 256; i++ {
		f.widths[first+i] = ws.Index(i).Float64()
	}
	if mw := v.Key("FontDescriptor").Key("MissingWidth"); mw.Kind() == pdf.Integer || mw.Kind() == pdf.Real {
		f.dw = mw.Float64()
	}
	return f
}

// advance returns the width of the codes in raw, in 1/1000 em, and the
// number of single-byte spaces (which word spacing applies to).
func (f *pdfFont) advance(raw string) (width float64, spaces int) {
	step := 1
	if f.twoByte {
		step = 2
	}
	for i := 0; i+step <= len(raw); i += step {
		code := int(raw[i])
		if step == 2 {
			code = code<<8 | int(raw[i+1])
		} else if code == ' ' {
			spaces++
		}
		w, ok := f.widths[code]
		if !ok || w == 0 {
			w = f.dw
		}
		width += w
	}
	return width, spaces
}

type matrix [6]float64 // a b c d e f, as in PDF

var identity = matrix{1, 0, 0, 1, 0, 0}

func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// matrixOf reads the six numbers of a PDF matrix operand.
func matrixOf(vals []pdf.Value) matrix {
	var m matrix
	for i := range m {
		m[i] = vals[i].Float64()
	}
	return m
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

type pdfState struct {
	ctm                   matrix
	tc, tw, th, tl, trise float64
	font                  *pdfFont
	fontSize              float64
	tm, tlm               matrix
}

// textExtractor interprets content streams, following form XObjects.
type textExtractor struct {
	ctx  context.Context
	runs []pdfRun
	ops  int
}

// pageLines extracts a page's lines. Panics inside the PDF library (it
// panics on malformed content) become errors.
func pageLines(ctx context.Context, page pdf.Page) (lines []pdfLine, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && (errors.Is(e, context.Canceled) || errors.Is(e, context.DeadlineExceeded)) {
				err = e
				return
			}
			lines, err = nil, fmt.Errorf("%v", r)
		}
	}()
	if page.V.IsNull() {
		return nil, nil
	}
	x := &textExtractor{ctx: ctx}
	x.run(page.V.Key("Contents"), page.Resources(), pdfState{ctm: identity, th: 1, tm: identity, tlm: identity}, 0)
	return groupLines(x.runs), nil
}

func (x *textExtractor) run(content, resources pdf.Value, g pdfState, depth int) {
	if content.Kind() == pdf.Null {
		return
	}
	fonts := map[string]*pdfFont{}
	var stack []pdfState
	num := func(v pdf.Value) float64 { return v.Float64() }
	pdf.Interpret(content, func(stk *pdf.Stack, op string) {
		if x.ops++; x.ops%10000 == 0 {
			if err := x.ctx.Err(); err != nil {
				panic(err)
			}
		}
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		argn := func(n int) bool { return len(args) == n }
		switch op {
		case "q":
			stack = append(stack, g)
		case "Q":
			if len(stack) > 0 {
				g, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if argn(6) {
				g.ctm = matrixOf(args).mul(g.ctm)
			}
		case "BT":
			g.tm, g.tlm = identity, identity
		case "Tf":
			if argn(2) {
				name := args[0].Name()
				f, ok := fonts[name]
				if !ok {
					f = loadFont(resources.Key("Font").Key(name))
					fonts[name] = f
				}
				g.font, g.fontSize = f, num(args[1])
			}
		case "Tc", "Tw", "Tz", "TL", "Ts":
			if argn(1) {
				switch v := num(args[0]); op {
				case "Tc":
					g.tc = v
				case "Tw":
					g.tw = v
				case "Tz":
					g.th = v / 100
				case "TL":
					g.tl = v
				case "Ts":
					g.trise = v
				}
			}
		case "Td", "TD":
			if argn(2) {
				if op == "TD" {
					g.tl = -num(args[1])
				}
				g.tlm = translate(num(args[0]), num(args[1])).mul(g.tlm)
				g.tm = g.tlm
			}
		case "Tm":
			if argn(6) {
				g.tm = matrixOf(args)
				g.tlm = g.tm
			}
		case "T*":
			g.tlm = translate(0, -g.tl).mul(g.tlm)
			g.tm = g.tlm
		case "Tj":
			if argn(1) {
				x.show(&g, args[0].RawString())
			}
		case "'", "\"":
			if op == "\"" && argn(3) {
				g.tw, g.tc = num(args[0]), num(args[1])
				args = args[2:]
			}
			if argn(1) {
				g.tlm = translate(0, -g.tl).mul(g.tlm)
				g.tm = g.tlm
				x.show(&g, args[0].RawString())
			}
		case "TJ":
			if argn(1) {
				a := args[0]
				for i := 0; i < a.Len(); i++ {
					if v := a.Index(i); v.Kind() == pdf.String {
						x.show(&g, v.RawString())
					} else {
						g.tm = translate(-num(v)/1000*g.fontSize*g.th, 0).mul(g.tm)
					}
				}
			}
		case "Do":
			if argn(1) && depth < 8 {
				xo := resources.Key("XObject").Key(args[0].Name())
				if xo.Key("Subtype").Name() == "Form" {
					inner := g
					if m := xo.Key("Matrix"); m.Len() == 6 {
						vals := make([]pdf.Value, 6)
						for i := range vals {
							vals[i] = m.Index(i)
						}
						inner.ctm = matrixOf(vals).mul(g.ctm)
					}
					res := xo.Key("Resources")
					if res.Kind() == pdf.Null {
						res = resources
					}
					x.run(xo, res, inner, depth+1)
				}
			}
		}
	})
}

// show records a text run and advances the text matrix past it.
func (x *textExtractor) show(g *pdfState, raw string) {
	if g.font == nil || raw == "" {
		return
	}
	trm := matrix{g.fontSize * g.th, 0, 0, g.fontSize, 0, g.trise}.mul(g.tm).mul(g.ctm)
	width, spaces := g.font.advance(raw)
	codes := len(raw)
	if g.font.twoByte {
		codes /= 2
	}
	tx := (width/1000*g.fontSize + g.tc*float64(codes) + g.tw*float64(spaces)) * g.th
	g.tm = translate(tx, 0).mul(g.tm)
	end := matrix{g.fontSize * g.th, 0, 0, g.fontSize, 0, g.trise}.mul(g.tm).mul(g.ctm)
	text := g.font.enc.Decode(raw)
	if text == "" {
		return
	}
	x.runs = append(x.runs, pdfRun{
		x: trm[4], y: trm[5], x1: end[4],
		size: math.Hypot(trm[2], trm[3]),
		text: text,
	})
}

// groupLines joins runs that share a baseline into lines, in content
// order, inserting a space where the gap between runs is wider than a
// word space.
func groupLines(runs []pdfRun) []pdfLine {
	var lines []pdfLine
	var cur *pdfLine
	var sb strings.Builder
	var prev pdfRun
	flush := func() {
		if cur != nil {
			cur.text = strings.TrimSpace(sb.String())
			if cur.text != "" {
				lines = append(lines, *cur)
			}
		}
		cur = nil
		sb.Reset()
	}
	for _, r := range runs {
		size := math.Max(r.size, 1)
		if cur != nil && r.text == prev.text && math.Abs(r.x-prev.x) < size*0.3 && math.Abs(r.y-prev.y) < size*0.3 {
			continue // overprinted text, a way to fake bold
		}
		if cur == nil || math.Abs(r.y-cur.y) > 0.5*math.Max(size, cur.size) || r.x < cur.x1-2*size {
			flush()
			cur = &pdfLine{x0: r.x, x1: r.x1, y: r.y, size: r.size}
		} else {
			gap := r.x - cur.x1
			last, _ := utf8.DecodeLastRuneInString(sb.String())
			first, _ := utf8.DecodeRuneInString(r.text)
			threshold := 0.2 * size
			if isWide(last) && isWide(first) {
				threshold = 0.3 * size // CJK glyphs are set tight; a gap this wide separates
			}
			if gap > threshold && !unicode.IsSpace(last) && !unicode.IsSpace(first) {
				sb.WriteByte(' ')
			}
			cur.x1 = math.Max(cur.x1, r.x1)
			cur.size = math.Max(cur.size, r.size)
		}
		sb.WriteString(r.text)
		prev = r
	}
	flush()
	for i := range lines {
		lines[i].text = cleanText(lines[i].text)
	}
	return slices.DeleteFunc(lines, func(l pdfLine) bool { return l.text == "" })
}

// isGarbled reports whether a page's text is mostly characters no real text
// uses: what fonts without a Unicode mapping decode to.
func isGarbled(lines []pdfLine) bool {
	var bad, total int
	for _, l := range lines {
		for _, r := range l.text {
			if unicode.IsSpace(r) {
				continue
			}
			total++
			if r == utf8.RuneError || unicode.Is(unicode.Co, r) || unicode.IsControl(r) {
				bad++
			}
		}
	}
	return total > 0 && bad*10 > total*3
}

func hasPDFText(pages [][]pdfLine) bool {
	for _, lines := range pages {
		if len(lines) > 0 {
			return true
		}
	}
	return false
}

var pageNumberRE = regexp.MustCompile(`(?i)^[-–—\s]*(?:page\s*)?(?:第\s*)?\d{1,4}\s*(?:页)?\s*(?:(?:/|of|共)\s*\d{1,4}\s*页?)?[-–—\s]*$`)

// dropRunningLines removes page numbers and the running headers and
// footers repeated at the top or bottom of most pages.
func dropRunningLines(pages [][]pdfLine) {
	key := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return '#'
			}
			return r
		}, s)
	}
	counts := map[string]int{}
	withText := 0
	for _, lines := range pages {
		if len(lines) < 2 {
			continue
		}
		withText++
		counts["top:"+key(lines[0].text)]++
		counts["bottom:"+key(lines[len(lines)-1].text)]++
	}
	running := func(pos, text string) bool {
		return pageNumberRE.MatchString(text) || withText >= 3 && counts[pos+key(text)]*10 >= withText*6
	}
	for i, lines := range pages {
		for len(lines) > 1 && running("top:", lines[0].text) {
			lines = lines[1:]
		}
		for len(lines) > 1 && running("bottom:", lines[len(lines)-1].text) {
			lines = lines[:len(lines)-1]
		}
		pages[i] = lines
	}
}

// layoutPages turns lines into heading and paragraph blocks.
func layoutPages(b *builder, pages [][]pdfLine) {
	body := bodySize(pages)
	spacing := lineSpacing(pages, body)
	var sizes []float64 // distinct heading sizes, largest first
	for _, lines := range pages {
		for _, l := range lines {
			if s := roundSize(l.size); isHeadingSize(s, body) && utf8.RuneCountInString(l.text) <= 80 && !slices.Contains(sizes, s) {
				sizes = append(sizes, s)
			}
		}
	}
	slices.SortFunc(sizes, func(a, b float64) int { return cmp.Compare(b, a) })
	numbered := outline{base: len(sizes)}
	for pageIndex, lines := range pages {
		b.page = pageIndex + 1
		left, right := margins(lines)
		var para []string
		flush := func() {
			if len(para) > 0 {
				b.add(BlockParagraph, joinPDFLines(para))
				para = para[:0]
			}
		}
		lines = mergeHeadingLines(lines, body)
		for i, l := range lines {
			size := roundSize(l.size)
			if isHeadingSize(size, body) && utf8.RuneCountInString(l.text) <= 80 {
				flush()
				b.heading(slices.Index(sizes, size)+1, l.text)
				continue
			}
			if style, ok := numberedHeading(l.text); ok && standsAlone(lines, i, spacing, right) {
				flush()
				b.heading(numbered.level(style), l.text)
				continue
			}
			if i > 0 && len(para) > 0 && breaksParagraph(lines[i-1], l, spacing, left, right) {
				flush()
			}
			para = append(para, l.text)
		}
		flush()
	}
}

// mergeHeadingLines joins a heading set on two lines into one line.
func mergeHeadingLines(lines []pdfLine, body float64) []pdfLine {
	var out []pdfLine
	for _, l := range lines {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			size := roundSize(l.size)
			if isHeadingSize(size, body) && roundSize(prev.size) == size && prev.y-l.y > 0 && prev.y-l.y < 1.6*l.size {
				prev.text = joinLines([]string{prev.text, l.text})
				prev.y, prev.x1 = l.y, math.Max(prev.x1, l.x1)
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

func roundSize(s float64) float64 { return math.Round(s*2) / 2 }

func isHeadingSize(size, body float64) bool { return body > 0 && size >= body*1.15 }

// bodySize is the font size most of the text is set in.
func bodySize(pages [][]pdfLine) float64 {
	weight := map[float64]int{}
	for _, lines := range pages {
		for _, l := range lines {
			weight[roundSize(l.size)] += utf8.RuneCountInString(l.text)
		}
	}
	best, bestW := 0.0, -1
	for s, w := range weight {
		if w > bestW || w == bestW && s < best {
			best, bestW = s, w
		}
	}
	return best
}

// lineSpacing is the usual distance between consecutive body lines of one
// paragraph: the most common baseline gap, which paragraph gaps exceed.
func lineSpacing(pages [][]pdfLine, body float64) float64 {
	counts := map[float64]int{}
	for _, lines := range pages {
		for i := 1; i < len(lines); i++ {
			a, b := lines[i-1], lines[i]
			gap := roundSize(a.y - b.y)
			if roundSize(a.size) == body && roundSize(b.size) == body && gap > 0 && gap < 3*body {
				counts[gap]++
			}
		}
	}
	best, bestN := 1.2*body, 0
	for g, n := range counts {
		if n > bestN || n == bestN && g < best {
			best, bestN = g, n
		}
	}
	return best
}

func margins(lines []pdfLine) (left, right float64) {
	left, right = math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		left, right = math.Min(left, l.x0), math.Max(right, l.x1)
	}
	return left, right
}

// breaksParagraph reports whether line b starts a new paragraph after a.
func breaksParagraph(a, b pdfLine, spacing, left, right float64) bool {
	gap := a.y - b.y
	switch {
	case gap <= 0 || gap > spacing*1.3+0.5: // moved up (a new column) or a paragraph gap
		return true
	case math.Abs(roundSize(a.size)-roundSize(b.size)) >= 1:
		return true
	}
	last, _ := utf8.DecodeLastRuneInString(a.text)
	ended := strings.ContainsRune("。！？.!?：:；;", last)
	short := a.x1 < right-2*a.size
	indented := b.x0 > left+1.5*b.size
	return ended && (short || indented)
}

// standsAlone reports whether line i is a paragraph of its own: a heading
// candidate, not the first line of a numbered paragraph that wraps.
func standsAlone(lines []pdfLine, i int, spacing, right float64) bool {
	l := lines[i]
	if l.x1 >= right-2*l.size && i+1 < len(lines) && !breaksParagraph(l, lines[i+1], spacing, math.Inf(-1), right) {
		return false
	}
	return true
}

// joinPDFLines joins the wrapped lines of a paragraph; a line ending in a
// hyphen after a letter continues the word.
func joinPDFLines(lines []string) string {
	var sb strings.Builder
	for _, l := range lines {
		if sb.Len() > 0 {
			s := sb.String()
			last, _ := utf8.DecodeLastRuneInString(s)
			beforeLast, _ := utf8.DecodeLastRuneInString(strings.TrimSuffix(s, "-"))
			if last == '-' && unicode.IsLetter(beforeLast) {
				sb.WriteString(l)
				continue
			}
			writeJoin(&sb, l)
		}
		sb.WriteString(l)
	}
	return sb.String()
}
