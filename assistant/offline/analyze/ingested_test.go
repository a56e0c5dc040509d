package analyze

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// demoDir is the demo knowledge base, which the ingested-path tests read.
var demoDir = filepath.Join("..", "..", "..", "knowledge", "demo")

// ingested returns a demo document as a task given its document_id sees
// it: loaded and chunked by the knowledge base, then rebuilt from its
// chunks as knowledge.Store.Text does, with the metadata its front matter
// or sidecar gives it.
func ingested(t testing.TB, path string) (string, knowledge.Metadata) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	p, err := knowledge.Load(context.Background(), name, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var sidecar *knowledge.Metadata
	if b, err := os.ReadFile(knowledge.SidecarName(path)); err == nil {
		m, err := knowledge.ParseSidecar(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		sidecar = &m
	}
	meta, err := knowledge.ResolveMetadata(name, p, knowledge.Metadata{}, sidecar)
	if err != nil {
		t.Fatal(err)
	}
	return knowledge.JoinChunks(knowledge.Chunker{}.Chunk(p)), meta
}

// demoFiles lists the Markdown, HTML and text documents of a demo folder.
func demoFiles(t testing.TB, kind string) []string {
	t.Helper()
	var out []string
	for _, ext := range []string{"*.md", "*.html", "*.txt"} {
		files, err := filepath.Glob(filepath.Join(demoDir, kind, ext))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files...)
	}
	if len(out) == 0 {
		t.Skip("demo knowledge base not found")
	}
	slices.Sort(out)
	return out
}

// ingestedProductSheets are our product sheets as retrieval hands them to
// a task: ingested text, labelled S1, S2, ...
func ingestedProductSheets(t testing.TB) []providers.Source {
	var out []providers.Source
	for _, f := range demoFiles(t, "product") {
		text, meta := ingested(t, f)
		out = append(out, providers.Source{ID: fmt.Sprintf("S%d", len(out)+1), Title: meta.Title, Kind: "product", Text: text})
	}
	return out
}

// TestIngestedTenders analyses every demo tender as POST
// /v1/tenders/analyze does for a document_id: from the text rebuilt from
// its chunks, where a table row reads "参数要求: … | 类型: ★", compared with
// our ingested product sheets.
func TestIngestedTenders(t *testing.T) {
	tm := template(t, "tender_analysis")
	sheets := ingestedProductSheets(t)
	for _, f := range demoFiles(t, "tender") {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			text, meta := ingested(t, f)
			in := prompts.TenderAnalysisInput{Common: prompts.Common{Sources: sheets}, Title: meta.Title, Customer: meta.Customer, Tender: text}
			r := composeTender(tm, in)
			mustValidate(t, tm, r)
			t.Logf("%d parameters, %d scoring criteria, %d deadlines", len(r.Parameters), len(r.Scoring), len(r.Deadlines))
			for _, p := range r.Parameters {
				t.Logf("  %s | %s -> %s %v", p.Parameter, p.Requirement, p.Verdict, derefString(p.OurValue))
			}
			fields := []string{r.Project.Name}
			for _, s := range []*string{r.Project.Number, r.Project.Purchaser} {
				if s != nil {
					fields = append(fields, *s)
				}
			}
			for _, p := range r.Parameters {
				fields = append(fields, p.Parameter, p.Requirement)
			}
			for _, c := range r.Scoring {
				fields = append(fields, c.Criterion, c.Method)
				if c.Points == nil {
					t.Errorf("scoring criterion %q has no points", c.Criterion)
				}
			}
			for _, q := range r.Qualifications {
				fields = append(fields, q.Requirement)
			}
			for _, s := range fields {
				if strings.Contains(s, "|") || rowColumn.MatchString(s) {
					t.Errorf("table row markup left in %q", s)
				}
			}
			if len(r.Parameters) < 3 || len(r.Scoring) < 3 || len(r.Deadlines) == 0 || r.Project.Number == nil || r.Project.BudgetAmount == nil {
				t.Errorf("%d parameters, %d scoring criteria, %d deadlines, number %v, budget %v",
					len(r.Parameters), len(r.Scoring), len(r.Deadlines), r.Project.Number, r.Project.BudgetAmount)
			}
		})
	}
}

