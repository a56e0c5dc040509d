package lang

import "github.com/dealdesk/dealdesk/internal/textcache"

// Texts shorter than minCached segment faster than a cache lookup pays for;
// longer than maxCached are rarely repeated and would hold much memory.
const (
	minCached = 64
	maxCached = 16 << 10
)

// recent holds the segmentations of recent texts (16 shards of 256).
var recent = textcache.New[[]string](4096)
