package trust

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is a category of personal data.
type Kind string

// The kinds of personal data Detect finds.
const (
	// Phone is a mainland China mobile number: 11 digits starting 13-19,
	// with an optional +86, 0086 or 86- prefix and space or dash groups.
	Phone Kind = "phone"
	// Landline is a fixed-line number with its area code (010, 02x, 0xxx),
	// as 010-12345678, (0755) 8888 6666 or 0571-87654321 转 801.
	Landline Kind = "landline"
	// IDCard is an 18-character resident identity number whose region,
	// birth date and ISO 7064 MOD 11-2 check character are all valid.
	IDCard Kind = "id_card"
	// Email is an e-mail address.
	Email Kind = "email"
	// BankCard is a payment card number (13-19 digits passing the Luhn
	// check) or a number labelled as a bank account (账号, 卡号, 账户,
	// account no.), such as the account a bid deposit goes to.
	BankCard Kind = "bank_card"
)

// Finding is one piece of personal data in a text. Its Text is the
// personal data itself: log or store the Kind and offsets, not the Text.
type Finding struct {
	Kind Kind
	// Start and End are byte offsets: Text is text[Start:End].
	Start, End int
	Text       string
}

// Detect returns the personal data in text, in order, without overlaps.
//
// Numbers are found by scanning runs of digits (ASCII or full-width)
// joined by single spaces or dashes and checking each candidate: its
// shape (digit count, grouping, prefixes), its checksum where it has
// one, and its context. A candidate is rejected when it touches another
// letter or digit, when it is part of a hyphenated or dotted code
// (SZSJ-2025-13800138000, 1.3800138000), when it reads as an amount
// (¥, 元, 万, %, RMB next to it), or when a code label precedes it
// (编号, 订单号, 型号, order no.). Chinese characters may touch a number:
// "电话13800138000联系" has a phone.
func Detect(text string) []Finding {
	found := appendEmails(nil, text)
	found = appendNumbers(found, text)
	slices.SortFunc(found, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End))
	})
	out := found[:0]
	end := 0
	for _, f := range found {
		if f.Start >= end {
			out = append(out, f)
			end = f.End
		}
	}
	return out
}

// Leaks returns the personal data in text. It is Detect under the name
// an assertion reads by: a prompt built from masked inputs, or a stored
// record, should have no leaks. Placeholders are never leaks.
func Leaks(text string) []Finding { return Detect(text) }

// maxGroups and maxDigits bound the candidate numbers tried in one run
// of digit groups; no kind is longer.
const (
	maxGroups = 8
	maxDigits = 30
)

// group is a run of digits in a text. Full-width digits are read as
// their ASCII values; an ID number's final X (or x) is kept.
type group struct {
	start, end int
	digits     string
}

// run is a sequence of digit groups joined by single separators.
type run struct {
	start, end int // including a '(' or '+' before the first group
	groups     []group
	seps       []rune // seps[i] joins groups[i] and groups[i+1]; ')' after "(0755"
	plus       bool   // '+' right before the first group
	paren      bool   // the first group is an area code in parentheses
}

func appendNumbers(found []Finding, text string) []Finding {
	var rn run // reused: most runs are one short group
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf && (c < '0' || c > '9') {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if _, ok := digitValue(r); !ok {
			i += size
			continue
		}
		rn.lex(text, i)
		found = rn.appendFindings(found, text)
		i = rn.end
	}
	return found
}

// lex reads the run of digit groups starting at at into rn.
func (rn *run) lex(text string, at int) {
	*rn = run{start: at, groups: rn.groups[:0], seps: rn.seps[:0]}
	prev, prevSize := utf8.DecodeLastRuneInString(text[:at])
	if prev == '+' || prev == '＋' {
		rn.plus = true
		rn.start = at - prevSize
	}
	total, i := 0, at
	for {
		g := group{start: i}
		n, ascii := 0, true
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			if _, ok := digitValue(r); !ok {
				break
			}
			ascii = ascii && size == 1
			n++
			i += size
		}
		total += n
		// An ID number's check character ends the run.
		check := total == 17 && i < len(text) && (text[i] == 'X' || text[i] == 'x') && !isWordRune(runeAt(text, i+1))
		if check {
			i++
		}
		g.end = i
		g.digits = text[g.start:g.end]
		if !ascii {
			g.digits = asciiDigits(g.digits)
		}
		rn.groups = append(rn.groups, g)
		if check {
			break
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if len(rn.groups) == 1 && (prev == '(' || prev == '（') && (r == ')' || r == '）') {
			j := i + size
			if r2, s2 := utf8.DecodeRuneInString(text[j:]); isSeparator(r2) {
				j += s2
			}
			if !startsWithDigit(text[j:]) {
				break
			}
			rn.paren, rn.plus, rn.start = true, false, at-prevSize
			rn.seps = append(rn.seps, ')')
			i = j
			continue
		}
		if i < len(text) && isSeparator(r) && startsWithDigit(text[i+size:]) {
			rn.seps = append(rn.seps, r)
			i += size
			continue
		}
		break
	}
	rn.end = i
}

