package analyze

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
)

// MeetingReport is the answer to the meeting_notes task, shaped by the
// output schema of meeting_notes@v1.
type MeetingReport struct {
	Summary     string              `json:"summary"`
	KeyPoints   []string            `json:"key_points"`
	Sentiment   []PartySentiment    `json:"sentiment"`
	Decisions   []Decision          `json:"decisions"`
	ActionItems []ActionItem        `json:"action_items"`
	Risks       []MeetingRisk       `json:"risks"`
	Competitors []CompetitorMention `json:"competitors_mentioned"`
	CRM         CRMFields           `json:"crm_fields"`
}

// PartySentiment is how one participant (or side) spoke about the deal.
type PartySentiment struct {
	Party     string `json:"party"`
	Side      string `json:"side"`      // customer, ours, partner, other
	Sentiment string `json:"sentiment"` // positive, neutral, negative, mixed
	Reason    string `json:"reason"`
	Span      string `json:"span"`
}

// Decision is something agreed in the meeting.
type Decision struct {
	Description string `json:"description"`
	Span        string `json:"span"`
}

// ActionItem is a task someone took on. DueDate is YYYY-MM-DD, nil when
// no exact date was said.
type ActionItem struct {
	Owner       string  `json:"owner"`
	DueDate     *string `json:"due_date"`
	Description string  `json:"description"`
	Span        string  `json:"span"`
}

// MeetingRisk is a threat to winning or delivering the deal.
type MeetingRisk struct {
	Description string `json:"description"`
	Severity    string `json:"severity"` // high, medium, low
	Span        string `json:"span"`
}

// CompetitorMention is a competitor named in the meeting.
type CompetitorMention struct {
	Name    string `json:"name"`
	Context string `json:"context"`
	Span    string `json:"span"`
}

// CRMFields are the deal fields a meeting fills; nil when not discussed.
type CRMFields struct {
	BudgetAmount   *Budget         `json:"budget_amount"`
	BudgetSource   *Field          `json:"budget_source"`
	DecisionCycle  *Field          `json:"decision_cycle"`
	DecisionMakers []DecisionMaker `json:"decision_makers"`
	NextStep       *Field          `json:"next_step"`
	StageHint      *Field          `json:"stage_hint"`
}

// Budget is an amount in whole currency units.
type Budget struct {
	Value    float64 `json:"value"`
	Currency string  `json:"currency"`
	Span     string  `json:"span"`
}

// Field is a CRM value with the transcript span it comes from.
type Field struct {
	Value string `json:"value"`
	Span  string `json:"span"`
}

// DecisionMaker is a customer person who decides or signs off.
type DecisionMaker struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Concerns []string `json:"concerns"`
	Span     string   `json:"span"`
}

// MeetingNotes composes meeting notes from in.Transcript (source T1) for
// template t (meeting_notes@v1): speaker turns, a summary, key points,
// sentiment per speaker, decisions, action items with owners and due
// dates resolved against in.Date, risks, competitors and CRM fields, each
// with a verbatim span of the transcript. Background sources are not
// evidence of what was said; they only name competitors.
func MeetingNotes(t *prompts.Template, in prompts.MeetingNotesInput) MeetingReport {
	r := composeMeeting(t, in)
	if !matchesSchema(t, r) {
		// A rule produced something the schema refuses: answer with the
		// summary alone rather than with an invalid document.
		r = MeetingReport{Summary: r.Summary, CRM: CRMFields{}}
		if utf8.RuneCountInString(r.Summary) < 10 || utf8.RuneCountInString(r.Summary) > 1200 {
			r.Summary = pick(answerLanguage(t, in.Language, in.Transcript), "会议记录中没有可提取的内容。", "Nothing could be extracted from the transcript.")
		}
		r.normalize()
	}
	return r
}

