package analyze

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// IntelReport is the answer to the competitive_intel task, shaped by the
// output schema of competitive_intel@v1.
type IntelReport struct {
	Competitors []Competitor `json:"competitors"`
	Products    []Product    `json:"products"`
	Prices      []Price      `json:"prices"`
	Claims      []Claim      `json:"claims"`
}

// Competitor is a competitor named in the text.
type Competitor struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
	Span    string   `json:"span"`
}

// Product is a competitor's product named in the text.
type Product struct {
	Competitor string `json:"competitor"`
	Product    string `json:"product"`
	Span       string `json:"span"`
}

// Price is a competitor's price as the text states it. Amount is nil
// when the text gives only a relative price ("低 25%").
type Price struct {
	Competitor  string   `json:"competitor"`
	Product     *string  `json:"product"`
	Amount      *float64 `json:"amount"`
	Currency    string   `json:"currency"`
	Unit        string   `json:"unit"`
	IncludesTax *bool    `json:"includes_tax"`
	AsWritten   string   `json:"as_written"`
	Span        string   `json:"span"`
}

// Claim is what a competitor claims or is said to claim, assessed
// against our sources only.
type Claim struct {
	Competitor string   `json:"competitor"`
	Claim      string   `json:"claim"`
	Type       string   `json:"type"`       // capability, certification, reference, delivery, pricing, service, other
	Assessment string   `json:"assessment"` // supported, contradicted, unverified
	Citations  []string `json:"citations"`
	Span       string   `json:"span"`
}

// CompetitiveIntel composes competitive intelligence from in.Text (source
// T1) for template t (competitive_intel@v1): the competitors named (the
// rep's hints, the known competitors, competitor-profile sources, and
// company names in a competitive context), their products, prices and
// claims, each with a verbatim span. Claims are assessed against the
// sources; a claim no source speaks to stays unverified.
func CompetitiveIntel(t *prompts.Template, in prompts.CompetitiveIntelInput) IntelReport {
	r := composeIntel(t, in)
	if !matchesSchema(t, r) {
		r = IntelReport{}
		r.normalize()
	}
	return r
}

func (r *IntelReport) normalize() {
	r.Competitors = nonNil(r.Competitors)
	r.Products = nonNil(r.Products)
	r.Prices = nonNil(r.Prices)
	r.Claims = nonNil(r.Claims)
	for i := range r.Competitors {
		r.Competitors[i].Aliases = nonNil(r.Competitors[i].Aliases)
	}
	for i := range r.Claims {
		r.Claims[i].Citations = nonNil(r.Claims[i].Citations)
	}
}

// pronoun marks a sentence about the competitor named before it.
var pronoun = cueList{"他们", "他家", "对方", "其", "该公司", "they", "their", "its", "them"}

func composeIntel(t *prompts.Template, in prompts.CompetitiveIntelInput) IntelReport {
	doc := cleanDoc(in.Text)
	l := answerLanguage(t, in.Language, doc)
	rivals := newRivalSet(in.Competitors, in.Sources, in.Seller).discover(doc, in.Seller)
	sources := citableSources(in.Sources)

	var r IntelReport
	compIndex := map[int]int{} // rival -> index in r.Competitors
	lastLine, current := -1, -1
	for _, s := range segments(doc) {
		ms := rivals.find(s.Text)
		span, ok := spanOf(s.Text)
		if !ok {
			continue
		}
		for _, m := range ms {
			if i, seen := compIndex[m.Rival]; seen {
				c := &r.Competitors[i]
				if !strings.EqualFold(m.Alias, c.Name) && !contains(c.Aliases, m.Alias) && len(c.Aliases) < 5 {
					c.Aliases = append(c.Aliases, clipRunes(m.Alias, 80))
				}
				continue
			}
			if len(r.Competitors) == 12 {
				continue
			}
			compIndex[m.Rival] = len(r.Competitors)
			c := Competitor{Name: clipRunes(rivals[m.Rival].Name, 80), Span: span}
			if !strings.EqualFold(m.Alias, c.Name) {
				c.Aliases = append(c.Aliases, clipRunes(m.Alias, 80))
			}
			r.Competitors = append(r.Competitors, c)
		}
		// A sentence is about the competitor it names first, or, when it
		// says "they" in the same paragraph, the one named before it.
		switch {
		case len(ms) > 0:
			current = ms[0].Rival
		case s.Line > lastLine+1 || !pronoun.has(s.Text):
			current = -1
		}
		lastLine = s.Line
		if current < 0 {
			continue
		}
		if _, listed := compIndex[current]; !listed {
			continue
		}
		name := r.Competitors[compIndex[current]].Name
		for _, p := range productsIn(s.Text, rivals[current]) {
			if len(r.Products) < 20 && !hasProduct(r.Products, name, p) {
				r.Products = append(r.Products, Product{Competitor: name, Product: clipText(p, 120), Span: span})
			}
		}
		r.Prices = append(r.Prices, pricesIn(s.Text, name, span, l, rivals[current])...)
		if len(r.Prices) > 20 {
			r.Prices = r.Prices[:20]
		}
		for _, cl := range claimsIn(s.Text) {
			if len(r.Claims) == 20 {
				break
			}
			r.Claims = append(r.Claims, assess(Claim{Competitor: name, Claim: fitText(leadingConjunction.ReplaceAllString(tidy(cl), ""), 2, 400, span), Type: claimType(cl), Span: span}, cl, rivals[current], sources))
		}
	}
	r.normalize()
	return r
}

