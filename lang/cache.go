package lang

import "github.com/dealdesk/dealdesk/internal/textcache"

// Texts shorter than minCached segment faster than a cache lookup pays for.
// (The cache itself leaves out texts over textcache.MaxText.)
const minCached = 64

// recent holds the segmentations of recent texts (16 shards of 256).
var recent = textcache.New[[]string](4096)