// asciiDigits rewrites full-width digits as ASCII ones.
func asciiDigits(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if d, ok := digitValue(r); ok {
			b.WriteByte(d)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// appendFindings tries the group ranges of the run that start and end at
// the run's ends or at spaces, longest first from the left; a dash never
// splits a number from its neighbours.
func (rn run) appendFindings(found []Finding, text string) []Finding {
	n := len(rn.groups)
	for i := 0; i < n; {
		next := i + 1
		if i == 0 || isBoundarySep(rn.seps[i-1]) {
			for j := min(n, i+maxGroups); j > i; j-- {
				if j < n && !isBoundarySep(rn.seps[j-1]) {
					continue
				}
				if f, ok := rn.classify(text, i, j); ok {
					found = append(found, f)
					next = j
					break
				}
			}
		}
		i = next
	}
	return found
}

// classify decides what groups[i:j] are, if anything personal.
func (rn run) classify(text string, i, j int) (Finding, bool) {
	gs := rn.groups[i:j]
	seps := rn.seps[i : j-1]
	n := 0
	for _, g := range gs {
		n += len(g.digits)
	}
	if n > maxDigits {
		return Finding{}, false
	}
	digits := gs[0].digits
	if len(gs) > 1 {
		var d strings.Builder
		d.Grow(n)
		for _, g := range gs {
			d.WriteString(g.digits)
		}
		digits = d.String()
	}
	start, end := gs[0].start, gs[len(gs)-1].end
	kind := Kind("")
	switch {
	case isIDNumber(digits, gs):
		kind = IDCard
	case rn.isPhone(i, gs, seps):
		kind = Phone
		if i == 0 && rn.plus {
			start = rn.start
		}
	default:
		if e, ok := rn.landlineEnd(text, i, gs, seps); ok {
			kind, end = Landline, e
			if i == 0 && rn.paren {
				start = rn.start
			}
		} else if isCardNumber(digits, gs) && !rn.continuesGrouping(i, j) || i == 0 && isAccountNumber(digits) && hasLabel(text, start, accountLabels) {
			kind = BankCard
		}
	}
	if kind == "" || !freeStanding(text, start, end) {
		return Finding{}, false
	}
	return Finding{Kind: kind, Start: start, End: end, Text: text[start:end]}, true
}

// freeStanding reports whether text[start:end] stands as a number of its
// own: not glued to letters or digits, not part of a code, an amount or
// a decimal, and not labelled as a code.
func freeStanding(text string, start, end int) bool {
	before, n := utf8.DecodeLastRuneInString(text[:start])
	if isWordRune(before) || glues(before, lastRune(text[:start-n])) {
		return false
	}
	after, n := utf8.DecodeRuneInString(text[end:])
	if isWordRune(after) || glues(after, runeAt(text, end+n)) {
		return false
	}
	if strings.ContainsRune("¥￥$€£", lastRune(strings.TrimRight(text[:start], " \u3000"))) ||
		hasLabel(text, start, currencyLabels) {
		return false
	}
	rest := strings.TrimLeft(text[end:], " \u3000")
	if r := runeAt(rest, 0); strings.ContainsRune(unitRunes, r) || hasPrefixFold(rest, "rmb") || hasPrefixFold(rest, "cny") ||
		hasPrefixFold(rest, "usd") || hasPrefixFold(rest, "yuan") {
		return false
	}
	return !hasLabel(text, start, codeLabels)
}

// unitRunes follow amounts, counts and dates, never personal numbers.
const unitRunes = "元万亿%％‰块年月日天个台套件次人吨"

// Labels are matched at the end of the text before a number, ignoring
// ASCII case, after trimming spaces, colons and '#'.
var (
	accountLabels = []string{"账号", "帐号", "账户", "帐户", "卡号", "account", "account no", "account no.",
		"account number", "acct", "acct no", "acct no.", "a/c", "a/c no", "a/c no.", "card no", "card no.", "card number", "iban"}
	codeLabels = []string{"编号", "编码", "单号", "合同号", "项目号", "流水号", "批号", "批次号", "型号", "序列号", "序号",
		"版本号", "发票号", "发票号码", "凭证号", "标段号", "包号", "order no", "order no.", "order number", "invoice no",
		"invoice no.", "invoice number", "project no", "project no.", "tender no", "tender no.", "contract no",
		"contract no.", "po no", "po no.", "ref", "ref.", "reference", "serial", "serial no", "serial no.", "s/n", "model", "version"}
	currencyLabels = []string{"rmb", "cny", "usd", "人民币"}
)

// hasLabel reports whether one of labels ends the text before at.
func hasLabel(text string, at int, labels []string) bool {
	const trim = " \t\u3000:：#＃"
	before := strings.TrimRight(text[max(0, at-40):at], trim)
	if b, ok := strings.CutSuffix(before, "为"); ok {
		before = strings.TrimRight(b, trim) // 账号为 6222...
	} else if b, ok := strings.CutSuffix(before, "是"); ok {
		before = strings.TrimRight(b, trim)
	}
	for _, l := range labels {
		if len(before) >= len(l) && equalFoldASCII(before[len(before)-len(l):], l) {
			k := len(before) - len(l)
			// A Latin label must start a word: "ref" is not "pref".
			if k == 0 || !isASCIILetter(l[0]) || !isWordRune(lastRune(before[:k])) {
				return true
			}
		}
	}
	return false
}

// isPhone reports whether gs (groups[i:] of the run, joined by seps) is
// a mobile number with an optional country code.
func (rn run) isPhone(i int, gs []group, seps []rune) bool {
	switch first := gs[0].digits; {
	case i == 0 && rn.plus && first == "86" && len(gs) > 1:
		gs = gs[1:]
	case i == 0 && rn.plus && len(first) == 13 && strings.HasPrefix(first, "86"):
		gs = []group{{digits: first[2:]}}
	case first == "0086" && len(gs) > 1, first == "86" && len(gs) > 1 && !isBoundarySep(seps[0]):
		gs = gs[1:]
	case len(gs) == 1 && len(first) == 15 && strings.HasPrefix(first, "0086"):
		gs = []group{{digits: first[4:]}}
	}
	if len(gs) > 3 {
		return false
	}
	var d string
	for _, g := range gs {
		if len(gs) > 1 && len(g.digits) < 3 {
			return false
		}
		d += g.digits
	}
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && onlyDigits(d)
}

// landlineEnd reports whether gs is a fixed-line number and where it
// ends, including an extension written after it (转 801, ext. 801).
func (rn run) landlineEnd(text string, i int, gs []group, seps []rune) (int, bool) {
	var area string
	var rest []group
	var restSeps []rune
	switch {
	case i == 0 && rn.paren && len(gs) > 1:
		area, rest, restSeps = gs[0].digits, gs[1:], seps[1:]
	case len(gs) > 1 && seps[0] != ')':
		area, rest, restSeps = gs[0].digits, gs[1:], seps[1:]
	case len(gs) == 1 && strings.HasPrefix(gs[0].digits, "0"):
		d := gs[0].digits
		n := 4
		if strings.HasPrefix(d, "010") || strings.HasPrefix(d, "02") {
			n = 3
		}
		if len(d) <= n || !isAreaCode(d[:n]) || !isLocalNumber(d[n:]) {
			return 0, false
		}
		return extensionEnd(text, gs[0].end), true
	default:
		return 0, false
	}
	if !isAreaCode(area) {
		return 0, false
	}
	for k := 1; k <= 2 && k <= len(rest); k++ {
		local := rest[0].digits
		if k == 2 {
			if len(rest[0].digits) < 3 || len(rest[1].digits) < 3 {
				continue
			}
			local += rest[1].digits
		}
		if !isLocalNumber(local) {
			continue
		}
		switch tail := rest[k:]; {
		case len(tail) == 0:
			return extensionEnd(text, rest[k-1].end), true
		case len(tail) == 1 && !isBoundarySep(restSeps[k-1]) && len(tail[0].digits) <= 6 && onlyDigits(tail[0].digits):
			return tail[0].end, true
		}
	}
	return 0, false
}

// extensionEnd returns where an extension written after a landline ends,
// or end when there is none.
func extensionEnd(text string, end int) int {
	rest := strings.TrimLeft(text[end:], " \u3000")
	marker := ""
	for _, m := range []string{"转", "分机号", "分机", "ext.", "ext", "x"} {
		if hasPrefixFold(rest, m) {
			marker = m
			break
		}
	}
	if marker == "" {
		return end
	}
	num := strings.TrimLeft(rest[len(marker):], " \u3000:：")
	n := 0
	for n < len(num) && n <= 6 && num[n] >= '0' && num[n] <= '9' {
		n++
	}
	if n == 0 || n > 6 || isWordRune(runeAt(num, n)) {
		return end
	}
	return len(text) - len(num) + n
}

// isAreaCode reports whether d is a mainland area code: 010, 02x or
// 0[3-9]xx.
func isAreaCode(d string) bool {
	switch len(d) {
	case 3:
		return d == "010" || strings.HasPrefix(d, "02") && onlyDigits(d)
	case 4:
		return d[0] == '0' && d[1] >= '3' && d[1] <= '9' && onlyDigits(d)
	}
	return false
}

// isLocalNumber reports whether d is a 7- or 8-digit local number, which
// never starts with 0 or 1.
func isLocalNumber(d string) bool {
	return (len(d) == 7 || len(d) == 8) && d[0] >= '2' && onlyDigits(d)
}

// isIDNumber reports whether digits, written as the groups gs (18
// contiguous, or 6-8-4), is a valid resident identity number.
func isIDNumber(digits string, gs []group) bool {
	if len(digits) != 18 || !(len(gs) == 1 || len(gs) == 3 && len(gs[0].digits) == 6 && len(gs[1].digits) == 8) {
		return false
	}
	return validIDNumber(digits)
}

// validIDNumber checks an 18-character resident identity number: a
// province code, a birth date between 1900 and today, and the ISO 7064
// MOD 11-2 check character.
func validIDNumber(id string) bool {
	if len(id) != 18 || !onlyDigits(id[:17]) || !(id[17] == 'X' || id[17] == 'x' || id[17] >= '0' && id[17] <= '9') {
		return false
	}
	if !provinces[id[:2]] && id[0] != '9' {
		return false
	}
	year, month, day := atoi(id[6:10]), atoi(id[10:12]), atoi(id[12:14])
	born := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if year < 1900 || born.Month() != time.Month(month) || born.Day() != day || born.After(time.Now()) {
		return false
	}
	check := id[17]
	if check == 'x' {
		check = 'X'
	}
	return idCheck(id[:17]) == check
}

// idCheck returns the ISO 7064 MOD 11-2 check character of the first 17
// digits of an identity number.
func idCheck(body string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// provinces are the first two digits of identity numbers issued in
// mainland China, Taiwan (71), Hong Kong (81), Macao (82) and to Taiwan
// residents (83).
var provinces = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83") {
		m[c] = true
	}
	return m
}()

// isCardNumber reports whether digits, written as the groups gs, is a
// payment card number: 13-19 digits, contiguous or in groups of four
// (or 4-6-5/4-6-4), an issuer prefix cards use (2221-2720, 3, 4, 5, 6,
// 9), not one repeated digit, and a valid Luhn check digit.
func isCardNumber(digits string, gs []group) bool {
	if len(digits) < 13 || len(digits) > 19 || !onlyDigits(digits) || strings.Count(digits, digits[:1]) == len(digits) {
		return false
	}
	switch digits[0] {
	case '3', '4', '5', '6', '9':
	case '2':
		if p := atoi(digits[:4]); p < 2221 || p > 2720 {
			return false
		}
	default:
		return false
	}
	if !cardGrouping(gs) {
		return false
	}
	return luhn(digits)
}

func cardGrouping(gs []group) bool {
	if len(gs) == 1 {
		return true
	}
	if len(gs) == 3 && len(gs[0].digits) == 4 && len(gs[1].digits) == 6 {
		return true
	}
	if len(gs) < 3 {
		return false
	}
	for _, g := range gs[:len(gs)-1] {
		if len(g.digits) != 4 {
			return false
		}
	}
	return len(gs[len(gs)-1].digits) <= 4
}

// continuesGrouping reports whether the groups of four in groups[i:j]
// carry on into a neighbouring group, so that groups[i:j] is a slice of
// a longer number ("4000 0233 0920 0123 456") rather than a card.
func (rn run) continuesGrouping(i, j int) bool {
	if j-i < 2 {
		return false
	}
	return i > 0 && len(rn.groups[i-1].digits) == 4 && len(rn.groups[i].digits) == 4 ||
		j < len(rn.groups) && len(rn.groups[j-1].digits) == 4 && len(rn.groups[j].digits) <= 4
}

// isAccountNumber reports whether digits can be a bank account number.
// It is only asked for numbers labelled as accounts.
func isAccountNumber(digits string) bool {
	return len(digits) >= 8 && len(digits) <= maxDigits && onlyDigits(digits)
}

// luhn reports whether the last digit of digits is its Luhn check digit.
func luhn(digits string) bool {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// appendEmails appends the e-mail addresses in text: an ASCII local part,
// '@', and a domain of at least two labels ending in a letters-only
// top-level domain.
func appendEmails(found []Finding, text string) []Finding {
	for from := 0; ; {
		k := strings.IndexByte(text[from:], '@')
		if k < 0 {
			return found
		}
		k += from
		from = k + 1
		start := k
		for start > 0 && isLocalByte(text[start-1]) {
			start--
		}
		for start < k && !isASCIIAlnum(text[start]) && text[start] != '_' {
			start++
		}
		local := text[start:k]
		if local == "" || local[len(local)-1] == '.' || strings.Contains(local, "..") {
			continue
		}
		end := k + 1
		for end < len(text) && (isASCIIAlnum(text[end]) || text[end] == '.' || text[end] == '-') {
			end++
		}
		domain := trimDomain(text[k+1 : end])
		if domain == "" {
			continue
		}
		end = k + 1 + len(domain)
		found = append(found, Finding{Kind: Email, Start: start, End: end, Text: text[start:end]})
	}
}

// trimDomain returns the longest valid domain that starts d, or "".
func trimDomain(d string) string {
	labels := strings.Split(d, ".")
	for len(labels) >= 2 && !isTopLevel(labels[len(labels)-1]) {
		labels = labels[:len(labels)-1]
	}
	if len(labels) < 2 {
		return ""
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return ""
		}
	}
	return strings.Join(labels, ".")
}

func isTopLevel(l string) bool {
	if len(l) < 2 || len(l) > 24 {
		return false
	}
	for i := range len(l) {
		if !isASCIILetter(l[i]) {
			return false
		}
	}
	return true
}

func isLocalByte(c byte) bool {
	return isASCIIAlnum(c) || strings.IndexByte("._%+-", c) >= 0
}

// digitValue returns the ASCII digit r stands for: '0'-'9' or their
// full-width forms.
func digitValue(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= '０' && r <= '９':
		return byte(r-'０') + '0', true
	}
	return 0, false
}

