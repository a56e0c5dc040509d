package offline

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// TalkTrackAnswer is the answer of the talk_track task. Every point
// cites at least one source.
type TalkTrackAnswer struct {
	PolicyFit              []PolicyFit             `json:"policy_fit"`
	CompetitorWeaknesses   []CompetitorWeakness    `json:"competitor_weaknesses"`
	DecisionMakerInterests []DecisionMakerInterest `json:"decision_maker_interests"`
	OpeningLines           []OpeningLine           `json:"opening_lines"`
	ProofPoints            []ProofPoint            `json:"proof_points"`
	LikelyObjections       []LikelyObjection       `json:"likely_objections"`
	Gaps                   []string                `json:"gaps"`
}

// PolicyFit is a policy from the sources and how the deal lines up with it.
type PolicyFit struct {
	Policy    string   `json:"policy"`
	Fit       string   `json:"fit"`
	Citations []string `json:"citations"`
}

// CompetitorWeakness is a verifiable fact about a competitor and how to
// let the customer discover it.
type CompetitorWeakness struct {
	Competitor string   `json:"competitor"`
	Weakness   string   `json:"weakness"`
	HowToUse   string   `json:"how_to_use"`
	Citations  []string `json:"citations"`
}

// DecisionMakerInterest is what one person cares about and what to tell
// them.
type DecisionMakerInterest struct {
	Role      string   `json:"role"`
	Interests string   `json:"interests"`
	Message   string   `json:"message"`
	Citations []string `json:"citations"`
}

// OpeningLine is a sentence to open the conversation with.
type OpeningLine struct {
	Line      string   `json:"line"`
	Citations []string `json:"citations"`
}

// ProofPoint is a reference, figure or certification.
type ProofPoint struct {
	Point     string   `json:"point"`
	Citations []string `json:"citations"`
}

// LikelyObjection is an objection the customer may raise and a short
// answer.
type LikelyObjection struct {
	Objection string   `json:"objection"`
	Answer    string   `json:"answer"`
	Citations []string `json:"citations"`
}

// Limits of talk_track@v1's schema: its items share $defs, which
// schemaInt does not follow.
const (
	textMax       = 400
	policyMax     = 160
	competitorMax = 80
	roleMax       = 120
	lineMax       = 200
)

