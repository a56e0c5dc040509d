package knowledge

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseCSV reads CSV or TSV: the first non-empty record is the header and
// every other record becomes a table row block. The delimiter (comma, tab,
// semicolon or bar) is detected unless tsv says it is a tab; the encoding
// is detected as for plain text.
func (l *Loader) parseCSV(ctx context.Context, data []byte, tsv bool) (*Parsed, error) {
	text, enc, warn := decodeText(data)
	text = strings.TrimPrefix(text, "\uFEFF")
	b := newBuilder(l.maxRows(), l.maxColumns())
	if warn != "" {
		b.warn("%s", warn)
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = ','
	if tsv {
		r.Comma = '\t'
	} else {
		r.Comma = detectDelimiter(text)
	}
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	var header []string
	for n := 0; ; n++ {
		if n%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		for i := range rec {
			rec[i] = inlineText(rec[i])
		}
		if isEmptyRow(rec) {
			continue
		}
		if header == nil {
			header = b.clip(rec)
			continue
		}
		if !b.row(header, rec) {
			break
		}
	}
	if len(b.blocks) == 0 && header != nil {
		// A header and nothing else is still content: keep it as one row.
		b.row(nil, header)
	}
	return &Parsed{Encoding: enc, Blocks: b.blocks, Warnings: b.warnings}, nil
}

// detectDelimiter picks the delimiter that splits the first lines into the
// same number of fields, preferring more fields; comma when nothing fits.
func detectDelimiter(text string) rune {
	var lines []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
		if len(lines) == 10 {
			break
		}
	}
	best, bestFields := ',', 0
	for _, d := range []rune{',', '\t', ';', '|'} {
		fields, consistent := -1, true
		for _, line := range lines {
			n := countOutsideQuotes(line, d)
			if fields == -1 {
				fields = n
			} else if n != fields {
				consistent = false
				break
			}
		}
		if consistent && fields > bestFields {
			best, bestFields = d, fields
		}
	}
	return best
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}
