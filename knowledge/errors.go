package knowledge

import "errors"

// Conditions callers branch on. Errors returned by this package wrap one of
// these (test with errors.Is) together with a message that says which file
// and what exactly was wrong.
var (
	// ErrUnsupportedType means the file is not in a format we can read
	// (an image, an executable, a legacy .doc, an encrypted document...).
	ErrUnsupportedType = errors.New("unsupported file type")
	// ErrEmpty means the file is empty or holds no text.
	ErrEmpty = errors.New("no text in file")
	// ErrCorrupt means the file claims a supported format but cannot be
	// parsed as one.
	ErrCorrupt = errors.New("corrupt file")
	// ErrTooLarge means the file, or what it expands to (a zip bomb), is
	// over a configured limit.
	ErrTooLarge = errors.New("file too large")
	// ErrNoTextLayer means a PDF has pages but no extractable text: usually
	// a scan that needs OCR first.
	ErrNoTextLayer = errors.New("no text layer (scanned PDF?)")
	// ErrInvalidMetadata means document metadata is malformed or
	// incomplete: an unknown kind, a bad date, unreadable front matter.
	ErrInvalidMetadata = errors.New("invalid metadata")
)