// TalkTrack composes a talk-track pack for t (talk_track@v1), routing
// each part to the kinds of sources that can support it: policy fit
// from policies, competitor weaknesses from competitor notes and won or
// lost deals that name the competitor, decision-maker interests from
// whatever source names the contact, proof points from won deals and
// product sheets, likely objections from the playbook's quoted
// objections (or, failing those, the competitor's references answered by
// a won deal), and opening lines from the customer-facing points among
// them. A point no source supports is left out, and gaps say so.
func TalkTrack(t *prompts.Template, in prompts.TalkTrackInput) TalkTrackAnswer {
	var contactText []string
	for _, c := range in.Contacts {
		contactText = append(contactText, c.Name, c.Role)
	}
	l := answerLanguage(t, in.Language, append([]string{in.Customer, in.Notes, in.Region, in.Industry}, contactText...)...)
	lib := newLibrary(in.Sources, l)
	base := strings.Join(append([]string{in.Customer, in.Region, in.Industry, strings.Join(in.Products, " "), strings.Join(in.Competitors, " "), in.Notes}, contactText...), "\n")
	base += "\n" + stageCues[strings.ToLower(strings.TrimSpace(in.Stage))]

	tt := TalkTrackAnswer{
		PolicyFit:              policyFit(lib, base),
		CompetitorWeaknesses:   competitorWeaknesses(l, lib, base, in.Competitors),
		DecisionMakerInterests: []DecisionMakerInterest{},
		OpeningLines:           []OpeningLine{},
		ProofPoints:            []ProofPoint{},
		LikelyObjections:       []LikelyObjection{},
	}
	var gaps []string

	// Proof is about us: sentences that name a competitor are for the
	// competitor section.
	var proofs []providers.Evidence
	var rivals []string
	for _, c := range in.Competitors {
		rivals = append(rivals, aliases(c)...)
	}
	for _, kind := range []struct {
		name string
		n    int
	}{{"won_deal", 4}, {"product", 2}} {
		took := 0
		for _, e := range lib.rankQuotes(base+"\n"+proofCues, 3*kind.n, ofKind(kind.name), provesOutcome) {
			if took < kind.n && customerFacing(e.Text, rivals...) {
				proofs = append(proofs, e)
				took++
			}
		}
	}
	for _, p := range proofs {
		tt.ProofPoints = append(tt.ProofPoints, ProofPoint{Point: clip(p.Text, textMax), Citations: cite(p)})
	}

	var (
		silent []string         // contacts no source says anything about
		people []prompts.Person // the contact of each decision maker entry
	)
	for _, c := range in.Contacts {
		if strings.EqualFold(c.Side, "ours") || len(tt.DecisionMakerInterests) == 8 {
			continue
		}
		var others []string
		for _, o := range in.Contacts {
			if o != c {
				others = append(others, personAliases(flatten(o.Name), "")...)
			}
		}
		if d, ok := interest(l, lib, c, others); ok {
			tt.DecisionMakerInterests = append(tt.DecisionMakerInterests, d)
			people = append(people, c)
		} else if n := firstNonEmpty(c.Name, c.Role); n != "" {
			silent = append(silent, clip(flatten(n), 40))
		}
	}

	tt.LikelyObjections = likelyObjections(l, lib, base, in.Competitors, proofs)
	tt.OpeningLines = openingLines(l, in, tt, people, proofs)

	switch {
	case len(lib.sources) == 0:
		gaps = append(gaps, phrase{
			"没有检索到资料：需要该客户的会议记录、同类赢单案例、相关政策文件和竞争对手资料。",
			"No sources were retrieved: meeting notes for this customer, similar won deals, relevant policies and competitor material are needed.",
		}.in(l))
	default:
		if len(tt.PolicyFit) == 0 {
			gaps = append(gaps, phrase{"资料中没有与该客户相关的政策文件，无法填写政策契合点。", "No policy document in the sources applies to this customer, so policy fit is empty."}.in(l))
		}
		if len(in.Competitors) > 0 && len(tt.CompetitorWeaknesses) == 0 {
			gaps = append(gaps, phrase{"资料中没有关于%s的可核实信息。", "The sources hold no verifiable facts about %s."}.format(l, clip(list(l, in.Competitors...), 200)))
		}
		if len(tt.ProofPoints) == 0 {
			gaps = append(gaps, phrase{"缺少同类赢单案例或产品参数作为证明。", "No similar won deal or product figures to use as proof."}.in(l))
		}
	}
	if len(silent) > 0 {
		gaps = append(gaps, phrase{"资料中没有%s的关注点，需在沟通前了解。", "The sources say nothing about what %s care about; find out before the conversation."}.format(l, clip(list(l, silent...), 300)))
	}
	if note := lib.injectedNote(l); note != "" {
		gaps = append(gaps, note)
	}
	gaps = append(gaps[:min(len(gaps), 5)], offlineNote.in(l)+phrase{"：各条内容摘自资料原文，使用前请核对。", ": every point is quoted from the sources; check before use."}.in(l))
	for _, g := range gaps {
		tt.Gaps = append(tt.Gaps, fit(g, 2, textMax, offlineNote.in(l)))
	}
	return tt
}

// Words added to the question per deal stage, as the prompt's coaching
// says: discovery early, proof at solution, requirements at tender,
// value and risk at negotiation.
var stageCues = map[string]string{
	"prospecting":   "需求 预算 时间 决策 关注 budget timeline decision priority",
	"qualification": "需求 预算 时间 决策 关注 budget timeline decision priority",
	"solution":      "案例 上线 参观 演示 方案 reference go-live demo visit",
	"tender":        "招标 资格 评分 证书 参数 tender scoring certificate qualification",
	"negotiation":   "价格 成本 付款 风险 总成本 price cost payment risk TCO",
}

const (
	policyCues    = "政策 规划 要求 截止 资金 预算 专项债 考核 policy plan deadline fund funding budget requirement bond"
	weaknessCues  = "交付 慢 天 定制 证书 仅 只有 没有 不支持 涨价 外包 不稳定 delivery days custom certified only not no lacks price rise unstable partner"
	proofCues     = "上线 天 合同 中标 赢单 准确率 降低 证书 go-live days contract won accuracy lower certified"
	referenceCues = "同类 项目 案例 上线 交付 天 本地 团队 证书 参观 similar project reference go-live delivery days local team certified visit"
	answerCues    = "案例 上线 交付 证书 成本 测试 参观 天 reference delivery certificate cost test visit days"
)