// normalize turns nil lists into empty ones, which the schema requires.
func (r *MeetingReport) normalize() {
	r.KeyPoints = nonNil(r.KeyPoints)
	r.Sentiment = nonNil(r.Sentiment)
	r.Decisions = nonNil(r.Decisions)
	r.ActionItems = nonNil(r.ActionItems)
	r.Risks = nonNil(r.Risks)
	r.Competitors = nonNil(r.Competitors)
	r.CRM.DecisionMakers = nonNil(r.CRM.DecisionMakers)
	for i := range r.CRM.DecisionMakers {
		r.CRM.DecisionMakers[i].Concerns = nonNil(r.CRM.DecisionMakers[i].Concerns)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// speaker is someone who talks in the transcript.
type speaker struct {
	Label string // as written before the colon
	Party string // the participant's full name when known
	Role  string
	Side  string
}

// utterance is a transcript sentence and who said it (-1: no speaker).
type utterance struct {
	segment
	Speaker int
}

// meeting is a parsed transcript.
type meeting struct {
	lang     string
	doc      string
	base     time.Time // meeting day; zero when unknown
	speakers []speaker
	said     []utterance
	rivals   rivalSet
	in       prompts.MeetingNotesInput
}

func composeMeeting(t *prompts.Template, in prompts.MeetingNotesInput) MeetingReport {
	doc := cleanDoc(in.Transcript)
	m := &meeting{lang: answerLanguage(t, in.Language, doc), doc: doc, in: in}
	if d, err := time.Parse(dateLayout, strings.TrimSpace(in.Date)); err == nil {
		m.base = d
	}
	m.rivals = newRivalSet(nil, in.Sources, in.Seller)
	m.parse()

	var r MeetingReport
	r.Decisions = m.decisions()
	r.ActionItems = m.actionItems()
	r.Risks = m.risks()
	r.Competitors = m.competitors()
	r.Sentiment = m.sentiment()
	r.KeyPoints = m.keyPoints()
	r.CRM = m.crm(r.ActionItems)
	r.Summary = m.summary(r)
	r.normalize()
	return r
}

var (
	speakerPrefix = regexp.MustCompile(`^\s*(?:\[?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\]?\s*)?(?:([-*•])\s+)?(?:\*\*|__)?\s*` +
		`([^\s:：*_|#>\[\]（）()0-9][^:：*_|#>\n]{0,39}?)\s*(?:[（(][^）)\n]{0,30}[）)])?\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?`)
	notSpeakers = map[string]bool{
		"时间": true, "地点": true, "日期": true, "记录": true, "记录人": true, "参会人": true, "参会人员": true, "主题": true,
		"议题": true, "会议": true, "备注": true, "注": true, "说明": true, "地址": true, "电话": true, "手机": true, "邮箱": true,
		"预算": true, "项目": true, "内容": true, "结论": true, "下一步": true, "待办": true, "要点": true, "问题": true,
		"结果": true, "原因": true, "联系方式": true, "竞争对手": true, "决策人": true, "关键需求": true,
		"决策": true, "关切": true, "事项": true, "需求": true, "风险": true, "进展": true, "计划": true, "背景": true,
		"time": true, "date": true, "place": true, "location": true, "attendees": true, "participants": true, "subject": true,
		"topic": true, "agenda": true, "note": true, "notes": true, "summary": true, "budget": true, "email": true, "phone": true,
		"mobile": true, "action": true, "actions": true, "next steps": true, "next step": true, "outcome": true, "re": true,
		"from": true, "to": true, "cc": true, "title": true, "kind": true, "tags": true, "language": true, "region": true,
		"industry": true, "customer name": true, "timing": true, "decision makers": true, "http": true, "https": true,
	}
	customerWords = []string{"客户", "客户方", "甲方", "业主", "customer", "client"}
	oursWords     = []string{"我方", "销售", "乙方", "我们", "rep", "sales", "vendor", "us", "we"}
	honorifics    = []string{"局长", "处长", "科长", "主任", "书记", "院长", "部长", "经理", "总监", "老师", "博士", "总", "局", "处", "科", "工", "姐", "哥"}
	customerTitle = []string{"局长", "处长", "科长", "主任", "书记", "院长", "部长", "总", "局", "处"}
)

// parse splits the transcript into utterances and finds the speakers.
func (m *meeting) parse() {
	lines := strings.Split(m.doc, "\n")
	skip := frontMatterEnd(lines)
	offset := 0
	last := -1 // speaker of the previous line, for continuation lines
	for i, line := range lines {
		start := offset
		offset += len(line) + 1
		if i <= skip {
			continue
		}
		if strings.TrimSpace(line) == "" {
			last = -1
			continue
		}
		if tableRule.MatchString(line) || unsafeText(line) || strings.HasPrefix(strings.TrimSpace(line), "#") {
			last = -1
			continue
		}
		if _, ok := renderedRow(line); ok {
			// A summary table row ("事项: 预算 | 结论: 约 250 万元") read
			// back from the knowledge base: notes, not a turn.
			m.addSaid(line, start, i, -1)
			last = -1
			continue
		}
		for _, turn := range splitTurns(line) {
			last = m.turn(line[turn:], start+turn, i, last)
		}
	}
}

// turn reads one speaker turn (or a continuation of the last speaker's)
// at offset start of line lineNo, and returns who spoke it.
func (m *meeting) turn(text string, start, lineNo, last int) int {
	who, body := -1, 0
	if sm := speakerPrefix.FindStringSubmatchIndex(text); sm != nil {
		label := strings.TrimSpace(text[sm[4]:sm[5]])
		listed := sm[2] >= 0
		if attendeeList.MatchString(text[sm[1]:]) && !m.known(label) {
			// "客户方：王建国（总经理）、孙立（副局长）" lists who came; it
			// lost its "- " when the knowledge base read it.
			m.addSaid(text, start, lineNo, -1)
			return -1
		}
		if idx, ok := m.speakerFor(label, listed); ok {
			who, body = idx, sm[1]
		}
	}
	if who < 0 && last >= 0 && !listMarker.MatchString(text) {
		who = last
	}
	m.addSaid(text[body:], start+body, lineNo, who)
	return who
}

func (m *meeting) addSaid(text string, start, lineNo, who int) {
	for _, s := range sentencesAt(text, start, lineNo) {
		if !unsafeText(s.Text) {
			m.said = append(m.said, utterance{s, who})
		}
	}
}

// known reports whether label names a speaker already heard.
func (m *meeting) known(label string) bool {
	for _, s := range m.speakers {
		if s.Label == label {
			return true
		}
	}
	return false
}

var (
	// attendeeList matches what follows the label of an attendee line: a
	// name with a role in brackets first, and no sentence ending.
	attendeeList = regexp.MustCompile(`^[^，,。；;（(\n]{1,24}[（(][^）)\n]*[）)][^。！？!?]*$`)
	// turnStart finds a turn that starts within a line, after a sentence:
	// where two chunks of a transcript meet, the knowledge base joins
	// their paragraphs with a space ("……不停。 刘洋：我们……").
	turnStart = regexp.MustCompile(`[。！？!?]\s+(\S{1,24}?)[:：]`)
)

// splitTurns returns the offsets in line where speaker turns start: 0,
// and after a sentence end wherever a plausible speaker label follows.
func splitTurns(line string) []int {
	out := []int{0}
	for _, m := range turnStart.FindAllStringSubmatchIndex(line, -1) {
		if plausibleSpeaker(line[m[2]:m[3]]) {
			out = append(out, m[2])
		}
	}
	return out
}

func frontMatterEnd(lines []string) int {
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for i := 1; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == "---" {
				return i
			}
		}
	}
	return -1
}

