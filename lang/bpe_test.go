package lang

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func reference(t testing.TB, text string) []int {
	enc, err := encoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeOrdinary(text)
}

func fast(t testing.TB) *cl100k {
	e, err := fastEncoder()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var tokenizerSamples = []string{
	"hello world", "Hello, World!  It's 2026; we'll see. I'M HERE'S", "  leading and trailing  ", "\n\n\nnew\r\nlines \n ",
	"数字政府建设要求各地市在2025年底前完成政务数据共享平台升级。", "价格分: 30 | 技术分: 60", "emoji 😀😀 and ‘quotes’ “中文引号”",
	"tabs\tand\u00a0nbsp\u3000全角空格", "12345678 ½ ³ ٣٤٥", "((( )))  !!!\n", "a\n\n  b", "x  \n", "'", "' s", "don't won't 'LL",
	"https://example.com/a?b=c&d=e#f", "func main() {\n\tfmt.Println(\"hi\")\n}\n", "ĀĒĪŌŪ ß ﬁ", "   ", "\r", "a\u2028b",
}

func TestMatchesTiktoken(t *testing.T) {
	e := fast(t)
	texts := slices.Clone(tokenizerSamples)
	// And every document of the demo knowledge base.
	_ = filepath.WalkDir("../knowledge/demo", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				texts = append(texts, string(b))
			}
		}
		return nil
	})
	if len(texts) < 40 {
		t.Fatalf("only %d texts", len(texts))
	}
	for _, text := range texts {
		want := reference(t, text)
		got := e.encode(text, nil)
		if !slices.Equal(got, want) {
			t.Errorf("encode(%.60q) = %v, tiktoken %v", text, head(got), head(want))
			continue
		}
		if e.decode(got) != text {
			t.Errorf("decode(encode(%.60q)) differs", text)
		}
	}
}

func head(ids []int) []int { return ids[:min(len(ids), 12)] }

func FuzzMatchesTiktoken(f *testing.F) {
	for _, s := range tokenizerSamples {
		f.Add(s)
	}
	e := fast(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2000 || !isValidUTF8(s) {
			return
		}
		if got, want := e.encode(s, nil), reference(t, s); !slices.Equal(got, want) {
			t.Fatalf("encode(%q) = %v, tiktoken %v", s, got, want)
		}
	})
}

func isValidUTF8(s string) bool {
	return !strings.ContainsRune(s, '\uFFFD') && strings.ToValidUTF8(s, "") == s
}

func BenchmarkTokenizers(b *testing.B) {
	text := strings.Repeat("苏州市数据局一网通办平台项目要求信创适配，支持鲲鹏和飞腾服务器。The platform must support 5,000 concurrent cases. ", 20)
	e := fast(b)
	// cold: the piece cache emptied before every call, as for text never
	// seen before; warm: pieces repeat, as retrieved passages do.
	b.Run("dealdesk-cold", func(b *testing.B) {
		for b.Loop() {
			pieces.mu.Lock()
			pieces.ids = nil
			pieces.mu.Unlock()
			e.encode(text, nil)
		}
	})
	b.Run("dealdesk-warm", func(b *testing.B) {
		for b.Loop() {
			e.encode(text, nil)
		}
	})
	b.Run("tiktoken-go", func(b *testing.B) {
		for b.Loop() {
			reference(b, text)
		}
	})
}

// TestHeapMergeMatchesSimpleMerge: long pieces (runs of Chinese, long
// words, repeated bytes) merge identically with the heap and the loop.
func TestHeapMergeMatchesSimpleMerge(t *testing.T) {
	e := mustFast()
	long := []string{
		"云擎政数是云擎科技面向各级数据局政务服务管理办公室和大数据中心推出的政务数据共享与一网通办支撑平台",
		strings.Repeat("a", 500), strings.Repeat("ab", 300), strings.Repeat("数据", 120),
		"Pneumonoultramicroscopicsilicovolcanoconiosisantidisestablishmentarianism",
		"授权运营的收益结算要和专项债收益测算对得上这是我们最关心的华拓上个月也来过他们说苏州无锡都是他们做的",
	}
	for _, p := range long {
		simple := e.bytePairEncodeLoop(p, nil)
		heap := e.bytePairEncodeHeap(p, nil)
		if !slices.Equal(simple, heap) {
			t.Errorf("%.20q: loop %v, heap %v", p, simple, heap)
		}
	}
}
