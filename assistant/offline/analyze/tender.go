package analyze

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// TenderReport is the answer to the tender_analysis task, shaped by the
// output schema of tender_analysis@v1.
type TenderReport struct {
	Project        Project         `json:"project"`
	Qualifications []Qualification `json:"qualification_requirements"`
	Parameters     []Parameter     `json:"technical_parameters"`
	Scoring        []Criterion     `json:"scoring_criteria"`
	Deadlines      []Deadline      `json:"deadlines"`
	Deposit        *Deposit        `json:"deposit"`
	Risks          []TenderRisk    `json:"risks"`
}

// Project identifies the tender.
type Project struct {
	Name         string   `json:"name"`
	Number       *string  `json:"number"`
	Purchaser    *string  `json:"purchaser"`
	BudgetAmount *float64 `json:"budget_amount"` // whole CNY
	Citations    []string `json:"citations"`
}

// Qualification is a bidder requirement and whether our sources show we
// meet it.
type Qualification struct {
	Requirement string   `json:"requirement"`
	Mandatory   bool     `json:"mandatory"`
	OurStatus   string   `json:"our_status"` // meets, partly, fails, unknown
	Note        string   `json:"note"`
	Citations   []string `json:"citations"`
}

// Parameter is a technical requirement compared with our product sheets.
type Parameter struct {
	Parameter   string   `json:"parameter"`
	Requirement string   `json:"requirement"`
	Critical    bool     `json:"critical"`
	OurValue    *string  `json:"our_value"`
	Verdict     string   `json:"verdict"` // meets, partly, fails, unknown
	Citations   []string `json:"citations"`
}

// Criterion is a scoring item.
type Criterion struct {
	Criterion string   `json:"criterion"`
	Points    *float64 `json:"points"`
	Method    string   `json:"method"`
	Citations []string `json:"citations"`
}

// Deadline is a dated event of the procurement.
type Deadline struct {
	Event     string   `json:"event"`
	Datetime  string   `json:"datetime"` // YYYY-MM-DD or YYYY-MM-DD HH:MM
	Citations []string `json:"citations"`
}

// Deposit is the bid deposit.
type Deposit struct {
	Amount    *float64 `json:"amount"`
	Currency  string   `json:"currency"`
	Terms     string   `json:"terms"`
	Citations []string `json:"citations"`
}

// TenderRisk is a threat to the bid with what to do about it.
type TenderRisk struct {
	Risk       string   `json:"risk"`
	Severity   string   `json:"severity"` // high, medium, low
	Mitigation string   `json:"mitigation"`
	Citations  []string `json:"citations"`
}

// TenderAnalysis composes a tender analysis from in.Tender (source T1)
// for template t (tender_analysis@v1): project facts, qualification
// requirements, technical parameters compared with our product sheets
// (the sources; kind "product" when there are any), scoring criteria,
// deadlines, the deposit and risks. A requirement our sources say nothing
// about is "unknown", never met by default.
func TenderAnalysis(t *prompts.Template, in prompts.TenderAnalysisInput) TenderReport {
	r := composeTender(t, in)
	if !matchesSchema(t, r) {
		r = TenderReport{Project: Project{Name: r.Project.Name, Citations: []string{docLabel}}}
		if n := utf8.RuneCountInString(r.Project.Name); n < 2 || n > 200 {
			r.Project.Name = pick(answerLanguage(t, in.Language, in.Tender), "招标项目", "Tender")
		}
		r.normalize()
	}
	return r
}

func (r *TenderReport) normalize() {
	r.Qualifications = nonNil(r.Qualifications)
	r.Parameters = nonNil(r.Parameters)
	r.Scoring = nonNil(r.Scoring)
	r.Deadlines = nonNil(r.Deadlines)
	r.Risks = nonNil(r.Risks)
}

// tenderItem is a requirement line of the tender: a list item, a table
// row or a clause of a run-on paragraph.
type tenderItem struct {
	Text    string // tidied
	Row     row    // the row's cells (no row number), when the item is a table row
	Section string // qualification, technical, scoring, or ""
	Forced  bool   // listed under a "Mandatory:" label
}

type tender struct {
	lang    string
	doc     string
	items   []tenderItem
	clauses []string // every clause of the document, for facts and dates
	ours    []providers.Source
	all     []providers.Source
	// values maps a source sentence made of a table row to its value
	// cells (see sourceRows).
	values map[string]string
}

var (
	sectionCues = []struct {
		section string
		cues    cueList
	}{
		{"qualification", cueList{"资格要求", "投标人资格", "资格条件", "供应商资格", "资格审查", "申请人的资格要求", "qualification", "qualifications", "eligibility"}},
		{"technical", cueList{"技术参数", "技术要求", "技术规格", "参数要求", "主要技术", "technical requirements", "technical requirement", "technical specifications", "specifications", "mandatory"}},
		{"scoring", cueList{"评分", "评标", "分值", "scoring", "evaluation", "evaluation criteria"}},
	}
	headingLine  = regexp.MustCompile(`^\s*(?:#{1,6}(?:\s+|$)|[一二三四五六七八九十]{1,3}[、.．]\s*|第[一二三四五六七八九十0-9]{1,3}[章节部分]\s*|[0-9]{1,2}\.\s+[A-Z])`)
	inlineLabel  = regexp.MustCompile(`^\s*(?:[-*•]\s*)?(?:\*\*)?([^:：\n]{2,24}?)(?:\*\*)?\s*[:：]\s*`)
	tableHeaders = cueList{"序号", "参数要求", "类型", "评分项", "分值", "说明", "内容", "requirement", "type", "criterion", "points", "notes", "item", "detail", "#"}
	markerRune   = regexp.MustCompile(`[★▲]`)
)

