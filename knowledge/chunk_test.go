package knowledge

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
)

// checkChunks asserts the invariants every chunking must keep, whatever
// the input: exact token counts within the cap, overlap that repeats the
// previous chunk's end within budget, sequential ordinals, valid UTF-8,
// and no text lost or duplicated outside the overlap.
func checkChunks(t testing.TB, c Chunker, p *Parsed, chunks []Chunk) {
	t.Helper()
	_, overlap, maxTokens := c.sizes()
	var bodies strings.Builder
	for i, ch := range chunks {
		if ch.Ordinal != i {
			t.Fatalf("chunk %d has ordinal %d", i, ch.Ordinal)
		}
		if !utf8.ValidString(ch.Text) {
			t.Fatalf("chunk %d is not valid UTF-8: %q", i, ch.Text)
		}
		if n := lang.CountTokens(ch.Text); n != ch.TokenCount {
			t.Fatalf("chunk %d: TokenCount %d, text has %d tokens", i, ch.TokenCount, n)
		}
		if ch.TokenCount > maxTokens {
			t.Fatalf("chunk %d has %d tokens, cap %d", i, ch.TokenCount, maxTokens)
		}
		if strings.TrimSpace(ch.Text) == "" {
			t.Fatalf("chunk %d is empty", i)
		}
		if ch.Overlap > 0 {
			lead := strings.TrimSuffix(ch.Text[:ch.Overlap], "\n")
			if i == 0 || !strings.HasSuffix(chunks[i-1].Text, lead) {
				t.Fatalf("chunk %d overlap %q does not repeat the end of the previous chunk", i, lead)
			}
			if n := lang.CountTokens(lead); n > overlap {
				t.Fatalf("chunk %d overlap has %d tokens, budget %d", i, n, overlap)
			}
		}
		bodies.WriteString(ch.Text[ch.Overlap:])
	}
	var blocks strings.Builder
	for _, b := range p.Blocks {
		blocks.WriteString(b.Text)
	}
	if got, want := squash(bodies.String()), squash(blocks.String()); got != want {
		t.Fatalf("chunk bodies do not reproduce the blocks:\n got %.300q\nwant %.300q", got, want)
	}
}

func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

var chunkers = []Chunker{
	{},
	{TargetTokens: 120, OverlapTokens: 30, MaxTokens: 200},
	{TargetTokens: 40, OverlapTokens: 15, MaxTokens: 60},
	{TargetTokens: 40, OverlapTokens: -1, MaxTokens: 40},
}

// TestChunkSampleFiles chunks every sample document with several sizes.
func TestChunkSampleFiles(t *testing.T) {
	files := []string{"tender_zh.pdf", "tender_zh_cid.pdf", "brief_en.pdf", "tender_zh.docx", "won_deal_wps.docx",
		"pipeline.xlsx", "notes_gbk.txt", "customers.csv", "page.html", "playbook.md"}
	for _, f := range files {
		p := mustLoad(t, f)
		for _, c := range chunkers {
			t.Run(fmt.Sprintf("%s/%d", f, c.TargetTokens), func(t *testing.T) {
				chunks := c.Chunk(p)
				if len(chunks) == 0 {
					t.Fatal("no chunks")
				}
				checkChunks(t, c, p, chunks)
			})
		}
	}
}

// TestChunkTenderGolden pins how a real tender is chunked at a small size.
func TestChunkTenderGolden(t *testing.T) {
	p := mustLoad(t, "tender_zh.pdf")
	chunks := Chunker{TargetTokens: 80, OverlapTokens: 30, MaxTokens: 160}.Chunk(p)
	golden(t, "tender_zh.pdf.chunks.json", chunks)
}

func section(level int, heading string, paragraphs ...string) []Block {
	bs := []Block{{Type: BlockHeading, Level: level, Text: heading}}
	for _, p := range paragraphs {
		bs = append(bs, Block{Type: BlockParagraph, Text: p})
	}
	return bs
}

