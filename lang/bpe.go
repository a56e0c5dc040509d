package lang

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// cl100k is a cl100k_base encoder that gives exactly tiktoken's tokens
// about five times faster: tiktoken-go pre-tokenises with a backtracking
// regular-expression engine, which made token counting the largest cost of
// ingestion. Here the pattern
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// is matched by hand (nextPiece), and pieces are merged with the same
// byte-pair ranks, loaded from the embedded BPE file. TestMatchesTiktoken
// and FuzzMatchesTiktoken hold it to tiktoken's output.
type cl100k struct {
	ranks   map[string]int
	decoder []string
}

const cl100kFile = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken" // the loader's key for its embedded copy

var fastEncoder = sync.OnceValues(func() (*cl100k, error) {
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(cl100kFile)
	if err != nil {
		return nil, fmt.Errorf("lang: load %s ranks: %w", Encoding, err)
	}
	maxRank := 0
	for _, r := range ranks {
		maxRank = max(maxRank, r)
	}
	dec := make([]string, maxRank+1)
	for s, r := range ranks {
		dec[r] = s
	}
	return &cl100k{ranks: ranks, decoder: dec}, nil
})

func (e *cl100k) encode(text string, out []int) []int {
	for len(text) > 0 {
		n := nextPiece(text)
		piece := text[:n]
		text = text[n:]
		if r, ok := e.ranks[piece]; ok {
			out = append(out, r)
			continue
		}
		if len(piece) < minCachedPiece {
			out = e.bytePairEncode(piece, out)
			continue
		}
		if ids, ok := pieces.get(piece); ok {
			out = append(out, ids...)
			continue
		}
		start := len(out)
		out = e.bytePairEncode(piece, out)
		pieces.put(piece, out[start:])
	}
	return out
}

// minCachedPiece is the shortest piece worth caching: merging costs grow
// with the square of the length, and Chinese runs (three bytes a
// character) are the long pieces that repeat, as the same passages are
// retrieved, chunked and counted again.
const minCachedPiece = 12

// maxCachedPieces bounds the piece cache (a few MB); it starts afresh
// when full.
const maxCachedPieces = 1 << 16

// pieceCache maps a pre-tokenisation piece to its token ids.
type pieceCache struct {
	mu  sync.RWMutex
	ids map[string][]int
}

var pieces = &pieceCache{}

func (c *pieceCache) get(piece string) ([]int, bool) {
	c.mu.RLock()
	ids, ok := c.ids[piece]
	c.mu.RUnlock()
	return ids, ok
}

func (c *pieceCache) put(piece string, ids []int) {
	c.mu.Lock()
	if c.ids == nil || len(c.ids) >= maxCachedPieces {
		c.ids = make(map[string][]int, 1024)
	}
	c.ids[strings.Clone(piece)] = slices.Clone(ids)
	c.mu.Unlock()
}

func (e *cl100k) decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id >= 0 && id < len(e.decoder) {
			b = append(b, e.decoder[id]...)
		}
	}
	return string(b)
}

// bytePairEncode is tiktoken's byte_pair_merge: repeatedly join the
// adjacent pair with the lowest rank until no pair is a token.
func (e *cl100k) bytePairEncode(piece string, out []int) []int {
	if len(piece) == 1 {
		return append(out, e.ranks[piece])
	}
	if len(piece) > heapMergeBytes {
		return e.bytePairEncodeHeap(piece, out)
	}
	return e.bytePairEncodeLoop(piece, out)
}

// bytePairEncodeLoop is the direct transcription of tiktoken's loop,
// quadratic in the piece length and fastest for short pieces.
func (e *cl100k) bytePairEncodeLoop(piece string, out []int) []int {
	if len(piece) == 1 {
		return append(out, e.ranks[piece])
	}
	type part struct{ start, rank int }
	parts := make([]part, len(piece)+1)
	rank := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r, ok := e.ranks[piece[parts[i].start:parts[i+skip+2].start]]; ok {
				return r
			}
		}
		return math.MaxInt
	}
	for i := range parts {
		parts[i] = part{i, math.MaxInt}
	}
	for i := 0; i+2 < len(parts); i++ {
		parts[i].rank = rank(i, 0)
	}
	for len(parts) > 1 {
		minRank, minIdx := math.MaxInt, -1
		for i := 0; i+1 < len(parts); i++ {
			if parts[i].rank < minRank {
				minRank, minIdx = parts[i].rank, i
			}
		}
		if minIdx < 0 {
			break
		}
		parts[minIdx].rank = rank(minIdx, 1)
		if minIdx > 0 {
			parts[minIdx-1].rank = rank(minIdx-1, 1)
		}
		parts = append(parts[:minIdx+1], parts[minIdx+2:]...)
	}
	for i := 0; i+1 < len(parts); i++ {
		out = append(out, e.ranks[piece[parts[i].start:parts[i+1].start]])
	}
	return out
}