func composeTender(t *prompts.Template, in prompts.TenderAnalysisInput) TenderReport {
	doc := cleanDoc(in.Tender)
	td := &tender{lang: answerLanguage(t, in.Language, doc), doc: doc, all: citableSources(in.Sources), values: map[string]string{}}
	for i := range td.all {
		td.all[i].Text = sourceRows(td.all[i].Text, td.values)
	}
	for _, s := range td.all {
		if s.Kind == "product" {
			td.ours = append(td.ours, s)
		}
	}
	if len(td.ours) == 0 {
		td.ours = td.all
	}
	td.parse()
	var r TenderReport
	r.Project = td.project(in)
	r.Qualifications = td.qualifications()
	r.Parameters = td.parameters()
	r.Scoring = td.scoring()
	r.Deadlines = td.deadlines()
	r.Deposit = td.deposit()
	r.Risks = td.risks(r)
	r.normalize()
	return r
}

// parse reads the document into items by section, and into clauses.
// Tables come as pipe rows under a header (pasted Markdown) or as rows
// rendered one a line (a tender read back from the knowledge base).
func (td *tender) parse() {
	lines := strings.Split(td.doc, "\n")
	skip := frontMatterEnd(lines)
	section := ""
	var header []string // column names of the pipe table being read
	for i, line := range lines {
		if i <= skip || strings.TrimSpace(line) == "" || tableRule.MatchString(line) {
			continue
		}
		if unsafeText(line) {
			continue
		}
		if isHeading(line) {
			section, header = sectionOf(line), nil
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "|") {
			cells := tableCells(line)
			switch {
			case len(cells) == 0:
			case i+1 < len(lines) && tableRule.MatchString(lines[i+1]) || isHeaderRow(cells):
				header = cells
			default:
				td.addRow(markdownRow(header, cells), section)
			}
			continue
		}
		header = nil
		if r, ok := renderedRow(line); ok {
			td.addRow(r, section)
			continue
		}
		lineSection, forced, body := section, false, line
		if m := inlineLabel.FindStringSubmatchIndex(line); m != nil {
			label := line[m[2]:m[3]]
			if s := sectionOf(label); s != "" {
				lineSection, body = s, line[m[1]:]
				forced = strings.EqualFold(strings.TrimSpace(label), "mandatory")
			} else if utf8.RuneCountInString(label) <= 12 && !strings.ContainsAny(label, "，,。") {
				lineSection = "" // "Scope:", "备注：" end a section for this line
				if headingLine.MatchString(line) {
					section = ""
				}
			}
		}
		for _, sent := range lang.Sentences(body) {
			for _, c := range splitItems(sent) {
				td.clauses = append(td.clauses, c)
				td.items = append(td.items, tenderItem{Text: tidy(c), Section: lineSection, Forced: forced})
			}
		}
	}
}

// addRow adds a table row as an item of section and as a clause. A row
// with a points column is a scoring item wherever it stands.
func (td *tender) addRow(r row, section string) {
	r = r.content()
	if len(r.Cells) == 0 {
		return
	}
	if section == "" && r.has(rolePoints) {
		section = "scoring"
	}
	td.clauses = append(td.clauses, r.clause())
	td.items = append(td.items, tenderItem{Text: tidy(strings.Join(r.Cells, " ")), Row: r, Section: section})
}

// numberedHeading matches a "2.1 配置要求" heading, which loses its "###"
// when the knowledge base reads it: short, no sentence punctuation, and
// not an amount ("3.5 万元").
var numberedHeading = regexp.MustCompile(`^\s*[0-9]{1,2}(?:\.[0-9]{1,2})+\s+[^\s0-9万亿千百元个台天年月日%]`)

// isHeading reports whether line is a section heading.
func isHeading(line string) bool {
	n := utf8.RuneCountInString(line)
	if headingLine.MatchString(line) && n <= 60 {
		return true
	}
	return n <= 30 && numberedHeading.MatchString(line) && !strings.ContainsAny(line, "。；;，,：:")
}

// splitItems cuts a sentence into requirement items at semicolons, and
// at commas when every piece carries points ("TCO 40 points, support 10
// points").
func splitItems(s string) []string {
	var out []string
	for _, p := range semicolons.Split(s, -1) {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pieces := listCommas.Split(p, -1)
		if len(pieces) > 1 && allPoints(pieces) {
			out = append(out, pieces...)
			continue
		}
		out = append(out, p)
	}
	return out
}

var (
	semicolons = regexp.MustCompile(`[；;]`)
	listCommas = regexp.MustCompile(`[，,]\s+|，`)
)

func allPoints(pieces []string) bool {
	for _, p := range pieces {
		if !pointsPattern.MatchString(p) {
			return false
		}
	}
	return true
}

func sectionOf(text string) string {
	for _, sc := range sectionCues {
		if sc.cues.has(text) {
			return sc.section
		}
	}
	return ""
}

