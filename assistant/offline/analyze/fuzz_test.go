package analyze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// The fuzz targets call the composers without their fallback, so a rule
// that breaks the schema fails here instead of degrading quietly.
//
// Their seeds are short. The fuzzer minimises every input that finds new
// code, and minimising costs about the square of the input's length in
// runs (up to -fuzzminimizetime, 60 s by default, per input): seeded with
// whole documents, a 30-second run spent its time minimising its first
// finds and reported a handful of executions. Whole documents are the
// unit tests' job; here each is cut into pieces of a few lines.

// seedPieces cuts doc into runs of whole lines of at most max bytes (a
// longer line is a piece of its own), each starting a new piece at a
// heading, so a table row keeps its heading or header when it can.
func seedPieces(doc string, max int) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(doc, "\n") {
		heading := strings.HasPrefix(line, "#") || isHeading(line)
		if cur.Len() > 0 && (cur.Len()+len(line) > max || heading) {
			out = append(out, cur.String())
			cur.Reset()
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// renderedTable is a table as the knowledge base hands it back: one
// "column: value" row a line.
const renderedTable = "四、主要技术参数\n序号: 1 | 参数要求: API 网关峰值吞吐 ≥ 10,000 TPS | 类型: ▲\n" +
	"参数: 检测准确率 | 要求: 实测 ≥ 93% | 类型: ★\n评分项: 同类业绩 | 分值: 10 | 说明: 每个项目 2.5 分\n项目: 采购人 | 内容: 南京市江宁区数据局"

func FuzzMeetingNotes(f *testing.F) {
	lang.Warm() // once per worker process, not inside the first run
	for _, p := range seedPieces(zhMeeting.Transcript, 160) {
		f.Add(p, "2026-01-20", "")
	}
	for _, p := range seedPieces(enMeeting.Transcript, 160) {
		f.Add(p, "2024-08-27", "en")
	}
	f.Add("事项: 预算 | 结论: 约 250 万元\n客户方：王建国（总经理）、孙立（副局长）\n唐静：可以。 刘洋：好的，下周五前发。", "2025-07-03", "")
	f.Add("王总：这个项目要等财政拨款下来才能启动，预计下个月区人大审批。", "", "")
	f.Add("**Zhou Qiang:** Budget is $300k. We agreed. Please send it by 2025-02-30 ⟦EMAIL_1⟧", "2025-12-31", "zh")
	f.Add("客户：\n\n我方：下下周日前发⟦PHONE_1", "2026-02-28", "")
	tm := template(f, "meeting_notes")
	f.Fuzz(func(t *testing.T, transcript, date, language string) {
		in := zhMeeting
		in.Transcript, in.Date, in.Language = transcript, date, language
		if language != "zh" && language != "en" {
			in.Language = ""
		}
		r := composeMeeting(tm, in)
		mustValidate(t, tm, r)
		checkSpans(t, r, cleanDoc(transcript))
	})
}

func FuzzTenderAnalysis(f *testing.F) {
	lang.Warm()
	for _, p := range seedPieces(zhTender.Tender, 160) {
		f.Add(p, "")
	}
	for _, p := range seedPieces(enTender.Tender, 160) {
		f.Add(p, "en")
	}
	f.Add(renderedTable, "zh")
	f.Add("| 1 | ★ 至少两种 CPU | ★ |\n评分标准：价格 300 分；\n投标截止 2026 年 2 月 30 日 25:61", "zh")
	f.Add("Evaluation: a 1 points, b 2 points\nBid bond: CNY 1e400", "")
	tm := template(f, "tender_analysis")
	f.Fuzz(func(t *testing.T, tender, language string) {
		in := zhTender
		in.Tender, in.Language = tender, language
		if language != "zh" && language != "en" {
			in.Language = ""
		}
		r := composeTender(tm, in)
		mustValidate(t, tm, r)
	})
}

func FuzzCompetitiveIntel(f *testing.F) {
	lang.Warm()
	for _, p := range seedPieces(zhIntel.Text, 160) {
		f.Add(p, "锐云信息")
	}
	for _, p := range seedPieces(enIntel.Text, 160) {
		f.Add(p, "Northwind Systems")
	}
	f.Add("博远科技报价 120 万，号称支持 vGPU。他们说 3 天交付。", "")
	tm := template(f, "competitive_intel")
	f.Fuzz(func(t *testing.T, text, hint string) {
		in := zhIntel
		in.Text, in.Competitors, in.Language = text, []string{hint}, ""
		r := composeIntel(tm, in)
		mustValidate(t, tm, r)
		checkSpans(t, r, cleanDoc(text))
	})
}

// TestDemoKnowledgeBase runs the composers on the demo knowledge base's
// meetings, tenders and competitor notes, with our product sheets and
// competitor profiles as sources.
func TestDemoKnowledgeBase(t *testing.T) {
	root := filepath.Join("..", "..", "..", "knowledge", "demo")
	read := func(dir string) map[string]string {
		out := map[string]string{}
		files, _ := filepath.Glob(filepath.Join(root, dir, "*"))
		for _, f := range files {
			if strings.HasSuffix(f, ".meta.yaml") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = string(b)
		}
		return out
	}
	var sources []providers.Source
	for _, kind := range []string{"product", "competitor"} {
		for name, text := range read(kind) {
			title := name
			for _, line := range strings.Split(text, "\n") {
				if t, ok := strings.CutPrefix(line, "title: "); ok {
					title = strings.Trim(t, `"`)
					break
				}
			}
			sources = append(sources, providers.Source{Title: title, Kind: kind, Text: text})
		}
	}
	// Map order must not leak into the answer: sort by title.
	for i := range sources {
		for j := i + 1; j < len(sources); j++ {
			if sources[j].Title < sources[i].Title {
				sources[i], sources[j] = sources[j], sources[i]
			}
		}
	}
	for i := range sources {
		sources[i].ID = "S" + string(rune('1'+i%9))
	}
	if len(read("meeting")) == 0 {
		t.Skip("demo knowledge base not found")
	}
	mt, tt, it := template(t, "meeting_notes"), template(t, "tender_analysis"), template(t, "competitive_intel")
	for name, text := range read("meeting") {
		r := composeMeeting(mt, prompts.MeetingNotesInput{Common: prompts.Common{Sources: sources}, Date: "2026-01-20", Transcript: text})
		mustValidate(t, mt, r)
		checkSpans(t, r, text)
		if len(r.Sentiment) == 0 || len(r.KeyPoints) == 0 {
			t.Errorf("%s: no speakers or key points found", name)
		}
	}
	for name, text := range read("tender") {
		r := composeTender(tt, prompts.TenderAnalysisInput{Common: prompts.Common{Sources: sources}, Title: name, Tender: text})
		mustValidate(t, tt, r)
		if len(r.Parameters) == 0 || len(r.Deadlines) == 0 {
			t.Errorf("%s: %d parameters, %d deadlines", name, len(r.Parameters), len(r.Deadlines))
		}
	}
	for name, text := range read("competitor") {
		r := composeIntel(it, prompts.CompetitiveIntelInput{Common: prompts.Common{Sources: sources}, Text: text})
		mustValidate(t, it, r)
		checkSpans(t, r, text)
		if len(r.Competitors) == 0 {
			t.Errorf("%s: no competitor found", name)
		}
		if all := allText(decoded(t, r)); strings.Contains(all, "忽略之前") || strings.Contains(all, "Ignore all previous") {
			t.Errorf("%s: quotes the injected instructions", name)
		}
	}
}

func TestResolveDue(t *testing.T) {
	base := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC) // a Tuesday
	for _, c := range []struct{ text, want string }{
		{"下周五前发给您", "2026-01-30"},
		{"周五前发给您", "2026-01-23"},
		{"明天发", "2026-01-21"},
		{"后天发", "2026-01-22"},
		{"月底前", "2026-01-31"},
		{"下个月底前", "2026-02-28"},
		{"3月5日前", "2026-03-05"},
		{"2026-02-10 前", "2026-02-10"},
		{"2 月底前", "2026-02-28"},
		{"next Friday", "2026-01-30"},
		{"by Friday", "2026-01-23"},
		{"by March 5", "2026-03-05"},
		{"by 14 April", "2026-04-14"},
		{"within 10 days", "2026-01-30"},
		{"3 天内", "2026-01-23"},
		{"2 月上旬", ""},
		{"next week", ""},
		{"2 月 30 日", ""},
	} {
		got := ""
		if d, ok := resolveDue(c.text, base); ok {
			got = d.Format(dateLayout)
		}
		if got != c.want {
			t.Errorf("resolveDue(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if d, _ := resolveDue("1 月 5 日前", time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC)); d.Format(dateLayout) != "2026-01-05" {
		t.Errorf("1 月 5 日 said in December = %s, want next year's", d.Format(dateLayout))
	}
	if _, ok := resolveDue("下周五", time.Time{}); ok {
		t.Error("a relative date resolved without a meeting date")
	}
}
