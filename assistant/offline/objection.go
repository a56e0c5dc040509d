package offline

import (
	"strings"

	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// ObjectionAnswer is the answer of the objection task.
type ObjectionAnswer struct {
	Objection           string              `json:"objection"`
	Category            string              `json:"category"`
	Responses           []ObjectionResponse `json:"responses"`
	ClarifyingQuestions []string            `json:"clarifying_questions"`
	Gaps                []string            `json:"gaps"`
}

// ObjectionResponse is one way to answer an objection: what the rep says,
// and for the rep the facts behind it with their labels.
type ObjectionResponse struct {
	Rank      int      `json:"rank"`
	Approach  string   `json:"approach"`
	Response  string   `json:"response"`
	Evidence  string   `json:"evidence"`
	Citations []string `json:"citations"`
}

// Objection composes the answer to a customer objection for t
// (objection@v1): it classifies the objection by keywords, then builds
// up to four responses, one per kind of evidence that supports it: a
// reference from a won deal, a fact from a product sheet or policy, the
// playbook's approach, and a comparison on verifiable facts from
// competitor notes. The response said to the customer quotes only
// customer-facing facts; the evidence for the rep lists every fact used
// with its [S1] label. Clarifying questions come from the category; gaps
// say what evidence is missing.
func Objection(t *prompts.Template, in prompts.ObjectionInput) ObjectionAnswer {
	l := answerLanguage(t, in.Language, in.Objection, in.Context)
	lib := newLibrary(in.Sources, l)
	cat := classify(in.Objection, in.Competitor)
	names := aliases(in.Competitor)
	question := strings.Join([]string{in.Objection, in.Competitor, in.Context, categories[cat].cues}, "\n")

	answer := ObjectionAnswer{
		Objection:           restate(l, in, cat),
		Category:            cat,
		Responses:           []ObjectionResponse{},
		ClarifyingQuestions: []string{},
		Gaps:                []string{},
	}
	for _, g := range responseOrder(cat) {
		if len(answer.Responses) == maxResponses {
			break
		}
		var evs []providers.Evidence
		if g.kinds[0] == "playbook" {
			// The playbook's own answer to this objection, when it quotes it.
			if ps := lib.playbookAnswers(question, 1, names); len(ps) > 0 {
				evs = ps[0].answers
			}
		}
		if len(evs) == 0 {
			evs = lib.rankQuotes(question, 2, ofKind(g.kinds...), provesOutcome)
		}
		if len(evs) == 0 {
			continue
		}
		r := g.respond(l, cat, evs, names)
		if r.Response == "" || containsResponse(answer.Responses, r.Response) {
			continue
		}
		r.Rank = len(answer.Responses) + 1
		answer.Responses = append(answer.Responses, r)
	}
	for _, q := range categories[cat].questions {
		answer.ClarifyingQuestions = append(answer.ClarifyingQuestions, fit(q.in(l), 4, 200, q.in(l)))
	}
	answer.Gaps = objectionGaps(l, lib, in, answer.Responses)
	return answer
}

// maxResponses is how many responses an answer gives; the schema allows
// five, the prompt asks for two or three.
const maxResponses = 4

func containsResponse(rs []ObjectionResponse, text string) bool {
	for _, r := range rs {
		if r.Response == text {
			return true
		}
	}
	return false
}

// category is what the answer knows about one objection category.
type category struct {
	keywords []string // lower case
	concern  phrase   // the concern behind the words
	cues     string   // words added to the question that picks evidence
	// reply is what the rep says when the evidence is guidance rather
	// than a fact to quote.
	reply     phrase
	questions []phrase
}

// categoryOrder is the schema's enum, in the order ties are broken.
var categoryOrder = []string{"competitor", "delivery_risk", "price", "budget", "compliance", "technical", "timing", "relationship", "other"}

var categories = map[string]category{
	"price": {
		keywords: []string{"贵", "价格", "报价", "便宜", "降价", "价钱", "性价比", "expensive", "price", "pricey", "cheaper", "costly", "quote", "discount"},
		concern:  phrase{"担心价格与价值不匹配", "whether the price is worth it"},
		cues:     "价格 成本 总成本 服务 授权 price cost TCO service licence",
		reply: phrase{"理解您对价格的关注。建议按三年总成本和服务内容一起比较，我们可以提供一份逐项对照，供您和团队核实。",
			"I understand the price matters. I suggest comparing three-year total cost together with the services included; we can provide a line-by-line comparison for your team to check."},
		questions: []phrase{
			{"您目前是和哪一家的报价做比较？比较口径是否包含服务和三年总成本？", "Which offer are you comparing us with, and does the comparison include services and three-year cost?"},
			{"这个价格是否超出了已批准的预算？", "Is the price above the approved budget?"},
		},
	},
	"budget": {
		keywords: []string{"预算", "资金", "没钱", "经费", "拨款", "专项债", "财政", "budget", "funding", "funds", "money"},
		concern:  phrase{"担心资金来源或预算额度不足", "whether funding is available"},
		cues:     "预算 资金 专项债 分期 付款 budget funding bond phased payment",
		reply: phrase{"理解预算有压力。我们可以先了解资金来源和审批节奏，再一起看分期建设或分期付款是否更合适。",
			"I understand the budget is tight. Let us first look at the funding source and approval timing, then see whether a phased build or phased payments fit better."},
		questions: []phrase{
			{"这个项目的资金来源是财政拨款、专项债还是自筹？", "Is the project funded by appropriation, special bonds or the organisation's own funds?"},
			{"预算目前处于什么审批阶段？", "At what stage of approval is the budget?"},
		},
	},
	"timing": {
		keywords: []string{"明年", "以后再说", "不急", "太早", "来不及", "时机", "时间", "下半年", "next year", "later", "not now", "too early", "too soon", "timing", "wait"},
		concern:  phrase{"担心时机不合适", "whether now is the right time"},
		cues:     "时间 截止 考核 上线 天 deadline timeline days go-live",
		reply: phrase{"理解现在的节奏安排。我们可以先把需求和方案准备好，等时机合适时直接推进，不占用您太多精力。",
			"I understand the timing. We can prepare the requirements and the plan now, so the project can move as soon as the time is right, without taking much of your team's time."},
		questions: []phrase{
			{"是否有外部时间节点（考核、验收、政策截止日期）在推动这个项目？", "Is there an external deadline (an assessment, an acceptance date, a policy deadline) driving the project?"},
			{"您希望在什么时间之前完成决策？", "By when would you like to decide?"},
		},
	},
	"competitor": {
		keywords: []string{"对手", "竞品", "业绩比", "业绩", "别家", "其他厂商", "他们家", "老供应商", "competitor", "other vendor", "incumbent", "more references", "already use", "they have"},
		concern:  phrase{"担心选择我方的风险高于选择对手", "whether choosing us is riskier than the alternative"},
		cues:     "案例 上线 交付 天 证书 同类 项目 reference delivery days certificate project",
		reply: phrase{"理解您的比较，选择供应商确实要慎重。我们不评价其他厂商，建议按交付周期、同类项目和可验证的测试结果来比较，我们可以提供相应材料。",
			"I understand the comparison; choosing a supplier deserves care. We do not comment on other vendors; I suggest comparing delivery time, similar projects and test results you can verify, and we will provide the material."},
		questions: []phrase{
			{"除了业绩数量，您最看重供应商的哪些方面？", "Beyond the number of references, what matters most to you in a supplier?"},
			{"评估时哪些指标权重最高，比如交付周期、价格或测试结果？", "Which criteria will weigh most in the evaluation: delivery time, price or test results?"},
		},
	},
	"technical": {
		keywords: []string{"功能", "性能", "兼容", "不支持", "技术", "参数", "并发", "架构", "集成", "对接", "接口", "准确率", "feature", "performance", "compatib", "integrat", "technical", "api", "scal", "accuracy", "support for"},
		concern:  phrase{"担心产品能力满足不了实际需求", "whether the product can do what they need"},
		cues:     "参数 性能 支持 测试 接口 parameter performance support test interface",
		reply: phrase{"这个技术问题很关键。建议用您的真实场景做一次测试或演示，结果由您的团队来判断。",
			"This technical point matters. I suggest a test or demo on your real scenario, with your team judging the results."},
		questions: []phrase{
			{"这项能力对应的具体业务场景是什么？", "What business scenario does this capability serve?"},
			{"您希望用什么方式验证，比如测试、演示还是案例参观？", "How would you like to verify it: a test, a demo or a reference visit?"},
		},
	},
	"compliance": {
		keywords: []string{"信创", "等保", "合规", "资质", "涉密", "审计", "证书", "国产", "安全", "xinchuang", "complian", "certif", "regulat", "audit", "mlps", "qualification", "security"},
		concern:  phrase{"担心合规或资质不满足要求", "whether compliance and qualifications are met"},
		cues:     "证书 资质 信创 等保 兼容 互认 certificate qualification xinchuang MLPS",
		reply: phrase{"合规是前提。我们可以逐项提供相关证书和适配证明，方便您的团队核对。",
			"Compliance comes first. We can provide each certificate and compatibility proof so your team can check them item by item."},
		questions: []phrase{
			{"项目需要满足哪些具体的合规或资质要求？", "Which compliance or qualification requirements must the project meet?"},
			{"这些要求会作为招标中的硬性条款吗？", "Will these be mandatory items in the tender?"},
		},
	},
	"delivery_risk": {
		keywords: []string{"风险", "冒险", "上线", "交付", "延期", "失败", "停机", "稳定", "担责", "外地", "运维", "risk", "downtime", "deliver", "go-live", "fail", "migrat", "stable", "outage", "delay"},
		concern:  phrase{"担心项目交付或上线出问题", "whether delivery or go-live could fail"},
		cues:     "上线 交付 天 迁移 零停机 案例 go-live delivery days migration downtime reference",
		reply: phrase{"理解您对项目风险的担心。我们可以把交付计划、关键里程碑和保障措施写清楚，并安排您与已上线项目的用户交流。",
			"I understand the concern about risk. We can set out the delivery plan, milestones and safeguards in writing, and arrange a conversation with a customer who is already live."},
		questions: []phrase{
			{"您最担心项目中的哪个环节出问题？", "Which part of the project worries you most?"},
			{"如果要降低风险，您希望看到哪些保障措施？", "What safeguards would you want to see to reduce the risk?"},
		},
	},
	"relationship": {
		keywords: []string{"关系", "信任", "不了解你们", "没合作过", "熟悉", "一直用", "trust", "relationship", "never worked", "don't know you", "new vendor", "long-standing"},
		concern:  phrase{"对我方还缺乏了解和信任", "they do not know or trust us yet"},
		cues:     "案例 服务 团队 本地 reference service team local",
		reply: phrase{"理解信任需要时间建立。建议先从一次小范围交流或试点开始，让您和团队实际了解我们。",
			"I understand trust takes time. I suggest starting with a small workshop or pilot so your team can get to know us in practice."},
		questions: []phrase{
			{"您与现有供应商合作中最满意和最不满意的分别是什么？", "What works best and worst with your current supplier?"},
			{"还有哪些同事会参与这个决定？", "Who else will take part in this decision?"},
		},
	},
	"other": {
		concern: phrase{"需要进一步确认真实顾虑", "the real concern still needs to be found"},
		cues:    "案例 上线 证书 reference certificate",
		reply: phrase{"谢谢您提出这一点。我们想先把您的顾虑了解清楚，再提供有针对性的材料供您核实。",
			"Thank you for raising this. We would like to understand the concern fully first, then provide material you can verify."},
		questions: []phrase{
			{"能否具体说说您最担心的是什么？", "Could you tell me more about what concerns you most?"},
			{"解决这个问题对您来说最重要的是什么？", "What matters most to you in resolving this?"},
		},
	},
}

// classify picks the objection's category by keyword counts; a named
// competitor mentioned in the objection counts for "competitor".
func classify(objection, competitor string) string {
	lower := strings.ToLower(objection)
	best, bestScore := "other", 0
	for _, name := range categoryOrder {
		score := 0
		for _, k := range categories[name].keywords {
			if strings.Contains(lower, k) {
				score++
			}
		}
		if name == "competitor" && mentions(objection, aliases(competitor)...) {
			score++
		}
		if score > bestScore {
			best, bestScore = name, score
		}
	}
	return best
}

// restate says the objection in one sentence with the concern behind it.
func restate(l string, in prompts.ObjectionInput, cat string) string {
	concern := categories[cat].concern.in(l)
	frame := phrase{"客户提出：“%s”，背后的顾虑是%s。", "The customer says: \"%s\"; the concern behind it is %s."}
	room := 300 - len([]rune(frame.format(l, "", concern)))
	said := clip(flatten(in.Objection), room)
	if said == "" {
		return fit(phrase{"客户的顾虑是%s。", "The customer's concern is %s."}.format(l, concern), 2, 300, concern)
	}
	return fit(frame.format(l, said, concern), 2, 300, concern)
}

// responseGroup is a kind of evidence and the response it supports.
type responseGroup struct {
	kinds    []string
	approach phrase
	// lead and tail frame a quoted fact; a group without them answers
	// with the category's reply and keeps its facts for the rep.
	lead, tail phrase
}

var (
	referenceGroup = responseGroup{
		kinds:    []string{"won_deal"},
		approach: phrase{"案例佐证与实地考察", "Reference and site visit"},
		lead:     phrase{"理解您的顾虑。可以看一个已经落地的项目：", "I understand the concern. Here is a project that is already live: "},
		tail:     phrase{"如您方便，我们可以安排您与该项目的用户交流或实地参观，直接核实。", "We can arrange a call or a visit with that customer so you can verify it first-hand."},
	}
	factGroup = responseGroup{
		kinds:    []string{"product", "tender", "policy"},
		approach: phrase{"事实说明与现场验证", "Facts and a live check"},
		lead:     phrase{"关于这一点，有一个具体情况：", "On this point, here is a specific fact: "},
		tail:     phrase{"我们可以安排一次演示或测试，请您的团队现场验证。", "We can arrange a demo or a test so your team can check it."},
	}
	playbookGroup = responseGroup{
		kinds:    []string{"playbook"},
		approach: phrase{"按应对手册回应", "Playbook approach"},
		lead:     phrase{"理解您的顾虑。", "I understand the concern. "},
		tail:     phrase{"这些情况都可以核实，我们可以提供相应材料。", "All of this can be verified, and we will provide the material."},
	}
	comparisonGroup = responseGroup{
		kinds:    []string{"competitor", "lost_deal"},
		approach: phrase{"可核实的对比", "Verifiable comparison"},
	}
)

// responseOrder ranks the groups by how directly their evidence answers
// the category's concern.
func responseOrder(cat string) []responseGroup {
	switch cat {
	case "technical", "compliance":
		return []responseGroup{factGroup, referenceGroup, playbookGroup, comparisonGroup}
	case "price", "budget", "timing":
		return []responseGroup{playbookGroup, referenceGroup, factGroup, comparisonGroup}
	}
	return []responseGroup{referenceGroup, playbookGroup, factGroup, comparisonGroup}
}

// respond builds the group's response from its evidence.
func (g responseGroup) respond(l, cat string, evs []providers.Evidence, competitors []string) ObjectionResponse {
	var facts []string
	for _, e := range evs {
		facts = append(facts, cited(sentence(clipClause(e.Text, 280), l), e.SourceID))
	}
	r := ObjectionResponse{
		Approach:  g.approach.in(l),
		Evidence:  fit(joinSentences(l, facts...), 5, 600, facts[0]),
		Citations: cite(evs...),
	}
	reply := categories[cat].reply
	if g.kinds[0] == "competitor" {
		reply = categories["competitor"].reply
	}
	r.Response = reply.in(l)
	if g.lead.zh != "" {
		for _, e := range evs {
			said := e.Text
			if g.kinds[0] == "playbook" {
				said = spoken(said)
			}
			if customerFacing(said, competitors...) {
				r.Response = joinSentences(l, g.lead.in(l)+sentence(clipClause(said, 300), l), g.tail.in(l))
				break
			}
		}
	}
	r.Response = fit(r.Response, 10, 600, reply.in(l))
	return r
}

// objectionGaps lists the evidence that would make the answer stronger,
// and ends with the offline note.
func objectionGaps(l string, lib *library, in prompts.ObjectionInput, responses []ObjectionResponse) []string {
	var gaps []string
	switch {
	case len(lib.sources) == 0:
		gaps = append(gaps, phrase{
			"没有检索到资料：需要同类赢单案例、产品参数或证书、异议应对手册。",
			"No sources were retrieved: similar won deals, product parameters or certificates, and the objection playbook are needed.",
		}.in(l))
	case len(responses) == 0:
		gaps = append(gaps, phrase{
			"检索到的资料与这条异议无关，无法给出有依据的回应。",
			"The retrieved sources do not address this objection, so no grounded response can be given.",
		}.in(l))
	}
	if len(lib.sources) > 0 && !lib.has("won_deal") {
		gaps = append(gaps, phrase{"缺少可供参观或交流的同类赢单案例。", "No similar won deal to offer as a reference."}.in(l))
	}
	if c := clip(flatten(in.Competitor), 60); c != "" && !lib.has("competitor") {
		gaps = append(gaps, phrase{"缺少关于%s的可核实对比资料。", "No verifiable comparison material on %s."}.format(l, c))
	}
	if note := lib.injectedNote(l); note != "" {
		gaps = append(gaps, note)
	}
	gaps = append(gaps[:min(len(gaps), 4)], offlineNote.in(l)+phrase{"：回应由资料原文拼接而成，使用前请核对。", ": responses are assembled from quoted sources; check them before use."}.in(l))
	for i, g := range gaps {
		gaps[i] = fit(g, 2, 300, offlineNote.in(l))
	}
	return gaps
}
