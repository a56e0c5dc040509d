package knowledge

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkParsed asserts what every loader promises: valid UTF-8, no empty
// blocks, heading paths that end with the heading itself.
func checkParsed(t *testing.T, p *Parsed) {
	t.Helper()
	for _, b := range p.Blocks {
		if !utf8.ValidString(b.Text) || strings.TrimSpace(b.Text) == "" {
			t.Fatalf("bad block text %q", b.Text)
		}
		if b.Type == BlockHeading && (len(b.HeadingPath) == 0 || b.HeadingPath[len(b.HeadingPath)-1] != b.Text) {
			t.Fatalf("heading %q has path %q", b.Text, b.HeadingPath)
		}
	}
	c := Chunker{TargetTokens: 64, OverlapTokens: 16, MaxTokens: 96}
	checkChunks(t, c, p, c.Chunk(p))
}

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// The fuzz targets call the parsers directly, outside Load's recover, so a
// panic fails the fuzz run instead of turning into ErrCorrupt.

func FuzzParseText(f *testing.F) {
	addSeeds(f, "notes_gbk.txt", "notes_utf16.txt")
	f.Add([]byte("一、\n（一）x\n\n第一章\n1.1 a\n\n\r\n\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseText(data)
		if err != nil {
			t.Fatal(err)
		}
		checkParsed(t, p)
	})
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, "customers.csv", "customers_gbk.csv", "products.tsv")
	f.Add([]byte("a;b\n\"x;\"\"y\";z\n\"unclosed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l Loader
		p, err := l.parseCSV(context.Background(), data, false)
		if errors.Is(err, ErrCorrupt) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkParsed(t, p)
	})
}

func FuzzParseMarkdown(f *testing.F) {
	addSeeds(f, "playbook.md")
	f.Add([]byte("---\ntags: a, b\ndeal:\n  amount: 3万\n---\n# T\n|a|b|\n|-|-|\n|1|2|\n- x\n  1. y\n<div>z</div>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseMarkdown(data)
		if errors.Is(err, ErrInvalidMetadata) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkParsed(t, p)
	})
}

func FuzzParseHTML(f *testing.F) {
	addSeeds(f, "page.html")
	f.Add([]byte("<table><tr><td><table><tr><th>x</th></tr></table></td></tr></table><li><ul><li>y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseHTML(data)
		if err != nil {
			t.Fatal(err)
		}
		checkParsed(t, p)
	})
}

// FuzzChunk builds documents from lines ("#" headings, "|" table rows,
// "-" list items, anything else paragraphs) and checks the chunk
// invariants at fuzzed sizes.
func FuzzChunk(f *testing.F) {
	f.Add("# 标题\n"+strings.Repeat("这是一个句子。", 50)+"\n|a|b|c\n- item\n## 二\nEnglish. Sentence two! And three?", uint16(40), uint8(10), uint16(20))
	f.Add(strings.Repeat("无标点长句", 300), uint16(8), uint8(0), uint16(0))
	f.Add("Mr. Smith met Dr. Wang at 3 p.m. to discuss the 1.2 release.\n\n\n", uint16(10), uint8(200), uint16(1))
	f.Fuzz(func(t *testing.T, text string, target uint16, overlap uint8, extra uint16) {
		b := newBuilder(0, 0)
		for _, line := range strings.Split(text, "\n") {
			switch {
			case strings.HasPrefix(line, "#"):
				level := len(line) - len(strings.TrimLeft(line, "#"))
				b.heading(level, strings.TrimLeft(line, "#"))
			case strings.HasPrefix(line, "|"):
				b.row([]string{"h1", "h2"}, strings.Split(line[1:], "|"))
			case strings.HasPrefix(line, "-"):
				b.add(BlockListItem, line[1:])
			default:
				b.add(BlockParagraph, line)
			}
		}
		p := &Parsed{Blocks: b.blocks}
		c := Chunker{TargetTokens: int(target % 600), OverlapTokens: int(overlap) - 20, MaxTokens: int(target%600) + int(extra%400)}
		chunks := c.Chunk(p)
		checkChunks(t, c, p, chunks)
	})
}

// FuzzLoad feeds mutated PDF, DOCX and XLSX files through Load: whatever
// the bytes, it returns blocks or one of the typed errors, never an
// untyped error or a crash (third-party parser panics become ErrCorrupt).
func FuzzLoad(f *testing.F) {
	addSeeds(f, "brief_en.pdf", "won_deal_wps.docx", "pipeline.xlsx", "page.html")
	typed := []error{ErrUnsupportedType, ErrEmpty, ErrCorrupt, ErrTooLarge, ErrNoTextLayer, ErrInvalidMetadata}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := Loader{MaxUnzipped: 4 << 20}
		p, err := l.Load(context.Background(), "upload", bytes.NewReader(data), int64(len(data)))
		if err == nil {
			checkParsed(t, p)
			return
		}
		for _, e := range typed {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("untyped error: %v", err)
	})
}