func tableCells(line string) []string {
	parts := strings.Split(strings.TrimSpace(line), "|")
	var cells []string
	for i, p := range parts {
		p = strings.TrimSpace(markdownNoise.Replace(p))
		if (i == 0 || i == len(parts)-1) && p == "" {
			continue
		}
		cells = append(cells, p)
	}
	return cells
}

func isHeaderRow(cells []string) bool {
	for _, c := range cells {
		if !tableHeaders.has(c) && c != "" && c != "项目" && !strings.EqualFold(c, "criterion") {
			return false
		}
	}
	return true
}

// fact returns the first capture of pattern in the document's clauses:
// the value of a "label：value" fact.
func (td *tender) fact(pattern *regexp.Regexp) string {
	for _, c := range td.clauses {
		if m := pattern.FindStringSubmatch(c); m != nil {
			return strings.TrimSpace(m[1])
		}
	}
	return ""
}

var (
	nameFact      = regexp.MustCompile(`(?i)(?:项目名称|采购项目名称|project name|project title)\s*[:：]?\s*([^；;。\n]{2,200})`)
	numberFact    = regexp.MustCompile(`(?i)(?:项目编号|招标编号|采购编号|项目号|tender number|tender no\.?|project number|project no\.?|reference no\.?)\s*[:：]?\s*([A-Za-z0-9][A-Za-z0-9\-_/()（）\[\]〔〕]{2,79})`)
	purchaserFact = regexp.MustCompile(`(?i)(?:采购人|招标人|采购单位|purchaser|buyer|contracting authority)\s*[:：]?\s*([^；;。\n]{2,120})`)
	budgetCue     = cueList{"预算金额", "采购预算", "项目预算", "最高限价", "最高投标限价", "投标限价", "控制价", "预算", "budget", "ceiling price", "maximum price"}
	titleNoise    = regexp.MustCompile(`(?i)^\s*(?:tender digest(?:\s*\(english\))?|tender)\s*[:：]\s*|[（(](?:摘要|节选|草稿|english)[）)]\s*$|(?:招标文件|招标公告|采购文件|竞争性磋商文件)\s*$`)
)

func (td *tender) project(in prompts.TenderAnalysisInput) Project {
	p := Project{Citations: []string{docLabel}}
	name := td.fact(nameFact)
	if name == "" {
		name = strings.TrimSpace(in.Title)
		for i := 0; i < 3; i++ {
			name = strings.TrimSpace(titleNoise.ReplaceAllString(name, ""))
		}
	}
	if utf8.RuneCountInString(name) < 2 {
		name = strings.TrimSpace(in.Title)
	}
	p.Name = fitText(tidy(name), 2, 200, pick(td.lang, "招标项目", "Tender"))
	if n := td.fact(numberFact); n != "" {
		n = clipRunes(strings.TrimRight(n, ".)）"), 80)
		p.Number = &n
	}
	purchaser := td.fact(purchaserFact)
	if purchaser == "" {
		purchaser = strings.TrimSpace(in.Customer)
	}
	if purchaser = clipText(strings.TrimRight(tidy(purchaser), ".。"), 120); purchaser != "" {
		p.Purchaser = &purchaser
	}
	for _, c := range td.clauses {
		if !budgetCue.has(c) || depositCue.has(c) {
			continue
		}
		if a := findAmounts(c); len(a) > 0 && a[0].Currency == "CNY" {
			v := a[0].Value
			p.BudgetAmount = &v
			break
		}
	}
	return p
}

var (
	optionalCue  = cueList{"优先", "加分", "preferred", "bonus", "optional", "advantage"}
	mandatoryCue = cueList{"必须", "须", "应", "应当", "不满足", "废标", "无效", "不接受", "must", "shall", "required", "mandatory", "rejected"}
	certPattern  = regexp.MustCompile(`(?i)\b(CS\s*[1-4]|CMMI\s*(?:level\s*|L)?[1-5]|ISO\s*(?:/\s*IEC\s*)?[0-9]{4,5}|ITSS\s*[1-4])\b|等保[一二三四]级|涉密[^\s，。；,]{0,10}资质`)
)

// qualifications lists the bidder requirements. In a qualification
// section every item is pass/fail unless it says it only earns a
// preference; elsewhere an item needs mandatory wording.
func (td *tender) qualifications() []Qualification {
	var out []Qualification
	for _, it := range td.items {
		if it.Section != "qualification" || len(out) == 30 {
			continue
		}
		req := clipText(it.Text, 400)
		if utf8.RuneCountInString(req) < 2 {
			continue
		}
		q := Qualification{Requirement: req, Mandatory: !optionalCue.has(it.Text) || mandatoryCue.has(it.Text), OurStatus: "unknown", Citations: []string{docLabel}}
		status, ev := td.certStatus(it.Text)
		if status == "" {
			status, ev = td.coverage(it.Text, td.all)
		}
		if status != "" && ev != nil {
			q.OurStatus = status
			q.Note = clipText(ev.Text, 300)
			q.Citations = cites(docLabel, ev.SourceID)
		} else {
			q.Note = pick(td.lang, "我方资料未提及，需核实并准备证明材料", "Our sources do not mention it; check and prepare evidence")
		}
		out = append(out, q)
	}
	return out
}

