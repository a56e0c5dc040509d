package knowledge

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	gmtext "github.com/yuin/goldmark/text"
)

// markdownParser is safe for concurrent use once built.
var markdownParser = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough)).Parser()

// parseMarkdown reads Markdown (CommonMark with GFM tables) after taking off
// its YAML front matter, which becomes Parsed.Meta.
func parseMarkdown(data []byte) (*Parsed, error) {
	text, enc, warn := decodeText(data)
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	p := &Parsed{Encoding: enc}
	if fm, body, ok := splitFrontMatter(text); ok {
		m, err := parseMetadataYAML([]byte(fm))
		if err != nil {
			return nil, fmt.Errorf("front matter: %w", err)
		}
		p.Meta, text = m, body
	}
	src := []byte(text)
	doc := markdownParser.Parse(gmtext.NewReader(src))
	w := mdWalker{src: src, b: newBuilder(0, 0)}
	if warn != "" {
		w.b.warn("%s", warn)
	}
	w.blocks(doc)
	p.Blocks, p.Warnings = w.b.blocks, w.b.warnings
	return p, nil
}

type mdWalker struct {
	src []byte
	b   *builder
}

// blocks walks the block-level children of n.
func (w *mdWalker) blocks(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.block(c)
	}
}

func (w *mdWalker) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Heading:
		w.b.heading(n.Level, w.inline(n))
	case *ast.Paragraph, *ast.TextBlock:
		w.b.add(BlockParagraph, w.inline(n))
	case *ast.List:
		w.list(n)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		w.b.add(BlockParagraph, w.lines(n))
	case *ast.HTMLBlock:
		w.b.add(BlockParagraph, htmlFragmentText(w.lines(n)))
	case *extast.Table:
		w.table(n)
	case *ast.ThematicBreak:
	default: // block quotes, and whatever extensions add
		w.blocks(n)
	}
}

// list emits one list item block per item, numbered as in the source when
// the list is ordered (the order of steps in a playbook matters).
func (w *mdWalker) list(l *ast.List) {
	i := l.Start
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		var text []string
		for c := item.FirstChild(); c != nil; c = c.NextSibling() {
			switch c.(type) {
			case *ast.Paragraph, *ast.TextBlock:
				text = append(text, w.inline(c))
			}
		}
		if len(text) > 0 {
			t := strings.Join(text, "\n")
			if l.IsOrdered() {
				t = strconv.Itoa(i) + ". " + t
			}
			w.b.add(BlockListItem, t)
		}
		i++
		for c := item.FirstChild(); c != nil; c = c.NextSibling() {
			switch c.(type) {
			case *ast.Paragraph, *ast.TextBlock:
			default: // nested lists, code blocks
				w.block(c)
			}
		}
	}
}

func (w *mdWalker) table(t *extast.Table) {
	var rows [][]string
	mode := headerNone
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, w.inline(c))
		}
		if _, ok := r.(*extast.TableHeader); ok && len(rows) == 0 && !isEmptyRow(cells) {
			mode = headerFirstRow
		}
		rows = append(rows, cells)
	}
	w.b.table(rows, mode)
}

// inline returns the text of n's inline content: emphasis and links
// reduced to their text, images to their alt text, raw HTML dropped.
func (w *mdWalker) inline(n ast.Node) string {
	var sb strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			sb.Write(c.Value(w.src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				sb.WriteByte('\n')
			}
		case *ast.String:
			sb.Write(c.Value)
		case *ast.AutoLink:
			sb.Write(c.URL(w.src))
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return inlineText(sb.String())
}

// lines returns the raw lines of a code or HTML block.
func (w *mdWalker) lines(n ast.Node) string {
	var sb strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(w.src))
	}
	return sb.String()
}
