package knowledge

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/dealdesk/dealdesk/lang"
)

// parseText reads plain text; see textBlocks.
func parseText(data []byte) (*Parsed, error) {
	text, enc, warn := decodeText(data)
	b := newBuilder(0, 0)
	if warn != "" {
		b.warn("%s", warn)
	}
	textBlocks(b, cleanText(text), &outline{})
	return &Parsed{Encoding: enc, Blocks: b.blocks, Warnings: b.warnings}, nil
}

// textBlocks splits plain text into paragraphs at blank lines. Lines that
// look like numbered headings become headings, and so does a short first
// line standing alone (the usual title of a text file).
func textBlocks(b *builder, text string, o *outline) {
	for i, para := range splitParagraphs(text) {
		lines := strings.Split(para, "\n")
		if i == 0 && len(lines) == 1 && isTitleLine(lines[0]) {
			if _, numbered := numberedHeading(lines[0]); !numbered {
				b.heading(o.level("title"), lines[0])
				continue
			}
		}
		start := 0
		for j, line := range lines {
			if style, ok := numberedHeading(line); ok {
				b.add(BlockParagraph, strings.Join(lines[start:j], "\n"))
				b.heading(o.level(style), line)
				start = j + 1
			}
		}
		b.add(BlockParagraph, strings.Join(lines[start:], "\n"))
	}
}

// splitParagraphs splits cleaned text at blank lines.
func splitParagraphs(text string) []string {
	var out []string
	for p := range strings.SplitSeq(text, "\n\n") {
		if p = strings.Trim(p, "\n"); strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out
}

// isTitleLine reports whether a line is short and unpunctuated enough to
// be a title.
func isTitleLine(line string) bool {
	line = strings.TrimSpace(line)
	n := len([]rune(line))
	if n == 0 || n > 40 {
		return false
	}
	return !strings.ContainsAny(line[len(line)-1:], ".:;,") && !strings.ContainsAny(line, "。；，：")
}

// decodeText converts the bytes of a text file to UTF-8 and names the
// encoding found: a BOM if there is one, else UTF-8 if the bytes are valid
// UTF-8, else GB18030 (a superset of GBK and GB2312, what Chinese Windows
// saves "ANSI" text as) when decoding that way yields mostly Chinese. As a
// last resort the bytes are read as UTF-8 with invalid sequences replaced,
// and warn says so.
func decodeText(data []byte) (text, encoding, warn string) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data, encoding = data[3:], "utf-8"
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		enc, name := xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM), "utf-16le"
		if data[0] == 0xFE {
			enc, name = xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM), "utf-16be"
		}
		out, err := enc.NewDecoder().Bytes(data)
		if err == nil {
			return string(out), name, ""
		}
		return strings.ToValidUTF8(string(data), "\uFFFD"), "utf-8", "invalid UTF-16; read as UTF-8 with replacements"
	}
	if utf8.Valid(data) {
		return string(data), "utf-8", ""
	}
	if out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data); err == nil && plausibleChinese(out) {
		return string(out), "gb18030", ""
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), "utf-8", "text is neither UTF-8 nor GB18030; invalid bytes were replaced"
}

// plausibleChinese reports whether text decoded as GB18030 looks like real
// Chinese rather than another encoding misread: no replacement characters
// and mostly Han among the non-ASCII runes. (Latin-1 text read as GB18030
// turns into rare ideographs and symbols in odd proportions, and its
// isolated high bytes fail to decode.)
func plausibleChinese(text []byte) bool {
	var nonASCII, cjk int
	for _, r := range string(text) {
		switch {
		case r == utf8.RuneError:
			return false
		case r < utf8.RuneSelf:
		case lang.IsCJK(r) || isWidePunct(r):
			nonASCII++
			cjk++
		default:
			nonASCII++
		}
	}
	return nonASCII > 0 && cjk*10 >= nonASCII*7
}

// isWidePunct reports whether r is CJK punctuation or a full-width form.
func isWidePunct(r rune) bool {
	return r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF
}

// isWide reports whether r belongs to East Asian text, where words are not
// separated by spaces.
func isWide(r rune) bool { return lang.IsCJK(r) || isWidePunct(r) }

// cleanText normalises extracted text: "\n" line ends, no control or
// zero-width characters, non-breaking and ideographic spaces as plain
// spaces, runs of spaces collapsed, no trailing space on lines.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				continue
			}
			r = '\n'
		case r == '\f' || r == '\v':
			r = '\n'
		case r == '\t' || r == 0xA0 || r == 0x3000 || r == 0x2007 || r == 0x202F:
			r = ' '
		case r == 0x200B || r == 0x200C || r == 0x200D || r == 0xFEFF || r == 0xAD || r == utf8.RuneError && size == 1:
			continue
		case unicode.IsControl(r) && r != '\n':
			continue
		}
		if r == ' ' {
			space = true
			continue
		}
		if space && r != '\n' && b.Len() > 0 && !endsWithNewline(&b) {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func endsWithNewline(b *strings.Builder) bool {
	s := b.String()
	return s[len(s)-1] == '\n'
}

// inlineText collapses all whitespace in s, line breaks included, the way a
// browser lays out inline text, except that a line break between two
// Chinese characters disappears instead of becoming a space (Chinese source
// text is wrapped without regard to words).
func inlineText(s string) string {
	s = cleanText(s)
	if !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if i > 0 && b.Len() > 0 {
			writeJoin(&b, line)
		}
		b.WriteString(line)
	}
	return b.String()
}

// writeJoin writes the separator that belongs between the text in b and
// next when they were on separate lines: nothing between Chinese
// characters, a space otherwise.
func writeJoin(b *strings.Builder, next string) {
	prev, _ := utf8.DecodeLastRuneInString(b.String())
	first, _ := utf8.DecodeRuneInString(next)
	if !(isWide(prev) && isWide(first)) {
		b.WriteByte(' ')
	}
}

// joinLines joins wrapped lines of one paragraph with writeJoin's rule.
func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if b.Len() > 0 {
			writeJoin(&b, l)
		}
		b.WriteString(l)
	}
	return b.String()
}