// policyFit quotes, for each policy source (at most four), its sentence
// that best matches the deal.
func policyFit(lib *library, base string) []PolicyFit {
	out := []PolicyFit{}
	for _, s := range lib.sources {
		if s.Kind != "policy" || len(out) == 4 {
			continue
		}
		evs := lib.rank(base+"\n"+policyCues, 1, only(s.ID))
		if len(evs) == 0 {
			// Nothing names the deal: quote the policy's most central
			// sentence, the one sharing most with the rest of its text.
			if evs = lib.rank(s.Text, 1, only(s.ID)); len(evs) == 0 {
				continue
			}
		}
		name := firstNonEmpty(flatten(s.Title), evs[0].Text)
		out = append(out, PolicyFit{Policy: fit(name, 2, policyMax, s.ID), Fit: clip(evs[0].Text, textMax), Citations: cite(evs[0])})
	}
	return out
}

// competitorWeaknesses quotes up to three weaknesses per named
// competitor: the rows of a weakness table or the sentences of a
// weakness section when a source has them, else the sentences that name
// the competitor, leaving out its overview and strengths and our own
// tactics. With no names given, it takes one per competitor note, named
// by its title. How to use a weakness is the table's "our response"
// column when it has one.
func competitorWeaknesses(l string, lib *library, base string, competitors []string) []CompetitorWeakness {
	out := []CompetitorWeakness{}
	seenText := map[string]bool{}
	add := func(name string, e providers.Evidence) bool {
		if len(out) == 8 || seenText[e.Text] {
			return false
		}
		seenText[e.Text] = true
		how := howToUse(l, e.Text)
		if q, ok := lib.quoteOf(e); ok && q.response != "" {
			how = sentence(clip(flatten(q.response), textMax-1), l)
		}
		out = append(out, CompetitorWeakness{
			Competitor: fit(flatten(name), 1, competitorMax, e.SourceID),
			Weakness:   clip(e.Text, textMax),
			HowToUse:   how,
			Citations:  cite(e),
		})
		return true
	}
	tiers := []func(quote) bool{isWeakness, mayBeWeakness}
	seen := map[string]bool{}
	for _, name := range competitors {
		names := aliases(name)
		if len(names) == 0 || seen[names[0]] {
			continue
		}
		seen[names[0]] = true
		about := func(e providers.Evidence) bool {
			s := lib.source(e.SourceID)
			return mentions(e.Text, names...) || s.Kind == "competitor" && mentions(s.Title, names...)
		}
		took := 0
		for _, tier := range tiers {
			for _, e := range lib.rankQuotes(strings.Join(names, " ")+"\n"+weaknessCues, 8, ofKind("competitor", "lost_deal", "won_deal"), tier) {
				if took < 3 && about(e) && add(name, e) {
					took++
				}
			}
			if took > 0 {
				break
			}
		}
	}
	if len(competitors) == 0 {
		for _, s := range lib.sources {
			if s.Kind != "competitor" {
				continue
			}
			for _, tier := range tiers {
				if evs := lib.rankQuotes(base+"\n"+weaknessCues, 1, only(s.ID), tier); len(evs) > 0 {
					add(firstNonEmpty(s.Title, s.ID), evs[0])
					break
				}
			}
		}
	}
	return out
}

var (
	// weaknessHeading marks a section about a competitor's weaknesses.
	weaknessHeading = regexp.MustCompile(`(?i)弱点|劣势|不足|短板|缺点|weakness|shortcoming`)
	// notWeaknessHeading marks the parts of a competitor note that are
	// not about its weaknesses: who it is, what it is good at, how we
	// fight it, past encounters.
	notWeaknessHeading = regexp.MustCompile(`(?i)概况|简介|背景|优势|打法|对策|应对|交锋|overview|profile|strength|tactic|response|history`)
	// notProofHeading marks the parts of a deal record that prove
	// nothing to a customer: the competition, the timeline, the lessons
	// and cautions, the practices to reuse, the next opportunity.
	notProofHeading = regexp.MustCompile(`(?i)竞争|对手|过程|节点|历程|注意|教训|经验|做法|后续|机会|联系|competition|competitor|timeline|process|watch|lesson|practice|next`)
)

// isWeakness accepts a weakness row or a sentence of a weakness section.
func isWeakness(q quote) bool {
	return q.role == roleWeakness || q.role == "" && weaknessHeading.MatchString(q.heading)
}