func hasProduct(ps []Product, competitor, product string) bool {
	for _, p := range ps {
		if p.Competitor == competitor && p.Product == product {
			return true
		}
	}
	return false
}

var (
	enProduct   = regexp.MustCompile(`\b(?:its|their)\s+(?:new\s+|latest\s+)?([A-Z][A-Za-z0-9-]+(?:\s+[A-Z0-9][A-Za-z0-9.-]*){0,2})`)
	zhProduct   = regexp.MustCompile(`(?:推出|发布|主推|用的是|产品是|产品为)了?\s*[“"《]?([^，。；,;”"》]{2,24}?)[”"》]?(?:[，。；,;]|产品|平台|系统|$)`)
	productWord = regexp.MustCompile(`\b(HyperStack|Sentinel)(?:\s+[A-Z0-9][A-Za-z0-9.]*)?`)
)

// productsIn finds product names in a sentence about a competitor.
func productsIn(text string, rv rival) []string {
	var out []string
	add := func(p string) {
		p = strings.TrimSpace(p)
		if utf8.RuneCountInString(p) >= 2 && !rv.knows(p) && !contains(out, p) {
			out = append(out, p)
		}
	}
	for _, m := range productWord.FindAllString(text, -1) {
		add(m)
	}
	for _, m := range enProduct.FindAllStringSubmatch(text, -1) {
		add(m[1])
	}
	for _, m := range zhProduct.FindAllStringSubmatch(text, -1) {
		add(m[1])
	}
	return out
}

var (
	relativePrice = regexp.MustCompile(`(?i)(?:比我们|比我方|较我方)?(?:低|高|便宜|贵)\s*[0-9]+(?:\.[0-9]+)?\s*%(?:\s*左右)?|[0-9]+(?:\.[0-9]+)?\s*%\s*(?:lower|higher|cheaper|below|above|more expensive|less)(?:\s+than\s+(?:ours|us|our[a-z ]*))?`)
	forProject    = regexp.MustCompile(`在\s*([^，。；,]{2,20}?项目)|(?i)for the ([A-Za-z0-9 '-]{2,40}? (?:project|tender|bid))`)
	taxIncluded   = cueList{"含税", "including tax", "incl. tax", "tax included", "tax-inclusive", "inclusive of tax"}
	taxExcluded   = cueList{"不含税", "未税", "excluding tax", "excl. tax", "before tax", "tax-exclusive", "net of tax"}
	unitCues      = []struct {
		cues   cueList
		zh, en string
	}{
		{cueList{"每路", "/路", "per channel"}, "每路", "per channel"},
		{cueList{"每节点", "/节点", "每台", "/台", "per node", "per server"}, "每节点", "per node"},
		{cueList{"每年", "/年", "per year", "a year", "annually", "per annum"}, "每年", "per year"},
		{cueList{"三年", "3 年", "three years", "3 years", "for three years"}, "三年", "three years"},
		{cueList{"五年", "5 年", "five years", "5 years"}, "五年", "five years"},
		{cueList{"总价", "总报价", "报价", "合计", "total", "in total"}, "总价", "total"},
	}
	priceContext = cueList{"报价", "价格", "价", "报", "中标", "quote", "quoted", "price", "priced", "bid", "came back with", "offer", "cost", "wants", "list"}
)

