package knowledge

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// parseHTML reads an HTML page: headings, paragraphs, list items and table
// rows in document order; navigation, footers, scripts, styles and hidden
// elements are skipped. The <title> becomes Parsed.Title.
func parseHTML(data []byte) (*Parsed, error) {
	text, enc, warn := decodeHTML(data)
	doc, err := html.Parse(strings.NewReader(text))
	if err != nil { // x/net/html recovers from almost anything; this is I/O
		return nil, err
	}
	w := &htmlWalker{b: newBuilder(0, 0), kind: BlockParagraph}
	if warn != "" {
		w.b.warn("%s", warn)
	}
	w.walk(doc)
	w.flush()
	return &Parsed{Encoding: enc, Title: w.title, Blocks: w.b.blocks, Warnings: w.b.warnings}, nil
}

// decodeHTML decodes a page: a BOM or valid UTF-8 wins, then the charset a
// <meta> declares, then decodeText's guess.
func decodeHTML(data []byte) (text, encoding, warn string) {
	if !utf8.Valid(data) && !bytes.HasPrefix(data, []byte{0xFF, 0xFE}) && !bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		if e, name, _ := charset.DetermineEncoding(data, "text/html"); name != "windows-1252" {
			if out, err := e.NewDecoder().Bytes(data); err == nil {
				return string(out), name, ""
			}
		}
	}
	return decodeText(data)
}

// htmlFragmentText returns the visible text of an HTML fragment (raw HTML
// inside Markdown).
func htmlFragmentText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return ""
	}
	return textContent(doc)
}

type htmlWalker struct {
	b     *builder
	title string
	buf   strings.Builder
	kind  BlockType // what the text in buf becomes when flushed
}

func (w *htmlWalker) flush() {
	w.b.add(w.kind, inlineText(w.buf.String()))
	w.buf.Reset()
}

var headingLevels = map[atom.Atom]int{atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6}

// blockElements end the paragraph before them and the one inside them.
var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Blockquote: true, atom.Pre: true,
	atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Figure: true,
	atom.Figcaption: true, atom.Form: true, atom.Fieldset: true, atom.Address: true, atom.Hr: true,
	atom.Center: true, atom.Details: true, atom.Summary: true, atom.Caption: true, atom.Body: true,
}

func skipElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Nav, atom.Footer, atom.Svg, atom.Iframe,
		atom.Object, atom.Button, atom.Select, atom.Textarea, atom.Canvas, atom.Audio, atom.Video, atom.Head:
		return true
	}
	for _, a := range n.Attr {
		switch {
		case a.Key == "hidden", a.Key == "aria-hidden" && a.Val == "true":
			return true
		case a.Key == "style":
			if strings.Contains(strings.ReplaceAll(strings.ToLower(a.Val), " ", ""), "display:none") {
				return true
			}
		}
	}
	return false
}

func (w *htmlWalker) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.buf.WriteString(n.Data)
		return
	case html.ElementNode:
		if n.DataAtom == atom.Title && w.title == "" {
			w.title = textContent(n)
			return
		}
		if n.DataAtom == atom.Head {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.DataAtom == atom.Title {
					w.walk(c)
				}
			}
			return
		}
		if skipElement(n) {
			return
		}
		if level, ok := headingLevels[n.DataAtom]; ok {
			w.flush()
			w.b.heading(level, textContent(n))
			return
		}
		switch n.DataAtom {
		case atom.Br:
			w.buf.WriteByte('\n')
			return
		case atom.Table:
			w.flush()
			w.table(n)
			return
		case atom.Li:
			w.flush()
			outer := w.kind
			w.kind = BlockListItem
			w.children(n)
			w.flush()
			w.kind = outer
			return
		}
		if blockElements[n.DataAtom] {
			w.flush()
			w.children(n)
			w.flush()
			return
		}
	}
	w.children(n)
}

func (w *htmlWalker) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c)
	}
}

// table emits the rows of one table; cells holding nested tables
// contribute their text. A first row of <th> cells, or a <thead>, is the
// header.
func (w *htmlWalker) table(t *html.Node) {
	var rows [][]string
	mode := headerGuess
	var visit func(n *html.Node, inHead bool)
	visit = func(n *html.Node, inHead bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || skipElement(c) {
				continue
			}
			switch c.DataAtom {
			case atom.Caption:
				w.b.add(BlockParagraph, textContent(c))
			case atom.Thead:
				visit(c, true)
			case atom.Tbody, atom.Tfoot:
				visit(c, false)
			case atom.Tr:
				var cells []string
				allTH := true
				for td := c.FirstChild; td != nil; td = td.NextSibling {
					if td.Type == html.ElementNode && (td.DataAtom == atom.Td || td.DataAtom == atom.Th) {
						cells = append(cells, textContent(td))
						allTH = allTH && td.DataAtom == atom.Th
					}
				}
				if len(rows) == 0 && len(cells) > 0 && (inHead || allTH) {
					mode = headerFirstRow
				}
				rows = append(rows, cells)
			}
		}
	}
	visit(t, false)
	w.b.table(rows, mode)
}

// textContent returns the visible text under n, block boundaries as line
// breaks collapsed the inline way.
func textContent(n *html.Node) string {
	var sb strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			sb.WriteString(n.Data)
		case n.Type == html.ElementNode && n.DataAtom != atom.Title && skipElement(n):
		case n.Type == html.ElementNode && (n.DataAtom == atom.Br || blockElements[n.DataAtom] || n.DataAtom == atom.Tr || n.DataAtom == atom.Li):
			sb.WriteByte('\n')
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				visit(c)
			}
			sb.WriteByte('\n')
		case n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th):
			sb.WriteByte(' ')
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				visit(c)
			}
		default:
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				visit(c)
			}
		}
	}
	visit(n)
	return inlineText(sb.String())
}
