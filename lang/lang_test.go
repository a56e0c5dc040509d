package lang

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestWordsMixedChineseEnglish(t *testing.T) {
	got := Words("苏州市数据局的一网通办平台需要信创适配, supports 2,000 QPS on Kunpeng-920.")
	for _, want := range []string{"一网通办", "信创", "数据局", "supports", "2", "000", "qps", "kunpeng-920"} {
		if !slices.Contains(got, want) {
			t.Errorf("Words() = %q, missing %q", got, want)
		}
	}
	for _, w := range got {
		if strings.ContainsAny(w, " ,，。.") {
			t.Errorf("word %q contains punctuation or space", w)
		}
	}
}

func TestSegmentedTextSeparatesChinese(t *testing.T) {
	got := SegmentedText("王总说要等财政拨款")
	if !strings.Contains(got, "财政拨款") || !strings.Contains(got, " ") {
		t.Fatalf("SegmentedText = %q, want space-separated words including 财政拨款", got)
	}
}

func TestSentences(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"第一句。第二句！第三句？", []string{"第一句。", "第二句！", "第三句？"}},
		{"他说：“好的。”然后走了。", []string{"他说：“好的。”", "然后走了。"}},
		{"Price is 3.5 million. See e.g. the sheet. Done", []string{"Price is 3.5 million.", "See e.g. the sheet.", "Done"}},
		{"Para one\n\nPara two", []string{"Para one", "Para two"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := Sentences(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Sentences(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCountAndTruncateTokens(t *testing.T) {
	if n := CountTokens("hello world"); n != 2 {
		t.Fatalf("CountTokens(hello world) = %d, want 2", n)
	}
	text := strings.Repeat("政务数据共享平台建设方案。", 20)
	for _, max := range []int{1, 3, 7, 50} {
		got := TruncateTokens(text, max)
		if !utf8.ValidString(got) {
			t.Fatalf("TruncateTokens(%d) produced invalid UTF-8", max)
		}
		if n := CountTokens(got); n > max {
			t.Fatalf("TruncateTokens(%d) has %d tokens", max, n)
		}
		if !strings.HasPrefix(text, got) {
			t.Fatalf("TruncateTokens(%d) = %q is not a prefix", max, got)
		}
	}
	if got := TruncateTokens("short", 100); got != "short" {
		t.Fatalf("TruncateTokens kept %q", got)
	}
}

func FuzzSentencesLoseNothing(f *testing.F) {
	f.Add("第一句。第二句！ Third one. 4th?")
	f.Fuzz(func(t *testing.T, s string) {
		joined := strings.Join(Sentences(s), "")
		strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if strip(joined) != strip(s) {
			t.Fatalf("Sentences lost text: %q -> %q", s, joined)
		}
	})
}

var benchText = strings.Repeat("苏州市数据局一网通办平台项目要求信创适配，支持鲲鹏和飞腾服务器。The platform must support 5,000 concurrent cases. ", 20)

func BenchmarkWords(b *testing.B) {
	Warm()
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		words(benchText) // uncached: what new text costs
	}
}

func BenchmarkCountTokens(b *testing.B) {
	Warm()
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		CountTokens(benchText)
	}
}

func TestLongRunsAreFastAndCountedClosely(t *testing.T) {
	run := strings.Repeat("政务数据共享平台建设方案要求", 1200) // 16,800 letters, no punctuation
	start := time.Now()
	n := CountTokens(run)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("counting a long run took %s", d)
	}
	// Compare with pieces that are cut at punctuation instead.
	exact := 0
	for range 1200 {
		exact += CountTokens("政务数据共享平台建设方案要求")
	}
	if diff := n - exact; diff < -len(run)/maxRun || diff > len(run)/maxRun {
		t.Errorf("long run counted %d tokens, pieces %d", n, exact)
	}
	if got := DecodeTokens(Tokens(run)); got != run {
		t.Error("tokens of a long run do not decode to it")
	}
}

func TestWordsCacheReturnsTheSameWords(t *testing.T) {
	text := strings.Repeat("苏州市数据局一网通办平台 supports Kunpeng. ", 5)
	first := Words(text)
	second := Words(text)
	if !slices.Equal(first, words(text)) || !slices.Equal(second, first) {
		t.Fatalf("cached words differ: %q vs %q", second, first)
	}
}

func TestStopWordsLeaveContentWords(t *testing.T) {
	var kept []string
	for _, w := range Words("哪个客户说钱已经批了，但是必须当年花出去") {
		if !IsStopWord(w) {
			kept = append(kept, w)
		}
	}
	want := []string{"客户", "钱", "批", "必须", "当年", "花", "出去"}
	if !slices.Equal(kept, want) {
		t.Fatalf("content words %q, want %q", kept, want)
	}
	for _, w := range []string{"数据", "budget", "the"} {
		if IsStopWord(w) {
			t.Errorf("%q is a stop word; English ones are PostgreSQL's and content words are never", w)
		}
	}
}