// doc builds a Parsed from blocks, filling in heading paths the way the
// loaders do.
func doc(blocks ...[]Block) *Parsed {
	b := newBuilder(0, 0)
	for _, group := range blocks {
		for _, blk := range group {
			switch blk.Type {
			case BlockHeading:
				b.heading(blk.Level, blk.Text)
			case BlockTableRow:
				b.row(blk.TableHeader, blk.Cells)
			default:
				b.add(blk.Type, blk.Text)
			}
		}
	}
	return &Parsed{Blocks: b.blocks}
}

// zhSentences returns n distinct Chinese sentences of about 20 tokens each.
func zhSentences(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("第%d条要求投标人提供近三年政务云项目的合同复印件和验收报告。", i+1)
	}
	return out
}

func TestChunkHeadings(t *testing.T) {
	short := "项目预算三百二十万元，资金来源为财政拨款。"
	long := strings.Join(zhSentences(4), "")
	p := doc(
		section(1, "招标文件"),
		section(2, "一、项目概况", short),
		section(2, "二、资格要求", short), // small sections pack together
		section(2, "三、技术参数", long),  // over half full: starts a new chunk
		section(3, "（一）服务器", long),  // again
		section(2, "四、评分标准", long, long),
	)
	c := Chunker{TargetTokens: 100, OverlapTokens: 40, MaxTokens: 150}
	chunks := c.Chunk(p)
	checkChunks(t, c, p, chunks)
	starts := map[string][]string{}
	for _, ch := range chunks {
		first, _, _ := strings.Cut(ch.Text[ch.Overlap:], "\n")
		starts[first] = ch.HeadingPath
		// A heading never ends a chunk: it belongs with what follows.
		last := ch.Text[strings.LastIndex(ch.Text, "\n")+1:]
		if i := slices.IndexFunc(p.Blocks, func(b Block) bool { return b.Type == BlockHeading && b.Text == last }); i >= 0 && ch.Ordinal < len(chunks)-1 {
			t.Errorf("chunk %d ends with heading %q", ch.Ordinal, last)
		}
	}
	if path, ok := starts["招标文件"]; !ok || !slices.Equal(path, []string{"招标文件"}) {
		t.Errorf("first chunk should start with the title: %q", starts)
	}
	if strings.Contains(chunks[0].Text, "一、项目概况") == false || !strings.Contains(chunks[0].Text, "二、资格要求") {
		t.Errorf("small sections should share a chunk: %q", chunks[0].Text)
	}
	for _, h := range []string{"三、技术参数", "（一）服务器", "四、评分标准"} {
		if _, ok := starts[h]; !ok {
			t.Errorf("no chunk starts at heading %q; chunks start at %q", h, slices.Collect(mapsKeys(starts)))
		}
	}
	if path := starts["（一）服务器"]; !slices.Equal(path, []string{"招标文件", "三、技术参数", "（一）服务器"}) {
		t.Errorf("heading path %q", path)
	}
	// A heading inside a chunk follows less than half a chunk of text.
	for _, ch := range chunks {
		for _, b := range p.Blocks {
			if b.Type != BlockHeading {
				continue
			}
			if i := strings.Index(ch.Text[ch.Overlap:], "\n"+b.Text+"\n"); i >= 0 {
				if n := lang.CountTokens(ch.Text[:ch.Overlap+i]); n > 100/2+1 {
					t.Errorf("heading %q packed after %d tokens, over half the target", b.Text, n)
				}
			}
		}
	}
	// Later chunks of 四、评分标准 continue that section, with overlap.
	last := chunks[len(chunks)-1]
	if !slices.Equal(last.HeadingPath, []string{"招标文件", "四、评分标准"}) || last.Overlap == 0 {
		t.Errorf("last chunk: path %q overlap %d", last.HeadingPath, last.Overlap)
	}
}

func mapsKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestChunkCJKSentences checks that a long Chinese paragraph is cut only
// after a full stop and that the overlap is whole sentences.
func TestChunkCJKSentences(t *testing.T) {
	p := doc(section(1, "资格要求", strings.Join(zhSentences(40), "")))
	c := Chunker{TargetTokens: 100, OverlapTokens: 50, MaxTokens: 200}
	chunks := c.Chunk(p)
	checkChunks(t, c, p, chunks)
	if len(chunks) < 5 {
		t.Fatalf("got %d chunks, want the paragraph split", len(chunks))
	}
	for _, ch := range chunks {
		if !strings.HasSuffix(ch.Text, "。") {
			t.Errorf("chunk %d does not end at a sentence: %q", ch.Ordinal, ch.Text)
		}
		if ch.Ordinal > 0 {
			lead := ch.Text[:ch.Overlap]
			if ch.Overlap == 0 || !strings.HasPrefix(lead, "第") || !strings.HasSuffix(lead, "。\n") {
				t.Errorf("chunk %d overlap %q is not whole sentences", ch.Ordinal, lead)
			}
		}
		if ch.TokenCount > 100+50+2 {
			t.Errorf("chunk %d has %d tokens", ch.Ordinal, ch.TokenCount)
		}
	}
}

func TestChunkEnglishSentences(t *testing.T) {
	var sb strings.Builder
	for i := range 30 {
		fmt.Fprintf(&sb, "Sentence %d explains why the customer chose a hyper-converged platform, e.g. cost. ", i)
	}
	p := doc(section(1, "Why we won", sb.String()))
	c := Chunker{TargetTokens: 90, OverlapTokens: 40, MaxTokens: 120}
	chunks := c.Chunk(p)
	checkChunks(t, c, p, chunks)
	for _, ch := range chunks[1:] {
		body := ch.Text[ch.Overlap:]
		if !strings.HasPrefix(body, "Sentence") || !strings.HasSuffix(ch.Text, "cost.") {
			t.Errorf("chunk %d not cut at sentences: %q", ch.Ordinal, ch.Text)
		}
		if strings.Contains(body, "  ") {
			t.Errorf("chunk %d: sentences joined badly: %q", ch.Ordinal, body)
		}
	}
}

// TestChunkTableRows checks that rows stay whole, carry their header, and
// get no sentence overlap.
func TestChunkTableRows(t *testing.T) {
	header := []string{"序号", "参数名称", "技术要求"}
	var rows []Block
	for i := range 60 {
		rows = append(rows, Block{Type: BlockTableRow, TableHeader: header,
			Cells: []string{fmt.Sprint(i + 1), fmt.Sprintf("参数%d", i+1), "国产处理器，单路不少于 64 核；内存不少于 512GB。"}})
	}
	p := doc(section(1, "技术参数"), rows, section(1, "说明", "以上参数均为最低要求。"))
	c := Chunker{TargetTokens: 120, OverlapTokens: 40, MaxTokens: 200}
	chunks := c.Chunk(p)
	checkChunks(t, c, p, chunks)
	for _, b := range p.Blocks {
		if b.Type != BlockTableRow {
			continue
		}
		n := 0
		for _, ch := range chunks {
			if strings.Contains(ch.Text, b.Text) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("row %q is whole in %d chunks, want exactly 1", b.Text, n)
		}
		if !strings.HasPrefix(b.Text, "序号: ") || !strings.Contains(b.Text, "| 技术要求: ") {
			t.Errorf("row %q does not repeat its header", b.Text)
		}
	}
	for _, ch := range chunks {
		if ch.Overlap != 0 {
			t.Errorf("table chunk %d has overlap %q", ch.Ordinal, ch.Text[:ch.Overlap])
		}
		if strings.HasPrefix(ch.Text, "序号") && !slices.Equal(ch.HeadingPath, []string{"技术参数"}) {
			t.Errorf("table chunk %d path %q", ch.Ordinal, ch.HeadingPath)
		}
	}
}