// pricesIn finds the prices in a sentence about a competitor.
func pricesIn(text, competitor, span, l string, rv rival) []Price {
	var out []Price
	product := (*string)(nil)
	if ps := productsIn(text, rv); len(ps) > 0 {
		p := clipText(ps[0], 120)
		product = &p
	} else if m := forProject.FindStringSubmatch(text); m != nil {
		p := strings.TrimSpace(m[1] + m[2])
		p = clipText(p, 120)
		product = &p
	}
	var tax *bool
	switch {
	case taxExcluded.has(text):
		f := false
		tax = &f
	case taxIncluded.has(text):
		t := true
		tax = &t
	}
	unit := ""
	for _, u := range unitCues {
		if u.cues.has(text) {
			unit = pick(l, u.zh, u.en)
			break
		}
	}
	amounts := findAmounts(text)
	if !priceContext.has(text) && len(amounts) > 0 {
		return nil
	}
	for _, a := range amounts {
		v := a.Value
		out = append(out, Price{Competitor: competitor, Product: product, Amount: &v, Currency: a.Currency, Unit: unit,
			IncludesTax: tax, AsWritten: fitText(a.Text, 1, 200, "?"), Span: span})
	}
	if len(amounts) == 0 {
		for _, m := range relativePrice.FindAllString(text, -1) {
			out = append(out, Price{Competitor: competitor, Product: product, Currency: "CNY", Unit: unit,
				IncludesTax: tax, AsWritten: fitText(strings.TrimSpace(m), 1, 200, "?"), Span: span})
		}
	}
	return out
}

var (
	claimCue = cueList{"号称", "声称", "宣称", "自称", "宣传", "承诺", "表示", "称", "说", "claims", "claimed", "claim", "said", "says",
		"promises", "promised", "boasts", "states", "advertises", "according to them"}
	claimTypes = []struct {
		kind string
		cues cueList
	}{
		{"certification", cueList{"认证", "证书", "资质", "certif", "certified", "certificate", "licence", "license", "iso", "cmmi", "等保"}},
		{"pricing", cueList{"价", "报价", "折扣", "便宜", "price", "discount", "cheaper", "cost", "free"}},
		{"delivery", cueList{"天完成", "交付", "上线", "poc", "工期", "deliver", "delivery", "days", "weeks", "go-live", "go live"}},
		{"reference", cueList{"做的", "案例", "业绩", "客户", "reference", "references", "customers", "plants", "deployed", "renewed", "won"}},
		{"capability", cueList{"支持", "能力", "性能", "算法", "准确率", "并发", "supports", "support", "capab", "accuracy", "performance", "vgpu", "feature"}},
		{"service", cueList{"服务", "运维", "响应", "售后", "service", "on-site", "support team", "maintenance"}},
	}
)

// claimsIn returns the clauses of a sentence that carry a claim: from the
// claim word to the end of the clause ("号称 30 天完成 POC").
func claimsIn(text string) []string {
	var out []string
	for _, cl := range clauses(text) {
		cue, at := claimCue.find(cl, true)
		if at < 0 || unsafeText(cl) {
			continue
		}
		if cue == "说" || cue == "称" {
			// "说" and "称" are claim words only as verbs of speech, not
			// inside other words (说明, 名称).
			rest := cl[at+len(cue):]
			if strings.HasPrefix(rest, "明") || strings.HasPrefix(rest, "为") && cue == "称" {
				continue
			}
			if before := cl[:at]; strings.HasSuffix(before, "名") || strings.HasSuffix(before, "简") {
				continue
			}
		}
		if utf8.RuneCountInString(strings.TrimSpace(cl)) >= 2 {
			out = append(out, cl)
		}
	}
	return out
}

func claimType(claim string) string {
	if len(findAmounts(claim)) > 0 {
		return "pricing"
	}
	for _, ct := range claimTypes {
		if ct.cues.has(claim) {
			return ct.kind
		}
	}
	return "other"
}

var contradictCue = cueList{"没有", "无法", "未获", "未通过", "尚未", "不支持", "不具备", "仅有", "只有", "no", "not", "only", "never", "lacks", "without", "fails", "failed", "incomplete"}

// leadingConjunction is trimmed from a claim clause: "and claims ..." reads
// as "claims ...".
var leadingConjunction = regexp.MustCompile(`(?i)^(?:and also|and|but|also|并且|并|但是|但|而且|另外)\s*`)

// assess judges a claim against our sources: a source sentence that names
// the competitor and shares most of the claim's key terms supports it, or
// contradicts it when it negates; anything less leaves it unverified.
func assess(c Claim, clause string, rv rival, sources []providers.Source) Claim {
	c.Assessment, c.Citations = "unverified", []string{}
	terms := keyTerms(clause)
	var nonName []string
	for _, t := range terms {
		if !rv.knows(t) && !claimCue.has(t) {
			nonName = append(nonName, t)
		}
	}
	if len(nonName) == 0 || len(sources) == 0 {
		return c
	}
	for _, ev := range providers.RankSentences(clause, sources, 5) {
		if len(rivalSet{rv}.find(ev.Text)) == 0 || coverageOf(nonName, ev.Text) < 0.6 {
			continue
		}
		c.Assessment = "supported"
		if contradictCue.has(ev.Text) != contradictCue.has(clause) {
			c.Assessment = "contradicted"
		}
		c.Citations = []string{ev.SourceID}
		return c
	}
	return c
}