// mayBeWeakness accepts what is not known to be something else.
func mayBeWeakness(q quote) bool {
	return q.role != roleStrength && !notWeaknessHeading.MatchString(q.heading)
}

// provesOutcome accepts what a deal record or product sheet can prove:
// not its competition, timeline or cautions, nor a competitor's weakness.
func provesOutcome(q quote) bool {
	return q.role != roleWeakness && !notProofHeading.MatchString(q.heading)
}

// howToUse is how to let the customer find out a weakness without the rep
// attacking the competitor, by what the fact is about.
func howToUse(l, weakness string) string {
	lower := strings.ToLower(weakness)
	for _, u := range usages {
		for _, k := range u.keywords {
			if strings.Contains(lower, k) {
				return u.advice.in(l)
			}
		}
	}
	return phrase{
		"不点名、不评价对手；通过提问让客户自己核实这一点，并提供我方可验证的案例或证明。",
		"Do not name or judge the competitor; ask questions that let the customer verify this point, and offer our own verifiable proof.",
	}.in(l)
}

var usages = []struct {
	keywords []string
	advice   phrase
}{
	{[]string{"证书", "信创", "兼容", "资质", "鲲鹏", "飞腾", "海光", "certif", "xinchuang", "qualif", "kunpeng", "phytium", "hygon"},
		phrase{"建议客户在评审中逐项核对各家的兼容性证书和资质原件，我方主动提供证书清单。", "Suggest the customer checks every bidder's compatibility certificates and qualifications item by item; offer our certificate list first."}},
	{[]string{"交付", "上线", "周期", "delivery", "go-live", "timeline"},
		phrase{"不评价对手；请客户要求各家给出交付周期和里程碑承诺，并安排参观我方已上线项目。", "Do not comment on the competitor; ask the customer to have every bidder commit to a delivery timeline with milestones, and offer a visit to one of our live projects."}},
	{[]string{"价格", "报价", "涨价", "贵", "成本", "price", "quote", "cost", "subscription"},
		phrase{"引导客户按三年或五年总成本比较，包括续费和服务费用，我方提供逐项对照表。", "Steer the comparison to three- or five-year total cost, renewals and services included, and provide a line-by-line comparison."}},
	{[]string{"定制", "变更", "custom"},
		phrase{"请客户询问各家方案中标准功能与定制开发的比例，以及后期变更如何收费。", "Have the customer ask each bidder what share of the scope is standard product versus custom work, and how later changes are charged."}},
	{[]string{"服务", "外包", "分包", "本地", "驻场", "support", "partner", "local", "on-site"},
		phrase{"请客户了解各家的本地服务团队和到场时间承诺，我方提供本地团队名单和服务承诺。", "Have the customer ask who provides on-site service and how fast; share our local team and response commitments."}},
	{[]string{"稳定", "节点", "性能", "准确率", "stable", "nodes", "performance", "accuracy"},
		phrase{"建议按客户真实规模和场景做 POC，用测试结果说话。", "Propose a POC at the customer's real scale and scenarios, and let the results speak."}},
}

// speaker matches a "Name:" label at the start of a quoted line.
var speaker = regexp.MustCompile(`^[^：:]{1,16}[：:]\s*`)

// concernCue marks a sentence about what someone cares about.
var concernCue = regexp.MustCompile(`(?i)关注|关心|重点|要求|必须|担心|希望|顾虑|cares?\b|concern|worr|priorit|needs?\b|wants?\b|must`)

