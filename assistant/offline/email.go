package offline

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// EmailAnswer is the answer of the email_draft task. CallToAction is
// filled only for templates whose schema asks for it (email_draft@v2).
type EmailAnswer struct {
	Subject      string   `json:"subject"`
	Body         string   `json:"body"`
	CallToAction string   `json:"call_to_action,omitempty"`
	Rationale    string   `json:"rationale"`
	Citations    []string `json:"citations"`
}

// EmailDraft composes a customer email for t (email_draft@v1 or v2) from
// the input: a salutation to the recipient, the reason for writing by
// purpose, one to three facts quoted from the customer-facing sources
// (products, won deals, policies, tenders) that best match the purpose,
// customer and deal context, one proposed next step, and the sender's
// signature. Internal material, amounts and competitor talk are never
// quoted in the body; the rationale lists each quoted fact with its [S1]
// label and says what is missing.
func EmailDraft(t *prompts.Template, in prompts.EmailDraftInput) EmailAnswer {
	l := answerLanguage(t, in.Language, in.Customer, in.RecipientName, in.RecipientRole, in.DealContext, in.Instructions, in.Tone)
	_, withCTA := schemaProperty(t, "call_to_action")
	p, ok := purposes[strings.TrimSpace(strings.ToLower(in.Purpose))]
	if !ok {
		p = purposes["follow_up"]
	}
	lib := newLibrary(in.Sources, l)

	// Facts: the customer-facing sentences that best match the email.
	n, budget := emailFactPlan(in.Length, withCTA, l)
	question := strings.Join([]string{in.Customer, in.RecipientRole, in.DealContext, in.Instructions, p.cues}, "\n")
	// Product sheets and won deals say what a customer can verify;
	// policies and tenders only fill in.
	var facts []providers.Evidence
	type pass struct {
		source func(providers.Source) bool
		quote  func(quote) bool
	}
	// A document marked internal (内部, internal) gives the email nothing.
	public := func(keep func(providers.Source) bool) func(providers.Source) bool {
		return func(s providers.Source) bool { return keep(s) && !internalCue.MatchString(s.Title) }
	}
	passes := []pass{{public(ofKind("product", "won_deal")), forCustomer}, {public(notKind(append(internalKinds, "product", "won_deal")...)), forCustomer}}
	if p.capabilitiesFirst {
		// A proposal answers requirements: measurable capabilities first,
		// then the references that prove them.
		passes = append([]pass{{public(ofKind("product")), capability}}, passes...)
	}
	for _, ps := range passes {
		for _, e := range lib.rankQuotes(question, 4*n, ps.source, ps.quote) {
			if len(facts) < n && customerFacing(e.Text) {
				facts = append(facts, e)
			}
		}
		if len(facts) > 0 {
			break // a policy restated is no news to a customer who has facts
		}
	}

	customer := clip(flatten(in.Customer), 60)
	ask := p.ask.in(l)
	var factText []string
	for _, f := range facts {
		factText = append(factText, sentence(clipClause(f.Text, budget), l))
	}
	var value string
	if len(factText) > 0 {
		value = phrase{"供您参考：", "For your reference: "}.in(l) + joinSentences(l, factText...)
	} else {
		value = phrase{
			"我们会围绕您关注的问题整理具体材料，另行发送给您。",
			"I will put together material on the points that matter to you and send it separately.",
		}.in(l)
	}
	paragraphs := []string{
		salutation(l, clip(flatten(in.RecipientName), 40), clip(flatten(in.RecipientRole), 60), customer, withCTA),
		p.opening(l, customer, clip(flatten(in.Sender), 100), clip(flatten(in.Seller), 60)),
		value,
		ask,
	}
	if !withCTA && in.Length == "long" {
		paragraphs = append(paragraphs, phrase{"如需其他材料，我们可以随时准备。", "If any other material would help, I will be glad to prepare it."}.in(l))
	}
	paragraphs = append(paragraphs, signature(l, in.Sender, in.Seller, withCTA))
	body := strings.Join(slices.DeleteFunc(paragraphs, func(s string) bool { return s == "" }), "\n\n")

	answer := EmailAnswer{
		Subject:   emailSubject(t, l, p, customer, withCTA),
		Body:      fit(body, schemaInt(t, "body", "minLength", 20), schemaInt(t, "body", "maxLength", 2000), ask),
		Rationale: emailRationale(t, l, p, lib, facts, in),
		Citations: cite(facts...),
	}
	if withCTA {
		answer.CallToAction = fit(ask, schemaInt(t, "call_to_action", "minLength", 4), schemaInt(t, "call_to_action", "maxLength", 200), ask)
	}
	return answer
}