func startsWithDigit(s string) bool {
	_, ok := digitValue(runeAt(s, 0))
	return ok
}

// isSeparator reports whether r may join two digit groups of one number.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u3000', '-', '\u2010', '\u2011', '－':
		return true
	}
	return false
}

// isBoundarySep reports whether a separator may also end a number: a
// space may, a dash may not.
func isBoundarySep(r rune) bool {
	return r == ' ' || r == '\u00a0' || r == '\u3000' || r == ')'
}

// glues reports whether the character next to a number, with the one
// beyond it, makes the number part of a code, a decimal or a path:
// "GK-017", "1.5", "orders/13800138000". A slash between numbers is a
// list ("13800138000/13912345678"), not a path.
func glues(next, beyond rune) bool {
	switch next {
	case '-', '_', '.':
		return isWordRune(beyond)
	case '/', '\\':
		return isWordRune(beyond) && !startsWithDigit(string(beyond))
	}
	return false
}

// isWordRune reports whether r is an ASCII or full-width letter or digit
// or an underscore: characters a number must not touch. Chinese
// characters are not word runes here.
func isWordRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return isASCIIAlnum(byte(r)) || r == '_'
	case r >= '０' && r <= '９', r >= 'Ａ' && r <= 'Ｚ', r >= 'ａ' && r <= 'ｚ':
		return true
	}
	return false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isASCIIAlnum(c byte) bool  { return isASCIILetter(c) || c >= '0' && c <= '9' }

func onlyDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi reads a short run of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// runeAt returns the rune at byte offset i of s, or utf8.RuneError past
// its end.
func runeAt(s string, i int) rune {
	if i >= len(s) {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}

// equalFoldASCII reports whether a and b are equal ignoring the case of
// ASCII letters; other bytes must match exactly. It is what labels and
// placeholder names need, and much faster than strings.EqualFold.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if x != y && !(isASCIILetter(x) && x|0x20 == y|0x20) {
			return false
		}
	}
	return true
}