// speakerFor returns the speaker a line label names, adding it on first
// sight, or false when the label is not a speaker ("时间", "Budget").
func (m *meeting) speakerFor(label string, listed bool) (int, bool) {
	for i, s := range m.speakers {
		if s.Label == label {
			return i, true
		}
	}
	if !plausibleSpeaker(label) {
		return -1, false
	}
	sp := speaker{Label: label, Party: label, Side: "other"}
	if p, ok := m.participant(label); ok {
		sp.Party, sp.Role = p.Name, p.Role
		switch p.Side {
		case "customer", "ours", "partner", "other":
			sp.Side = p.Side
		}
	} else {
		low := strings.ToLower(label)
		switch {
		case contains(customerWords, low):
			sp.Side = "customer"
		case contains(oursWords, low):
			sp.Side = "ours"
		case endsWithAny(label, customerTitle):
			sp.Side = "customer"
		}
		if listed && sp.Side != "other" && (contains(customerWords, low) || contains(oursWords, low)) {
			return -1, false // "- 客户方：王建国、孙立" is an attendee list
		}
		if listed && !lang.IsCJK(firstRune(label)) {
			return -1, false // "- Budget: ..." style notes
		}
	}
	sp.Party = clipRunes(tidy(sp.Party), 80)
	if sp.Party == "" {
		return -1, false
	}
	m.speakers = append(m.speakers, sp)
	return len(m.speakers) - 1, true
}

func plausibleSpeaker(label string) bool {
	if label == "" || notSpeakers[strings.ToLower(label)] || utf8.RuneCountInString(label) > 30 {
		return false
	}
	if strings.ContainsFunc(label, unicode.IsDigit) {
		return false
	}
	if lang.IsCJK(firstRune(label)) {
		n := 0
		for _, r := range label {
			if !lang.IsCJK(r) && r != '·' {
				return false
			}
			n++
		}
		return n <= 8
	}
	words := strings.Fields(label)
	if len(words) > 4 {
		return false
	}
	for _, w := range words {
		r := firstRune(w)
		if !unicode.IsUpper(r) && !contains(oursWords, strings.ToLower(label)) && !contains(customerWords, strings.ToLower(label)) {
			return false
		}
		if strings.ContainsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && r != '.' && r != '\'' && r != '-' }) {
			return false
		}
	}
	return true
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func endsWithAny(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) && s != x {
			return true
		}
	}
	return false
}

// participant finds the listed participant a label refers to: the full
// name, a surname with an honorific (王总 for 王建国, the general
// manager), or one word of an English name (Qian, Dr. Xu).
func (m *meeting) participant(label string) (prompts.Person, bool) {
	ps := m.in.Participants
	for _, p := range ps {
		if p.Name != "" && strings.EqualFold(strings.TrimSpace(p.Name), label) {
			return p, true
		}
	}
	if lang.IsCJK(firstRune(label)) {
		surname := string(firstRune(label))
		rest := strings.TrimPrefix(label, surname)
		if !contains(honorifics, rest) {
			return prompts.Person{}, false
		}
		var found []prompts.Person
		for _, p := range ps {
			if strings.HasPrefix(strings.TrimSpace(p.Name), surname) {
				found = append(found, p)
			}
		}
		for _, p := range found {
			if strings.Contains(p.Role, rest) {
				return p, true
			}
		}
		if len(found) > 0 {
			return found[0], true
		}
		return prompts.Person{}, false
	}
	words := strings.Fields(label)
	for len(words) > 1 && contains([]string{"dr.", "dr", "mr.", "mr", "ms.", "ms", "mrs.", "mrs", "prof.", "prof"}, strings.ToLower(words[0])) {
		words = words[1:]
	}
	if len(words) != 1 {
		return prompts.Person{}, false
	}
	for _, p := range ps {
		for _, w := range strings.Fields(p.Name) {
			if strings.EqualFold(w, words[0]) {
				return p, true
			}
		}
	}
	return prompts.Person{}, false
}

// partyOf names who said u: the speaker's party, or the side when the
// transcript names nobody.
func (m *meeting) partyOf(u utterance) string {
	if u.Speaker >= 0 {
		return m.speakers[u.Speaker].Party
	}
	return ""
}

// quote renders an utterance for prose: "王建国：二期总盘子 610 万。"
func (m *meeting) quote(u utterance) string {
	if p := m.partyOf(u); p != "" {
		return p + pick(m.lang, "：", ": ") + tidy(u.Text)
	}
	return tidy(u.Text)
}

// Cue words. English cues are matched as whole words, lower-cased.
var (
	decisionCues = cueList{"决定", "同意", "确定", "敲定", "商定", "定下来", "一致认为", "达成一致", "就这么定", "说定",
		"agreed", "agree to", "we agree", "decided", "decide to", "will go with", "confirmed", "settled on", "signed off"}
	positiveCues = cueList{"满意", "认可", "不错", "很好", "好的", "同意", "支持", "感兴趣", "期待", "欢迎", "印象深刻", "放心",
		"信任", "看好", "愿意", "没问题", "优势", "肯定", "impressed", "good", "great", "excellent", "like", "happy", "pleased",
		"agree", "agreed", "support", "interested", "confident", "keen", "looking forward", "makes sense", "perfect", "glad", "appreciate"}
	negativeCues = cueList{"担心", "顾虑", "风险", "不满意", "太贵", "偏贵", "贵了", "不行", "不满足", "达不到", "延期", "推迟",
		"预算不足", "没有预算", "没钱", "卡住", "犹豫", "失望", "投诉", "困难", "压力", "不确定", "很严", "不想", "弱点", "不足",
		"问题", "不能", "不够", "不放心", "质疑", "怀疑", "concern", "concerns", "concerned", "worry", "worried", "risk", "risky",
		"problem", "issue", "expensive", "too high", "delay", "delayed", "weakness", "can't", "cannot", "unable", "disappointed",
		"over budget", "difficult", "doubt", "hesitant", "unhappy", "don't assume", "not sure", "over what we planned", "weak"}
	actionCues = cueList{"负责", "跟进", "落实", "提交", "准备", "安排", "发给", "发送", "提供", "整理", "组织", "确认", "联系",
		"对接", "反馈", "补充", "出一份", "出个", "发我", "发一下", "发过来", "提前发", "会后", "下一步", "待办",
		"will send", "will prepare", "will share", "will provide", "will arrange", "will schedule", "will follow up",
		"will draft", "will deliver", "will set up", "will propose", "will organise", "will organize", "will book",
		"will check", "will confirm", "will call", "will include", "will send over", "will get back", "'ll send",
		"'ll prepare", "'ll share", "'ll provide", "'ll arrange", "'ll include", "'ll get back", "follow up", "action item",
		"please send", "to send", "send the", "send over", "draft the", "prepare the", "arrange the", "by friday"}
	futureCues = cueList{"会", "将", "要", "前", "马上", "尽快", "下周", "明天", "请", "麻烦", "负责", "安排", "准备",
		"will", "'ll", "please", "by", "need to", "going to", "shall"}
)

