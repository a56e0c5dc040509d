package offline

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/providers"
)

// This file reads the structure the knowledge loader leaves in retrieved
// text: headings as plain lines, table rows as "header: value | header:
// value", bilingual lines.

// tableRow is one row of a table: its cells and the column headers they
// sit under (labels may be shorter than cells, or empty).
type tableRow struct {
	labels, cells []string
}

// The roles a table column can play.
const (
	roleWeakness = "weakness"
	roleResponse = "response"
	roleStrength = "strength"
	roleNote     = "note"
)

// columnRoles maps column headers to roles, by the words they contain.
var columnRoles = []struct {
	role string
	re   *regexp.Regexp
}{
	{roleResponse, regexp.MustCompile(`(?i)应对|对策|回应|话术|\b(our )?(response|counter|rebuttal|answer)s?\b|how to use`)},
	{roleWeakness, regexp.MustCompile(`(?i)弱点|劣势|不足|短板|缺点|weakness|weak point|shortcoming`)},
	{roleStrength, regexp.MustCompile(`(?i)优势|强项|长处|strength|advantage`)},
	{roleNote, regexp.MustCompile(`(?i)说明|内容|备注|详情|描述|^值$|detail|description|note|remark|content|value`)},
}

func columnRole(label string) string {
	for _, c := range columnRoles {
		if c.re.MatchString(label) {
			return c.role
		}
	}
	return ""
}

// metadataKey matches the first cell of an overview row that records who,
// when and how much rather than what happened: the customer, the
// signing date, the amounts, the owner. Such rows are not worth quoting.
var metadataKey = regexp.MustCompile(`(?i)^(客户|甲方|用户单位|项目|项目名称|项目编号|编号|签约|签约日期|签订|合同签订|合同日期|日期|地点|记录|记录人|销售负责人|负责人|联系人|联系方式|中标金额|合同金额|成交金额|金额|预算|报价|报价构成|对手|竞争对手|产品|范围|年份|` +
	`customer|client|project|signed|signing date|date|location|owner|contract|contract value|amount|budget|price|price build-up|competitors?|products?|scope|year)` +
	`(\s+[A-Za-z][A-Za-z -]*)?$`)

// quote turns the row into a quote in language lng: a weakness row
// quotes the weakness and keeps the response column; other rows read as
// "subject：header value；header value". Metadata rows and empty rows
// give nothing.
func (r tableRow) quote(lng string) (quote, bool) {
	var (
		q       quote
		cells   []string
		labels  []string
		hasText bool
	)
	for i, c := range r.cells {
		label := ""
		if i < len(r.labels) {
			label = r.labels[i]
		}
		c = inLanguageHalf(c, lng)
		switch role := columnRole(label); {
		case role == roleWeakness && q.text == "":
			q.text, q.role = c, roleWeakness
		case role == roleResponse && q.response == "":
			q.response = c
		default:
			if i == 0 {
				q.role = role
			}
			cells, labels = append(cells, c), append(labels, label)
		}
		hasText = hasText || c != ""
	}
	if q.role == roleWeakness {
		return q, q.text != ""
	}
	if !hasText || len(cells) == 0 || metadataKey.MatchString(cells[0]) {
		return quote{}, false
	}
	chinese := providers.IsMostlyChinese(strings.Join(r.cells, " "))
	colon, semicolon := ": ", "; "
	if chinese {
		colon, semicolon = "：", "；"
	}
	var rest []string
	for i := 1; i < len(cells); i++ {
		switch label := labelIn(labels[i], lng); {
		case cells[i] == "":
		case label == "" || columnRole(labels[i]) == roleNote || len(cells) == 2 && q.role == roleStrength:
			rest = append(rest, cells[i])
		default:
			rest = append(rest, label+" "+cells[i])
		}
	}
	q.text = strings.TrimSpace(cells[0])
	if len(rest) > 0 {
		if q.text != "" {
			q.text += colon
		}
		q.text += strings.Join(rest, semicolon)
	}
	return q, q.text != ""
}

// labelIn is the part of a bilingual column header ("内容 Detail") in
// language lng.
func labelIn(label, lng string) string {
	var zhPart, enPart []string
	for f := range strings.FieldsSeq(label) {
		if strings.IndexFunc(f, lang.IsCJK) >= 0 {
			zhPart = append(zhPart, f)
		} else {
			enPart = append(enPart, f)
		}
	}
	switch {
	case lng == en && len(enPart) > 0 && len(zhPart) > 0:
		return strings.Join(enPart, " ")
	case len(zhPart) > 0 && len(enPart) > 0:
		return strings.Join(zhPart, " ")
	}
	return label
}

