package analyze

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// A table reaches the composers in one of two forms. Pasted Markdown keeps
// its pipes ("| 4 | API 网关峰值吞吐 ≥ 10,000 TPS | ▲ |"), its header row
// above a rule. A document read back from the knowledge base (a tender
// analysed by document_id, a product sheet retrieved as a source) has its
// rows rendered the way the loaders write them: one row a line, each value
// after its column name, "序号: 4 | 参数要求: API 网关峰值吞吐 ≥ 10,000 TPS |
// 类型: ▲" (see knowledge.BlockTableRow). Both become a row: the cells with
// their column names, "" where a table has no header.
type row struct {
	Columns []string
	Cells   []string
}

// Column roles: what a cell holds, read from its column name.
const (
	roleSeq    = "seq"    // 序号, #
	roleMarker = "marker" // 类型: ★ / ▲
	roleName   = "name"   // 参数项, 评分项, Item
	roleValue  = "value"  // 参数要求, 指标, 内容, Requirement
	rolePoints = "points" // 分值, Points
)

var columnRoles = map[string]string{
	"序号": roleSeq, "#": roleSeq, "no": roleSeq, "no.": roleSeq, "编号": roleSeq,
	"类型": roleMarker, "标记": roleMarker, "属性": roleMarker, "type": roleMarker,
	"参数项": roleName, "参数": roleName, "参数名称": roleName, "技术参数": roleName, "指标名称": roleName, "指标项": roleName,
	"项目": roleName, "评分项": roleName, "评分大类": roleName, "评分因素": roleName, "评审因素": roleName, "品目": roleName,
	"事项": roleName, "名称": roleName, "item": roleName, "parameter": roleName, "criterion": roleName, "name": roleName,
	"factor": roleName, "metric": roleName,
	"参数要求": roleValue, "要求": roleValue, "技术要求": roleValue, "指标": roleValue, "技术指标": roleValue, "内容": roleValue,
	"规格": roleValue, "性能指标": roleValue, "结论": roleValue, "requirement": roleValue, "requirements": roleValue,
	"specification": roleValue, "value": roleValue, "detail": roleValue, "details": roleValue,
	"分值": rolePoints, "分数": rolePoints, "权重": rolePoints, "points": rolePoints, "score": rolePoints,
	"weight": rolePoints, "marks": rolePoints,
}

// columnRole says what a column holds, from its name ("技术评分项" is a
// name column like "评分项"); "" for any other column.
func columnRole(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if r, ok := columnRoles[name]; ok {
		return r
	}
	for _, suffix := range []string{"评分项", "参数项", "评审项"} {
		if strings.HasSuffix(name, suffix) {
			return roleName
		}
	}
	return ""
}

// role returns the role of cell i.
func (r row) role(i int) string {
	if i < len(r.Columns) {
		return columnRole(r.Columns[i])
	}
	return ""
}

// cell returns the first non-empty cell with the role, or "".
func (r row) cell(role string) string {
	for i, c := range r.Cells {
		if c != "" && r.role(i) == role {
			return c
		}
	}
	return ""
}

func (r row) has(role string) bool { return r.cell(role) != "" }

// renderedCell is one "column: value" of a rendered row; the column name
// is short and reads as a label, not a sentence.
var renderedCell = regexp.MustCompile(`^([^:：|。；;，,\n]{1,30}?): (.*)$`)

// renderedRow reads a line the knowledge base rendered from a table row
// ("参数项: API 网关吞吐 | 指标: 12,000 TPS"): at least two cells, at least
// half of them named. A line of prose that happens to hold " | " is not a
// row.
func renderedRow(line string) (row, bool) {
	parts := strings.Split(strings.TrimSpace(line), " | ")
	if len(parts) < 2 {
		return row{}, false
	}
	r := row{Columns: make([]string, len(parts)), Cells: make([]string, len(parts))}
	named := 0
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if m := renderedCell.FindStringSubmatch(p); m != nil {
			r.Columns[i], p = strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
			named++
		}
		r.Cells[i] = markdownNoise.Replace(p)
	}
	return r, named*2 >= len(parts)
}

