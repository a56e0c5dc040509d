package knowledge

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// parseDOCX reads a Word document straight from its XML parts: paragraphs
// in heading styles ("heading 1", "标题 1", or any style with an outline
// level) become headings, numbered or bulleted paragraphs list items, and
// each table row a table row (merged cells repeated, so every row reads on
// its own). Text boxes are kept; deleted revisions, field codes and the
// fallback copies of drawing content are not.
//
// No third-party DOCX reader is used: the ones available read every part
// into memory with no size limits, while this reads three parts through the
// zip budget.
func (l *Loader) parseDOCX(ctx context.Context, data []byte) (*Parsed, error) {
	z, err := l.openZip(data)
	if err != nil {
		return nil, err
	}
	main := mainDocumentPart(z)
	styles, err := readStyles(z, main)
	if err != nil {
		return nil, err
	}
	p := &Parsed{Title: readCoreTitle(z)}
	rc, err := z.open(main)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no %s in the package", ErrCorrupt, main)
		}
		return nil, err
	}
	defer rc.Close()
	d := docxReader{b: newBuilder(l.maxRows(), l.maxColumns()), styles: styles}
	if err := d.read(ctx, rc); err != nil {
		return nil, err
	}
	p.Blocks, p.Warnings = d.b.blocks, d.b.warnings
	return p, nil
}

// wordNS tells WordprocessingML elements from DrawingML and others that
// reuse the same local names (a:t, a:p).
func wordNS(n xml.Name) bool {
	return strings.HasSuffix(n.Space, "/wordprocessingml/2006/main") || strings.HasSuffix(n.Space, "/ooxml/wordprocessingml/main")
}

