package providers

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/tmc/langchaingo/embeddings"
)

// OfflineEmbedder embeds text with signed feature hashing: no model, no
// network, the same vector for the same text on every machine. It matches
// texts that share words, so it serves lexical-semantic retrieval ("same
// topic, same terms") in Chinese and English, not paraphrase.
//
// Features are the words of lang.Words (Chinese segmented, English
// lower-cased) and adjacent word pairs, character bigrams of Chinese runs
// (robust to segmentation differences) and character trigrams of longer
// Latin words (so "pricing" still meets "price"). Each feature is hashed
// (FNV-1a 64) to a bucket and a sign, weighted by 1+ln(tf) and down for
// stopwords, and the vector is L2-normalised.
//
// A text with no features (empty, or only punctuation) embeds as a fixed
// unit vector, so cosine distance stays defined: all such texts are
// identical to each other and unrelated to everything else.
type OfflineEmbedder struct {
	dim int
}

var _ embeddings.Embedder = (*OfflineEmbedder)(nil)

// NewOfflineEmbedder returns an embedder producing dim-dimensional
// vectors; dim <= 0 means DefaultEmbedDim.
func NewOfflineEmbedder(dim int) *OfflineEmbedder {
	if dim <= 0 {
		dim = DefaultEmbedDim
	}
	return &OfflineEmbedder{dim: dim}
}

// Dim returns the dimension of the vectors the embedder produces.
func (e *OfflineEmbedder) Dim() int { return e.dim }

// EmbedQuery implements embeddings.Embedder.
func (e *OfflineEmbedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := make([]float32, e.dim)
	s := scratchPool.Get().(*scratch)
	e.embed(text, v, s)
	scratchPool.Put(s)
	return v, nil
}

// EmbedDocuments implements embeddings.Embedder. Large inputs are embedded
// on all CPUs; the result does not depend on how the work was split.
func (e *OfflineEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	// One allocation for all vectors; capacities are capped so appending
	// to one vector cannot overwrite the next.
	slab := make([]float32, len(texts)*e.dim)
	for i := range out {
		out[i] = slab[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
	}
	const grain = 16 // texts a worker claims at a time
	var next atomic.Int64
	work := func() error {
		s := scratchPool.Get().(*scratch)
		defer scratchPool.Put(s)
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			lo := int(next.Add(grain)) - grain
			if lo >= len(texts) {
				return nil
			}
			for i := lo; i < min(lo+grain, len(texts)); i++ {
				e.embed(texts[i], out[i], s)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(texts)+grain-1)/grain)
	if workers <= 1 {
		if err := work(); err != nil {
			return nil, err
		}
		return out, nil
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = work() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Feature weights, relative to a content word.
const (
	stopwordWeight    = 0.1
	wordPairWeight    = 0.5
	cjkBigramWeight   = 0.5
	trigramWordWeight = 0.6 // shared by all trigrams of one word
	minTrigramWord    = 5   // shorter words are matched whole only
)

// Feature namespaces keep, say, the word "ab" apart from the trigram "ab".
const (
	nsWord byte = iota + 1
	nsPair
	nsCJKBigram
	nsTrigram
	nsEmpty
)

type feature struct {
	h uint64
	w float32
}

// scratch is one worker's reusable memory: the features of the text being
// embedded and an open-addressing table that merges repeated features.
type scratch struct {
	feats []feature
	slots []slot
	used  []int32
}

type slot struct {
	h     uint64
	sum   float32
	count int32
}

var scratchPool = sync.Pool{New: func() any { return &scratch{feats: make([]feature, 0, 2048)} }}

// embed writes the vector of text into v, which must be zeroed.
func (e *OfflineEmbedder) embed(text string, v []float32, s *scratch) {
	feats := s.feats[:0]
	add := func(h uint64, w float32) { feats = append(feats, feature{h, w}) }
	addWord := func(w string, weight float32) {
		add(fnvString(fnvByte(fnvOffset, nsWord), w), weight)
	}

	var prev string
	var prevWeight float32
	for _, w := range lang.Words(text) {
		weight := float32(1)
		if isStopword(w) {
			weight = stopwordWeight
		}
		addWord(w, weight)
		if prev != "" {
			h := fnvString(fnvByte(fnvOffset, nsPair), prev)
			add(fnvString(fnvByte(h, 0), w), wordPairWeight*min(weight, prevWeight))
		}
		// "on-premises" should meet "premises", "2024-06-30" meet "2024".
		if strings.ContainsAny(w, "-_.") {
			for part := range strings.FieldsFuncSeq(w, isJoiner) {
				pw := float32(1)
				if isStopword(part) {
					pw = stopwordWeight
				}
				addWord(part, pw)
			}
		}
		if len(w) >= minTrigramWord && isASCIILetters(w) {
			tw := float32(trigramWordWeight / math.Sqrt(float64(len(w))))
			// Trigrams of "<word>", the angle brackets marking the ends.
			for i := -1; i+2 <= len(w); i++ {
				h := fnvByte(fnvOffset, nsTrigram)
				for j := i; j < i+3; j++ {
					c := byte('<')
					switch {
					case j == len(w):
						c = '>'
					case j >= 0:
						c = w[j]
					}
					h = fnvByte(h, c)
				}
				add(h, tw)
			}
		}
		prev, prevWeight = w, weight
	}

	prevStart, prevCJK := 0, false
	for i, r := range text {
		cjk := isCJK(r)
		if cjk && prevCJK {
			add(fnvString(fnvByte(fnvOffset, nsCJKBigram), text[prevStart:i+utf8.RuneLen(r)]), cjkBigramWeight)
		}
		prevStart, prevCJK = i, cjk
	}

	if len(feats) == 0 {
		feats = append(feats, feature{fnvByte(fnvOffset, nsEmpty), 1})
	}
	s.feats = feats
	s.merge()

	for _, i := range s.used {
		sl := &s.slots[i]
		// Sublinear tf: the mean weight of the occurrences times 1+ln(tf).
		val := sl.sum / float32(sl.count)
		if sl.count > 1 {
			val *= 1 + float32(math.Log(float64(sl.count)))
		}
		h := mix64(sl.h)
		idx := (h & 0xffffffff) * uint64(e.dim) >> 32
		if h>>63 != 0 {
			val = -val
		}
		v[idx] += val
		*sl = slot{}
	}

	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		// Every bucket cancelled out; practically impossible, but the
		// vector must still have unit length.
		v[0] = 1
		return
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range v {
		v[i] *= inv
	}
}

// merge folds repeated features together in s.slots, listing the slots in
// use, in order of first appearance, in s.used. The caller clears the
// slots it reads.
func (s *scratch) merge() {
	size := 1024
	for size < 2*len(s.feats) {
		size *= 2
	}
	if len(s.slots) < size {
		s.slots = make([]slot, size)
	}
	mask := uint64(len(s.slots) - 1)
	s.used = s.used[:0]
	for _, f := range s.feats {
		i := mix64(f.h^0x9e3779b97f4a7c15) & mask
		for s.slots[i].count != 0 && s.slots[i].h != f.h {
			i = (i + 1) & mask
		}
		sl := &s.slots[i]
		if sl.count == 0 {
			sl.h = f.h
			s.used = append(s.used, int32(i))
		}
		sl.sum += f.w
		sl.count++
	}
}

func isJoiner(r rune) bool { return r == '-' || r == '_' || r == '.' }

// isCJK is lang.IsCJK with a fast path for the common Han block.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x2E80 && lang.IsCJK(r)
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// mix64 is MurmurHash3's finaliser: FNV-1a's low bits are too regular to
// pick buckets and signs from directly.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