// salesNote marks the sections of a source written for the seller: its
// reading of a policy for sales, tips, tactics, opportunities.
var salesNote = regexp.MustCompile(`(?i)销售|启示|提示|打法|对策|话术|sales|tips?\b|tactic|implication`)

// forCustomer accepts what an email may tell a customer: outcomes and
// capabilities, not a deal's competition or timeline nor notes for the
// seller.
func forCustomer(q quote) bool { return provesOutcome(q) && !salesNote.MatchString(q.heading) }

// referenceSection marks the sections of a product sheet that list
// customers rather than capabilities.
var referenceSection = regexp.MustCompile(`(?i)案例|客户|业绩|reference|case stud|customers`)

// capability accepts a measurable claim about the product: a sentence
// with a number, outside the reference lists.
func capability(q quote) bool {
	return forCustomer(q) && !referenceSection.MatchString(q.heading) && strings.ContainsAny(q.text, "0123456789")
}

// internalKinds are the kinds of sources that are for the seller only:
// a customer email quotes none of them.
var internalKinds = []string{"competitor", "lost_deal", "playbook", "meeting", "email"}

// emailFactPlan says how many facts the body quotes and how many runes
// each may take, by requested length; v2's hard limits are tighter.
// English takes about two and a half runes for a Chinese one.
func emailFactPlan(length string, tight bool, l string) (n, runes int) {
	switch length {
	case "short":
		n, runes = 1, 80
	case "long":
		n, runes = 3, 200
	default:
		n, runes = 2, 140
	}
	if tight {
		runes = runes * 3 / 4
	}
	if l == en {
		runes = runes * 5 / 2
	}
	return n, runes
}

// purpose is what an email says for one purpose.
type purpose struct {
	label   phrase
	subject phrase // v1 topic
	short   phrase // v2 topic: at most four English words
	intro   phrase // the reason for writing; %s is the customer
	ask     phrase
	cues    string // words added to the question that picks the facts
	// introduce: the opening says who writes (a first contact).
	introduce bool
	// capabilitiesFirst: quote measurable product capabilities before
	// references (a proposal).
	capabilitiesFirst bool
}

var purposes = map[string]purpose{
	"first_contact": {
		label:     phrase{"首次联系（first_contact）", "first contact"},
		subject:   phrase{"交流邀请", "Introduction and a short call"},
		short:     phrase{"交流邀请", "A short introduction"},
		intro:     phrase{"希望就%s的相关工作，向您简要介绍我们能提供的支持。", "I would like to briefly introduce how we could support %s."},
		ask:       phrase{"建议下周二或周四安排一次 20 分钟的线上交流，请您选择方便的时间。", "I suggest a 20-minute call on Tuesday or Thursday next week; please let me know which suits you better."},
		cues:      "案例 上线 价值 能力 reference project go-live value",
		introduce: true,
	},
	"follow_up": {
		label:   phrase{"跟进（follow_up）", "follow-up"},
		subject: phrase{"交流跟进与下一步安排", "Follow-up and next steps"},
		short:   phrase{"交流跟进与下一步", "Next steps"},
		intro:   phrase{"感谢您此前抽出时间与我们交流。现就双方沟通的事项跟进如下。", "Thank you for your time when we last spoke. I am following up on the points we discussed."},
		ask:     phrase{"建议下周二或周四安排 30 分钟沟通，确认下一步安排，请您选择方便的时间。", "I suggest a 30-minute call on Tuesday or Thursday next week to confirm the next steps; please let me know which suits you better."},
		cues:    "方案 资料 证书 上线 模块 material module certificate",
	},
	"proposal": {
		label:             phrase{"方案（proposal）", "proposal"},
		subject:           phrase{"方案要点与讲解安排", "Proposal highlights and a walkthrough"},
		short:             phrase{"方案要点", "Proposal walkthrough"},
		intro:             phrase{"感谢您对我们方案的关注。现将方案中与%s需求相关的要点简要说明如下。", "Thank you for your interest in our proposal. Here are the points most relevant to the requirements of %s."},
		ask:               phrase{"建议下周二或周四安排一次方案讲解，请您选择方便的时间；正式报价将另行提交。", "I suggest a walkthrough of the proposal on Tuesday or Thursday next week; please let me know which suits you better. A formal quotation will follow separately."},
		cues:              "方案 需求 功能 参数 支持 交付 requirement scope feature support delivery",
		capabilitiesFirst: true,
	},
	"objection_reply": {
		label:   phrase{"异议回复（objection_reply）", "objection reply"},
		subject: phrase{"关于您关注问题的说明", "Answers to your questions"},
		short:   phrase{"关注问题说明", "Your questions answered"},
		intro:   phrase{"感谢您坦率地提出顾虑，这些问题值得认真回应。以下情况都可以核实。", "Thank you for raising your concerns openly; they deserve a clear answer. Each point below can be verified."},
		ask:     phrase{"如您方便，建议下周二或周四安排一次案例交流或技术验证，请您选择时间。", "If helpful, I suggest a reference call or a technical test on Tuesday or Thursday next week; please let me know which suits you better."},
		cues:    "案例 上线 证书 测试 风险 reference certificate test risk",
	},
	"win_back": {
		label:   phrase{"挽回（win_back）", "win-back"},
		subject: phrase{"近期进展与交流邀请", "What has changed since we last spoke"},
		short:   phrase{"近期进展", "What has changed"},
		intro:   phrase{"感谢您此前给予我们参与的机会。上次未能合作，这段时间我们有一些新的进展，想向您简要介绍。", "Thank you for considering us last time, even though we did not work together then. Some things have changed since, and I would like to share them briefly."},
		ask:     phrase{"建议下周二或周四安排 20 分钟交流，向您介绍这些变化，请您选择方便的时间。", "I suggest a 20-minute call on Tuesday or Thursday next week to walk you through what has changed; please let me know which suits you better."},
		cues:    "新版本 降低 成本 迁移 零停机 new version lower cost migration downtime",
	},
}