// certStatus compares the certificates a requirement names with those our
// sources name: the same certificate (at the same or a higher level for
// CS, CMMI and ITSS) meets it.
func (td *tender) certStatus(req string) (string, *providers.Evidence) {
	wanted := certPattern.FindAllString(req, -1)
	if len(wanted) == 0 {
		return "", nil
	}
	met := 0
	var evidence *providers.Evidence
	failed := false
	for _, w := range wanted {
		fam, level := certKey(w)
		found := false
		for _, s := range td.all {
			for j, sent := range lang.Sentences(s.Text) {
				if unsafeText(sent) {
					continue
				}
				for _, have := range certPattern.FindAllString(sent, -1) {
					hf, hl := certKey(have)
					if hf != fam {
						continue
					}
					if hl >= level {
						found = true
						if evidence == nil {
							evidence = &providers.Evidence{SourceID: s.ID, Text: tidy(sent), Sentence: j}
						}
					} else {
						failed = true
						if evidence == nil {
							evidence = &providers.Evidence{SourceID: s.ID, Text: tidy(sent), Sentence: j}
						}
					}
				}
			}
		}
		if found {
			met++
		}
	}
	switch {
	case met == len(wanted):
		return "meets", evidence
	case met > 0:
		return "partly", evidence
	case failed:
		return "fails", evidence
	}
	return "", nil
}

// certKey normalises a certificate to its family and level: "CS3" ->
// ("CS", 3), "ISO/IEC 27001" -> ("ISO27001", 0).
func certKey(c string) (string, int) {
	c = strings.ToUpper(strings.NewReplacer(" ", "", "/IEC", "", "LEVEL", "", "/", "").Replace(c))
	for _, fam := range []string{"CMMI", "CS", "ITSS"} {
		if strings.HasPrefix(c, fam) {
			n, _ := strconv.Atoi(strings.TrimLeft(strings.TrimPrefix(c, fam), "L"))
			return fam, n
		}
	}
	if strings.HasPrefix(c, "等保") {
		return "等保", smallNumber(strings.TrimSuffix(strings.TrimPrefix(c, "等保"), "级"))
	}
	return c, 0
}

// quantity is a number with its unit, and for a requirement the
// direction it must be met in: +1 at least, -1 at most, 0 as stated.
type quantity struct {
	Value float64
	Unit  string
	Dir   int
	Start int
}

var (
	quantityPattern = regexp.MustCompile(`(?i)(≥|>=|≧|不低于|不少于|不小于|至少|大于等于|最少|at least|no less than|not less than|minimum of|min\.|≤|<=|≦|不超过|不高于|不大于|至多|小于等于|最多|within|at most|no more than|not more than|maximum of|max\.|up to|>|<|超过|大于|小于|低于)?\s*` +
		`([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?|[一二两三四五六七八九十百]+)\s*(亿|万|千)?\s*(毫秒|小时|分钟|[A-Za-z%‰]+|\p{Han})?`)
	atLeast  = []string{"≥", ">=", "≧", "不低于", "不少于", "不小于", "至少", "大于等于", "最少", "at least", "no less than", "not less than", "minimum of", "min.", ">", "超过", "大于"}
	dirAfter = regexp.MustCompile(`^\s*(及以上|或以上|以上|and above|or more|or above|\+)|^\s*(以内|以下|及以下|或以下|or less|or below|or fewer)`)
	unitSame = map[string]string{
		"channels": "路", "channel": "路", "路": "路", "days": "天", "day": "天", "天": "天", "日": "天", "nodes": "节点", "node": "节点",
		"节": "节点", "seconds": "s", "second": "s", "sec": "s", "秒": "s", "s": "s", "毫秒": "ms", "ms": "ms", "分钟": "min", "minutes": "min",
		"min": "min", "小时": "h", "hours": "h", "hour": "h", "h": "h", "种": "种", "kinds": "种", "types": "种", "algorithms": "种",
		"条": "条", "entries": "条", "records": "条", "items": "条", "个": "个", "台": "台", "servers": "台", "人": "人", "people": "人",
		"staff": "人", "engineers": "人", "%": "%", "tps": "tps", "qps": "qps", "iops": "iops", "gb": "gb", "tb": "tb",
	}
	timeScale = map[string]float64{"ms": 1, "s": 1000, "min": 60000, "h": 3600000}
)

// quantities finds the numbers with units in text.
func quantities(text string) []quantity {
	var out []quantity
	for _, m := range quantityPattern.FindAllStringSubmatchIndex(text, -1) {
		numStart := m[4]
		if numStart > 0 {
			if c := text[numStart-1]; isASCIIAlnum(c) || c == '.' || c == '/' || c == '-' {
				continue // V10, P95, GB/T 28181
			}
		}
		num := text[m[4]:m[5]]
		v, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
		if err != nil {
			v = float64(smallNumber(num))
			if v == 0 {
				continue
			}
		}
		if m[6] >= 0 {
			v *= multiplier(text[m[6]:m[7]])
		}
		unit := ""
		if m[8] >= 0 {
			unit = strings.ToLower(text[m[8]:m[9]])
		}
		q := quantity{Value: v, Unit: unit, Start: m[0]}
		if m[2] >= 0 {
			q.Dir = -1
			if contains(atLeast, strings.ToLower(text[m[2]:m[3]])) {
				q.Dir = 1
			}
		} else if d := dirAfter.FindStringSubmatch(text[m[1]:]); d != nil {
			q.Dir = -1
			if d[1] != "" {
				q.Dir = 1
			}
		}
		if math.IsInf(q.Value, 0) || math.IsNaN(q.Value) {
			continue
		}
		out = append(out, q)
	}
	return out
}