// decisions are sentences that record agreement, not proposals.
func (m *meeting) decisions() []Decision {
	var out []Decision
	for _, u := range m.said {
		if len(out) == 12 {
			break
		}
		if isQuestion(u.Text) {
			continue
		}
		if _, at := decisionCues.find(u.Text, true); at < 0 {
			continue
		}
		span, ok := spanOf(u.Text)
		if !ok {
			continue
		}
		out = append(out, Decision{Description: fitText(m.quote(u), 1, maxText, span), Span: span})
	}
	return out
}

func isQuestion(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasSuffix(s, "？") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "吗") || strings.HasSuffix(s, "吗。")
}

var (
	ownerInParens = regexp.MustCompile(`[（(]([^（）()]{1,20})[）)]\s*[。.；;]?\s*$`)
	ownerLeading  = regexp.MustCompile(`^\s*(?:[0-9]{1,2}[.、)]\s*)?([\p{Han}·]{2,4}|[A-Z][A-Za-z.]*(?:\s[A-Z][A-Za-z.]*){0,2})\s*(?:—|–|--|-|：|:)\s*`)
	actionSplit   = regexp.MustCompile(`[，,]\s*(?:并且?|然后|同时|再|and then|and also|and)\s*`)
	requestCues   = cueList{"请", "麻烦", "please", "can you", "could you", "would you"}
	firstPerson   = cueList{"我们", "我这边", "我来", "我会", "我方", "我", "we", "i", "i'll", "we'll", "our team"}
)

// actionItems are the tasks people took on, with owner and due date.
// A sentence with two actions joined by "，并" gives two items.
func (m *meeting) actionItems() []ActionItem {
	var out []ActionItem
	for _, u := range m.said {
		if !actionCues.has(u.Text) || !futureCues.has(u.Text) && u.Speaker >= 0 {
			continue
		}
		if isQuestion(u.Text) {
			continue
		}
		owner := m.owner(u)
		for _, part := range splitActions(u.Text) {
			if len(out) == 20 {
				return out
			}
			if len(splitActions(u.Text)) > 1 && !actionCues.has(part) {
				continue
			}
			span, ok := spanOf(part)
			if !ok {
				continue
			}
			item := ActionItem{Owner: owner, Description: fitText(tidy(part), 1, maxText, span), Span: span}
			if d, ok := resolveDue(part, m.base); ok {
				s := d.Format(dateLayout)
				item.DueDate = &s
			}
			out = append(out, item)
		}
	}
	return out
}

