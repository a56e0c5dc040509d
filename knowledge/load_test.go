package knowledge

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

func init() { debugPanics = true }

// loadFile loads a file from testdata with the default limits.
func loadFile(t *testing.T, name string) (*Parsed, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Load(context.Background(), name, bytes.NewReader(data), int64(len(data)))
}

func mustLoad(t *testing.T, name string) *Parsed {
	t.Helper()
	p, err := loadFile(t, name)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return p
}

// golden compares v, as indented JSON, with testdata/golden/name, or
// rewrites the file under -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func findBlock(p *Parsed, typ BlockType, contains string) *Block {
	for i, b := range p.Blocks {
		if b.Type == typ && strings.Contains(b.Text, contains) {
			return &p.Blocks[i]
		}
	}
	return nil
}

// TestLoadFiles loads every real sample file and checks what a user of
// each format relies on; the full block output is pinned by golden files.
func TestLoadFiles(t *testing.T) {
	type want struct {
		typ   BlockType
		text  string   // the block's text contains this
		path  []string // its heading path, when non-nil
		page  int      // its page, when non-zero
		level int      // its heading level, when non-zero
	}
	tests := []struct {
		file     string
		format   Format
		encoding string
		title    string
		pages    int
		blocks   []want
		absent   []string // text that must not appear anywhere
	}{
		{
			file: "tender_zh.pdf", format: FormatPDF, title: "某市政务云平台扩容项目招标文件", pages: 2,
			blocks: []want{
				{typ: BlockHeading, text: "某市政务云平台扩容项目招标文件", level: 1, page: 1},
				{typ: BlockHeading, text: "二、资格要求", level: 2, page: 1},
				{typ: BlockParagraph, text: "投标人须具有独立法人资格，近三年内无重大违法记录，并具备等保三级系统建设经验。",
					path: []string{"某市政务云平台扩容项目招标文件", "二、资格要求", "（一）基本资格"}, page: 1},
				{typ: BlockParagraph, text: "项目预算为人民币叁佰贰拾万元整（¥3,200,000），资金来源为财政拨款。项目实施地点为某市政务云机房", page: 1},
				{typ: BlockHeading, text: "三、技术参数", page: 2},
				{typ: BlockParagraph, text: "1 处理器 国产处理器，单路不少于 64 核", page: 2},
			},
		},
		{
			file: "tender_zh_cid.pdf", format: FormatPDF, title: "某市政务云平台扩容项目招标文件", pages: 2,
			blocks: []want{
				{typ: BlockHeading, text: "一、项目概况", level: 2, page: 1},
				{typ: BlockParagraph, text: "本项目要求全部设备满足信创要求，CPU 采用鲲鹏或飞腾平台，操作系统采用麒麟或统信。", page: 1},
				{typ: BlockHeading, text: "四、评分标准", page: 2, path: []string{"某市政务云平台扩容项目招标文件", "四、评分标准"}},
				{typ: BlockParagraph, text: "评标采用综合评分法，其中价格分 30 分，技术分 60 分，商务分 10 分。技术参数每有一项负偏离扣 2 分。", page: 2},
			},
		},
		{
			file: "brief_en.pdf", format: FormatPDF, title: "CloudHelm HCI 6.0 Product Brief", pages: 2,
			blocks: []want{
				{typ: BlockHeading, text: "Pricing", level: 2, page: 1},
				// Lines wrapped in the PDF are joined with a space.
				{typ: BlockParagraph, text: "including three years of maintenance. Volume discounts start at ten nodes.", path: []string{"CloudHelm HCI 6.0 Product Brief", "Pricing"}},
				{typ: BlockParagraph, text: "the Suzhou public security bureau", page: 2},
			},
		},
		{
			file: "tender_zh.docx", format: FormatDOCX, title: "某市政务云平台扩容项目招标文件",
			blocks: []want{
				{typ: BlockHeading, text: "（二）业绩要求", level: 3, path: []string{"某市政务云平台扩容项目招标文件", "二、资格要求", "（二）业绩要求"}},
				{typ: BlockTableRow, text: "序号: 2 | 参数名称: 内存 | 技术要求: 不少于 512GB，支持扩展至 2TB", path: []string{"某市政务云平台扩容项目招标文件", "三、技术参数"}},
				{typ: BlockListItem, text: "技术分：60 分"},
			},
		},
		{
			file: "won_deal_wps.docx", format: FormatDOCX, title: "华东区赢单复盘：某省大数据局一网通办项目",
			blocks: []want{
				{typ: BlockHeading, text: "项目背景", level: 1},                                 // style "标题 1"
				{typ: BlockHeading, text: "竞争态势", level: 2, path: []string{"项目背景", "竞争态势"}}, // custom style based on heading 2
				{typ: BlockParagraph, text: "某省大数据局于 2025 年启动一网通办平台升级，预算 860 万元。"},
				{typ: BlockListItem, text: "分管副局长：关注信创合规与等保三级"},
				{typ: BlockParagraph, text: "文本框：对手报价低 8%。"},
				{typ: BlockTableRow, text: "评分项: 技术分 | 我方: （含演示 10 分）"}, // vertically merged cell repeated
				{typ: BlockTableRow, text: "评分项: 价格分 | 我方: 27 | 华拓数字: 30"},
			},
			absent: []string{"已删除的旧预算", "PAGEREF"},
		},
		{
			file: "pipeline.xlsx", format: FormatXLSX, title: "2025 年华东区商机清单",
			blocks: []want{
				{typ: BlockHeading, text: "商机清单", level: 1},
				{typ: BlockHeading, text: "2025 年华东区重点商机", level: 2},
				{typ: BlockTableRow, text: "客户: 某市公安局 | 项目: 视频智能分析 | 预算（万元）: 420 | 阶段: 投标 | 竞争对手: 智瞳科技",
					path: []string{"商机清单", "2025 年华东区重点商机"}},
				{typ: BlockTableRow, text: "产品线: HCI 6.0 节点 | 目录价（元）: 180000"}, // a sheet with a default name
			},
			absent: []string{"内部底价", "Sheet2"},
		},
		{
			file: "notes_gbk.txt", format: FormatText, encoding: "gb18030",
			blocks: []want{
				{typ: BlockHeading, text: "某市数据局拜访纪要", level: 1},
				{typ: BlockHeading, text: "二、客户关注点", level: 2},
				{typ: BlockHeading, text: "（一）信创合规", level: 3, path: []string{"某市数据局拜访纪要", "二、客户关注点", "（一）信创合规"}},
				{typ: BlockParagraph, text: "客户要求新建部分全部国产化，CPU 优先鲲鹏。"},
				{typ: BlockHeading, text: "1.2 商务", path: []string{"某市数据局拜访纪要", "三、下一步", "1.2 商务"}},
			},
		},
		{
			file: "notes_utf16.txt", format: FormatText, encoding: "utf-16le",
			blocks: []want{
				{typ: BlockHeading, text: "Call notes: Suzhou PSB"},
				{typ: BlockParagraph, text: "Next step: send the reference list."},
			},
		},
		{
			file: "customers.csv", format: FormatCSV, encoding: "utf-8",
			blocks: []want{
				{typ: BlockTableRow, text: "客户: 某省大数据局 | 区域: 华东 | 行业: 政务 | 阶段: 方案 | 预算（万元）: 860 | 备注: 关注信创, 等保三级"},
				{typ: BlockTableRow, text: "客户: 某市公安局 | 区域: 华东 | 行业: 公安 | 阶段: 投标 | 预算（万元）: 420"},
			},
		},
		{
			file: "customers_gbk.csv", format: FormatCSV, encoding: "gb18030",
			blocks: []want{
				{typ: BlockTableRow, text: "客户: 某市数据局 | 区域: 华东 | 行业: 政务 | 阶段: 商务谈判 | 预算（万元）: 320 | 备注: 专项债资金"},
			},
		},
		{
			file: "products.tsv", format: FormatTSV, encoding: "utf-8",
			blocks: []want{{typ: BlockTableRow, text: "sku: GD-BASE | product: GovData base platform | list_price_cny: 1680000"}},
		},
		{
			file: "page.html", format: FormatHTML, encoding: "utf-8", title: "信创适配清单 - 云擎科技",
			blocks: []want{
				{typ: BlockParagraph, text: "更新日期：2025-12-15。本表供投标文件资格证明引用。", path: []string{"信创适配清单"}},
				{typ: BlockListItem, text: "统信 UOS 20：已完成互认证"},
				{typ: BlockListItem, text: "桌面版与服务器版均支持"},
				{typ: BlockTableRow, text: "平台: 飞腾 S2500 | HCI 6.0: 支持 | GovData V5.2: 测试中", path: []string{"信创适配清单", "二、处理器平台"}},
				{typ: BlockTableRow, text: "售前邮箱: presales@example.com"}, // two-column table without header: key-value
			},
			absent: []string{"tracking", "首页", "隐藏内容", "© 2025"},
		},
		{
			file: "playbook.md", format: FormatMarkdown, encoding: "utf-8",
			blocks: []want{
				{typ: BlockHeading, text: "竞品应对", level: 3, path: []string{"政务云项目销售打法", "二、方案阶段", "竞品应对"}},
				{typ: BlockTableRow, text: "竞品: 华拓数字 | 常见打法: 低价切入 | 我方应对: 强调等保三级整改经验与全栈信创"},
				{typ: BlockListItem, text: "3. 提前介入技术参数编写，避免被竞品控标。"},
				{typ: BlockListItem, text: "准备测评报告复印件"},
				{typ: BlockParagraph, text: "注意：专项债项目通常要求年内形成实物工作量。"},
				{typ: BlockListItem, text: "See the reference list for customers."},
			},
			absent: []string{"kind: playbook", "owner:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := mustLoad(t, tt.file)
			if p.Format != tt.format || p.Name != tt.file {
				t.Errorf("format, name = %s, %s; want %s, %s", p.Format, p.Name, tt.format, tt.file)
			}
			if tt.encoding != "" && p.Encoding != tt.encoding {
				t.Errorf("encoding = %q, want %q", p.Encoding, tt.encoding)
			}
			if p.Title != tt.title {
				t.Errorf("title = %q, want %q", p.Title, tt.title)
			}
			if p.Pages != tt.pages {
				t.Errorf("pages = %d, want %d", p.Pages, tt.pages)
			}
			for _, w := range tt.blocks {
				b := findBlock(p, w.typ, w.text)
				if b == nil {
					t.Errorf("no %s block containing %q", w.typ, w.text)
					continue
				}
				if w.path != nil && !slices.Equal(b.HeadingPath, w.path) {
					t.Errorf("%q: heading path %q, want %q", w.text, b.HeadingPath, w.path)
				}
				if w.page != 0 && b.Page != w.page {
					t.Errorf("%q: page %d, want %d", w.text, b.Page, w.page)
				}
				if w.level != 0 && b.Level != w.level {
					t.Errorf("%q: level %d, want %d", w.text, b.Level, w.level)
				}
			}
			for _, b := range p.Blocks {
				for _, a := range tt.absent {
					if strings.Contains(b.Text, a) {
						t.Errorf("block %q contains %q, which should have been dropped", b.Text, a)
					}
				}
				if b.Type == BlockTableRow && len(b.TableHeader) > 0 && len(b.Cells) > len(b.TableHeader) && tt.format != FormatDOCX {
					t.Errorf("row %q has more cells than its header", b.Text)
				}
			}
			golden(t, tt.file+".json", p)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	bomb, err := os.ReadFile("testdata/bomb.docx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte // nil: read testdata/name
		want error
		msg  string // the message contains this
	}{
		{name: "empty.txt", want: ErrEmpty},
		{name: "blank.md", data: []byte("\n  \n\t\n"), want: ErrEmpty},
		{name: "only-front-matter.md", data: []byte("---\nkind: policy\n---\n"), want: ErrEmpty},
		{name: "corrupt.pdf", want: ErrCorrupt},
		{name: "scanned.pdf", want: ErrNoTextLayer, msg: "scanned PDF?"},
		{name: "bomb.docx", want: ErrTooLarge, msg: "zip bomb"},
		{name: "image.png", want: ErrUnsupportedType, msg: "PNG"},
		{name: "renamed.docx", data: []byte("plain text, not a zip"), want: ErrCorrupt, msg: "not a docx"},
		{name: "truncated.docx", data: bomb[:4096], want: ErrCorrupt},
		{name: "legacy.doc", data: append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 600)...), want: ErrUnsupportedType, msg: "legacy"},
		{name: "app", data: []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), want: ErrUnsupportedType},
		{name: "archive.zip", data: zipOf(t, map[string]string{"a.txt": "hello"}), want: ErrUnsupportedType, msg: "zip"},
		{name: "slides.pptx", data: zipOf(t, map[string]string{"ppt/presentation.xml": "<p/>"}), want: ErrUnsupportedType, msg: "PowerPoint"},
		{name: "bad-doc.docx", data: zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}), want: ErrCorrupt},
		{name: "bad-sheet.xlsx", data: zipOf(t, map[string]string{"xl/workbook.xml": "not xml"}), want: ErrCorrupt},
		{name: "bad-kind.md", data: []byte("---\nkind: brochure\n---\n# Hi\n"), want: ErrInvalidMetadata, msg: "valid kinds: tender, policy, won_deal"},
		{name: "bad-date.md", data: []byte("---\ndate: 2025-13-45\n---\n# Hi\n"), want: ErrInvalidMetadata, msg: "bad date"},
		{name: "bad-yaml.md", data: []byte("---\ntags: [unclosed\n---\n# Hi\n"), want: ErrInvalidMetadata},
		{name: "binary.txt", data: []byte("abc\x00\x01\x02def"), want: ErrUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == nil {
				var err error
				if data, err = os.ReadFile(filepath.Join("testdata", tt.name)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(context.Background(), tt.name, bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q should name the file and say %q", err, tt.msg)
			}
		})
	}
}

func TestLoadLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("size declared", func(t *testing.T) {
		l := Loader{MaxSize: 10}
		_, err := l.Load(ctx, "a.txt", strings.NewReader("hello"), 11)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("size read", func(t *testing.T) {
		l := Loader{MaxSize: 10}
		_, err := l.Load(ctx, "a.txt", strings.NewReader("hello, world"), -1)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("zip expansion", func(t *testing.T) {
		data, err := os.ReadFile("testdata/tender_zh.docx")
		if err != nil {
			t.Fatal(err)
		}
		l := Loader{MaxUnzipped: 8 << 10}
		if _, err := l.Load(ctx, "tender_zh.docx", bytes.NewReader(data), -1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("zip entries", func(t *testing.T) {
		files := map[string]string{"word/document.xml": "<w:document/>"}
		for i := range 20 {
			files[filepath.Join("word/media", string(rune('a'+i)))] = "x"
		}
		l := Loader{MaxZipEntries: 10}
		_, err := l.Load(ctx, "many.docx", bytes.NewReader(zipOf(t, files)), -1)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("rows and columns", func(t *testing.T) {
		var csv strings.Builder
		csv.WriteString("a,b,c,d\n")
		for range 100 {
			csv.WriteString("1,2,3,4\n")
		}
		l := Loader{MaxRows: 10, MaxColumns: 2}
		p, err := l.Load(ctx, "big.csv", strings.NewReader(csv.String()), -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Blocks) != 10 || p.Blocks[0].Text != "a: 1 | b: 2" || len(p.Warnings) != 2 {
			t.Errorf("got %d blocks, first %q, warnings %q; want 10 rows of two columns and two warnings", len(p.Blocks), p.Blocks[0].Text, p.Warnings)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Load(ctx, "a.txt", strings.NewReader("hello"), 5); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestSniffByContent checks that content, not the extension, decides the
// format of binary files, and that the extension picks among text formats.
func TestSniffByContent(t *testing.T) {
	pdf, err := os.ReadFile("testdata/brief_en.pdf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want Format
	}{
		{"report.txt", pdf, FormatPDF},
		{"upload", pdf, FormatPDF},
		{"notes", []byte("plain words"), FormatText},
		{"page", []byte("<!DOCTYPE html><html><body><p>x</p></body></html>"), FormatHTML},
		{"README.MD", []byte("# x"), FormatMarkdown},
		{"data.TSV", []byte("a\tb"), FormatTSV},
		{"data.json", []byte(`{"a": 1}`), FormatText},
	}
	for _, tt := range tests {
		got, err := sniff(tt.name, tt.data)
		if err != nil || got != tt.want {
			t.Errorf("sniff(%s) = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	gbk := []byte{0xd5, 0xfe, 0xce, 0xf1, 0xd4, 0xc6} // 政务云 in GBK
	tests := []struct {
		name string
		in   []byte
		text string
		enc  string
		warn bool
	}{
		{"utf-8", []byte("政务云"), "政务云", "utf-8", false},
		{"utf-8 bom", []byte("\xEF\xBB\xBF政务云"), "政务云", "utf-8", false},
		{"utf-16le bom", []byte{0xFF, 0xFE, 0x3F, 0x65, 0xA1, 0x52}, "政务", "utf-16le", false},
		{"utf-16be bom", []byte{0xFE, 0xFF, 0x65, 0x3F, 0x52, 0xA1}, "政务", "utf-16be", false},
		{"gbk", gbk, "政务云", "gb18030", false},
		{"gbk with ascii", append([]byte("HCI "), gbk...), "HCI 政务云", "gb18030", false},
		// Latin-1 "café crème" is not plausible Chinese.
		{"latin-1", []byte("caf\xe9 cr\xe8me"), "caf\uFFFD cr\uFFFDme", "utf-8", true},
	}
	for _, tt := range tests {
		text, enc, warn := decodeText(tt.in)
		if text != tt.text || enc != tt.enc || (warn != "") != tt.warn {
			t.Errorf("%s: decodeText = %q, %q, warn %q; want %q, %q, warn %v", tt.name, text, enc, warn, tt.text, tt.enc, tt.warn)
		}
	}
}

func TestNumberedHeading(t *testing.T) {
	tests := []struct {
		line  string
		style string
	}{
		{"一、项目概况", "cn"},
		{"十二、其他", "cn"},
		{"（一）基本资格", "cn-paren"},
		{"(二) 业绩要求", "cn-paren"},
		{"第一章 招标公告", "chapter"},
		{"第3节 评标办法", "section"},
		{"第二部分", "part"},
		{"1.1 总体架构", "num1"},
		{"2.3.1 存储", "num2"},
		{"1.2.", ""}, // a bare number
		{"一、投标人须具有独立法人资格，近三年内无重大违法记录。", ""},      // a sentence
		{"1.1 本项目要求如下：", ""},                     // a lead-in
		{"2025.1 年度计划", ""},                      // a year, not 1 numbering
		{"项目概况", ""},                             // not numbered
		{"一、" + strings.Repeat("很长的标题", 10), ""}, // too long
		{"3.5 万元", "num1"},                       // a known false positive: short and unpunctuated
	}
	for _, tt := range tests {
		style, ok := numberedHeading(tt.line)
		if style != tt.style || ok != (tt.style != "") {
			t.Errorf("numberedHeading(%q) = %q, %v; want %q", tt.line, style, ok, tt.style)
		}
	}
}

// zipOf builds a zip archive holding files.
func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