// TestChunkHugeSentence: only a sentence over the cap is cut between
// tokens, into pieces that rejoin to the original.
func TestChunkHugeSentence(t *testing.T) {
	huge := strings.Repeat("政务云平台扩容项目技术参数要求", 200) // no punctuation at all
	p := doc(section(1, "附件", huge))
	c := Chunker{TargetTokens: 100, OverlapTokens: 20, MaxTokens: 150}
	chunks := c.Chunk(p)
	checkChunks(t, c, p, chunks)
	var joined strings.Builder
	for _, ch := range chunks[1:] {
		joined.WriteString(ch.Text[ch.Overlap:])
	}
	if !strings.HasSuffix(chunks[0].Text, "附件") && !strings.HasPrefix(chunks[0].Text, "附件") {
		t.Errorf("first chunk %q", chunks[0].Text)
	}
	if got := strings.TrimPrefix(chunks[0].Text, "附件\n") + joined.String(); got != huge {
		t.Errorf("pieces do not rejoin to the sentence (%d vs %d bytes)", len(got), len(huge))
	}
	// A sentence between the target and the cap is kept whole.
	mid := strings.Repeat("信创", 40) + "。" // between the target and the cap
	p = doc(section(1, "中", mid))
	chunks = c.Chunk(p)
	checkChunks(t, c, p, chunks)
	found := false
	for _, ch := range chunks {
		found = found || strings.Contains(ch.Text, mid)
	}
	if !found {
		t.Errorf("a %d-token sentence under the cap was split", lang.CountTokens(mid))
	}
}

func TestChunkDeterministic(t *testing.T) {
	p := mustLoad(t, "tender_zh_cid.pdf")
	c := Chunker{TargetTokens: 60, OverlapTokens: 20, MaxTokens: 90}
	a, b := c.Chunk(p), c.Chunk(p)
	if !reflect.DeepEqual(a, b) {
		t.Error("chunking the same document twice differs")
	}
	if c.Chunk(nil) != nil || len(c.Chunk(&Parsed{})) != 0 {
		t.Error("nil or empty input should give no chunks")
	}
}

func TestChunkPages(t *testing.T) {
	p := mustLoad(t, "brief_en.pdf")
	chunks := Chunker{TargetTokens: 60, OverlapTokens: 20, MaxTokens: 100}.Chunk(p)
	last := chunks[len(chunks)-1]
	if chunks[0].Page != 1 || last.Page != 2 || last.LastPage != 2 {
		t.Errorf("pages: first %d, last %d-%d", chunks[0].Page, last.Page, last.LastPage)
	}
	whole := Chunker{}.Chunk(p)
	if len(whole) != 1 || whole[0].Page != 1 || whole[0].LastPage != 2 {
		t.Errorf("one chunk over two pages: %+v", whole)
	}
}

