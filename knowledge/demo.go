package knowledge

import "embed"

// DemoFS holds the demo knowledge base under demo/: documents of a
// fictional vendor selling to government and enterprise customers, in
// Chinese and English (see demo/README.md). `dealdesk demo` loads it.
//
//go:embed demo
var DemoFS embed.FS
