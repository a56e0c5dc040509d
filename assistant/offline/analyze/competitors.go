package analyze

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/providers"
)

// rival is a competitor with the names it goes by.
type rival struct {
	Name    string
	Aliases []string // every name to look for, the usual name included
}

// knownRivals are the competitors of the demo knowledge base
// (knowledge/demo/competitor): the names reps use for them in Chinese
// and English. Tenants add theirs as hints and competitor sources.
var knownRivals = []rival{
	{"华拓数科", []string{"华拓数字科技集团有限公司", "华拓数字科技", "华拓数科", "HuaTuo Digital", "HuaTuo", "华拓"}},
	{"锐云信息", []string{"深圳锐云信息技术有限公司", "Shenzhen RuiCloud", "RuiCloud", "锐云信息", "锐云"}},
	{"Northwind Systems", []string{"Northwind Systems", "Northwind"}},
	{"智瞳科技", []string{"智瞳科技", "ZhiTong AI", "ZhiTong", "智瞳"}},
}

// rivalProfileTitle reads competitor-profile titles: "竞争对手档案：华拓数科（HuaTuo
// Digital）", "Competitor profile: RuiCloud (锐云信息)".
var rivalProfileTitle = regexp.MustCompile(`(?i)(?:竞争对手档案|竞争对手|competitor profile|competitor)\s*[:：]\s*([^（(：:]{2,40}?)\s*(?:[（(]([^）)]{2,40})[）)])?\s*$`)

// rivalSet is the competitors a composer looks for.
type rivalSet []rival

// newRivalSet joins the known competitors, the rep's hints and the
// competitors named by competitor-profile sources. A hint that names a
// known competitor (or one of its aliases) merges with it.
func newRivalSet(hints []string, sources []providers.Source, seller string) rivalSet {
	set := make(rivalSet, len(knownRivals))
	for i, r := range knownRivals {
		set[i] = rival{r.Name, slices.Clone(r.Aliases)}
	}
	add := func(name string, aliases ...string) {
		name = strings.TrimSpace(name)
		if utf8.RuneCountInString(name) < 2 || utf8.RuneCountInString(name) > 80 || sameCompany(name, seller) {
			return
		}
		names := append([]string{name}, aliases...)
		for i, r := range set {
			for _, n := range names {
				if r.knows(n) {
					for _, a := range names {
						if a = strings.TrimSpace(a); a != "" && !r.knows(a) && utf8.RuneCountInString(a) >= 2 {
							set[i].Aliases = append(set[i].Aliases, a)
						}
					}
					return
				}
			}
		}
		var all []string
		for _, a := range names {
			if a = strings.TrimSpace(a); utf8.RuneCountInString(a) >= 2 && !contains(all, a) {
				all = append(all, a)
			}
		}
		set = append(set, rival{name, all})
	}
	for _, h := range hints {
		add(h)
	}
	for _, s := range sources {
		if s.Kind != "competitor" {
			continue
		}
		if m := rivalProfileTitle.FindStringSubmatch(s.Title); m != nil {
			add(m[1], m[2])
		}
	}
	return set
}

func (r rival) knows(name string) bool {
	for _, a := range r.Aliases {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// sameCompany reports whether name is the seller (or the seller's short
// name): our own company is never a competitor.
func sameCompany(name, seller string) bool {
	seller = strings.TrimSpace(seller)
	if seller == "" {
		return false
	}
	n, s := strings.ToLower(name), strings.ToLower(seller)
	return n == s || strings.HasPrefix(s, n) || strings.HasPrefix(n, s)
}

// mention is a competitor named in text.
type mention struct {
	Rival int // index in the rivalSet
	Alias string
	Start int
	End   int
}

// find returns the mentions in text in order; where names overlap
// ("华拓数科" and "华拓") the longest wins.
func (set rivalSet) find(text string) []mention {
	low := asciiLower(text)
	var all []mention
	for i, r := range set {
		for _, a := range r.Aliases {
			la := asciiLower(a)
			if la == "" {
				continue
			}
			for from := 0; ; {
				at := indexWord(low, la, from)
				if at < 0 {
					break
				}
				all = append(all, mention{Rival: i, Alias: text[at : at+len(la)], Start: at, End: at + len(la)})
				from = at + len(la)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b mention) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	var out []mention
	for _, m := range all {
		if len(out) > 0 && m.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, m)
	}
	return out
}

var (
	// zhCompany finds short Chinese company names: two characters and a
	// suffix (博远科技, 中科数科).
	zhCompany = regexp.MustCompile(`(\p{Han}{2})(科技|数科|集团|软件|智能)`)
	// enCompany finds "Acme Systems", "Foo Technologies".
	enCompany = regexp.MustCompile(`\b([A-Z][A-Za-z]+(?:\s[A-Z][A-Za-z]+)?)\s(Systems|Technologies|Technology|Software|Networks|Inc\.?|Ltd\.?|Corp\.?|Group)\b`)
	// competitiveCue marks a sentence about a competitor's bid.
	competitiveCue = cueList{"报价", "中标", "投标", "竞争", "对手", "号称", "声称", "价格", "产品", "方案", "便宜", "低价",
		"bid", "quote", "price", "claims", "competitor", "cheaper", "offer", "tender", "product"}
)

// discover adds companies the text names in a competitive context
// ("博远科技报价 120 万") to the set: names the rep has not told us yet.
func (set rivalSet) discover(text, seller string) rivalSet {
	for _, s := range segments(text) {
		if !competitiveCue.has(s.Text) {
			continue
		}
		var names []string
		for _, m := range zhCompany.FindAllStringSubmatch(s.Text, -1) {
			names = append(names, m[0])
		}
		for _, m := range enCompany.FindAllStringSubmatch(s.Text, -1) {
			names = append(names, m[0])
		}
		for _, n := range names {
			if sameCompany(n, seller) || strings.HasPrefix(n, "有限") || set.index(n) >= 0 {
				continue
			}
			set = append(set, rival{n, []string{n}})
		}
	}
	return set
}

func (set rivalSet) index(name string) int {
	for i, r := range set {
		if r.knows(name) {
			return i
		}
		for _, a := range r.Aliases {
			if strings.Contains(name, a) {
				return i
			}
		}
	}
	return -1
}