// normUnit returns a unit's family and the factor to the family's base.
func normUnit(u string) (string, float64) {
	if f, ok := unitSame[u]; ok {
		u = f
	}
	if s, ok := timeScale[u]; ok {
		return "time", s
	}
	return u, 1
}

var (
	failCue    = cueList{"不支持", "暂不支持", "尚不支持", "不具备", "无法", "未通过", "not supported", "does not support", "doesn't support", "no support", "unsupported", "not available"}
	partlyCue  = cueList{"计划", "规划", "将于", "下一版本", "定制", "二次开发", "第三方", "planned", "roadmap", "future release", "will ship", "will only ship", "custom", "customisation", "third-party", "via partner"}
	genericReq = map[string]bool{"平台": true, "支持": true, "须": true, "满足": true, "要求": true, "具备": true, "提供": true, "系统": true,
		"功能": true, "完成": true, "实现": true, "能力": true, "应": true, "必须": true, "不低于": true, "至少": true, "以上": true, "具有": true,
		"中": true, "support": true, "supports": true, "platform": true, "system": true, "must": true, "least": true, "provide": true, "bidder": true, "投标人": true}
)

// keyTerms are the words of a requirement that a product sheet must
// share to be talking about it.
func keyTerms(text string) []string {
	var out []string
	for _, w := range lang.Words(text) {
		if utf8.RuneCountInString(w) < 2 || genericReq[w] || stopword(w) || isNumber(w) {
			continue
		}
		if !contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func stopword(w string) bool {
	switch w {
	case "the", "and", "of", "with", "for", "on", "in", "to", "be", "by", "or", "an", "at", "over", "all", "any", "each", "from",
		"我们", "可以", "以及", "进行", "已经", "没有", "一个", "这个", "其中", "他们", "他们的", "销售", "拿到", "客户", "这次",
		"表示", "they", "their", "its", "said", "says", "also", "today", "new", "claims":
		return true
	}
	return false
}

func isNumber(w string) bool {
	_, err := strconv.ParseFloat(strings.ReplaceAll(w, ",", ""), 64)
	return err == nil
}

func coverageOf(terms []string, text string) float64 {
	if len(terms) == 0 {
		return 0
	}
	low := strings.ToLower(text)
	n := 0
	for _, t := range terms {
		if strings.Contains(low, t) {
			n++
		}
	}
	return float64(n) / float64(len(terms))
}

// coverage decides a non-numeric requirement from the best matching
// source sentence: most key terms present meets it (or fails or partly
// when the sentence says "not supported" or "planned"); fewer leave it
// unknown.
func (td *tender) coverage(req string, sources []providers.Source) (string, *providers.Evidence) {
	terms := keyTerms(req)
	if len(terms) == 0 || len(sources) == 0 {
		return "", nil
	}
	var best *providers.Evidence
	bestCov := 0.0
	for _, ev := range providers.RankSentences(req, sources, 5) {
		if c := coverageOf(terms, ev.Text); c > bestCov {
			ev := ev
			best, bestCov = &ev, c
		}
	}
	if best == nil || bestCov < 0.5 {
		return "", nil
	}
	if bestCov < 0.75 {
		return "unknown", best
	}
	switch {
	case failCue.has(best.Text):
		return "fails", best
	case partlyCue.has(best.Text):
		return "partly", best
	}
	return "meets", best
}

var (
	criticalCue = cueList{"★", "废标", "无效投标", "投标无效", "实质性", "mandatory", "rejected", "rejection", "substantive", "disqualif"}
	comparator  = regexp.MustCompile(`≥|>=|≤|<=|不低于|不少于|不超过|至少|至多|(?i:at least|at most|no less than|no more than|within)`)
	paramHead   = regexp.MustCompile(`^(?:[0-9]{1,2}\s+)?[★▲]?\s*`)
)

// parameters are the technical requirements: items of a technical
// section, and ★/▲ or comparator lines anywhere outside the
// qualification and scoring sections. Each is compared with our sources.
func (td *tender) parameters() []Parameter {
	var out []Parameter
	var seen []string
	for _, it := range td.items {
		if len(out) == 60 {
			break
		}
		req, marker, name := it.Text, "", ""
		if r := it.Row; len(r.Cells) > 0 {
			// A named parameter reads "实时分析路数：单台推理服务器 ≥ 128 路";
			// the row number and the ★/▲ column are not the requirement.
			name = r.cell(roleName)
			var content []string
			for i, c := range r.Cells {
				switch {
				case markerRune.MatchString(c) && utf8.RuneCountInString(c) <= 3:
					marker = markerRune.FindString(c)
				case name != "" && c == name && r.role(i) == roleName:
				case r.role(i) == "" && isNumber(c), strings.TrimSpace(c) == "":
				default:
					content = append(content, c)
				}
			}
			req = strings.Join(content, " ")
			if name != "" && req != "" {
				req = name + "：" + req
			} else if name != "" {
				req = name
			}
			if marker != "" && !markerRune.MatchString(req) {
				req = marker + " " + req
			}
		}
		req = tidy(req)
		switch it.Section {
		case "technical":
		case "qualification", "scoring":
			continue
		default:
			if !markerRune.MatchString(req) && !comparator.MatchString(req) {
				continue
			}
		}
		if utf8.RuneCountInString(req) < 2 || contains(seen, req) || isHeaderRow([]string{req}) {
			continue
		}
		seen = append(seen, req)
		pname := paramName(req)
		if name != "" {
			pname = fitText(tidy(name), 1, 120, pname)
		}
		p := Parameter{
			Parameter:   pname,
			Requirement: clipText(req, 400),
			Critical:    it.Forced || criticalCue.has(req),
			Verdict:     "unknown",
			Citations:   []string{docLabel},
		}
		if strings.Contains(req, "▲") && !strings.Contains(req, "★") && !it.Forced {
			p.Critical = criticalCue.has(strings.ReplaceAll(req, "▲", ""))
		}
		verdict, ev, value := td.compare(req)
		if ev != nil {
			v := clipText(value, 400)
			p.OurValue, p.Verdict, p.Citations = &v, verdict, cites(docLabel, ev.SourceID)
		}
		out = append(out, p)
	}
	return out
}

// paramName is the short name of a parameter: the words before its
// comparator ("API 网关峰值吞吐"), else its opening words.
func paramName(req string) string {
	s := paramHead.ReplaceAllString(req, "")
	if loc := comparator.FindStringIndex(s); loc != nil && loc[0] > 0 {
		s = s[:loc[0]]
	} else if cl := clauses(s); len(cl) > 0 {
		s = cl[0]
	}
	s = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), "：:，,"))
	return fitText(s, 1, 60, clipText(req, 120))
}

