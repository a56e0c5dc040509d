package lang

import (
	"fmt"
	"math"
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
		out = e.bytePairEncode(piece, out)
	}
	return out
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