// rowColumn matches a column name left at the start of a value
// ("内容: 南京市江宁区数据局").
var rowColumn = regexp.MustCompile(`^(?:项目|内容|参数要求|要求|类型|序号|分值|说明|Item|Detail|Requirement|Type|Points|Notes): `)

func TestIngestedJiangningTender(t *testing.T) {
	tm := template(t, "tender_analysis")
	text, meta := ingested(t, filepath.Join(demoDir, "tender", "nanjing-jiangning-public-data-platform-2026.md"))
	// No customer from the metadata: the purchaser must come from the text.
	in := prompts.TenderAnalysisInput{Common: prompts.Common{Sources: ingestedProductSheets(t)}, Title: meta.Title, Tender: text}
	r := composeTender(tm, in)
	mustValidate(t, tm, r)

	if p := r.Project; p.Purchaser == nil || *p.Purchaser != "南京市江宁区数据局" || p.Number == nil || *p.Number != "JNSJ-2026-GK-003" ||
		p.BudgetAmount == nil || *p.BudgetAmount != 6100000 {
		t.Errorf("project = %+v", p)
	}
	if len(r.Parameters) < 8 {
		t.Errorf("%d technical parameters, want the 8 of the table", len(r.Parameters))
	}
	verdicts := map[string]string{}
	for _, p := range r.Parameters {
		verdicts[p.Parameter] = p.Verdict
		if strings.Contains(p.Requirement, "★") != p.Critical {
			t.Errorf("%q: critical = %v, want true exactly for ★", p.Requirement, p.Critical)
		}
	}
	for name, want := range map[string]string{
		"API 网关峰值吞吐": "meets", // 12,000 TPS >= 10,000 TPS
		"资源目录容量":     "meets", // ≥ 100,000 条 >= 80,000 条
	} {
		if verdicts[name] != want {
			t.Errorf("verdict %q = %q, want %q (all: %v)", name, verdicts[name], want, verdicts)
		}
	}
	var scoring []string
	for _, c := range r.Scoring {
		scoring = append(scoring, c.Criterion+"="+jsonNumber(c.Points))
	}
	if want := []string{"价格=30", "技术方案=30", "授权运营收益模式=10", "信创适配=8", "实施计划与团队=12", "同类业绩=10"}; !slices.Equal(scoring, want) {
		t.Errorf("scoring = %v, want %v", scoring, want)
	}
	checkJiangningDeadlines(t, r)
	if d := r.Deposit; d == nil || d.Amount == nil || *d.Amount != 60000 {
		t.Errorf("deposit = %+v, want 60000", d)
	}
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestIngestedMeetings writes notes for every demo meeting as read back
// from the knowledge base (headings and list markers gone, summary tables
// as rendered rows, two turns on one line where chunks meet) and as the
// file says it: the speakers must be the same people, not table columns
// or attendee lists, and no action item may be lost.
func TestIngestedMeetings(t *testing.T) {
	tm := template(t, "meeting_notes")
	sheets := ingestedProductSheets(t)
	for _, f := range demoFiles(t, "meeting") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text, meta := ingested(t, f)
			compose := func(doc string) (MeetingReport, []string) {
				in := prompts.MeetingNotesInput{Common: prompts.Common{Sources: sheets}, Customer: meta.Customer, Date: meta.Date.String(), Transcript: doc}
				r := composeMeeting(tm, in)
				mustValidate(t, tm, r)
				checkSpans(t, r, doc)
				var parties []string
				for _, s := range r.Sentiment {
					parties = append(parties, s.Party)
				}
				slices.Sort(parties)
				return r, parties
			}
			want, wantParties := compose(string(raw))
			got, parties := compose(text)
			t.Logf("speakers %v; %d key points, %d action items (file: %d)", parties, len(got.KeyPoints), len(got.ActionItems), len(want.ActionItems))
			if !slices.Equal(parties, wantParties) || len(parties) < 2 {
				t.Errorf("speakers %v, want %v as in the file", parties, wantParties)
			}
			if len(got.KeyPoints) == 0 || len(got.ActionItems) < len(want.ActionItems) {
				t.Errorf("%d key points, %d action items; the file gives %d action items", len(got.KeyPoints), len(got.ActionItems), len(want.ActionItems))
			}
		})
	}
}
