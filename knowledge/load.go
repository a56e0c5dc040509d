package knowledge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
)

// Format is a file format Load understands.
type Format string

// The formats Load reads.
const (
	FormatMarkdown Format = "markdown"
	FormatHTML     Format = "html"
	FormatText     Format = "text"
	FormatCSV      Format = "csv"
	FormatTSV      Format = "tsv"
	FormatXLSX     Format = "xlsx"
	FormatDOCX     Format = "docx"
	FormatPDF      Format = "pdf"
)

// BlockType says what a Block is; the chunker treats each type differently.
type BlockType string

// The block types.
const (
	BlockHeading   BlockType = "heading"
	BlockParagraph BlockType = "paragraph"
	BlockListItem  BlockType = "list_item"
	// BlockTableRow is one row of a table (or a CSV record, or a sheet
	// row). Its Text names every value by its column header, so a row read
	// on its own still says what each value is.
	BlockTableRow BlockType = "table_row"
)

// Block is one structural unit of a document, in reading order.
type Block struct {
	Type BlockType `json:"type"`
	Text string    `json:"text"`
	// Level is a heading's depth, 1 for the top level. Zero for other blocks.
	Level int `json:"level,omitempty"`
	// HeadingPath lists the headings this block sits under, outermost
	// first; a heading's own path ends with itself. Blocks of one section
	// share the slice: treat it as read-only.
	HeadingPath []string `json:"heading_path,omitempty"`
	// Page is the 1-based page a block starts on, for formats with pages
	// (PDF); zero otherwise.
	Page int `json:"page,omitempty"`
	// TableHeader is the header row of the table a row belongs to, when
	// the table has one.
	TableHeader []string `json:"table_header,omitempty"`
	// Cells are a table row's values, aligned with TableHeader.
	Cells []string `json:"cells,omitempty"`
}

// Parsed is a loaded file: its structure as blocks plus what the file
// itself says about its metadata.
type Parsed struct {
	// Name is the name Load was given (the original file name or path).
	Name   string `json:"name"`
	Format Format `json:"format"`
	// Encoding is the character encoding text formats were decoded from:
	// "utf-8", "utf-16le", "utf-16be" or "gb18030".
	Encoding string `json:"encoding,omitempty"`
	// Title is the title the file declares about itself: HTML <title>,
	// PDF or Office document properties. Often empty or stale; see
	// InferMetadata.
	Title string `json:"title,omitempty"`
	// Meta is the front matter of a Markdown file.
	Meta   Metadata `json:"meta,omitzero"`
	Blocks []Block  `json:"blocks"`
	// Pages is the page count of a PDF; zero for formats without pages.
	Pages int `json:"pages,omitempty"`
	// Warnings note content that was dropped to stay within limits
	// (rows, columns) or could not be decoded cleanly.
	Warnings []string `json:"warnings,omitempty"`
}

// Default limits, used where a Loader field is zero.
const (
	DefaultMaxSize       = 32 << 20
	DefaultMaxZipEntries = 10000
	DefaultMaxRows       = 50000
	DefaultMaxColumns    = 256
)

// Loader parses files into blocks within limits that keep a hostile or
// broken upload from exhausting memory. The zero value is ready to use with
// the defaults; a Loader is safe for concurrent use.
type Loader struct {
	// MaxSize is the largest file accepted, in bytes. Default
	// DefaultMaxSize.
	MaxSize int64
	// MaxUnzipped bounds how much a DOCX or XLSX may expand to, the sum
	// of its entries' uncompressed sizes. Default 10 x MaxSize.
	MaxUnzipped int64
	// MaxZipEntries bounds the number of entries in a DOCX or XLSX.
	// Default DefaultMaxZipEntries.
	MaxZipEntries int
	// MaxRows bounds the table rows kept from one CSV, TSV or XLSX file;
	// the rest are dropped with a warning. Default DefaultMaxRows.
	MaxRows int
	// MaxColumns bounds the cells kept from one table row. Default
	// DefaultMaxColumns.
	MaxColumns int
}

func (l *Loader) maxSize() int64 { return orDefault(l.MaxSize, DefaultMaxSize) }
func (l *Loader) maxUnzipped() int64 {
	return orDefault(l.MaxUnzipped, 10*l.maxSize())
}
func (l *Loader) maxZipEntries() int { return orDefault(l.MaxZipEntries, DefaultMaxZipEntries) }
func (l *Loader) maxRows() int       { return orDefault(l.MaxRows, DefaultMaxRows) }
func (l *Loader) maxColumns() int    { return orDefault(l.MaxColumns, DefaultMaxColumns) }