// heapMergeBytes is the piece length from which merging uses a heap: the
// simple loop is quadratic, which long runs of Chinese (one pre-token
// piece per run of letters) make expensive.
const heapMergeBytes = 48

// bytePairEncodeHeap is bytePairEncode in O(n log n): the boundaries are
// a linked list, candidate merges sit in a heap ordered by rank and then
// position (the leftmost of equal ranks merges first, as in tiktoken), and
// entries made stale by a neighbouring merge are skipped when popped.
func (e *cl100k) bytePairEncodeHeap(piece string, out []int) []int {
	n := len(piece)
	// Boundaries 0..n; next/prev link the live ones; rank[i] is the rank of
	// merging the parts that start at boundary i and at next[i].
	next := make([]int32, n+1)
	prev := make([]int32, n+1)
	rank := make([]int, n+1)
	for i := range n + 1 {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	pairRank := func(i int) int {
		j := int(next[i])
		if j >= n {
			return math.MaxInt
		}
		k := int(next[j])
		if r, ok := e.ranks[piece[i:k]]; ok {
			return r
		}
		return math.MaxInt
	}
	h := make(mergeHeap, 0, n)
	for i := 0; i < n; i++ {
		rank[i] = pairRank(i)
		if rank[i] != math.MaxInt {
			h = append(h, mergeCand{rank[i], int32(i)})
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		c := heap.Pop(&h).(mergeCand)
		i := int(c.pos)
		if rank[i] != c.rank || c.rank == math.MaxInt {
			continue // stale: a neighbour merged since this entry was made
		}
		// Merge the part at i with the next one: drop boundary next[i].
		j := int(next[i])
		next[i] = next[j]
		if int(next[j]) <= n {
			prev[next[j]] = int32(i)
		}
		rank[j] = math.MaxInt
		for _, b := range [2]int{i, int(prev[i])} {
			if b < 0 {
				continue
			}
			if r := pairRank(b); r != rank[b] {
				rank[b] = r
				if r != math.MaxInt {
					heap.Push(&h, mergeCand{r, int32(b)})
				}
			}
		}
	}
	for i := 0; i < n; i = int(next[i]) {
		out = append(out, e.ranks[piece[i:next[i]]])
	}
	return out
}

type mergeCand struct {
	rank int
	pos  int32
}

type mergeHeap []mergeCand

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(a, b int) bool {
	return h[a].rank < h[b].rank || h[a].rank == h[b].rank && h[a].pos < h[b].pos
}
func (h mergeHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeCand)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// nextPiece returns the byte length of the pre-tokenisation piece that
// starts text, following the cl100k pattern's alternatives in order.
func nextPiece(text string) int {
	r0, n0 := utf8.DecodeRuneInString(text)
	// 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r0 == '\'' && len(text) > 1 {
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if len(text) >= 1+len(c) && equalFoldASCII(text[1:1+len(c)], c) {
				return 1 + len(c)
			}
		}
	}
	// 2. [^\r\n\p{L}\p{N}]?\p{L}+
	if unicode.IsLetter(r0) {
		return n0 + letters(text[n0:])
	}
	if r0 != '\r' && r0 != '\n' && !unicode.IsNumber(r0) {
		if r1, _ := utf8.DecodeRuneInString(text[n0:]); len(text) > n0 && unicode.IsLetter(r1) {
			return n0 + letters(text[n0:])
		}
	}
	// 3. \p{N}{1,3}
	if unicode.IsNumber(r0) {
		n := n0
		for range 2 {
			r, size := utf8.DecodeRuneInString(text[n:])
			if n >= len(text) || !unicode.IsNumber(r) {
				break
			}
			n += size
		}
		return n
	}
	// 4. " ?[^\s\p{L}\p{N}]+[\r\n]*"
	start := 0
	if r0 == ' ' {
		start = 1
	}
	if n := symbols(text[start:]); n > 0 {
		end := start + n
		for end < len(text) && (text[end] == '\r' || text[end] == '\n') {
			end++
		}
		return end
	}
	// 5-7 start with whitespace.
	ws, lastNL := 0, -1
	for ws < len(text) {
		r, size := utf8.DecodeRuneInString(text[ws:])
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = ws + size
		}
		ws += size
	}
	switch {
	case lastNL > 0: // 5. \s*[\r\n]+
		return lastNL
	case ws == len(text): // 6. \s+(?!\S) at the end
		return ws
	case ws > 0:
		// 6. \s+(?!\S): give back the last space so it can lead the next
		// word; 7. \s+ when that leaves nothing.
		_, last := utf8.DecodeLastRuneInString(text[:ws])
		if ws-last > 0 {
			return ws - last
		}
		return ws
	}
	return n0 // not reached for valid input; never loop forever
}

func letters(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !unicode.IsLetter(r) {
			break
		}
		n += size
	}
	return n
}

// symbols measures a run of characters that are not space, letter or number.
func symbols(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if unicode.IsSpace(r) || unicode.IsLetter(r) || unicode.IsNumber(r) {
			break
		}
		n += size
	}
	return n
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}