// markdownRow makes a row of the cells of a pipe table under header (nil
// when the table has none).
func markdownRow(header, cells []string) row {
	r := row{Cells: cells, Columns: make([]string, len(cells))}
	copy(r.Columns, header)
	return r
}

// content returns the cells worth reading, with their column names: the
// row number and empty cells left out.
func (r row) content() row {
	var out row
	for i, c := range r.Cells {
		if c == "" || r.role(i) == roleSeq {
			continue
		}
		col := ""
		if i < len(r.Columns) {
			col = r.Columns[i]
		}
		out.Columns = append(out.Columns, col)
		out.Cells = append(out.Cells, c)
	}
	return out
}

// clause reads a row as a "key：value；more" clause, the form the fact
// patterns and date rules expect ("采购人：南京市江宁区数据局").
func (r row) clause() string {
	c := r.content().Cells
	switch len(c) {
	case 0:
		return ""
	case 1:
		return c[0]
	}
	return c[0] + "：" + strings.Join(c[1:], "；")
}

// sourceRows prepares a source for sentence ranking. Sentences are cut at
// sentence marks, not at line ends, so the rows of a product sheet's
// table, one a line without a full stop, would run together into one
// "sentence" and a figure would be read from the wrong row. Each row
// becomes a sentence of its own that reads "API 网关吞吐：12,000 TPS（6 节点
// 网关集群）。", and so does each heading; values maps such a sentence (as
// spaceKey gives it) to its value cells ("12,000 TPS"), where the figure
// to compare sits, rather than a note's "6 节点".
func sourceRows(text string, values map[string]string) string {
	lines := strings.Split(text, "\n")
	var header []string
	changed := false
	for i, line := range lines {
		var r row
		ok := false
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "|"):
			cells := tableCells(line)
			if i+1 < len(lines) && tableRule.MatchString(lines[i+1]) {
				header = cells
				lines[i], changed = "", true
				continue
			}
			r, ok = markdownRow(header, cells), len(cells) > 1
		case tableRule.MatchString(line) && strings.Contains(line, "|"):
			lines[i], changed = "", true
			continue
		default:
			header = nil
			r, ok = renderedRow(line)
		}
		if !ok {
			if isHeading(line) && !endsSentence(line) {
				lines[i], changed = strings.TrimRight(line, " ")+"。", true
			}
			continue
		}
		display, vals := r.sentence()
		if display == "" {
			continue
		}
		values[spaceKey(display)] = vals
		lines[i], changed = display+"。", true
	}
	if !changed {
		return text
	}
	return strings.Join(lines, "\n")
}

// sentence reads a row as a sentence, name first, then its values, then
// the other cells in brackets; vals are the value cells alone.
func (r row) sentence() (display, vals string) {
	r = r.content()
	name := r.cell(roleName)
	var values, notes []string
	for i, c := range r.Cells {
		switch r.role(i) {
		case roleName:
		case roleValue:
			values = append(values, c)
		default:
			notes = append(notes, c)
		}
	}
	if len(values) == 0 {
		// No column says which cell holds the value: the cells after
		// the name are the values.
		values, notes = notes, nil
	}
	display = strings.Join(values, "，")
	if name != "" {
		display = name + "：" + display
	}
	if len(notes) > 0 {
		display += "（" + strings.Join(notes, "；") + "）"
	}
	display = strings.TrimRight(display, "：")
	if utf8.RuneCountInString(display) < 2 {
		return "", ""
	}
	return display, strings.Join(values, "；")
}

// spaceKey collapses whitespace, so that a prepared row is found again in
// the tidied sentence the ranking quotes.
func spaceKey(s string) string { return strings.Join(strings.Fields(strings.TrimRight(s, "。")), " ") }

func endsSentence(line string) bool {
	r, _ := utf8.DecodeLastRuneInString(strings.TrimSpace(line))
	return strings.ContainsRune("。！？!?；;.", r)
}
