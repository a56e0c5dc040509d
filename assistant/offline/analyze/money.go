package analyze

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
)

// amount is a sum of money found in text.
type amount struct {
	Value    float64 // whole currency units
	Currency string  // ISO 4217
	Text     string  // as written, a substring of the text
	Start    int     // byte offset of Text
}

// moneyPattern finds candidate amounts: an optional hedge, currency
// prefix, a number with optional thousands separators, a magnitude
// (万, 亿, k, million) and a currency suffix. findAmounts decides which
// candidates are money.
var moneyPattern = regexp.MustCompile(`(?i)(约|大约|近|超过|不到|about|approx\.?|around|roughly|nearly|over|under)?\s*` +
	`(人民币|RMB|CNY|USD|US\$|HK\$|HKD|EUR|€|\$|¥|￥)?\s*` +
	`([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*` +
	`(亿元|万元|千元|亿|万|千|元|块钱|块|美元|欧元|港元|million|mn|billion|bn|k|m|b)?` +
	`(\s*(?:元|人民币|RMB|CNY|USD|yuan|dollars))?`)

// counters are measure words after 万/亿 that make a number a count, not
// money: 3 亿条, 5 万人.
const counters = "条个人次台路张份件户字行册笔家名座所项套只辆部本页块种位天年月日周小时分秒倍"

// findAmounts returns the amounts of money in text, in order. A number is
// money when it carries a currency (¥, CNY, 元, 美元) or a Chinese
// magnitude (610 万) not followed by a measure word, or a Latin
// magnitude (2.1M, 300k) not followed by a unit word ("300k IOPS").
func findAmounts(text string) []amount {
	var out []amount
	for _, m := range moneyPattern.FindAllStringSubmatchIndex(text, -1) {
		group := func(g int) string {
			if m[2*g] < 0 {
				return ""
			}
			return text[m[2*g]:m[2*g+1]]
		}
		prefix, number, magnitude, suffix := group(2), group(3), strings.ToLower(group(4)), strings.TrimSpace(group(5))
		numStart, end := m[6], m[1]
		if numStart > 0 {
			// "V10", "P95", "GB/T 28181": a number glued to letters is a
			// name, not an amount.
			if c := text[numStart-1]; isASCIIAlnum(c) || c == '.' || c == '-' || c == '/' {
				continue
			}
		}
		rest := text[end:]
		currency := currencyOf(prefix + magnitude + suffix)
		hasCurrency := prefix != "" || suffix != "" || strings.ContainsAny(magnitude, "元美欧港") || magnitude == "块" || magnitude == "块钱"
		latinMag := magnitude != "" && magnitude[0] < utf8.RuneSelf
		switch {
		case strings.HasPrefix(strings.TrimLeft(rest, " "), "%"):
			continue
		case latinMag && startsWithLetter(rest):
			continue // "200 ms", "2m wide"
		case hasCurrency:
		case magnitude == "万" || magnitude == "亿" || magnitude == "千":
			next, _ := utf8.DecodeRuneInString(strings.TrimLeft(rest, " "))
			if strings.ContainsRune(counters, next) || next < utf8.RuneSelf && unicode.IsLetter(next) {
				continue
			}
		case latinMag:
			if !freeAfterMagnitude(rest) {
				continue
			}
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(number, ",", ""), 64)
		if err != nil {
			continue
		}
		v = math.Round(v * multiplier(magnitude))
		if math.IsInf(v, 0) || math.IsNaN(v) || v < 0 || v > 1e15 {
			continue
		}
		start := m[0]
		if m[2] < 0 { // no hedge: the match may start with spaces
			start = m[4]
			if start < 0 {
				start = numStart
			}
		}
		written := strings.TrimSpace(text[start:end])
		out = append(out, amount{Value: v, Currency: currency, Text: written, Start: start + strings.Index(text[start:end], written)})
	}
	return out
}

func startsWithLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r < utf8.RuneSelf && unicode.IsLetter(r)
}

// freeAfterMagnitude reports whether what follows "2.1M" leaves it an
// amount: the end, punctuation, or a word that is no unit ("for three
// years", "including tax").
func freeAfterMagnitude(rest string) bool {
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !(r < utf8.RuneSelf && unicode.IsLetter(r)) {
		return !lang.IsCJK(r) || !strings.ContainsRune(counters, r)
	}
	word := strings.ToLower(strings.FieldsFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) })[0])
	switch word {
	case "for", "from", "to", "in", "including", "incl", "excluding", "excl", "per", "a", "an", "the",
		"and", "or", "over", "under", "with", "down", "up", "is", "was", "vs", "list", "total", "budget",
		"yuan", "rmb", "cny", "dollars", "usd", "on", "at", "tax", "before", "after", "each", "this", "that":
		return true
	}
	return false
}

func multiplier(magnitude string) float64 {
	switch magnitude {
	case "亿", "亿元":
		return 1e8
	case "万", "万元":
		return 1e4
	case "千", "千元", "k":
		return 1e3
	case "m", "million", "mn":
		return 1e6
	case "b", "billion", "bn":
		return 1e9
	}
	return 1
}

func currencyOf(marks string) string {
	m := strings.ToLower(marks)
	switch {
	case strings.Contains(m, "hk$") || strings.Contains(m, "hkd") || strings.Contains(m, "港元"):
		return "HKD"
	case strings.Contains(m, "eur") || strings.Contains(m, "€") || strings.Contains(m, "欧元"):
		return "EUR"
	case strings.Contains(m, "usd") || strings.Contains(m, "$") || strings.Contains(m, "美元") || strings.Contains(m, "dollar"):
		return "USD"
	}
	return "CNY"
}

// formatAmount writes an amount for prose: "610 万元" or "CNY 6,100,000".
func formatAmount(v float64, currency, l string) string {
	if l == "zh" && currency == "CNY" {
		switch {
		case v >= 1e8 && math.Mod(v, 1e6) == 0:
			return strconv.FormatFloat(v/1e8, 'f', -1, 64) + " 亿元"
		case v >= 1e4 && math.Mod(v, 100) == 0:
			return strconv.FormatFloat(v/1e4, 'f', -1, 64) + " 万元"
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + " 元"
	}
	digits := strconv.FormatFloat(v, 'f', 0, 64)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return currency + " " + b.String()
}
