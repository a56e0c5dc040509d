package auth

import (
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultKeyCacheTTL is how long a server trusts a key it has read (see
// Service.CacheKeys).
const DefaultKeyCacheTTL = 5 * time.Second

// maxCachedKeys bounds the cache: past it, entries that have expired are
// dropped, and if none has, the whole cache is, so that it never holds more
// than this many principals whatever callers send.
const maxCachedKeys = 10000

// keyCache remembers the principals of valid keys for a short time, keyed
// by the key's SHA-256 (the secret itself is never kept). Unknown and
// revoked keys are not remembered: they are read again every time.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.RWMutex
	m  map[[32]byte]cachedKey
}

type cachedKey struct {
	p       Principal
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, now: time.Now, m: map[[32]byte]cachedKey{}}
}

func (c *keyCache) get(hash [32]byte) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return Principal{}, false
	}
	p := e.p
	p.Regions = slices.Clone(p.Regions) // callers may change their copy
	return p, true
}

func (c *keyCache) put(hash [32]byte, p Principal) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		for h, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, h)
			}
		}
		if len(c.m) >= maxCachedKeys {
			clear(c.m)
		}
	}
	p.Regions = slices.Clone(p.Regions) // the caller keeps its own copy
	c.m[hash] = cachedKey{p: p, expires: now.Add(c.ttl)}
}

// drop forgets the key with that hash.
func (c *keyCache) drop(hash [32]byte) {
	c.mu.Lock()
	delete(c.m, hash)
	c.mu.Unlock()
}

// forget drops the key with that id (revocations are rare, so a scan).
func (c *keyCache) forget(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.p.KeyID == id {
			delete(c.m, h)
		}
	}
}
