package offline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
)

// The demo documents of the Jiangning deal: what retrieval finds for it
// in the demo knowledge base.
var jiangningDocs = []string{
	"policy/jiangsu-digital-government-2025.md",
	"policy/jiangsu-project-funding-sources.md",
	"competitor/huatuo-digital.md",
	"won_deal/suzhou-data-bureau-govdata.md",
	"won_deal/beijing-fengtai-govdata.md",
	"meeting/jiangning-data-bureau-discovery-2026-01.md",
	"playbook/objection-handling.md",
	"product/govdata-product-sheet.md",
}

// demoChunk is a chunk of a demo document as the store keeps it.
type demoChunk struct {
	doc   uuid.UUID
	meta  knowledge.Metadata
	chunk knowledge.Chunk
}

// demoChunks loads and chunks jiangningDocs with the real loader and
// chunker, as `dealdesk demo` ingests them.
var demoChunks = sync.OnceValues(func() ([]demoChunk, error) {
	var out []demoChunk
	for _, name := range jiangningDocs {
		data, err := fs.ReadFile(knowledge.DemoFS, "demo/"+name)
		if err != nil {
			return nil, err
		}
		var l knowledge.Loader
		parsed, err := l.Load(context.Background(), name, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
		meta, err := knowledge.ResolveMetadata(name, parsed, knowledge.Metadata{}, nil)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", name, err)
		}
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(name))
		for _, c := range (knowledge.Chunker{}).Chunk(parsed) {
			out = append(out, demoChunk{doc: id, meta: meta, chunk: c})
		}
	}
	return out, nil
})

// demoSearch is one of a task's searches (assistant/tasks.go).
type demoSearch struct {
	text  string
	kinds []string
	k     int
}