// piece is part of a line of retrieved text: a table row, or text.
type piece struct {
	text string
	row  *tableRow
}

// rowLabel is a rendered cell's header: short, without sentence
// punctuation.
var rowLabel = regexp.MustCompile(`^[^，。；,;|]{1,24}$`)

// knownLabel matches a column header at the end of the text before a
// row's first ": ", where a heading or the previous row's last value may
// precede it.
var knownLabel = regexp.MustCompile(`(?i)(优势|弱点|劣势|不足|短板|我方应对|应对|对策|说明|备注|项目|内容|指标|参数项|名称|厂商|投标人|事项|weakness|strength|item|detail|response)$`)

// splitRows splits a line into the table rows the loader rendered
// ("优势: 央企背景 | 说明: 在地市…"), even when several rows and the
// headings between tables run together on one line, and the text around
// them. A line that is no rendered row comes back whole.
func splitRows(line string) []piece {
	if !strings.Contains(line, " | ") || !strings.Contains(line, ": ") {
		return []piece{{text: line}}
	}
	parts := strings.Split(line, " | ")
	// A row's first header is glued to the value before it; rows of one
	// table share their second header. Among the texts before a row's
	// first ": " that share the second header, the common suffix is the
	// first header.
	type start struct {
		part int    // index of the part the row starts in
		pre  string // text before the row's first ": " in that part
	}
	var starts []start
	byNext := map[string][]int{} // second header -> indexes into starts
	for k, p := range parts {
		text := p
		if k > 0 {
			label, rest, ok := strings.Cut(p, ": ")
			if !ok || !rowLabel.MatchString(label) {
				continue
			}
			text = rest
		}
		pre, _, ok := strings.Cut(text, ": ")
		if !ok || k+1 >= len(parts) {
			continue
		}
		next, _, _ := strings.Cut(parts[k+1], ": ")
		byNext[next] = append(byNext[next], len(starts))
		starts = append(starts, start{k, pre})
	}
	if len(starts) == 0 {
		// A row whose first cell was rendered without its header
		// ("项目 | 内容: …").
		row := tableRow{labels: []string{""}, cells: []string{strings.TrimSpace(parts[0])}}
		for _, p := range parts[1:] {
			label, value, ok := strings.Cut(p, ": ")
			if !ok || !rowLabel.MatchString(label) {
				return []piece{{text: line}}
			}
			row.labels, row.cells = append(row.labels, label), append(row.cells, strings.TrimSpace(value))
		}
		return []piece{{row: &row}}
	}
	firstLabel := make([]string, len(starts))
	for _, group := range byNext {
		var label string
		if len(group) > 1 {
			label = starts[group[0]].pre
			for _, i := range group[1:] {
				label = commonSuffix(label, starts[i].pre)
			}
			label = strings.TrimLeftFunc(label, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
		}
		for _, i := range group {
			l := label
			switch {
			case l != "" && utf8.RuneCountInString(l) <= 24:
			case starts[i].part == 0 && !numberedHeading.MatchString(starts[i].pre):
				l = starts[i].pre // a row on its own line starts with its header
			default:
				l = knownLabel.FindString(starts[i].pre)
			}
			firstLabel[i] = l
		}
	}

	var (
		out []piece
		row *tableRow
	)
	endRow := func() {
		if row != nil {
			out = append(out, piece{row: row})
			row = nil
		}
	}
	addCell := func(label, value string) {
		row.labels = append(row.labels, label)
		row.cells = append(row.cells, strings.TrimSpace(value))
	}
	next := 0 // index into starts
	for k, p := range parts {
		label, value := "", p
		if k > 0 {
			if l, v, ok := strings.Cut(p, ": "); ok && rowLabel.MatchString(l) {
				label, value = l, v
			}
		}
		if next < len(starts) && starts[next].part == k && firstLabel[next] != "" {
			pre, after, _ := strings.Cut(value, ": ")
			if head, ok := strings.CutSuffix(pre, firstLabel[next]); ok {
				if k == 0 {
					if head = strings.TrimSpace(head); head != "" {
						out = append(out, piece{text: head})
					}
					endRow()
				} else if row != nil {
					// The heading of the next table may sit between the
					// rows ("…打包总包三、主要弱点弱点: …").
					heading := ""
					if loc := trailingHeading.FindStringIndex(head); loc != nil && loc[0] > 0 {
						head, heading = head[:loc[0]], head[loc[0]:]
					}
					addCell(label, head)
					endRow()
					if heading != "" {
						out = append(out, piece{text: heading})
					}
				}
				row = &tableRow{}
				addCell(firstLabel[next], after)
				next++
				continue
			}
		}
		if next < len(starts) && starts[next].part == k {
			next++
		}
		if row == nil {
			if k == 0 {
				row = &tableRow{}
				addCell("", value) // a first cell rendered without its header
				continue
			}
			return []piece{{text: line}}
		}
		addCell(label, value)
	}
	endRow()
	return out
}

func commonSuffix(a, b string) string {
	i, j := len(a), len(b)
	for i > 0 && j > 0 {
		ra, na := utf8.DecodeLastRuneInString(a[:i])
		rb, nb := utf8.DecodeLastRuneInString(b[:j])
		if ra != rb {
			break
		}
		i, j = i-na, j-nb
	}
	return a[i:]
}

// numberedHeading matches the numbering of a heading: "二、", "（三）",
// "第四章", "3.2".
var numberedHeading = regexp.MustCompile(`^(第[一二三四五六七八九十百零〇两\d]+(部分|篇|章|节)|[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[）)]|\d{1,2}(\.\d{1,2})+\.?)`)

// numberedTitle matches a heading numbered like a list item ("2. Local
// government special bonds (专项债)"): no sentence or label follows the
// number, only words.
var numberedTitle = regexp.MustCompile(`^\d{1,2}\.\s+[^：:]+$`)

// trailingHeading matches a numbered heading at the end of a value it
// was run into.
var trailingHeading = regexp.MustCompile(`(第[一二三四五六七八九十百零〇两\d]+(部分|篇|章|节)|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)])[^，。；,;：:、]{1,20}$`)

// headingNumber is that numbering with the space after it.
var headingNumber = regexp.MustCompile(`(` + numberedHeading.String() + `|^\d{1,2}\.)\s*`)

// isHeading reports whether a line of retrieved text is a heading the
// loader flattened: the source's title, a numbered heading ("二、核心优势",
// "3.2 \"华拓是老供应商…\""), or a short line that neither ends a sentence
// nor labels a value ("要点提炼", "Why we won").
func isHeading(line, title string) bool {
	n := utf8.RuneCountInString(line)
	if title = strings.TrimSpace(title); n >= 6 && strings.HasPrefix(title, line) {
		return true
	}
	if n == 0 || n > 60 {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(line)
	if strings.ContainsRune(".!?。！？;；:：,，", last) || strings.ContainsAny(line, "。；;") {
		return false
	}
	if n <= 40 && (numberedHeading.MatchString(line) || numberedTitle.MatchString(line)) {
		return true
	}
	return n <= 24 && !strings.ContainsAny(line, "：:") && !listMarker.MatchString(line)
}

// inLanguage keeps, of the sentences of one line or paragraph that say
// the same thing in Chinese and in English, those in language lng; a
// line in one language comes back whole. A sentence that gives both
// halves ("90 天交付承诺 / 90-day delivery commitment.") keeps its half.
func inLanguage(sentences []string, lng string) []string {
	var zhCount, enCount int
	for _, s := range sentences {
		switch {
		case providers.IsMostlyChinese(s):
			zhCount++
		case strings.IndexFunc(s, lang.IsCJK) < 0 && strings.IndexFunc(s, isLatinLetter) >= 0:
			enCount++
		}
	}
	out := sentences[:0:0]
	for _, s := range sentences {
		if zhCount > 0 && enCount > 0 {
			chinese := providers.IsMostlyChinese(s)
			latin := strings.IndexFunc(s, lang.IsCJK) < 0 && strings.IndexFunc(s, isLatinLetter) >= 0
			if lng == en && chinese || lng != en && latin {
				continue
			}
		}
		out = append(out, inLanguageHalf(s, lng))
	}
	return out
}

// inLanguageHalf is the half of "中文 / English" in language lng, or s.
func inLanguageHalf(s, lng string) string {
	a, b, ok := strings.Cut(s, " / ")
	if !ok || strings.Contains(b, " / ") {
		return s
	}
	aZh, bZh := strings.IndexFunc(a, lang.IsCJK) >= 0, strings.IndexFunc(b, lang.IsCJK) >= 0
	switch {
	case aZh == bZh:
		return s
	case (lng == en) == aZh:
		return strings.TrimSpace(b)
	}
	return strings.TrimSpace(a)
}