func orDefault[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Load parses a file with the default limits. See [Loader.Load].
func Load(ctx context.Context, name string, r io.Reader, size int64) (*Parsed, error) {
	var l Loader
	return l.Load(ctx, name, r, size)
}

// Load reads a file of any supported format from r and returns its blocks.
// name is the original file name (or path); its extension is a hint, but
// the content decides: a PDF renamed to .txt still loads as a PDF. size is
// the length of r when known (used to refuse oversized uploads early), or
// -1.
//
// Errors wrap ErrUnsupportedType, ErrEmpty, ErrCorrupt, ErrTooLarge,
// ErrNoTextLayer or ErrInvalidMetadata (malformed front matter), or are the
// context's error.
func (l *Loader) Load(ctx context.Context, name string, r io.Reader, size int64) (*Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := l.maxSize()
	if size > limit {
		return nil, fmt.Errorf("load %s: %w: %d bytes, limit %d", name, ErrTooLarge, size, limit)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: read: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("load %s: %w: over %d bytes", name, ErrTooLarge, limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("load %s: %w: the file is empty", name, ErrEmpty)
	}
	format, err := sniff(name, data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	p, err := l.parse(ctx, format, data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	p.Name, p.Format = name, format
	if !hasText(p.Blocks) {
		return nil, fmt.Errorf("load %s: %w", name, ErrEmpty)
	}
	return p, nil
}

// parse runs the format's parser, turning a panic inside it (third-party
// parsers of hostile input do panic) into ErrCorrupt.
func (l *Loader) parse(ctx context.Context, format Format, data []byte) (p *Parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: %s parser failed: %v", ErrCorrupt, format, r)
			if debugPanics {
				err = fmt.Errorf("%w\n%s", err, debug.Stack())
			}
		}
	}()
	switch format {
	case FormatMarkdown:
		return parseMarkdown(data)
	case FormatHTML:
		return parseHTML(data)
	case FormatText:
		return parseText(data)
	case FormatCSV, FormatTSV:
		return l.parseCSV(ctx, data, format == FormatTSV)
	case FormatXLSX:
		return l.parseXLSX(ctx, data)
	case FormatDOCX:
		return l.parseDOCX(ctx, data)
	case FormatPDF:
		return parsePDF(ctx, data)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedType, format)
}

// debugPanics adds the stack to errors recovered from parser panics; tests
// switch it on.
var debugPanics = false

func hasText(blocks []Block) bool {
	for _, b := range blocks {
		if strings.TrimSpace(b.Text) != "" {
			return true
		}
	}
	return false
}

// magic numbers of common files we refuse, to say what they are.
var knownBinaries = []struct {
	magic, what string
}{
	{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "legacy or encrypted Office document (.doc/.xls/.ppt): save it as .docx or .xlsx"},
	{"\x89PNG\r\n\x1a\n", "PNG image"},
	{"\xFF\xD8\xFF", "JPEG image"},
	{"GIF8", "GIF image"},
	{"\x7fELF", "executable"},
	{"MZ", "Windows executable"},
	{"Rar!", "RAR archive"},
	{"7z\xBC\xAF\x27\x1C", "7-Zip archive"},
	{"\x1f\x8b", "gzip archive"},
	{"{\\rtf", "RTF document: save it as .docx"},
}

var extFormats = map[string]Format{
	".md": FormatMarkdown, ".markdown": FormatMarkdown, ".mdown": FormatMarkdown, ".mkd": FormatMarkdown,
	".html": FormatHTML, ".htm": FormatHTML, ".xhtml": FormatHTML,
	".csv": FormatCSV, ".tsv": FormatTSV, ".tab": FormatTSV,
	".txt": FormatText, ".text": FormatText, ".log": FormatText,
}

// sniff decides a file's format from its content, using the extension
// only to choose among text formats.
func sniff(name string, data []byte) (Format, error) {
	ext := strings.ToLower(path.Ext(name))
	head := data[:min(len(data), 1024)]
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")), ext == ".pdf" && bytes.Contains(head, []byte("%PDF-")):
		return FormatPDF, nil
	case bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return sniffZip(data)
	}
	for _, b := range knownBinaries {
		if bytes.HasPrefix(data, []byte(b.magic)) {
			return "", fmt.Errorf("%w: %s", ErrUnsupportedType, b.what)
		}
	}
	switch ext {
	case ".pdf", ".docx", ".xlsx":
		return "", fmt.Errorf("%w: named %s but the content is not a %s file", ErrCorrupt, ext, strings.TrimPrefix(ext, "."))
	}
	if !looksLikeText(data) {
		return "", fmt.Errorf("%w: binary content (%s)", ErrUnsupportedType, http.DetectContentType(data))
	}
	if f, ok := extFormats[ext]; ok {
		return f, nil
	}
	if strings.HasPrefix(http.DetectContentType(data), "text/html") {
		return FormatHTML, nil
	}
	return FormatText, nil
}

// looksLikeText reports whether data is text in an encoding decodeText
// handles: no control bytes other than whitespace, or a UTF-16 BOM.
func looksLikeText(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return len(data)%2 == 0
	}
	sample := data[:min(len(data), 8192)]
	for _, c := range sample {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b {
			return false
		}
	}
	return true
}
