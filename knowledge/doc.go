// Package knowledge turns a tenant's files into the documents and chunks that
// retrieval searches: it sniffs and parses uploads (Markdown, HTML, plain
// text, CSV/TSV, XLSX, DOCX and text-layer PDF) into structured [Block]s that
// keep headings, pages and table rows; resolves a document's [Metadata] from
// the request, front matter, a sidecar file and what can be inferred; and
// packs blocks into token-bounded [Chunk]s that carry their heading path, so
// every chunk can be cited and understood on its own.
//
// Everything here is independent of the database: it reads bytes and returns
// values. Loading fails with one of a few sentinel errors ([ErrUnsupportedType],
// [ErrEmpty], [ErrCorrupt], [ErrTooLarge], [ErrNoTextLayer],
// [ErrInvalidMetadata]) that callers test with [errors.Is] and the API maps to
// problem codes. Parsers of untrusted input are bounded (size, zip
// expansion, rows, cells) and a panic inside a third-party parser is reported
// as [ErrCorrupt] rather than crashing the process.
package knowledge
