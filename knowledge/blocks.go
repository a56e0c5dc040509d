package knowledge

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// builder accumulates the blocks of one document, keeping track of the
// heading path and page so that each loader only reports structure.
type builder struct {
	blocks   []Block
	stack    []int    // levels of the open headings
	path     []string // their texts; replaced, never mutated, when it changes
	page     int
	rows     int
	maxRows  int
	maxCols  int
	warnings []string
}

func newBuilder(maxRows, maxCols int) *builder {
	return &builder{maxRows: orDefault(maxRows, DefaultMaxRows), maxCols: orDefault(maxCols, DefaultMaxColumns)}
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(b.warnings, msg) {
		b.warnings = append(b.warnings, msg)
	}
}

// heading opens a section at level (1 = top; 0 is allowed for a document
// title above the top level), closing any open section at the same or a
// deeper level.
func (b *builder) heading(level int, text string) {
	text = inlineText(text)
	if text == "" {
		return
	}
	level = max(level, 0)
	n := len(b.stack)
	for n > 0 && b.stack[n-1] >= level {
		n--
	}
	b.stack = append(b.stack[:n], level)
	b.path = append(slices.Clone(b.path[:n]), text)
	b.blocks = append(b.blocks, Block{Type: BlockHeading, Text: text, Level: level, HeadingPath: b.path, Page: b.page})
}

// add appends a paragraph or list item; text is cleaned but keeps its line
// breaks.
func (b *builder) add(typ BlockType, text string) {
	if text = cleanText(text); text == "" {
		return
	}
	b.blocks = append(b.blocks, Block{Type: typ, Text: text, HeadingPath: b.path, Page: b.page})
}

// headerMode says how a table's header row is known.
type headerMode int

const (
	headerGuess    headerMode = iota // no markup says; look at the rows
	headerFirstRow                   // the first row is the header (CSV, th cells)
	headerNone                       // there is no header
)

// table appends one block per non-empty row of a table.
func (b *builder) table(rows [][]string, mode headerMode) {
	for _, r := range rows {
		for i := range r {
			r[i] = inlineText(r[i])
		}
	}
	rows = slices.DeleteFunc(rows, isEmptyRow)
	if len(rows) == 0 {
		return
	}
	var header []string
	if mode == headerFirstRow || mode == headerGuess && looksLikeHeader(rows) {
		header, rows = b.clip(rows[0]), rows[1:]
	}
	for _, r := range rows {
		if !b.row(header, r) {
			return
		}
	}
}

// row appends one table row. It reports false once the document's row
// limit is reached, so streaming callers can stop reading.
func (b *builder) row(header, cells []string) bool {
	for i := range cells {
		cells[i] = inlineText(cells[i])
	}
	cells = b.clip(cells)
	if isEmptyRow(cells) || slices.Equal(cells, header) { // header rows repeat on every printed page
		return true
	}
	if b.rows >= b.maxRows {
		b.warn("only the first %d table rows were kept", b.maxRows)
		return false
	}
	b.rows++
	b.blocks = append(b.blocks, Block{
		Type: BlockTableRow, Text: renderRow(header, cells), HeadingPath: b.path,
		Page: b.page, TableHeader: header, Cells: cells,
	})
	return true
}

func (b *builder) clip(cells []string) []string {
	if len(cells) > b.maxCols {
		b.warn("only the first %d columns of wide tables were kept", b.maxCols)
		cells = cells[:b.maxCols]
	}
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}

func isEmptyRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// renderRow writes a row so that it reads on its own: each value after its
// column header ("参数名称: 处理器 | 技术要求: 国产处理器"). A header-less row of
// two values is a key-value pair and reads "key: value".
func renderRow(header, cells []string) string {
	var parts []string
	for i, c := range cells {
		if c == "" {
			continue
		}
		if i < len(header) && header[i] != "" && header[i] != c {
			parts = append(parts, header[i]+": "+c)
		} else {
			parts = append(parts, c)
		}
	}
	if len(header) == 0 && len(parts) == 2 {
		return parts[0] + ": " + parts[1]
	}
	return strings.Join(parts, " | ")
}

// looksLikeHeader guesses whether the first row of a table without header
// markup is a header: at least three columns (two-column tables read best
// as key-value pairs) of short, distinct, non-numeric labels.
func looksLikeHeader(rows [][]string) bool {
	if len(rows) < 2 || len(rows[0]) < 3 {
		return false
	}
	seen := map[string]bool{}
	for _, c := range rows[0] {
		if c == "" || utf8.RuneCountInString(c) > 30 || seen[c] || isNumber(c) {
			return false
		}
		seen[c] = true
	}
	return true
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.NewReplacer(",", "", "%", "", "¥", "").Replace(s), 64)
	return err == nil
}

// Numbered headings in Chinese documents. The style names key the order in
// which a document introduces them, which sets their levels.
var numberedHeadingREs = []struct {
	style string
	re    *regexp.Regexp
}{
	{"part", regexp.MustCompile(`^第[一二三四五六七八九十百零〇两\d]+(?:部分|篇)`)},
	{"chapter", regexp.MustCompile(`^第[一二三四五六七八九十百零〇两\d]+章`)},
	{"section", regexp.MustCompile(`^第[一二三四五六七八九十百零〇两\d]+节`)},
	{"cn", regexp.MustCompile(`^[一二三四五六七八九十]{1,3}[、.．]`)},
	{"cn-paren", regexp.MustCompile(`^[（(][一二三四五六七八九十]{1,3}[）)]`)},
	{"num", regexp.MustCompile(`^\d{1,2}(?:\.\d{1,2})+\.?(?:\s|[^\d.\s])`)},
}

// numberedHeading reports whether line looks like a numbered heading ("一、
// 项目概况", "（二）业绩要求", "第三章 技术要求", "2.1 总体架构") rather than a
// numbered sentence: it is short and does not end like a sentence. style
// names the numbering scheme; "1.1" and "1.1.1" are different schemes.
func numberedHeading(line string) (style string, ok bool) {
	line = strings.TrimSpace(line)
	n := utf8.RuneCountInString(line)
	if n < 2 || n > 40 || strings.ContainsAny(line, "。；;") {
		return "", false
	}
	last, _ := utf8.DecodeLastRuneInString(line)
	if strings.ContainsRune("，,：:、", last) {
		return "", false
	}
	for _, h := range numberedHeadingREs {
		loc := h.re.FindStringIndex(line)
		if loc == nil {
			continue
		}
		if strings.TrimSpace(line[loc[1]:]) == "" && h.style != "chapter" && h.style != "section" && h.style != "part" {
			return "", false // a bare number, not a heading
		}
		if h.style == "num" {
			dots := strings.Count(line[:loc[1]], ".")
			if strings.HasSuffix(strings.TrimSpace(line[:loc[1]]), ".") {
				dots--
			}
			return "num" + strconv.Itoa(dots), true
		}
		return h.style, true
	}
	return "", false
}

// outline assigns heading levels to numbering styles in the order a
// document first uses them, which is how Chinese documents nest them: a
// tender that goes 一、 then （一） then 1.1 gets levels 1, 2, 3.
type outline struct {
	base   int
	levels map[string]int
}

func (o *outline) level(style string) int {
	if o.levels == nil {
		o.levels = map[string]int{}
	}
	if l, ok := o.levels[style]; ok {
		return l
	}
	l := o.base + len(o.levels) + 1
	o.levels[style] = l
	return l
}
