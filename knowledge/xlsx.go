package knowledge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/xuri/excelize/v2"
)

// defaultSheetRE matches the names spreadsheet programs give new sheets;
// they make poor headings.
var defaultSheetRE = regexp.MustCompile(`(?i)^(sheet|工作表|表)\s*\d*$`)

// parseXLSX reads every visible sheet of a workbook: the sheet name is a
// heading (unless it is a default name like "Sheet1"), the first non-empty
// row is the header, and each later non-empty row a table row. A lone
// caption above the header ("2025 年项目清单" in a merged cell) becomes a
// heading instead of the header. Cells hold their formatted (displayed)
// values.
func (l *Loader) parseXLSX(ctx context.Context, data []byte) (*Parsed, error) {
	if _, err := l.openZip(data); err != nil { // entry count and expanded size
		return nil, err
	}
	limit := l.maxUnzipped()
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    limit,
		UnzipXMLSizeLimit: min(limit, 16<<20),
	})
	if err != nil {
		if errors.Is(err, excelize.ErrWorkbookFileFormat) || errors.Is(err, excelize.ErrWorkbookPassword) {
			return nil, fmt.Errorf("%w: encrypted workbook", ErrUnsupportedType)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer f.Close()
	p := &Parsed{}
	if props, err := f.GetDocProps(); err == nil && props != nil {
		p.Title = inlineText(props.Title)
	}
	b := newBuilder(l.maxRows(), l.maxColumns())
	for _, sheet := range f.GetSheetList() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if visible, err := f.GetSheetVisible(sheet); err == nil && !visible {
			continue
		}
		more, err := readSheet(ctx, f, sheet, b)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	p.Blocks, p.Warnings = b.blocks, b.warnings
	return p, nil
}

// readSheet streams one sheet into b. It reports false when the row limit
// is reached.
func readSheet(ctx context.Context, f *excelize.File, sheet string, b *builder) (bool, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return false, fmt.Errorf("%w: sheet %q: %v", ErrCorrupt, sheet, err)
	}
	defer rows.Close()
	named := !defaultSheetRE.MatchString(strings.TrimSpace(sheet))
	if named {
		b.heading(1, sheet)
	}
	var header, pending []string
	for n := 0; rows.Next(); n++ {
		if n%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		cells, err := rows.Columns()
		if err != nil {
			return false, fmt.Errorf("%w: sheet %q: %v", ErrCorrupt, sheet, err)
		}
		for i := range cells {
			cells[i] = inlineText(cells[i])
		}
		cells = b.clip(cells)
		if isEmptyRow(cells) {
			continue
		}
		switch {
		case header == nil && pending == nil:
			pending = cells // header, unless the next row shows it is a caption
		case header == nil:
			if filled(pending) == 1 && filled(cells) > 1 {
				b.heading(2, strings.Join(pending, " "))
				header = cells
			} else {
				header = pending
				if !b.row(header, cells) {
					return false, nil
				}
			}
			pending = nil
		default:
			if !b.row(header, cells) {
				return false, nil
			}
		}
	}
	if pending != nil { // a sheet with a single row
		b.row(nil, pending)
	}
	if err := rows.Error(); err != nil {
		return false, fmt.Errorf("%w: sheet %q: %v", ErrCorrupt, sheet, err)
	}
	return true, nil
}

func filled(cells []string) int {
	n := 0
	for _, c := range cells {
		if c != "" {
			n++
		}
	}
	return n
}