// compare decides a parameter against our sources. A requirement with a
// direction ("≥ 10,000 TPS") is compared with a number in the same unit
// family from the best matching product sentence that shares a key term
// with it; others by term coverage. No matching sentence: unknown.
func (td *tender) compare(req string) (string, *providers.Evidence, string) {
	if len(td.ours) == 0 {
		return "unknown", nil, ""
	}
	var want *quantity
	for _, q := range quantities(req) {
		if q.Dir != 0 {
			q := q
			want = &q
			break
		}
	}
	if want == nil {
		status, ev := td.coverage(req, td.ours)
		if ev == nil {
			return "unknown", nil, ""
		}
		return status, ev, ev.Text
	}
	family, scale := normUnit(want.Unit)
	name := keyTerms(req[:want.Start])
	if len(name) == 0 {
		name = keyTerms(req)
	}
	for _, ev := range providers.RankSentences(req, td.ours, 8) {
		// A sentence naming less than half the parameter is about
		// something else ("数据库审计，260,000 / 节点" is no IOPS figure);
		// one naming part of it may be about a neighbour ("自动分类分级准
		// 确率" is no "检测准确率"): it can confirm a figure, not refute it.
		cov := coverageOf(name, ev.Text)
		if cov < 0.5 {
			continue
		}
		// A product-sheet row has its figure in the value column
		// ("指标: 12,000 TPS"), not in a note ("6 节点网关集群").
		values, ok := td.values[spaceKey(ev.Text)]
		if !ok {
			values = ev.Text
		}
		for _, have := range quantities(values) {
			hf, hs := normUnit(have.Unit)
			if hf != family || family == "" && want.Unit != have.Unit {
				continue
			}
			need, got := want.Value*scale, have.Value*hs
			ev := ev
			switch {
			case want.Dir > 0 && got >= need, want.Dir < 0 && got <= need:
				return "meets", &ev, ev.Text
			case cov >= 0.75:
				return "fails", &ev, ev.Text
			}
		}
	}
	return "unknown", nil, ""
}

// scoringRow reads a scoring table row: the criterion from its name
// column (else its first cell), the points from its points column (else
// its first number), the rest as the method.
func scoringRow(r row) (criterion string, points *float64, method string) {
	nameAt, pointsAt := -1, -1
	for i := range r.Cells {
		switch r.role(i) {
		case roleName:
			if nameAt < 0 {
				nameAt = i
			}
		case rolePoints:
			if pointsAt < 0 {
				pointsAt = i
			}
		}
	}
	if nameAt < 0 {
		nameAt = 0
	}
	var rest []string
	for i, cell := range r.Cells {
		if i == nameAt {
			continue
		}
		if v, ok := parsePoints(cell); ok && points == nil && (pointsAt < 0 || i == pointsAt) {
			points = &v
			continue
		}
		rest = append(rest, cell)
	}
	return r.Cells[nameAt], points, strings.Join(rest, "；")
}