// interest finds what a source says a contact cares about: the best
// sentence that names them (by name, by surname and title such as "王总"
// or "孙局长", or by role) and none of the others, and a customer-facing
// proof to answer it.
func interest(l string, lib *library, c prompts.Person, others []string) (DecisionMakerInterest, bool) {
	name, role := flatten(c.Name), flatten(c.Role)
	names := personAliases(name, role)
	if len(names) == 0 {
		return DecisionMakerInterest{}, false
	}
	// Best: the person speaking in a transcript, or a sentence saying what
	// they care about; a list of attendees names others too and says
	// nothing about anyone.
	var (
		found providers.Evidence
		best  = -1
	)
	for _, e := range lib.rank(strings.Join(names, " "), 10, nil) {
		if !mentions(e.Text, names...) || mentions(e.Text, others...) {
			continue
		}
		score := 0
		if label := speaker.FindString(e.Text); label != "" && mentions(label, names...) {
			score += 2
		}
		if concernCue.MatchString(e.Text) {
			score++
		}
		if score > best {
			found, best = e, score
		}
	}
	if found.SourceID == "" {
		return DecisionMakerInterest{}, false
	}
	label := name
	if role != "" && name != "" {
		label = name + phrase{"，", ", "}.in(l) + role
	}
	d := DecisionMakerInterest{
		Role:      fit(firstNonEmpty(label, role), 1, roleMax, found.SourceID),
		Interests: clip(found.Text, textMax),
		Citations: cite(found),
	}
	concern := speaker.ReplaceAllString(found.Text, "")
	proofs := lib.rankQuotes(concern, 3, ofKind("won_deal", "product"), provesOutcome)
	d.Message = phrase{"先确认其关注点的具体要求和评价标准，再提供对应材料和可验证的案例。", "Confirm what exactly they need and how they will judge it, then bring matching material and a reference they can verify."}.in(l)
	for _, p := range proofs {
		if customerFacing(p.Text) {
			d.Message = clip(phrase{"回应其关注时可用：", "Answer the concern with: "}.in(l)+p.Text, textMax)
			d.Citations = cite(found, p)
			break
		}
	}
	return d, true
}

// personAliases are the ways a source may name a contact.
func personAliases(name, role string) []string {
	var out []string
	if utf8.RuneCountInString(name) >= 2 {
		out = append(out, name)
	}
	if runes := []rune(name); len(runes) >= 2 && len(runes) <= 4 && !strings.ContainsAny(name, " ·") {
		surname := string(runes[0])
		out = append(out, surname+"总")
		if t := address("", role); t != "" && t != role {
			out = append(out, surname+strings.TrimPrefix(t, "副"))
		}
	}
	if utf8.RuneCountInString(role) >= 2 {
		out = append(out, role)
	}
	return out
}

// quotedPhrase matches an objection quoted in a playbook heading.
var quotedPhrase = regexp.MustCompile(`[“"「]([^”"」]{2,80})[”"」]`)

// playbookAnswer is an objection a playbook quotes in a heading
// ("3.2 “华拓是老供应商，换你们风险大”") and the lines of its section that
// answer it in words a customer may hear.
type playbookAnswer struct {
	id, objection string
	answers       []providers.Evidence
}

// playbookAnswers returns up to n of the playbook's quoted objections
// that share words with question, best first, each with up to two
// answers.
func (l *library) playbookAnswers(question string, n int, competitors []string) []playbookAnswer {
	type candidate struct{ id, objection, text string }
	var (
		cands   []candidate
		phrases []providers.Source
		out     []playbookAnswer
	)
	for _, s := range l.sources {
		if s.Kind != "playbook" {
			continue
		}
		for _, sec := range l.sections[s.ID] {
			if m := quotedPhrase.FindStringSubmatch(sec.heading); m != nil && sec.text != "" {
				cands = append(cands, candidate{s.ID, m[1], sec.text})
				phrases = append(phrases, providers.Source{ID: s.ID, Text: m[1]})
			}
		}
	}
	for _, e := range providers.RankSentences(question, phrases, n) {
		for _, c := range cands {
			if c.id != e.SourceID || c.objection != e.Text {
				continue
			}
			p := playbookAnswer{id: c.id, objection: c.objection}
			section := []providers.Source{{ID: c.id, Kind: "playbook", Text: c.text}}
			for _, a := range providers.RankSentences(c.objection+"\n"+answerCues, section, 2) {
				a.Text = tidyQuote(a.Text)
				if said := spoken(a.Text); utf8.RuneCountInString(said) >= minQuoteRunes && customerFacing(said, competitors...) {
					p.answers = append(p.answers, a)
				}
			}
			if len(p.answers) > 0 {
				out = append(out, p)
			}
			break
		}
	}
	return out
}