// opening is the paragraph that says why the rep writes now; a first
// contact says who writes, too.
func (p purpose) opening(l, customer, sender, seller string) string {
	if customer == "" {
		customer = phrase{"贵单位", "your organisation"}.in(l)
	}
	intro := p.intro.in(l)
	if strings.Contains(intro, "%s") {
		intro = p.intro.format(l, customer)
	}
	if !p.introduce {
		return intro
	}
	switch {
	case sender != "":
		return phrase{"冒昧来信，我是%s。", "My name is %s. "}.format(l, strings.TrimRight(sender, "。.")) + intro
	case seller != "":
		return phrase{"冒昧来信，我来自%s。", "I am writing from %s. "}.format(l, seller) + intro
	}
	return phrase{"冒昧来信。", ""}.in(l) + intro
}

// titles are the forms of address a Chinese salutation ends with,
// longest first.
var titles = []string{
	"副总经理", "董事长", "总经理", "副局长", "副主任", "副处长", "副科长", "副院长", "副校长", "秘书长", "副总裁",
	"局长", "主任", "处长", "科长", "部长", "院长", "校长", "书记", "经理", "总监", "主席", "老师", "教授", "总裁", "总工",
	"先生", "女士", "行长", "所长", "CIO", "CFO", "CEO", "CTO", "总",
}

// address is how a Chinese salutation names the recipient: the name with
// the title the role ends with ("孙立副局长"), the name alone when it
// already carries a title ("王总"), or the role.
func address(name, role string) string {
	suffix := ""
	for _, t := range titles {
		if t != "总" && strings.HasSuffix(role, t) {
			suffix = t
			break
		}
	}
	switch {
	case name == "":
		return firstNonEmpty(suffix, role)
	case slices.ContainsFunc(titles, func(t string) bool { return strings.HasSuffix(name, t) }):
		return name
	}
	return name + suffix
}

// salutation is the first line of the body. v2 (tight) uses the shorter
// form its rules ask for and no exclamation mark.
func salutation(l, name, role, customer string, tight bool) string {
	if l == en {
		switch {
		case name != "":
			return "Dear " + name + ","
		case role != "":
			return "Dear " + role + ","
		case customer != "":
			return "Dear " + customer + " team,"
		}
		return "Dear Sir or Madam,"
	}
	who := address(name, role)
	if tight {
		return who + "您好："
	}
	switch {
	case who != "":
		return "尊敬的" + who + "：\n\n您好！"
	case customer != "":
		return "尊敬的" + customer + "领导：\n\n您好！"
	}
	return "您好！"
}

