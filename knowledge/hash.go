package knowledge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ContentHash returns the SHA-256 of data in lowercase hex: the identity of
// an upload's bytes.
func ContentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ContentHash returns a SHA-256 hex digest of what p says: its blocks,
// title, page count and front matter, but not its name, source encoding or
// warnings. Files that read the same hash the same, so re-saving a DOCX
// (new zip timestamps) or re-encoding a text file from GBK to UTF-8 does
// not make the store re-embed it; any change to the text, structure or
// front matter does.
func (p *Parsed) ContentHash() string {
	h := sha256.New()
	content := struct {
		Format Format  `json:"format"`
		Title  string  `json:"title"`
		Pages  int     `json:"pages"`
		Blocks []Block `json:"blocks"`
	}{p.Format, p.Title, p.Pages, p.Blocks}
	if err := json.NewEncoder(h).Encode(content); err != nil {
		panic("knowledge: encode blocks: " + err.Error()) // strings and ints only
	}
	// Metadata goes through fmt, not JSON: Extra may hold YAML values JSON
	// rejects, and fmt prints maps with sorted keys, so it is stable.
	meta := p.Meta
	deal := meta.Deal
	meta.Deal = nil
	fmt.Fprintf(h, "%+v\n", meta)
	if deal != nil {
		fmt.Fprintf(h, "%+v\n", *deal)
	}
	return hex.EncodeToString(h.Sum(nil))
}
