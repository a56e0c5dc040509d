// Package textcache remembers a value computed from a text, for work that
// is repeated on the same texts: segmenting a chunk's words, checking a
// retrieved source for injected instructions or for personal data. The
// same chunks come back in search after search, so the work is done once
// per text rather than once per request.
//
// A Cache is bounded and safe for concurrent use. It is sharded, each shard
// a FIFO: an entry is evicted after a fixed number of newer ones, however
// often it was read, which keeps a lookup to one map access under a mutex
// held for nanoseconds. Entries are found by a hash and confirmed by
// comparing the text itself, so a collision costs a recomputation, never a
// wrong answer. Texts longer than MaxText are never remembered, so that a
// cache's memory is bounded by its entries times MaxText.
package textcache

import (
	"hash/maphash"
	"sync"
)

const shards = 16

// MaxText is the longest text a cache remembers (16 KiB): longer ones, a
// whole transcript or tender, are rarely seen twice and would hold much
// memory. Get misses them, Put ignores them and Memo computes them.
const MaxText = 16 << 10

// Cache maps texts to values of type V.
type Cache[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [shards]shard[V]
}

type shard[V any] struct {
	mu    sync.Mutex
	m     map[uint64]entry[V]
	order []uint64
	next  int
}

type entry[V any] struct {
	text  string
	value V
}

// New returns a cache holding at most entries values (rounded up to a
// multiple of its 16 shards, at least one per shard).
func New[V any](entries int) *Cache[V] {
	per := max(1, (entries+shards-1)/shards)
	c := &Cache[V]{seed: maphash.MakeSeed(), perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]entry[V], per)
		c.shards[i].order = make([]uint64, 0, per)
	}
	return c
}

// Get returns the value stored for text (never one for a text longer than
// MaxText).
func (c *Cache[V]) Get(text string) (V, bool) {
	if len(text) > MaxText {
		var zero V
		return zero, false
	}
	h := maphash.String(c.seed, text)
	s := &c.shards[h%shards]
	s.mu.Lock()
	e, ok := s.m[h]
	s.mu.Unlock()
	if !ok || e.text != text {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores value for text, evicting the shard's oldest entry when it is
// full. A text longer than MaxText is not stored.
func (c *Cache[V]) Put(text string, value V) {
	if len(text) > MaxText {
		return
	}
	h := maphash.String(c.seed, text)
	s := &c.shards[h%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; ok {
		s.m[h] = entry[V]{text, value}
		return
	}
	if len(s.order) < c.perShard {
		s.order = append(s.order, h)
	} else {
		delete(s.m, s.order[s.next])
		s.order[s.next] = h
		s.next = (s.next + 1) % c.perShard
	}
	s.m[h] = entry[V]{text, value}
}

// Len returns the number of entries held.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Memo returns f(text), computing it only when text is not cached yet.
// Concurrent first calls for one text may each compute it; f must be a pure
// function of text.
func (c *Cache[V]) Memo(text string, f func(string) V) V {
	if v, ok := c.Get(text); ok {
		return v
	}
	v := f(text)
	c.Put(text, v)
	return v
}