// signature closes the body with the sender as given ("周宁，云擎科技华东
// 区客户经理" signs on two lines), the seller if the sender does not name
// it, or a placeholder for the rep to fill in.
func signature(l, sender, seller string, tight bool) string {
	sender = clip(flatten(sender), 100)
	seller = clip(flatten(seller), 60)
	var lines []string
	if !tight {
		lines = append(lines, phrase{"此致\n敬礼\n", "Best regards,"}.in(l))
	}
	if sender == "" {
		lines = append(lines, phrase{"[您的姓名]", "[Your name]"}.in(l))
	} else {
		for part := range strings.SplitSeq(strings.NewReplacer("，", "\n", ", ", "\n").Replace(sender), "\n") {
			if part = strings.TrimSpace(part); part != "" {
				lines = append(lines, part)
			}
		}
	}
	if seller != "" && !strings.Contains(sender, seller) {
		lines = append(lines, seller)
	}
	return strings.Join(lines, "\n")
}

// emailSubject is "customer: topic" (v1), or for v2 "【customer】topic" in at
// most 30 characters and at most eight English words.
func emailSubject(t *prompts.Template, l string, p purpose, customer string, tight bool) string {
	minRunes, maxRunes := schemaInt(t, "subject", "minLength", 3), schemaInt(t, "subject", "maxLength", 200)
	topic := p.subject.in(l)
	var s string
	switch {
	case !tight && customer == "":
		s = topic
	case !tight && l == en:
		s = customer + ": " + topic
	case !tight:
		s = customer + "：" + topic
	case l == en:
		topic = p.short.en
		words := strings.Fields(customer)
		words = words[:min(len(words), 8-len(strings.Fields(topic)))]
		s = strings.TrimSpace(strings.Join(words, " ") + ": " + topic)
		s = strings.TrimPrefix(s, ": ")
	default:
		topic = p.short.zh
		s = topic
		if room := min(30, maxRunes) - utf8.RuneCountInString(topic) - 2; customer != "" && room >= 2 {
			s = "【" + clip(customer, room) + "】" + topic
		}
	}
	return fit(s, minRunes, maxRunes, topic)
}

// emailRationale tells the rep, briefly, that the draft is offline, each
// quoted fact with its label, and what is missing or left out.
func emailRationale(t *prompts.Template, l string, p purpose, lib *library, facts []providers.Evidence, in prompts.EmailDraftInput) string {
	parts := []string{
		offlineNote.in(l) + phrase{"。目的：", ". Purpose: "}.in(l) + p.label.in(l) + phrase{"。", "."}.in(l),
	}
	if len(facts) > 0 {
		var claims []string
		for _, f := range facts {
			claims = append(claims, cited(clip(f.Text, map[string]int{zh: 60, en: 140}[l]), f.SourceID))
		}
		sep := phrase{"；", "; "}.in(l)
		parts = append(parts, phrase{"正文事实：", "Facts in the body: "}.in(l)+sentence(strings.Join(claims, sep), l))
	}
	switch {
	case len(in.Sources) == 0:
		parts = append(parts, phrase{
			"本次没有检索到资料，正文未写具体事实；缺少与该客户相关的产品资料、同类案例或会议记录。",
			"No sources were retrieved, so the body states no specific facts; product material, similar reference projects or meeting notes for this customer are missing.",
		}.in(l))
	case len(facts) == 0:
		parts = append(parts, phrase{
			"检索到的资料中没有适合写给客户的句子（与本邮件无关，或属内部信息、竞争信息、金额），正文未写具体事实。",
			"None of the retrieved sentences fit a customer email (off-topic, internal, about competitors or amounts), so the body states no specific facts.",
		}.in(l))
	}
	if note := lib.injectedNote(l); note != "" {
		parts = append(parts, note)
	}
	parts = append(parts, phrase{
		"建议时间（下周二或周四）仅为占位，请按实际日程修改。",
		"The proposed times (Tuesday or Thursday next week) are placeholders; adjust them to your calendar.",
	}.in(l))
	if rep := flatten(strings.TrimSpace(in.DealContext + " " + in.Instructions)); rep != "" {
		parts = append(parts, phrase{"商机背景和补充要求未自动写入正文，发送前请据此修改（背景）：", "The deal context and your instructions are not worked into the body; edit before sending (context): "}.in(l)+clip(rep, 200))
	}
	sep := phrase{"", " "}.in(l)
	return fit(strings.Join(parts, sep), schemaInt(t, "rationale", "minLength", 10), schemaInt(t, "rationale", "maxLength", 1000), offlineNote.in(l))
}
