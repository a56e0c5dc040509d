package lang

import (
	"hash/maphash"
	"sync"
)

// Texts shorter than minCached segment faster than a cache lookup pays for;
// longer than maxCached are rarely repeated and would hold much memory.
const (
	minCached = 64
	maxCached = 16 << 10
)

// wordCache is a small sharded FIFO cache of segmentations.
type wordCache struct {
	seed   maphash.Seed
	shards [16]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	m     map[uint64]cacheEntry
	order []uint64
	next  int
}

type cacheEntry struct {
	text  string
	words []string
}

const entriesPerShard = 256

var recent = newWordCache()

func newWordCache() *wordCache {
	c := &wordCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cacheEntry, entriesPerShard)
		c.shards[i].order = make([]uint64, 0, entriesPerShard)
	}
	return c
}

func (c *wordCache) get(text string) ([]string, bool) {
	h := maphash.String(c.seed, text)
	s := &c.shards[h%uint64(len(c.shards))]
	s.mu.Lock()
	e, ok := s.m[h]
	s.mu.Unlock()
	if !ok || e.text != text {
		return nil, false
	}
	return e.words, true
}

func (c *wordCache) put(text string, words []string) {
	h := maphash.String(c.seed, text)
	s := &c.shards[h%uint64(len(c.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; ok {
		s.m[h] = cacheEntry{text, words}
		return
	}
	if len(s.order) < entriesPerShard {
		s.order = append(s.order, h)
	} else {
		delete(s.m, s.order[s.next])
		s.order[s.next] = h
		s.next = (s.next + 1) % entriesPerShard
	}
	s.m[h] = cacheEntry{text, words}
}