// parsePoints reads a points cell: "30", "30 分", "30 points".
func parsePoints(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	for _, unit := range []string{"分", "points", "point", "pts"} {
		if len(s) >= len(unit) && strings.EqualFold(s[len(s)-len(unit):], unit) {
			s = strings.TrimSpace(s[:len(s)-len(unit)])
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

var pointsPattern = regexp.MustCompile(`(?i)^(.*?)\s*[:：(（]?\s*([0-9]+(?:\.[0-9]+)?)\s*(?:分|points?|pts)(.*)$`)

// scoring lists the scoring items with their points and method.
func (td *tender) scoring() []Criterion {
	var out []Criterion
	for _, it := range td.items {
		if len(out) == 30 {
			break
		}
		var c Criterion
		if r := it.Row; len(r.Cells) >= 2 && it.Section == "scoring" {
			c.Criterion, c.Points, c.Method = scoringRow(r)
		} else {
			m := pointsPattern.FindStringSubmatch(it.Text)
			if m == nil || it.Section != "scoring" && !strings.Contains(strings.ToLower(it.Text), "point") && !strings.Contains(it.Text, "分（") {
				continue
			}
			if it.Section != "scoring" && !(strings.Contains(strings.ToLower(m[0]), "points") || strings.Contains(m[0], "分")) {
				continue
			}
			c.Criterion = strings.TrimSpace(m[1])
			if v, err := strconv.ParseFloat(m[2], 64); err == nil {
				c.Points = &v
			}
			c.Method = strings.Trim(strings.TrimSpace(m[3]), "（）()，,。.;；:： ")
		}
		c.Criterion = strings.Trim(tidy(c.Criterion), "：:，, ")
		if c.Criterion == "" || strings.Contains(c.Criterion, "满分") || strings.Contains(c.Criterion, "总分") || strings.EqualFold(c.Criterion, "total") {
			continue
		}
		if c.Points != nil && (*c.Points < 0 || *c.Points > 100) {
			c.Points = nil
		}
		c.Criterion = clipText(c.Criterion, 120)
		c.Method = clipText(tidy(c.Method), 400)
		c.Citations = []string{docLabel}
		out = append(out, c)
	}
	return out
}

var deadlineEvents = []struct {
	cues   cueList
	zh, en string
}{
	{cueList{"投标截止", "递交投标文件截止", "响应文件提交截止", "提交投标文件", "bid deadline", "proposals due", "bids due", "submission deadline", "tender closes", "closing date"}, "投标截止", "Bid deadline"},
	{cueList{"开标", "bid opening", "opening of bids"}, "开标", "Bid opening"},
	{cueList{"答疑", "澄清", "质疑", "clarification", "questions are due", "q&a"}, "答疑/澄清", "Clarification questions"},
	{cueList{"获取招标文件", "招标文件获取", "文件发售", "获取采购文件", "document purchase", "documents available", "obtain the tender"}, "获取招标文件", "Tender documents available"},
	{cueList{"现场踏勘", "踏勘", "site visit"}, "现场踏勘", "Site visit"},
	{cueList{"公告发布", "招标公告", "发布日期", "published", "publication"}, "招标公告发布", "Tender published"},
	{cueList{"保证金缴纳", "保证金到账", "deposit due", "bond due"}, "保证金缴纳截止", "Deposit due"},
}

// deadlines are the dated events. A date without a year takes the
// document's first written year.
func (td *tender) deadlines() []Deadline {
	year := 0
	for _, c := range td.clauses {
		for _, d := range findDates(c) {
			if d.Year > 0 && year == 0 {
				year = d.Year
			}
		}
	}
	var out []Deadline
	seen := map[string]bool{}
	for _, c := range td.clauses {
		dates := findDates(c)
		if len(dates) == 0 {
			continue
		}
		var events []string
		for _, e := range deadlineEvents {
			if e.cues.has(c) {
				events = append(events, pick(td.lang, e.zh, e.en))
			}
		}
		d := dates[0]
		y := d.Year
		if y == 0 {
			y = year
		}
		day, ok := d.date(y)
		if !ok {
			continue
		}
		when := day.Format(dateLayout)
		if d.HasTime {
			when += fmt.Sprintf(" %02d:%02d", d.Hour, d.Minute)
		}
		for _, e := range events {
			if key := e + when; !seen[key] && len(out) < 12 {
				seen[key] = true
				out = append(out, Deadline{Event: e, Datetime: when, Citations: []string{docLabel}})
			}
		}
	}
	return out
}

var (
	depositCue     = cueList{"投标保证金", "保证金", "bid bond", "bid security", "deposit", "tender bond"}
	notDepositCue  = cueList{"履约保证金", "质量保证金", "performance bond"}
	noDepositCue   = cueList{"无需", "不收取", "免收", "免交", "不需要", "none", "not required", "no deposit", "waived", "无"}
	depositTermCue = cueList{"形式", "转账", "保函", "退还", "退回", "缴纳", "到账", "账户", "汇款", "transfer", "guarantee", "refund", "returned", "wire", "account", "letter of credit"}
)

// deposit reads the bid deposit; nil when the tender sets none or does
// not say.
func (td *tender) deposit() *Deposit {
	var d *Deposit
	var terms []string
	none := false
	for _, c := range td.clauses {
		if !depositCue.has(c) || notDepositCue.has(c) {
			continue
		}
		if a := findAmounts(c); len(a) > 0 && d == nil {
			v := a[0].Value
			d = &Deposit{Amount: &v, Currency: a[0].Currency, Citations: []string{docLabel}}
		} else if noDepositCue.has(c) {
			none = true
		}
		if depositTermCue.has(c) {
			terms = append(terms, tidy(c))
		}
	}
	if d == nil {
		if none || len(terms) == 0 {
			return nil
		}
		d = &Deposit{Currency: "CNY", Citations: []string{docLabel}}
	}
	d.Terms = clipText(strings.Join(terms, pick(td.lang, "；", "; ")), 400)
	return d
}

var (
	consortiumBan = cueList{"不接受联合体", "不允许联合体", "拒绝联合体", "consortium bids not allowed", "consortium bids are not accepted", "no consortium", "consortia are not accepted"}
	paymentCue    = cueList{"付款", "支付", "payment", "paid"}
	fundingTie    = cueList{"专项债", "财政", "资金到位", "资金", "bond", "treasury", "funding", "appropriation"}
	tailoredCue   = cueList{"无缝对接", "现有平台", "原厂", "指定品牌", "同品牌", "专利", "独家", "唯一", "proprietary", "existing platform", "same brand", "exclusive", "sole source"}
	pendingCue    = cueList{"待批", "尚未批复", "待审批", "尚未下达", "pending approval", "not yet approved"}
)

// risks collects what threatens the bid: critical parameters we fail or
// cannot confirm, unconfirmed mandatory qualifications, consortium bans,
// payment tied to funding, parameters that look tailored, pending
// funding and a short bidding period.
func (td *tender) risks(r TenderReport) []TenderRisk {
	var out []TenderRisk
	add := func(risk, severity, mitigation string, citations []string) {
		if len(out) < 15 {
			out = append(out, TenderRisk{Risk: fitText(risk, 2, 400, "—"), Severity: severity, Mitigation: clipText(mitigation, 400), Citations: citations})
		}
	}
	for _, p := range r.Parameters {
		switch {
		case p.Critical && p.Verdict == "fails":
			add(pick(td.lang, "实质性参数不满足（可能废标）：", "Critical parameter not met (bid may be rejected): ")+p.Requirement, "high",
				pick(td.lang, "答疑期提出澄清或质疑；评估合作伙伴产品补足，否则慎重决定是否投标", "Raise a clarification or challenge; consider a partner product, or weigh not bidding"), p.Citations)
		case p.Critical && (p.Verdict == "unknown" || p.Verdict == "partly"):
			add(pick(td.lang, "实质性参数我方资料无法确认：", "Critical parameter not confirmed by our sources: ")+p.Requirement, "high",
				pick(td.lang, "向产品团队核实，准备检测报告或证明材料", "Check with the product team and prepare test reports or certificates"), p.Citations)
		case p.Verdict == "fails":
			add(pick(td.lang, "评分参数不满足，将失分：", "Scored parameter not met, points at risk: ")+p.Requirement, "medium",
				pick(td.lang, "评估失分影响，在方案中说明替代能力", "Estimate the lost points and present an alternative in the proposal"), p.Citations)
		}
		if tailoredCue.has(p.Requirement) {
			add(pick(td.lang, "参数疑似指向特定厂商：", "Parameter may be tailored to one vendor: ")+p.Requirement, "medium",
				pick(td.lang, "答疑期提出澄清，要求改为通用性描述", "Ask in the clarification round for a vendor-neutral wording"), []string{docLabel})
		}
	}
	for _, q := range r.Qualifications {
		if q.Mandatory && (q.OurStatus == "unknown" || q.OurStatus == "fails") && !consortiumBan.has(q.Requirement) {
			add(pick(td.lang, "资格条件未经我方资料确认：", "Qualification not confirmed by our sources: ")+q.Requirement, "medium",
				pick(td.lang, "核实资质并准备证书或声明材料", "Check the qualification and prepare the certificate or declaration"), q.Citations)
		}
	}
	for _, c := range td.clauses {
		switch {
		case consortiumBan.has(c):
			add(pick(td.lang, "不接受联合体投标，缺项无法由合作伙伴补足：", "Consortium bids not accepted, gaps cannot be filled by a partner: ")+tidy(c), "medium",
				pick(td.lang, "确认我方能独立满足全部资格和参数；必要时以分包或产品供货方式合作", "Confirm we meet every requirement alone; otherwise use subcontracting or product supply"), []string{docLabel})
		case paymentCue.has(c) && fundingTie.has(c):
			add(pick(td.lang, "付款与资金到位挂钩：", "Payment tied to funding: ")+tidy(c), "medium",
				pick(td.lang, "合同中明确付款节点和逾期责任，评估回款风险", "Fix payment milestones and late-payment terms in the contract; assess cash-flow risk"), []string{docLabel})
		case pendingCue.has(c):
			add(pick(td.lang, "资金尚未批复：", "Funding not yet approved: ")+tidy(c), "medium",
				pick(td.lang, "跟踪预算批复进度，确认招标不会因资金推迟", "Track the approval and confirm the tender will not slip"), []string{docLabel})
		}
	}
	var published, due time.Time
	for _, d := range r.Deadlines {
		t, err := time.Parse(dateLayout, d.Datetime[:10])
		if err != nil {
			continue
		}
		switch d.Event {
		case "招标公告发布", "Tender published":
			published = t
		case "投标截止", "Bid deadline":
			due = t
		}
	}
	if !published.IsZero() && !due.IsZero() && due.Sub(published) < 20*24*time.Hour {
		add(pick(td.lang, "投标准备时间不足 20 天", "Less than 20 days to prepare the bid"), "medium",
			pick(td.lang, "立即组建投标小组，优先准备资格和实质性条款材料", "Staff the bid team now; prepare qualifications and critical clauses first"), []string{docLabel})
	}
	return dedupeRisks(out)
}

func dedupeRisks(in []TenderRisk) []TenderRisk {
	var out []TenderRisk
	var seen []string
	for _, r := range in {
		if !contains(seen, r.Risk) {
			seen = append(seen, r.Risk)
			out = append(out, r)
		}
	}
	return out
}