func TestContextual(t *testing.T) {
	tests := []struct {
		c     Chunk
		title string
		want  string
	}{
		{Chunk{Text: "价格分: 30", HeadingPath: []string{"招标文件", "四、评分标准"}}, "某市招标文件", "某市招标文件 > 招标文件 > 四、评分标准\n\n价格分: 30"},
		// The title is not repeated as the first heading.
		{Chunk{Text: "价格分: 30", HeadingPath: []string{"招标文件", "四、评分标准"}}, "招标文件", "招标文件 > 四、评分标准\n\n价格分: 30"},
		// Nor the last heading when the text starts with it.
		{Chunk{Text: "四、评分标准\n价格分: 30", HeadingPath: []string{"招标文件", "四、评分标准"}}, "招标文件", "招标文件\n\n四、评分标准\n价格分: 30"},
		{Chunk{Text: "x"}, "", "x"},
		{Chunk{Text: "x"}, "T", "T\n\nx"},
	}
	for _, tt := range tests {
		if got := tt.c.Contextual(tt.title); got != tt.want {
			t.Errorf("Contextual(%q) = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestContentHash(t *testing.T) {
	if got := ContentHash([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("ContentHash(abc) = %s", got)
	}
	gbk := mustLoad(t, "customers_gbk.csv")
	utf := mustLoad(t, "customers.csv")
	if gbk.ContentHash() != utf.ContentHash() {
		t.Error("the same table in GBK and UTF-8 should hash the same")
	}
	again := mustLoad(t, "customers.csv")
	if again.ContentHash() != utf.ContentHash() {
		t.Error("hash is not stable")
	}
	again.Blocks[0].Text += "!"
	if again.ContentHash() == utf.ContentHash() {
		t.Error("changed text should change the hash")
	}
	md := mustLoad(t, "playbook.md")
	h := md.ContentHash()
	md.Meta.Deal = &Deal{Amount: 1}
	md.Meta.Extra["nested"] = map[any]any{1: "x"}       // not JSON-encodable
	first, second := md.ContentHash(), md.ContentHash() // twice: map order must not matter
	if first == h || first != second {
		t.Error("front matter should be part of a stable hash")
	}
}

// BenchmarkChunk measures chunking throughput on a large generated
// Markdown document (about 250k tokens), reported as tokens/s.
func BenchmarkChunk(b *testing.B) {
	var md strings.Builder
	for s := range 120 {
		fmt.Fprintf(&md, "## 第%d节 项目经验\n\n", s+1)
		for range 6 {
			md.WriteString(strings.Join(zhSentences(8), ""))
			md.WriteString(" The customer valued on-site support and a clear migration plan. \n\n")
		}
		md.WriteString("| 项目 | 金额 | 结果 |\n|---|---|---|\n")
		for r := range 10 {
			fmt.Fprintf(&md, "| 某市政务云%d期 | %d 万元 | 中标 |\n", r, 100+r)
		}
		md.WriteString("\n")
	}
	p, err := parseMarkdown([]byte(md.String()))
	if err != nil {
		b.Fatal(err)
	}
	tokens := 0
	for _, blk := range p.Blocks {
		tokens += lang.CountTokens(blk.Text)
	}
	var c Chunker
	b.ResetTimer()
	for b.Loop() {
		c.Chunk(p)
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(tokens), "doc-tokens")
}

func TestJoinChunks(t *testing.T) {
	tests := []struct {
		name   string
		chunks []Chunk
		want   string
	}{
		{"none", nil, ""},
		{"one", []Chunk{{Text: "一、项目概况\n项目编号: JNSJ-2026-GK-003"}}, "一、项目概况\n项目编号: JNSJ-2026-GK-003"},
		{"new section", []Chunk{{Text: "a"}, {Text: "b"}}, "a\n\nb"},
		{"overlap dropped", []Chunk{{Text: "One. Two."}, {Text: "Two.\nThree.", Overlap: len("Two.\n")}}, "One. Two. Three."},
		// An overlap past the end of its chunk is not trusted.
		{"bad overlap", []Chunk{{Text: "a"}, {Text: "b", Overlap: 5}}, "a\n\nb"},
		// The first chunk has nothing before it to repeat.
		{"first overlap ignored", []Chunk{{Text: "ab", Overlap: 1}}, "ab"},
	}
	for _, tt := range tests {
		if got := JoinChunks(tt.chunks); got != tt.want {
			t.Errorf("%s: JoinChunks = %q, want %q", tt.name, got, tt.want)
		}
	}
	// Whatever the sizes, the joined text is the document's blocks, once.
	p := mustLoad(t, "playbook.md")
	var blocks strings.Builder
	for _, b := range p.Blocks {
		blocks.WriteString(b.Text)
	}
	for _, c := range chunkers {
		if got, want := squash(JoinChunks(c.Chunk(p))), squash(blocks.String()); got != want {
			t.Errorf("target %d: joined chunks do not reproduce the blocks:\n got %.300q\nwant %.300q", c.TargetTokens, got, want)
		}
	}
}