// demoSources retrieves, packs and masks sources for searches the way
// the assistant does, with providers.RankSentences standing in for the
// hybrid searcher.
func demoSources(t testing.TB, budget int, searches ...demoSearch) []providers.Source {
	t.Helper()
	chunks, err := demoChunks()
	if err != nil {
		t.Fatal(err)
	}
	pool := make([]providers.Source, len(chunks))
	for i, c := range chunks {
		pool[i] = providers.Source{ID: strconv.Itoa(i), Text: c.chunk.Contextual(c.meta.Title)}
	}
	var results [][]retrieval.Hit
	for _, s := range searches {
		type scored struct {
			i     int
			score float64
		}
		// A chunk scores its three best sentences (providers.RankSentences).
		var kept []providers.Source
		for i, c := range chunks {
			if slices.Contains(s.kinds, string(c.meta.Kind)) {
				kept = append(kept, pool[i])
			}
		}
		sum, took := map[int]float64{}, map[int]int{}
		for _, e := range providers.RankSentences(s.text, kept, 1000) {
			i, _ := strconv.Atoi(e.SourceID)
			if took[i] < 3 {
				sum[i] += e.Score
				took[i]++
			}
		}
		var ranked []scored
		for i := range chunks {
			if sum[i] > 0 {
				ranked = append(ranked, scored{i, sum[i]})
			}
		}
		slices.SortStableFunc(ranked, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
		var hits []retrieval.Hit
		for _, r := range ranked[:min(s.k, len(ranked))] {
			hits = append(hits, hitOf(chunks[r.i], r.score))
		}
		results = append(results, hits)
	}
	// Interleave by rank, each chunk once (assistant.mergeHits).
	var merged []retrieval.Hit
	seen := map[string]bool{}
	for rank := 0; ; rank++ {
		more := false
		for _, hits := range results {
			if rank < len(hits) {
				more = true
				if h := hits[rank]; !seen[h.SourceID] {
					seen[h.SourceID] = true
					merged = append(merged, h)
				}
			}
		}
		if !more {
			break
		}
	}
	return packHits(chunks, merged, budget)
}

// hitOf is a chunk as the searcher returns it.
func hitOf(c demoChunk, score float64) retrieval.Hit {
	return retrieval.Hit{
		SourceID: c.doc.String() + ":" + strconv.Itoa(c.chunk.Ordinal), DocumentID: c.doc, Ordinal: c.chunk.Ordinal,
		Title: c.meta.Title, Source: c.meta.Source, Kind: string(c.meta.Kind), Region: c.meta.Region,
		HeadingPath: c.chunk.HeadingPath, Text: c.chunk.Text, TokenCount: c.chunk.TokenCount, Score: score,
	}
}

// packHits packs and masks merged hits into sources as the assistant
// does.
func packHits(chunks []demoChunk, merged []retrieval.Hit, budget int) []providers.Source {
	// Pack drops the overlap a chunk repeats from its predecessor; Hit's
	// overlap is the searcher's to set, so drop it here.
	for i, h := range merged {
		for _, c := range chunks {
			if c.doc == h.DocumentID && c.chunk.Ordinal == h.Ordinal && c.chunk.Overlap > 0 &&
				slices.ContainsFunc(merged, func(o retrieval.Hit) bool { return o.DocumentID == h.DocumentID && o.Ordinal == h.Ordinal-1 }) {
				merged[i].Text = strings.TrimLeft(h.Text[c.chunk.Overlap:], " \n")
			}
		}
	}
	var masker trust.Masker
	var out []providers.Source
	for _, src := range retrieval.Pack(merged, budget) {
		out = append(out, providers.Source{ID: src.Label, Title: masker.Mask(src.Title), Kind: src.Kind, Text: masker.Mask(src.Text)})
	}
	return trust.CleanSources(out)
}

// jiangning is the talk-track request of the Jiangning deal, as sent
// through the API.
var jiangning = prompts.TalkTrackInput{
	Common:      prompts.Common{Language: "zh", Seller: "云擎科技"},
	Customer:    "南京市江宁区数据局",
	Region:      "jiangsu",
	Industry:    "government",
	Stage:       "solution",
	Products:    []string{"GovData"},
	Competitors: []string{"华拓数科"},
	Contacts: []prompts.Person{
		{Name: "孙立", Role: "数据局副局长", Side: "customer"},
		{Name: "王建国", Role: "总经理", Side: "customer"},
	},
}

// talkTrackSearches are assistant/tasks.go's searches for a talk track.
func talkTrackSearches(in prompts.TalkTrackInput) []demoSearch {
	base := strings.Join([]string{in.Customer, in.Industry, in.Region, in.Stage, strings.Join(in.Products, " "), in.Notes}, " ")
	var roles []string
	for _, c := range in.Contacts {
		roles = append(roles, c.Role)
	}
	return []demoSearch{
		{in.Region + " " + in.Industry + " 政策 policy 资金 funding 规划 " + base, []string{"policy"}, 4},
		{strings.Join(in.Competitors, " ") + " " + in.Industry + " 弱点 weakness 丢单 lost", []string{"competitor", "lost_deal"}, 5},
		{in.Industry + " " + in.Region + " " + strings.Join(in.Products, " ") + " " + strings.Join(roles, " "), []string{"won_deal"}, 4},
		{strings.Join(roles, " ") + " " + in.Stage + " 关注 concerns 异议 objection " + base, []string{"playbook", "meeting", "product"}, 3},
	}
}

// checkDemo checks answer as check does, prints it in -v mode, and fails
// on the marks of unprepared source text in any of its fields: rendered
// table rows, heading numbering, headings.
func checkDemo(t *testing.T, tmpl *prompts.Template, answer any, sources []providers.Source) {
	t.Helper()
	check(t, tmpl, answer, sources)
	if testing.Verbose() {
		raw, err := json.MarshalIndent(answer, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", tmpl.ID(), raw)
	}
	headings := demoHeadings(t)
	for _, f := range textFields(t, answer) {
		key, text := f[0], f[1]
		if key == "citations" {
			continue
		}
		if strings.Contains(text, " | ") {
			t.Errorf("%s carries a table row: %s", key, text)
		}
		if leadingNumber.MatchString(text) {
			t.Errorf("%s starts with a heading number: %s", key, text)
		}
		for _, h := range headings {
			if utf8.RuneCountInString(h) >= 4 && strings.Contains(text, h) && !strings.Contains(h, "“") && !strings.Contains(h, "\"") {
				t.Errorf("%s carries the heading %q: %s", key, h, text)
			}
		}
	}
}

// glueRows runs every table row of the sources into the line before it,
// as packed text sometimes arrives.
func glueRows(sources []providers.Source) []providers.Source {
	out := slices.Clone(sources)
	for i, s := range out {
		lines := strings.Split(s.Text, "\n")
		var b strings.Builder
		for j, l := range lines {
			if j > 0 && !(strings.Contains(l, " | ") && strings.Contains(l, ": ")) {
				b.WriteByte('\n')
			}
			b.WriteString(l)
		}
		out[i].Text = b.String()
	}
	return out
}

// wholeDocuments packs every chunk of jiangningDocs: what retrieval
// gives with a budget large enough for all of them.
func wholeDocuments(t testing.TB) []providers.Source {
	chunks, err := demoChunks()
	if err != nil {
		t.Fatal(err)
	}
	var hits []retrieval.Hit
	for _, c := range chunks {
		hits = append(hits, hitOf(c, 1))
	}
	return packHits(chunks, hits, 1<<20)
}

// demoHeadings are the headings of the demo documents other than their
// titles: the text of an answer should never carry one.
func demoHeadings(t testing.TB) []string {
	chunks, err := demoChunks()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range chunks {
		for _, h := range c.chunk.HeadingPath {
			if h != c.meta.Title && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// textFields returns every string of an answer with its JSON key.
func textFields(t testing.TB, answer any) [][2]string {
	raw, err := json.Marshal(answer)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case string:
			out = append(out, [2]string{key, v})
		case []any:
			for _, e := range v {
				walk(key, e)
			}
		case map[string]any:
			keys := slices.Sorted(maps.Keys(v))
			for _, k := range keys {
				walk(k, v[k])
			}
		}
	}
	walk("", v)
	return out
}

// leadingNumber matches a heading's numbering at the start of a text.
var leadingNumber = regexp.MustCompile(`^([一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)]|\d{1,2}\.\d{1,2}\s)`)

// kindsOf returns the kinds of the sources labelled ids.
func kindsOf(sources []providers.Source, ids []string) []string {
	var out []string
	for _, s := range sources {
		if slices.Contains(ids, s.ID) {
			out = append(out, s.Kind)
		}
	}
	return out
}

func TestDemoJiangningTalkTrack(t *testing.T) {
	retrieved := demoSources(t, demoBudget, talkTrackSearches(jiangning)...)
	tests := []struct {
		name    string
		sources []providers.Source
	}{
		{"retrieved", retrieved},
		{"rows run together", glueRows(retrieved)},
		{"whole documents", wholeDocuments(t)},
	}
	tmpl := template(t, "talk_track", 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := jiangning
			in.Sources = tt.sources
			a := TalkTrack(tmpl, in)
			checkDemo(t, tmpl, a, in.Sources)

			// One weakness per row of the weakness table, with our
			// response to it.
			if len(a.CompetitorWeaknesses) == 0 {
				t.Fatal("no competitor weaknesses")
			}
			delivery := false
			for _, w := range a.CompetitorWeaknesses {
				if n := utf8.RuneCountInString(w.Weakness); n > 200 {
					t.Errorf("weakness of %d characters: %s", n, w.Weakness)
				}
				for _, bad := range []string{"总部", "优势", "央企背景", "我方应对"} {
					if strings.Contains(w.Weakness, bad) {
						t.Errorf("weakness %q is not a weakness (%s)", w.Weakness, bad)
					}
				}
				if strings.HasPrefix(w.Weakness, "交付慢") {
					delivery = true
					if !strings.Contains(w.HowToUse, "苏州项目 100 天上线") {
						t.Errorf("how to use %q is not the table's response to %q", w.HowToUse, w.Weakness)
					}
				}
			}
			if !delivery {
				t.Errorf("the delivery weakness is missing: %+v", a.CompetitorWeaknesses)
			}

			// Proof points are outcomes in the answer's language.
			if len(a.ProofPoints) == 0 {
				t.Fatal("no proof points")
			}
			for _, p := range a.ProofPoints {
				if !providers.IsMostlyChinese(p.Point) {
					t.Errorf("proof point not in Chinese: %s", p.Point)
				}
				for _, bad := range []string{"Customer", "客户：", "签约", "中标金额", "销售负责人"} {
					if strings.Contains(p.Point, bad) {
						t.Errorf("proof point is an overview row: %s", p.Point)
					}
				}
			}

			// Objections are answered from the playbook or a won deal,
			// never by a date.
			if len(a.LikelyObjections) == 0 {
				t.Fatal("no likely objections")
			}
			for _, o := range a.LikelyObjections {
				for _, k := range kindsOf(in.Sources, o.Citations) {
					if k != "playbook" && k != "won_deal" {
						t.Errorf("objection %q answered from a %s source", o.Objection, k)
					}
				}
				if strings.Contains(o.Answer, "上线日期目标") {
					t.Errorf("objection %q answered with a date: %s", o.Objection, o.Answer)
				}
			}
			for _, d := range a.DecisionMakerInterests {
				if strings.Contains(d.Message, "Watch-outs") || strings.Contains(d.Message, "注意事项") {
					t.Errorf("message carries a heading: %s", d.Message)
				}
			}
		})
	}
}

// jiangningEmail is the follow-up email of the Jiangning deal.
var jiangningEmail = prompts.EmailDraftInput{
	Common:        prompts.Common{Language: "zh", Seller: "云擎科技"},
	Purpose:       "follow_up",
	Customer:      "南京市江宁区数据局",
	RecipientName: "王建国",
	RecipientRole: "数字江宁科技有限公司总经理",
	Sender:        "周宁，云擎科技华东区客户经理",
	DealContext:   "1 月 20 日交流会后跟进；客户关注专项债审计合规、授权运营收益结算、双芯片证书和上线周期。",
	Length:        "medium",
	Instructions:  "附上授权运营模块说明，邀请 2 月上旬参观苏州项目。",
}

// emailSearches are assistant/tasks.go's searches for an email draft.
func emailSearches(in prompts.EmailDraftInput) []demoSearch {
	return []demoSearch{
		{strings.Join([]string{in.Customer, in.RecipientRole, in.DealContext, in.Instructions}, " "), []string{"policy", "competitor", "won_deal", "meeting", "playbook", "product", "lost_deal", "email", "tender"}, 4},
		{"会议 meeting 跟进 follow-up " + in.DealContext + " " + in.Instructions + " " + in.RecipientRole, []string{"product", "won_deal", "policy"}, 5},
	}
}

var jiangningObjection = prompts.ObjectionInput{
	Common:     prompts.Common{Language: "zh", Seller: "云擎科技"},
	Objection:  "华拓说苏州、无锡都是他们做的，他们业绩比你们多，我们为什么要冒险选你们？",
	Customer:   "南京市江宁区数据局",
	Stage:      "solution",
	Competitor: "华拓数科",
	Context:    "客户是建设运营单位总经理，关注审计合规和上线周期。",
}

func objectionSearches(in prompts.ObjectionInput) []demoSearch {
	q := strings.Join([]string{in.Objection, in.Competitor, in.Context}, " ")
	return []demoSearch{
		{q, []string{"won_deal", "playbook"}, 6},
		{q, []string{"product", "competitor", "lost_deal"}, 4},
	}
}

func TestDemoJiangningEmail(t *testing.T) {
	retrieved := demoSources(t, demoBudget, emailSearches(jiangningEmail)...)
	for _, sources := range [][]providers.Source{retrieved, glueRows(retrieved), wholeDocuments(t)} {
		in := jiangningEmail
		in.Sources = sources
		for _, v := range []int{1, 2} {
			tmpl := template(t, "email_draft", v)
			a := EmailDraft(tmpl, in)
			checkDemo(t, tmpl, a, in.Sources)
			// The facts are what the customer gets: outcomes of a won
			// deal, the product's capabilities; not the seller's reading
			// of a policy.
			if len(a.Citations) == 0 {
				t.Errorf("v%d: no facts quoted:\n%s", v, a.Body)
			}
			for _, k := range kindsOf(in.Sources, a.Citations) {
				if k != "won_deal" && k != "product" {
					t.Errorf("v%d: body quotes a %s source:\n%s", v, k, a.Body)
				}
			}
			for _, bad := range []string{"二期机会", "销售", "锐云", "华拓", "说：", "SZSJ"} {
				if strings.Contains(a.Body, bad) {
					t.Errorf("v%d: body says %q:\n%s", v, bad, a.Body)
				}
			}
		}
	}
}

func TestDemoJiangningObjection(t *testing.T) {
	in := jiangningObjection
	in.Sources = demoSources(t, demoBudget, objectionSearches(in)...)
	tmpl := template(t, "objection", 1)
	a := Objection(tmpl, in)
	checkDemo(t, tmpl, a, in.Sources)
	if len(a.Responses) < 2 {
		t.Fatalf("want a won-deal reference and the playbook's answer, got %+v", a.Responses)
	}
	playbook := false
	for _, r := range a.Responses {
		for _, bad := range []string{"华拓", "对手", "说："} {
			if strings.Contains(r.Response, bad) {
				t.Errorf("response says %q: %s", bad, r.Response)
			}
		}
		playbook = playbook || slices.Contains(kindsOf(in.Sources, r.Citations), "playbook") && strings.Contains(r.Response, "100 天上线")
	}
	if !playbook {
		t.Errorf("no response gives the playbook's answer to this objection: %+v", a.Responses)
	}
}

// demoBudget is the source budget of the demo tests, as the assistant's
// SourceBudget sets it: larger than the tasks' defaults, so that every
// kind of source the composers route to is retrieved.
const demoBudget = 4000

func TestQuotableReadsLoaderText(t *testing.T) {
	tests := []struct {
		name, text, lng string
		want            []quote
	}{
		{"rows run together after a heading",
			"二、核心优势优势: 央企背景 | 说明: 长期关系优势: 总集成能力 | 说明: 打包总包三、主要弱点弱点: 交付慢：180 天以上 | 我方应对: 苏州项目 100 天上线弱点: 定制开发多 | 我方应对: 展示配置化能力",
			zh, []quote{
				{heading: "核心优势"},
				{text: "央企背景：长期关系", heading: "核心优势", role: roleStrength},
				{text: "总集成能力：打包总包", heading: "核心优势", role: roleStrength},
				{heading: "主要弱点"},
				{text: "交付慢：180 天以上", heading: "主要弱点", role: roleWeakness, response: "苏州项目 100 天上线"},
				{text: "定制开发多", heading: "主要弱点", role: roleWeakness, response: "展示配置化能力"},
			}},
		{"overview rows and a bilingual line",
			"一、项目概况 / Overview\n项目 Item: 客户 Customer | 内容 Detail: 丰台区\n项目 | 内容: 一网通办\n项目: 上线时间 | 内容: 合同后第 100 天\n上线日期目标：2026 年 4 月 15 日。Target go-live: 15 April 2026.",
			zh, []quote{
				{heading: "项目概况 / Overview"},
				{text: "上线时间：合同后第 100 天", heading: "项目概况 / Overview"},
				{text: "上线日期目标：2026 年 4 月 15 日。", heading: "项目概况 / Overview"},
			}},
		{"the English half",
			"90 天交付承诺 / 90-day delivery commitment.\n上线日期目标：2026 年 4 月 15 日。Target go-live: 15 April 2026.",
			en, []quote{{text: "90-day delivery commitment."}, {text: "Target go-live: 15 April 2026."}}},
		{"a Markdown weakness table",
			"## 主要弱点\n\n| 弱点 | 我方应对 |\n|---|---|\n| 交付慢 | 100 天上线 |",
			zh, []quote{{heading: "主要弱点"}, {text: "交付慢", heading: "主要弱点", role: roleWeakness, response: "100 天上线"}}},
	}
	for _, tt := range tests {
		got, _ := quotable(tt.text, "", tt.lng)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}