func attr(e xml.StartElement, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// mainDocumentPart finds the main part through the package relationships,
// falling back to the usual name.
func mainDocumentPart(z *zipPackage) string {
	b, err := z.read("_rels/.rels")
	if err == nil {
		var rels struct {
			Rel []struct {
				Type   string `xml:"Type,attr"`
				Target string `xml:"Target,attr"`
			} `xml:"Relationship"`
		}
		if xml.Unmarshal(b, &rels) == nil {
			for _, r := range rels.Rel {
				if strings.HasSuffix(r.Type, "/officeDocument") {
					return strings.TrimPrefix(r.Target, "/")
				}
			}
		}
	}
	return "word/document.xml"
}

// readCoreTitle returns dc:title from the document properties, if any.
func readCoreTitle(z *zipPackage) string {
	b, err := z.read("docProps/core.xml")
	if err != nil {
		return ""
	}
	var core struct {
		Title string `xml:"title"`
	}
	if xml.Unmarshal(b, &core) != nil {
		return ""
	}
	return inlineText(core.Title)
}

var headingStyleRE = regexp.MustCompile(`(?i)^(?:heading|标题)\s*([1-9])$`)

// readStyles maps paragraph style ids to heading levels: 0 for the Title
// style, 1-9 for headings, absent for body styles. A style inherits its
// base style's level.
func readStyles(z *zipPackage, main string) (map[string]int, error) {
	b, err := z.read(path.Join(path.Dir(main), "styles.xml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Styles []struct {
			Type    string  `xml:"type,attr"`
			ID      string  `xml:"styleId,attr"`
			Name    valAttr `xml:"name"`
			BasedOn valAttr `xml:"basedOn"`
			PPr     struct {
				OutlineLvl *valAttr `xml:"outlineLvl"`
			} `xml:"pPr"`
		} `xml:"style"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: styles: %v", ErrCorrupt, err)
	}
	own := map[string]int{}
	based := map[string]string{}
	for _, s := range doc.Styles {
		if s.Type != "" && s.Type != "paragraph" {
			continue
		}
		name := strings.TrimSpace(s.Name.Val)
		switch m := headingStyleRE.FindStringSubmatch(name); {
		case m != nil:
			own[s.ID], _ = strconv.Atoi(m[1])
		case strings.EqualFold(name, "title") || name == "标题":
			own[s.ID] = 0
		case s.PPr.OutlineLvl != nil:
			if lvl, err := strconv.Atoi(s.PPr.OutlineLvl.Val); err == nil && lvl >= 0 && lvl < 9 {
				own[s.ID] = lvl + 1
			}
		}
		if s.BasedOn.Val != "" {
			based[s.ID] = s.BasedOn.Val
		}
	}
	levels := map[string]int{}
	for id := range based {
		for cur, hops := id, 0; cur != "" && hops < 10; cur, hops = based[cur], hops+1 {
			if l, ok := own[cur]; ok {
				levels[id] = l
				break
			}
		}
	}
	for id, l := range own {
		levels[id] = l
	}
	return levels, nil
}

type valAttr struct {
	Val string `xml:"val,attr"`
}

// docxReader walks document.xml as a token stream.
type docxReader struct {
	b      *builder
	styles map[string]int
	paras  []*docxPara  // open paragraphs; more than one inside text boxes
	tables []*docxTable // open tables; more than one when nested
	inText bool
}

type docxPara struct {
	text    strings.Builder
	style   string
	outline int // from the paragraph's own properties, -1 if none
	list    bool
	boxes   []*docxPara // text-box paragraphs anchored in this one
}

type docxTable struct {
	rows      [][]string
	row       []string
	cell      *strings.Builder
	span      int
	vmerge    bool // the open cell continues a vertical merge
	headerRow bool // the first row is marked to repeat as a header
}

func (d *docxReader) read(ctx context.Context, r io.Reader) error {
	dec := xml.NewDecoder(r)
	for n := 0; ; n++ {
		if n%10000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
				return err
			}
			return fmt.Errorf("%w: document.xml: %v", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "Fallback" { // mc:Fallback repeats mc:Choice content
				if err := dec.Skip(); err != nil {
					return fmt.Errorf("%w: document.xml: %v", ErrCorrupt, err)
				}
				continue
			}
			if wordNS(t.Name) {
				d.start(t)
			}
		case xml.EndElement:
			if wordNS(t.Name) {
				d.end(t)
			}
		case xml.CharData:
			if d.inText && len(d.paras) > 0 {
				d.para().text.Write(t)
			}
		}
	}
}

func (d *docxReader) para() *docxPara { return d.paras[len(d.paras)-1] }

func (d *docxReader) table() *docxTable {
	if len(d.tables) == 0 {
		return nil
	}
	return d.tables[len(d.tables)-1]
}

func (d *docxReader) start(e xml.StartElement) {
	switch e.Name.Local {
	case "p":
		d.paras = append(d.paras, &docxPara{outline: -1})
	case "pStyle":
		if len(d.paras) > 0 {
			d.para().style, _ = attr(e, "val")
		}
	case "outlineLvl":
		if v, ok := attr(e, "val"); ok && len(d.paras) > 0 {
			if lvl, err := strconv.Atoi(v); err == nil && lvl >= 0 && lvl < 9 {
				d.para().outline = lvl
			}
		}
	case "numPr":
		if len(d.paras) > 0 {
			d.para().list = true
		}
	case "t":
		d.inText = true
	case "tab", "ptab":
		d.write("\t")
	case "br", "cr":
		d.write("\n")
	case "noBreakHyphen":
		d.write("-")
	case "tbl":
		d.tables = append(d.tables, &docxTable{})
	case "tr":
		if t := d.table(); t != nil {
			t.row = nil
		}
	case "tblHeader":
		if t := d.table(); t != nil && len(t.rows) == 0 {
			t.headerRow = true
		}
	case "tc":
		if t := d.table(); t != nil {
			t.cell, t.span, t.vmerge = &strings.Builder{}, 1, false
		}
	case "gridSpan":
		if t := d.table(); t != nil {
			if v, _ := attr(e, "val"); v != "" {
				t.span, _ = strconv.Atoi(v)
				t.span = min(max(t.span, 1), 64)
			}
		}
	case "vMerge":
		if t := d.table(); t != nil {
			v, _ := attr(e, "val")
			t.vmerge = v != "restart"
		}
	}
}

func (d *docxReader) write(s string) {
	if len(d.paras) > 0 {
		d.para().text.WriteString(s)
	}
}

func (d *docxReader) end(e xml.EndElement) {
	switch e.Name.Local {
	case "t":
		d.inText = false
	case "p":
		if len(d.paras) == 0 {
			return
		}
		p := d.para()
		d.paras = d.paras[:len(d.paras)-1]
		d.emit(p)
	case "tc":
		t := d.table()
		if t == nil || t.cell == nil {
			return
		}
		text := inlineText(t.cell.String())
		col := len(t.row)
		if t.vmerge && text == "" && len(t.rows) > 0 && col < len(t.rows[len(t.rows)-1]) {
			text = t.rows[len(t.rows)-1][col] // a merged cell applies to every row it spans
		}
		t.row = append(t.row, text)
		for i := 1; i < t.span; i++ {
			t.row = append(t.row, "")
		}
		t.cell = nil
	case "tr":
		if t := d.table(); t != nil {
			t.rows = append(t.rows, t.row)
			t.row = nil
		}
	case "tbl":
		t := d.table()
		if t == nil {
			return
		}
		d.tables = d.tables[:len(d.tables)-1]
		if outer := d.table(); outer != nil && outer.cell != nil {
			for _, r := range t.rows { // a nested table reads as text of its cell
				outer.cell.WriteString(strings.Join(r, " ") + "\n")
			}
			return
		}
		mode := headerGuess
		if t.headerRow {
			mode = headerFirstRow
		}
		d.b.table(t.rows, mode)
	}
}

// emit files a finished paragraph: into the open table cell, or as a
// heading, list item or paragraph block.
func (d *docxReader) emit(p *docxPara) {
	text := p.text.String()
	if t := d.table(); t != nil && t.cell != nil {
		t.cell.WriteString(text + "\n")
		return
	}
	if len(d.paras) > 0 { // a text box: it reads after the paragraph holding it
		outer := d.para()
		outer.boxes = append(outer.boxes, p)
		return
	}
	defer func() {
		for _, box := range p.boxes {
			d.emit(box)
		}
	}()
	level, heading := d.styles[p.style]
	if p.outline >= 0 {
		level, heading = p.outline+1, true
	}
	switch {
	case heading && strings.TrimSpace(text) != "":
		d.b.heading(level, text)
	case p.list:
		d.b.add(BlockListItem, text)
	default:
		d.b.add(BlockParagraph, text)
	}
}