// likelyObjections takes the playbook's quoted objections that match the
// deal, each answered by its own section; failing those, it raises each
// competitor's track record and answers with a won deal.
func likelyObjections(l string, lib *library, base string, competitors []string, proofs []providers.Evidence) []LikelyObjection {
	out := []LikelyObjection{}
	for _, p := range lib.playbookAnswers(base, 4, competitors) {
		var answers []string
		for _, a := range p.answers {
			answers = append(answers, sentence(clipClause(spoken(a.Text), 190), l))
		}
		out = append(out, LikelyObjection{Objection: fit(p.objection, 2, textMax, p.id), Answer: clip(joinSentences(l, answers...), textMax), Citations: []string{p.id}})
	}
	if len(out) > 0 {
		return out
	}
	// Failing those, the competitor's track record is the objection to
	// expect, and what answers it is a comparable project delivered.
	var proof providers.Evidence
	for _, p := range append(lib.rankQuotes(referenceCues, 6, ofKind("won_deal"), provesOutcome), proofs...) {
		if p.Kind == "won_deal" && customerFacing(p.Text, competitors...) {
			proof = p
			break
		}
	}
	if proof.SourceID == "" {
		return out
	}
	for _, c := range competitors {
		if c = clip(flatten(c), 60); c == "" || len(out) == 2 {
			continue
		}
		out = append(out, LikelyObjection{
			Objection: phrase{"%s的同类项目更多，选择你们风险会不会更大？", "%s has more similar projects; isn't choosing you riskier?"}.format(l, c),
			Answer:    clip(joinSentences(l, sentence(clipClause(proof.Text, 300), l), phrase{"欢迎实地了解项目情况。", "You are welcome to visit the project and see for yourself."}.in(l)), textMax),
			Citations: cite(proof),
		})
	}
	return out
}

var (
	// leadLabel is the label a playbook line opens with ("强调交付周期：",
	// "先确认比较口径："): what the rep should do, not what to say.
	leadLabel = regexp.MustCompile(`^[^，,：:。；;]{1,12}[：:]\s*`)
	// leadClause is a line's first clause, dropped when it is internal
	// ("不贬低对手，").
	leadClause = regexp.MustCompile(`^[^，,：:。；;]{1,16}[，,]\s*`)
)

// spoken is a playbook line as the rep would say it to the customer: the
// labels and internal asides in front of what to say dropped, as long as
// something worth quoting is left.
func spoken(s string) string {
	for {
		rest := s
		if m := leadClause.FindString(s); m != "" && internalCue.MatchString(m) {
			rest = s[len(m):]
		} else if m := leadLabel.FindString(s); m != "" {
			rest = s[len(m):]
		}
		if rest == s || utf8.RuneCountInString(rest) < minQuoteRunes {
			return s
		}
		s = rest
	}
}

// openingLines are up to three spoken sentences built from what the pack
// found: a contact's own concern (people[i] is the contact of decision
// maker i), a proof point, a policy.
func openingLines(l string, in prompts.TalkTrackInput, tt TalkTrackAnswer, people []prompts.Person, proofs []providers.Evidence) []OpeningLine {
	out := []OpeningLine{}
	customer := clip(flatten(firstNonEmpty(in.Customer, phrase{"贵单位", "your organisation"}.in(l))), 40)
	for i, d := range tt.DecisionMakerInterests {
		concern := speaker.ReplaceAllString(d.Interests, "")
		if !customerFacing(concern, in.Competitors...) {
			continue
		}
		c := people[i]
		who := address(clip(flatten(c.Name), 20), clip(flatten(c.Role), 40))
		if l == en {
			who = clip(flatten(firstNonEmpty(c.Name, c.Role)), 40)
		}
		line := phrase{"%s，上次您提到“%s”，今天我们就从这一点谈起。", "%s, last time you mentioned \"%s\"; I would like to start there today."}.format(l, who, strings.TrimRight(clip(concern, 80), "。."))
		out = append(out, OpeningLine{Line: fit(line, 4, lineMax, concern), Citations: d.Citations[:1]})
		break
	}
	for _, p := range proofs {
		if customerFacing(p.Text, in.Competitors...) {
			line := phrase{"关于%s的项目，先跟您分享一个同类案例：%s", "For %s, let me start with a similar project: %s"}.format(l, customer, sentence(clipClause(p.Text, 110), l))
			out = append(out, OpeningLine{Line: fit(line, 4, lineMax, p.Text), Citations: cite(p)})
			break
		}
	}
	for _, p := range tt.PolicyFit {
		line := phrase{"我们梳理了“%s”对%s项目的影响，想先听听您的看法。", "We have looked at what \"%s\" means for %s and would like to hear your view."}.format(l, clip(p.Policy, 60), customer)
		out = append(out, OpeningLine{Line: fit(line, 4, lineMax, p.Policy), Citations: p.Citations})
		break
	}
	return out[:min(len(out), 4)]
}
