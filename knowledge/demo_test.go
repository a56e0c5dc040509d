package knowledge

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"testing"
)

// TestDemoCorpus ingests the demo knowledge base the way `dealdesk demo`
// will: every document loads, its metadata resolves (front matter or
// sidecar, kind matching its folder) and it chunks within bounds.
func TestDemoCorpus(t *testing.T) {
	root := os.DirFS("demo")
	files, err := fs.Glob(root, "*/*")
	if err != nil || len(files) == 0 {
		t.Skip("no demo corpus")
	}
	kinds := map[Kind]int{}
	for _, name := range files {
		if IsSidecar(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(root, name)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(context.Background(), name, bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var sidecar *Metadata
			if f, err := root.Open(SidecarName(name)); err == nil {
				m, err := ParseSidecar(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				sidecar = &m
			}
			m, err := ResolveMetadata(name, p, Metadata{}, sidecar)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := ParseKind(path.Dir(name)); m.Kind != want {
				t.Errorf("kind %s in folder %s", m.Kind, path.Dir(name))
			}
			if m.Date.IsZero() || m.Region == "" || m.Language == "" {
				t.Errorf("incomplete metadata: %+v", m)
			}
			if m.Kind.IsDeal() && (m.Deal == nil || m.Deal.Amount == 0) {
				t.Errorf("deal record without deal facts: %+v", m)
			}
			kinds[m.Kind]++
			var c Chunker
			checkChunks(t, c, p, c.Chunk(p))
		})
	}
	t.Logf("demo corpus: %v", kinds)
}