// splitActions cuts "我们下周五前把说明发给您，并安排 2 月上旬去苏州参观" into
// its two actions; each part is a substring of s.
func splitActions(s string) []string {
	var out []string
	last := 0
	for _, loc := range actionSplit.FindAllStringIndex(s, -1) {
		out = append(out, s[last:loc[0]])
		last = loc[0] + (len(s[loc[0]:loc[1]]) - len(strings.TrimLeft(s[loc[0]:loc[1]], "，, ")))
	}
	out = append(out, s[last:])
	var kept []string
	for _, p := range out {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return kept
}

// owner decides who an action belongs to: a name in trailing brackets
// ("（周宁）"), a leading "Name —", the speaker when they say "we"/"I",
// the other side when the speaker asks ("请…", "please"), a participant
// named in the sentence, and the speaker otherwise.
func (m *meeting) owner(u utterance) string {
	text := u.Text
	if o := ownerInParens.FindStringSubmatch(text); o != nil {
		if name := m.personNamed(o[1]); name != "" {
			return name
		}
	}
	if o := ownerLeading.FindStringSubmatch(text); o != nil {
		if name := m.personNamed(o[1]); name != "" {
			return name
		}
	}
	speakerSide := ""
	if u.Speaker >= 0 {
		speakerSide = m.speakers[u.Speaker].Side
	}
	_, req := requestCues.find(text, false)
	_, self := firstPerson.find(text, false)
	switch {
	case req >= 0 && (self < 0 || req < self) && speakerSide == "customer":
		return pick(m.lang, "我方", "ours")
	case req >= 0 && (self < 0 || req < self) && speakerSide == "ours":
		return pick(m.lang, "客户方", "customer")
	case self >= 0 && u.Speaker >= 0:
		return m.speakers[u.Speaker].Party
	}
	for _, p := range m.in.Participants {
		if n := strings.TrimSpace(p.Name); n != "" && strings.Contains(text, n) {
			return clipRunes(n, 80)
		}
	}
	if u.Speaker >= 0 {
		return m.speakers[u.Speaker].Party
	}
	return pick(m.lang, "待定", "unassigned")
}

// personNamed returns the participant or speaker a short name refers
// to, or the name itself when it looks like a person's, else "".
func (m *meeting) personNamed(name string) string {
	name = strings.TrimSpace(name)
	if p, ok := m.participant(name); ok && p.Name != "" {
		return clipRunes(p.Name, 80)
	}
	for _, s := range m.speakers {
		if s.Label == name || s.Party == name {
			return s.Party
		}
	}
	if plausibleSpeaker(name) && !contains(customerWords, strings.ToLower(name)) && utf8.RuneCountInString(name) <= 4 || strings.Count(name, " ") == 1 && plausibleSpeaker(name) {
		return clipRunes(name, 80)
	}
	return ""
}

type riskCue struct {
	cues     cueList
	severity string
}

var (
	riskCues = []riskCue{
		{cueList{"预算不足", "没有预算", "资金不到位", "取消", "暂停", "砍掉", "压缩", "废标", "流标", "一票否决", "内定", "已经定了",
			"budget cut", "cancel", "cancelled", "on hold", "no budget", "rejected", "disqualified"}, "high"},
		{cueList{"担心", "风险", "延期", "推迟", "竞争", "卡住", "审计", "要等", "待批", "尚未", "还没", "不确定", "顾虑", "很严",
			"concern", "concerns", "risk", "delay", "postpone", "worried", "worry", "incumbent", "pending", "not yet approved",
			"depends on", "weakness", "don't assume", "over budget", "cannot stop"}, "medium"},
		{cueList{"可能", "或许", "也许", "maybe", "might", "possibly"}, "low"},
	}
	fundingCues    = cueList{"资金", "预算", "拨款", "财政", "专项债", "budget", "funding", "fund", "appropriation", "bond"}
	approvalCues   = cueList{"审批", "批准", "批复", "人大", "批", "上会", "approval", "approve", "approved", "sign off", "signs off", "board"}
	delayCues      = cueList{"延期", "推迟", "delay", "postpone"}
	complianceCues = cueList{"审计", "合规", "等保", "密评", "涉密", "信创", "audit", "compliance", "mlps"}
)

// risks are sentences with risk cue words, and competitor mentions.
func (m *meeting) risks() []MeetingRisk {
	var out []MeetingRisk
	for _, u := range m.said {
		if len(out) == 12 {
			break
		}
		severity := ""
		for _, rc := range riskCues {
			if _, at := rc.cues.find(u.Text, rc.severity == "low"); at >= 0 {
				severity = rc.severity
				break
			}
		}
		var label string
		if ms := m.rivals.find(u.Text); len(ms) > 0 {
			name := m.rivals[ms[0].Rival].Name
			label = pick(m.lang, "竞争对手"+name+"在争取该项目", "Competitor "+name+" is in the deal")
			if incumbentCue.has(u.Text) {
				severity = "high"
			} else if severity == "" || severity == "low" {
				severity = "medium"
			}
		}
		if severity == "" {
			continue
		}
		span, ok := spanOf(u.Text)
		if !ok {
			continue
		}
		if label == "" {
			label = m.riskLabel(u.Text)
		}
		out = append(out, MeetingRisk{Description: fitText(label+pick(m.lang, "：", ": ")+m.quote(u), 1, maxText, span), Severity: severity, Span: span})
	}
	return out
}

var incumbentCue = cueList{"中标", "存量", "承建", "做的", "做过", "incumbent", "won", "built", "already runs"}

func (m *meeting) riskLabel(text string) string {
	funding, approval := fundingCues.has(text), approvalCues.has(text)
	switch {
	case funding && approval:
		return pick(m.lang, "资金和审批尚未落实", "Funding and approval not yet secured")
	case funding:
		return pick(m.lang, "资金风险", "Funding risk")
	case approval:
		return pick(m.lang, "审批尚未完成", "Approval pending")
	case delayCues.has(text):
		return pick(m.lang, "进度可能延期", "Schedule may slip")
	case complianceCues.has(text):
		return pick(m.lang, "合规与审计要求", "Compliance and audit demands")
	}
	return pick(m.lang, "客户顾虑", "Customer concern")
}

// competitors lists each competitor named, at its first mention.
func (m *meeting) competitors() []CompetitorMention {
	var out []CompetitorMention
	seen := map[int]bool{}
	for _, u := range m.said {
		for _, ms := range m.rivals.find(u.Text) {
			if seen[ms.Rival] || len(out) == 12 {
				continue
			}
			span, ok := spanOf(u.Text)
			if !ok {
				continue
			}
			seen[ms.Rival] = true
			name := clipRunes(m.rivals[ms.Rival].Name, 80)
			context := m.quote(u)
			if n := m.countMentions(ms.Rival); n > 1 {
				context += pick(m.lang, "（会上共提及 ", " (mentioned ") + strconv.Itoa(n) + pick(m.lang, " 次）", " times)")
			}
			out = append(out, CompetitorMention{Name: name, Context: fitText(context, 1, maxText, span), Span: span})
		}
	}
	return out
}

func (m *meeting) countMentions(rival int) int {
	n := 0
	for _, u := range m.said {
		for _, ms := range m.rivals.find(u.Text) {
			if ms.Rival == rival {
				n++
			}
		}
	}
	return n
}

// sentiment scores each speaker with the cue lexicons; when nobody is
// named, the whole transcript counts as one party.
func (m *meeting) sentiment() []PartySentiment {
	type tally struct {
		pos, neg   int
		cues       []string
		best       utterance
		bestWeight int
		first      utterance
		seen       bool
	}
	groups := make([]tally, len(m.speakers)+1) // last: unnamed
	for _, u := range m.said {
		g := len(m.speakers)
		if u.Speaker >= 0 {
			g = u.Speaker
		}
		t := &groups[g]
		if _, ok := spanOf(u.Text); !ok {
			continue
		}
		if !t.seen {
			t.first, t.seen = u, true
		}
		p, n, cues := polarity(u.Text)
		t.pos += p
		t.neg += n
		for _, c := range cues {
			if !contains(t.cues, c) && len(t.cues) < 4 {
				t.cues = append(t.cues, c)
			}
		}
		if p+n > t.bestWeight {
			t.best, t.bestWeight = u, p+n
		}
	}
	var out []PartySentiment
	for g, t := range groups {
		if !t.seen || len(out) == 12 {
			continue
		}
		if g == len(m.speakers) && len(m.speakers) > 0 {
			continue // narration between named turns is nobody's opinion
		}
		party, side := pick(m.lang, "全体参会人", "all participants"), "other"
		if g < len(m.speakers) {
			party, side = m.speakers[g].Party, m.speakers[g].Side
		}
		u := t.first
		if t.bestWeight > 0 {
			u = t.best
		}
		span, _ := spanOf(u.Text)
		label, reason := judge(t.pos, t.neg), ""
		quoted := strings.Join(t.cues, pick(m.lang, "、", ", "))
		switch label {
		case "positive":
			reason = pick(m.lang, "表态积极（", "Spoke favourably (") + quoted + pick(m.lang, "）", ")")
		case "negative":
			reason = pick(m.lang, "表达了顾虑（", "Voiced concerns (") + quoted + pick(m.lang, "）", ")")
		case "mixed":
			reason = pick(m.lang, "既有积极表态也有顾虑（", "Both favourable and concerned (") + quoted + pick(m.lang, "）", ")")
		default:
			reason = pick(m.lang, "以陈述信息为主，未明确表态", "Mostly stated facts; no clear view on the deal")
		}
		out = append(out, PartySentiment{Party: party, Side: side, Sentiment: label, Reason: clipText(reason, maxText), Span: span})
	}
	return out
}

// polarity counts positive and negative cue words in text. A cue after a
// negation ("没问题", "不担心") counts for the other side.
func polarity(text string) (pos, neg int, cues []string) {
	low := asciiLower(text)
	count := func(list cueList, positive bool) {
		for _, c := range list {
			for from := 0; ; {
				i := indexWord(low, c, from)
				if i < 0 {
					break
				}
				from = i + len(c)
				flip := negated(low, i) && !strings.HasPrefix(c, "不") && !strings.HasPrefix(c, "没")
				if positive != flip {
					pos++
				} else {
					neg++
				}
				if !contains(cues, c) {
					cues = append(cues, c)
				}
			}
		}
	}
	count(positiveCues, true)
	count(negativeCues, false)
	return pos, neg, cues
}

func judge(pos, neg int) string {
	switch {
	case pos == 0 && neg == 0:
		return "neutral"
	case neg == 0 || pos >= 3*neg:
		return "positive"
	case pos == 0 || neg >= 3*pos:
		return "negative"
	}
	return "mixed"
}

var (
	requirementCues = cueList{"必须", "要求", "重点", "关注", "需要", "希望", "关键", "must", "need", "needs", "require", "requires",
		"priority", "important", "key", "want"}
	hasDigit = regexp.MustCompile(`[0-9]`)
)

// keyPoints are the most informative sentences, in transcript order:
// amounts, dates, requirements, decisions, risks and competitors score.
func (m *meeting) keyPoints() []string {
	type scored struct {
		i, score int
	}
	var cands []scored
	for i, u := range m.said {
		if utf8.RuneCountInString(u.Text) < 6 {
			continue
		}
		score := 0
		if len(findAmounts(u.Text)) > 0 {
			score += 2
		}
		if hasDigit.MatchString(u.Text) {
			score++
		}
		if decisionCues.has(u.Text) {
			score += 2
		}
		if requirementCues.has(u.Text) {
			score += 2
		}
		if negativeCues.has(u.Text) {
			score++
		}
		if len(m.rivals.find(u.Text)) > 0 {
			score++
		}
		if len(findDates(u.Text)) > 0 {
			score++
		}
		if score >= 2 {
			cands = append(cands, scored{i, score})
		}
	}
	slices.SortStableFunc(cands, func(a, b scored) int { return b.score - a.score })
	if len(cands) > 8 {
		cands = cands[:8]
	}
	slices.SortFunc(cands, func(a, b scored) int { return a.i - b.i })
	if len(cands) == 0 {
		for i := range m.said {
			if len(cands) == 3 {
				break
			}
			cands = append(cands, scored{i: i})
		}
	}
	var out []string
	for _, c := range cands {
		if p := clipText(m.quote(m.said[c.i]), maxText); p != "" && !contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

var (
	budgetCues = cueList{"预算", "盘子", "总投资", "投资", "经费", "资金", "拨款", "总额", "总价", "budget", "funding", "total",
		"ceiling", "fund", "spend"}
	totalCues = cueList{"总", "total", "overall", "in total", "altogether"}
	// sourceKinds maps how a meeting names a funding source to the CRM
	// value, in Chinese and English.
	sourceKinds = []struct {
		cues   cueList
		zh, en string
	}{
		{cueList{"专项债", "专项债券", "special bond", "special bonds", "special-purpose bond"}, "专项债", "special-purpose bonds (专项债)"},
		{cueList{"财政拨款", "财政资金", "政府拨款", "区级财政", "市级财政", "省级财政", "县级财政", "财政预算", "区财政", "市财政", "财政",
			"appropriation", "fiscal", "treasury"}, "财政拨款", "government appropriation (财政拨款)"},
		{cueList{"自筹", "自有资金", "self-funded", "self funded", "own funds"}, "自筹资金", "self-funded (自筹)"},
		{cueList{"政府购买服务", "government service procurement"}, "政府购买服务", "government service procurement (政府购买服务)"},
		{cueList{"上级补助", "中央资金", "转移支付", "中央预算内", "central government funds"}, "上级补助资金", "higher-level subsidy"},
		{cueList{"资本预算", "资本开支", "capital budget", "capital spending", "capex"}, "资本预算", "capital budget"},
		{cueList{"运营预算", "operating budget", "opex"}, "运营预算", "operating budget"},
		{cueList{"safe city fund", "平安城市"}, "平安城市专项资金", "Safe City fund"},
	}
	cycleCues = cueList{"批准", "批复", "人大", "上会", "立项", "挂网", "招标", "开标", "定标", "评标", "签合同", "签约",
		"党委会", "常委会", "办公会", "预算下达", "才能", "要等", "批了", "approval", "approve", "approved", "board", "sign off",
		"signs off", "tender", "award", "procurement", "committee", "budget cycle", "contract", "goes out"}
	dependCue = regexp.MustCompile(`(?i)要等|等[^。，,]{0,12}(下来|批|到位|通过|落实)|才能|待[^。，,]{0,6}批|取决于|视[^。，,]{0,6}而定|` +
		`depends? on|dependent on|once [^.]{0,40}(approved|released|available|signed)|until [^.]{0,40}(approved|released)|after [^.]{0,30}approv|subject to`)
	nextStepCues = cueList{"下一步", "接下来", "会后", "next step", "next steps", "follow-up", "follow up"}
	stageRules   = []struct {
		stage string
		cues  cueList
	}{
		{"lost", cueList{"选了别家", "已经定了别家", "落选", "没中标", "未中标", "丢单", "输给", "we lost", "went with", "lost the deal", "chose another"}},
		{"won", cueList{"我们中标", "已中标", "签合同了", "已签约", "合同已签", "we won", "signed the contract", "contract is signed", "awarded to us"}},
		{"negotiation", cueList{"折扣", "让利", "降价", "最终报价", "商务谈判", "合同条款", "付款条件", "discount", "final price", "contract terms", "negotiat", "payment terms", "best price"}},
		{"tender", cueList{"已挂网", "已经挂网", "招标文件已", "标书", "投标文件", "正在投标", "投标截止", "tender is out", "has been published", "bid documents", "submitting the bid", "bid is due"}},
		{"solution", cueList{"参观", "演示", "poc", "测试", "方案", "demo", "visit", "proof of concept", "pilot", "test", "tco model", "solution"}},
		{"qualification", cueList{"预算", "需求", "立项", "budget", "requirement", "requirements", "need"}},
	}
)

// crm fills the CRM fields.
func (m *meeting) crm(actions []ActionItem) CRMFields {
	var c CRMFields
	c.BudgetAmount = m.budgetAmount()
	c.BudgetSource = m.budgetSource()
	c.DecisionCycle = m.decisionCycle()
	c.DecisionMakers = m.decisionMakers()
	c.NextStep = m.nextStep(actions)
	c.StageHint = m.stage()
	return c
}

// budgetAmount is the first amount in the sentence that talks most
// clearly about the budget: a total beats a part.
func (m *meeting) budgetAmount() *Budget {
	var best *Budget
	bestScore := 0
	for _, u := range m.said {
		amounts := findAmounts(u.Text)
		if len(amounts) == 0 || !budgetCues.has(u.Text) {
			continue
		}
		score := 1
		if totalCues.has(u.Text) {
			score++
		}
		if rivals := m.rivals.find(u.Text); len(rivals) > 0 {
			continue // a competitor's quote is not the budget
		}
		if score > bestScore {
			span, ok := spanOf(u.Text)
			if !ok {
				continue
			}
			best, bestScore = &Budget{Value: amounts[0].Value, Currency: amounts[0].Currency, Span: span}, score
		}
	}
	return best
}

// budgetSource lists the funding sources named, with the amount said in
// the same clause ("专项债 350 万"); the span is the first sentence that
// names one.
func (m *meeting) budgetSource() *Field {
	var parts []string
	span := ""
	for _, u := range m.said {
		for _, cl := range clauses(u.Text) {
			for _, k := range sourceKinds {
				if !k.cues.has(cl) {
					continue
				}
				part := pick(m.lang, k.zh, k.en)
				if a := findAmounts(cl); len(a) > 0 {
					part += pick(m.lang, "（", " (") + formatAmount(a[0].Value, a[0].Currency, m.lang) + pick(m.lang, "）", ")")
				}
				if !containsPrefix(parts, pick(m.lang, k.zh, k.en)) {
					parts = append(parts, part)
					if span == "" {
						span, _ = spanOf(u.Text)
					}
				}
				break
			}
		}
	}
	if len(parts) == 0 || span == "" {
		return nil
	}
	return &Field{Value: clipText(strings.Join(parts, pick(m.lang, "；", "; ")), 200), Span: span}
}

func containsPrefix(list []string, prefix string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}

// decisionCycle gathers what was said about approvals, tender and award
// and says when the project waits on funding or approval.
func (m *meeting) decisionCycle() *Field {
	var parts []string
	span, depends, funded := "", false, false
	for _, u := range m.said {
		if !cycleCues.has(u.Text) || len(m.rivals.find(u.Text)) > 0 {
			continue
		}
		s, ok := spanOf(u.Text)
		if !ok {
			continue
		}
		if dependCue.MatchString(u.Text) {
			if !depends {
				span = s
			}
			depends = true
			funded = funded || fundingCues.has(u.Text)
		}
		if span == "" {
			span = s
		}
		if len(parts) < 3 {
			parts = append(parts, tidy(u.Text))
		}
	}
	if span == "" {
		return nil
	}
	prefix := ""
	switch {
	case depends && funded:
		prefix = pick(m.lang, "取决于资金到位和审批：", "Depends on funding approval: ")
	case depends:
		prefix = pick(m.lang, "取决于审批进度：", "Depends on approval: ")
	}
	return &Field{Value: clipText(prefix+strings.Join(parts, pick(m.lang, "", " ")), 300), Span: span}
}

var concernCues = cueList{"担心", "顾虑", "关注", "重点", "要求", "必须", "不想", "希望", "需要", "要等", "审计", "不能",
	"worry", "worried", "concern", "concerns", "need", "needs", "must", "want", "require", "priority", "don't", "cannot", "can't", "weakness"}

// decisionMakers are the customer's speakers with the concerns they
// voiced.
func (m *meeting) decisionMakers() []DecisionMaker {
	var out []DecisionMaker
	for i, s := range m.speakers {
		if s.Side != "customer" || len(out) == 10 || contains(customerWords, strings.ToLower(s.Label)) {
			continue
		}
		dm := DecisionMaker{Name: s.Party, Role: clipText(s.Role, 120)}
		var first string
		for _, u := range m.said {
			if u.Speaker != i {
				continue
			}
			span, ok := spanOf(u.Text)
			if !ok {
				continue
			}
			if first == "" {
				first = span
			}
			for _, cl := range clauses(u.Text) {
				if !concernCues.has(cl) || len(dm.Concerns) == 6 {
					continue
				}
				if c := clipText(tidy(cl), 120); c != "" && !contains(dm.Concerns, c) {
					dm.Concerns = append(dm.Concerns, c)
					if dm.Span == "" {
						dm.Span = span
					}
				}
			}
		}
		if dm.Span == "" {
			dm.Span = first
		}
		if dm.Span != "" {
			out = append(out, dm)
		}
	}
	return out
}

// nextStep is the first action our side took on (or any action), else a
// sentence that announces the next step.
func (m *meeting) nextStep(actions []ActionItem) *Field {
	best := -1
	for i, a := range actions {
		if best < 0 {
			best = i
		}
		if m.isOurs(a.Owner) {
			best = i
			break
		}
	}
	if best >= 0 {
		a := actions[best]
		v := a.Owner + pick(m.lang, "：", ": ") + a.Description
		if a.DueDate != nil {
			v += pick(m.lang, "（截止 ", " (due ") + *a.DueDate + pick(m.lang, "）", ")")
		}
		return &Field{Value: clipText(v, 300), Span: a.Span}
	}
	for _, u := range m.said {
		if nextStepCues.has(u.Text) {
			if span, ok := spanOf(u.Text); ok {
				return &Field{Value: clipText(tidy(u.Text), 300), Span: span}
			}
		}
	}
	return nil
}

func (m *meeting) isOurs(owner string) bool {
	if owner == "我方" || owner == "ours" {
		return true
	}
	for _, s := range m.speakers {
		if s.Party == owner {
			return s.Side == "ours"
		}
	}
	for _, p := range m.in.Participants {
		if p.Name == owner {
			return p.Side == "ours"
		}
	}
	return false
}

// stage infers the deal stage from the strongest cue said: lost and won
// first, then negotiation, a published tender, solution work and
// qualification.
func (m *meeting) stage() *Field {
	for _, rule := range stageRules {
		for _, u := range m.said {
			if !rule.cues.has(u.Text) {
				continue
			}
			if span, ok := spanOf(u.Text); ok {
				return &Field{Value: rule.stage, Span: span}
			}
		}
	}
	return nil
}

// summary writes 3-6 sentences: who met, the lead points, decisions,
// budget and the next step.
func (m *meeting) summary(r MeetingReport) string {
	var b strings.Builder
	sep := pick(m.lang, "；", "; ")
	var names []string
	for _, s := range m.speakers {
		if len(names) < 6 {
			names = append(names, s.Party)
		}
	}
	who := pick(m.lang, "本次会议", "This meeting")
	if c := strings.TrimSpace(m.in.Customer); c != "" {
		who = pick(m.lang, "与"+c+"的会议", "The meeting with "+c)
	}
	if !m.base.IsZero() {
		who += pick(m.lang, "（"+m.base.Format(dateLayout)+"）", " on "+m.base.Format(dateLayout))
	}
	b.WriteString(who)
	if len(names) > 0 {
		b.WriteString(pick(m.lang, "，发言人："+strings.Join(names, "、")+"。", ", speakers: "+strings.Join(names, ", ")+". "))
	} else {
		b.WriteString(pick(m.lang, "。", ". "))
	}
	if len(r.KeyPoints) > 0 {
		lead := r.KeyPoints[:min(2, len(r.KeyPoints))]
		b.WriteString(pick(m.lang, "要点：", "Key points: ") + strings.Join(lead, sep) + pick(m.lang, "", " "))
	}
	if len(r.Decisions) > 0 {
		var ds []string
		for _, d := range r.Decisions[:min(2, len(r.Decisions))] {
			ds = append(ds, d.Description)
		}
		b.WriteString(pick(m.lang, "会上决定：", "Decided: ") + strings.Join(ds, sep) + pick(m.lang, "", " "))
	}
	if ba := r.CRM.BudgetAmount; ba != nil {
		b.WriteString(pick(m.lang, "预算 ", "Budget ") + formatAmount(ba.Value, ba.Currency, m.lang))
		if bs := r.CRM.BudgetSource; bs != nil {
			b.WriteString(pick(m.lang, "，资金来源："+bs.Value, ", funded by "+bs.Value))
		}
		b.WriteString(pick(m.lang, "。", ". "))
	}
	if c := r.CRM.DecisionCycle; c != nil && strings.Contains(c.Value, pick(m.lang, "取决于", "Depends")) {
		b.WriteString(pick(m.lang, "项目推进取决于资金和审批。", "The project waits on funding or approval. "))
	}
	if n := r.CRM.NextStep; n != nil {
		b.WriteString(pick(m.lang, "下一步：", "Next step: ") + n.Value + pick(m.lang, "。", "."))
	}
	s := strings.TrimSpace(b.String())
	return fitText(s, 10, 1200, pick(m.lang, "会议记录中没有可提取的内容。", "Nothing could be extracted from the transcript."))
}
