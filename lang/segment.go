package lang

import (
	"strings"
	"sync"
	"unicode"

	"github.com/go-ego/gse"
)

// domainWords are sales and public-sector terms the general dictionary splits
// badly; keeping them whole makes lexical search and the offline embedder
// match the way people write them.
var domainWords = []string{
	"信创", "一网通办", "等保三级", "等保二级", "财政拨款", "专项债", "招标文件", "投标保证金",
	"评分标准", "技术参数", "资格要求", "数据局", "政务云", "智慧城市", "超融合", "国产化",
	"鲲鹏", "飞腾", "麒麟", "统信", "海光", "龙芯", "私有云", "数据安全", "分类分级",
}

var segmenter = sync.OnceValue(func() *gse.Segmenter {
	seg, err := gse.NewEmbed("zh_s")
	if err != nil {
		// The dictionary is compiled into the binary; failing to parse it is
		// a build defect.
		panic("lang: load embedded Chinese dictionary: " + err.Error())
	}
	for _, w := range domainWords {
		seg.AddToken(w, 100000, "n")
	}
	return &seg
})

// Warm loads the segmentation dictionary and the BPE table now rather than on
// first use, so that the first request does not pay for it.
func Warm() {
	segmenter()
	mustFast()
}

// Words splits text into lower-cased words for indexing and matching. Chinese
// runs are segmented with a dictionary (search mode, so compounds also yield
// their parts); Latin words and numbers are kept whole; punctuation and
// spaces are dropped.
//
// Results for recent texts are memoised: ingestion segments each chunk for
// the lexical index and the offline embedder segments it again, and search
// does the same with each query. The returned slice is shared; callers must
// not modify it.
func Words(text string) []string {
	if len(text) < minCached {
		return words(text)
	}
	return recent.Memo(text, words)
}

func words(text string) []string {
	out := make([]string, 0, len(text)/3)
	forEachRun(text, func(run string, cjk bool) {
		if !cjk {
			out = append(out, strings.ToLower(run))
			return
		}
		for _, w := range segmenter().CutSearch(run, true) {
			if w = strings.TrimSpace(w); w != "" && hasWordRune(w) {
				out = append(out, w)
			}
		}
	})
	return out
}

// SegmentedText returns text with words separated by single spaces, the form
// PostgreSQL's text search parser needs to index Chinese.
func SegmentedText(text string) string {
	return strings.Join(Words(text), " ")
}

// IsCJK reports whether r is a Han, Hiragana, Katakana or Hangul character.
func IsCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// forEachRun calls fn for each maximal run of CJK characters and each Latin
// word or number in text, in order.
func forEachRun(text string, fn func(run string, cjk bool)) {
	start, inCJK := -1, false
	flush := func(end int) {
		if start >= 0 {
			fn(text[start:end], inCJK)
			start = -1
		}
	}
	for i, r := range text {
		switch {
		case IsCJK(r):
			if start >= 0 && !inCJK {
				flush(i)
			}
			if start < 0 {
				start, inCJK = i, true
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (start >= 0 && !inCJK && (r == '.' || r == '_' || r == '-') && i+1 < len(text) && isWordByte(text[i+1])):
			if start >= 0 && inCJK {
				flush(i)
			}
			if start < 0 {
				start, inCJK = i, false
			}
		default:
			flush(i)
		}
	}
	flush(len(text))
}

func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func hasWordRune(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}
