package textcache

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestCacheReturnsWhatWasStored(t *testing.T) {
	c := New[int](64)
	if _, ok := c.Get("missing"); ok {
		t.Fatal("empty cache returned a value")
	}
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("a", 3)
	if v, ok := c.Get("a"); !ok || v != 3 {
		t.Fatalf("a = %d, %v; want 3", v, ok)
	}
	if v, ok := c.Get("b"); !ok || v != 2 {
		t.Fatalf("b = %d, %v; want 2", v, ok)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := New[string](256)
	key := func(i int) string { return strings.Repeat("x", 64) + strconv.Itoa(i) }
	for i := range 10000 {
		c.Put(key(i), strconv.Itoa(i))
	}
	if n := c.Len(); n > 256 {
		t.Fatalf("cache grew to %d entries, bound 256", n)
	}
	if v, ok := c.Get(key(9999)); !ok || v != "9999" {
		t.Fatal("newest entry evicted")
	}
	if _, ok := c.Get(key(0)); ok {
		t.Fatal("oldest entry kept past the bound")
	}
}

func TestMemoComputesOnce(t *testing.T) {
	c := New[int](64)
	calls := 0
	f := func(s string) int { calls++; return len(s) }
	for range 3 {
		if v := c.Memo("hello", f); v != 5 {
			t.Fatalf("Memo = %d, want 5", v)
		}
	}
	if calls != 1 {
		t.Fatalf("f called %d times, want 1", calls)
	}
}

func TestCacheIsSafeConcurrently(t *testing.T) {
	c := New[int](128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := strconv.Itoa((g*7 + i) % 300)
				if v := c.Memo(k, func(s string) int { n, _ := strconv.Atoi(s); return n }); strconv.Itoa(v) != k {
					t.Errorf("Memo(%q) = %d", k, v)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 128 {
		t.Fatalf("cache grew to %d entries", c.Len())
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[bool](1024)
	text := strings.Repeat("苏州市数据局一网通办平台项目要求信创适配。", 40)
	c.Put(text, true)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		c.Get(text)
	}
}

func TestLongTextsAreNotRemembered(t *testing.T) {
	c := New[int](64)
	long := strings.Repeat("x", MaxText+1)
	c.Put(long, 1)
	if _, ok := c.Get(long); ok || c.Len() != 0 {
		t.Fatalf("a text of %d bytes was stored", len(long))
	}
	calls := 0
	for range 2 {
		if v := c.Memo(long, func(s string) int { calls++; return len(s) }); v != len(long) {
			t.Fatalf("Memo = %d", v)
		}
	}
	if calls != 2 || c.Len() != 0 {
		t.Fatalf("long text: %d calls, %d entries; want 2 and 0", calls, c.Len())
	}
	edge := strings.Repeat("x", MaxText)
	c.Put(edge, 2)
	if v, ok := c.Get(edge); !ok || v != 2 {
		t.Fatal("a text of exactly MaxText bytes was not stored")
	}
}
