package knowledge

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// sniffZip tells Office Open XML documents from other zip files.
func sniffZip(data []byte) (Format, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: broken zip container: %v", ErrCorrupt, err)
	}
	var odf, pptx bool
	for _, f := range zr.File {
		name := strings.ToLower(f.Name)
		switch {
		case strings.HasPrefix(name, "word/document") && strings.HasSuffix(name, ".xml"):
			return FormatDOCX, nil
		case name == "xl/workbook.xml":
			return FormatXLSX, nil
		case name == "ppt/presentation.xml":
			pptx = true
		case name == "content.xml":
			odf = true
		}
	}
	switch {
	case pptx:
		return "", fmt.Errorf("%w: PowerPoint (.pptx) files are not supported yet: export to PDF", ErrUnsupportedType)
	case odf:
		return "", fmt.Errorf("%w: OpenDocument files are not supported: save as .docx or .xlsx", ErrUnsupportedType)
	}
	return "", fmt.Errorf("%w: zip archive", ErrUnsupportedType)
}

// zipPackage is a DOCX or XLSX container opened within the loader's
// limits: entry count and total expanded size are checked up front from the
// central directory (archive/zip then fails reads of entries that expand
// beyond their declared size), and reads draw on a shared byte budget.
type zipPackage struct {
	r      *zip.Reader
	budget int64
}

func (l *Loader) openZip(data []byte) (*zipPackage, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: broken zip container: %v", ErrCorrupt, err)
	}
	if n := len(zr.File); n > l.maxZipEntries() {
		return nil, fmt.Errorf("%w: %d zip entries, limit %d", ErrTooLarge, n, l.maxZipEntries())
	}
	limit := l.maxUnzipped()
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(limit) {
			return nil, fmt.Errorf("%w: expands to more than %d bytes (zip bomb?)", ErrTooLarge, limit)
		}
	}
	return &zipPackage{r: zr, budget: limit}, nil
}

// lookup finds an entry by name, ignoring case and a leading slash as
// Office does.
func (z *zipPackage) lookup(name string) *zip.File {
	name = strings.TrimPrefix(name, "/")
	for _, f := range z.r.File {
		if f.Name == name {
			return f
		}
	}
	for _, f := range z.r.File {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// open opens an entry for reading within the remaining budget. A missing
// entry is fs.ErrNotExist.
func (z *zipPackage) open(name string) (io.ReadCloser, error) {
	f := z.lookup(name)
	if f == nil {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return &budgetReader{rc: rc, z: z, name: name}, nil
}

// read reads a whole entry; a missing entry is fs.ErrNotExist.
func (z *zipPackage) read(name string) ([]byte, error) {
	rc, err := z.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

type budgetReader struct {
	rc   io.ReadCloser
	z    *zipPackage
	name string
}

func (r *budgetReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.z.budget -= int64(n)
	if r.z.budget < 0 {
		return n, fmt.Errorf("%w: %s expands beyond the limit (zip bomb?)", ErrTooLarge, r.name)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("%w: %s: %v", ErrCorrupt, r.name, err)
	}
	return n, err
}

func (r *budgetReader) Close() error { return r.rc.Close() }
