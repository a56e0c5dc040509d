package assistant

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/dealdesk/dealdesk/assistant/trust"
)

// documentLabel is the label of a task's own document.
const documentLabel = "T1"

// citationKeys are the fields whose string values are bare source labels.
var citationKeys = []string{"citations", "sources", "source_ids"}

// verify checks the answer's citations against the retrieved sources,
// removes the ones naming sources that were not retrieved, flags claims
// without a citation and quotes that are not in the document, and marks
// the sources the answer cites.
func (c *call) verify() {
	known := make([]string, 0, len(c.sources)+1)
	for _, s := range c.sources {
		known = append(known, s.Label)
	}
	if c.doc != "" {
		known = append(known, documentLabel)
	}
	v := &verifier{known: known, doc: squash(c.doc)}
	checked := v.walk(c.masked, "").(map[string]any)
	// The answer passed the schema in parse; only removed citations can
	// have changed that.
	if len(v.unknown) > 0 {
		if err := c.tmpl.Schema.Validate(checked); err != nil {
			// Removing a citation broke the schema (a minimum count): keep
			// the answer as the model wrote it and say so.
			c.gen.Checks.Warnings = append(c.gen.Checks.Warnings,
				"unknown citations were left in place because removing them breaks the output schema: "+err.Error())
			checked = c.masked
		}
	}
	c.masked = checked
	ch := &c.gen.Checks
	ch.Cited = v.cited
	if ch.Cited == nil {
		ch.Cited = []string{}
	}
	ch.UnknownCitations = v.unknown
	ch.CitationsValid = len(v.unknown) == 0
	ch.Uncited = v.uncited
	ch.SpansNotFound = v.spans
	ch.PIIMasked = map[string]int{}
	for kind, n := range c.masker.Counts() {
		if kind != "text" && n > 0 {
			ch.PIIMasked[string(kind)] = n
		}
	}
	for i := range c.gen.Sources {
		c.gen.Sources[i].Cited = slices.Contains(v.cited, c.gen.Sources[i].Label)
	}
}

type verifier struct {
	known   []string
	doc     string
	cited   []string
	unknown []string
	uncited []Uncited
	spans   []string
}

func (v *verifier) note(list *[]string, label string) {
	if !slices.Contains(*list, label) {
		*list = append(*list, label)
	}
}

// walk returns x with unknown citations removed, recording what it finds.
func (v *verifier) walk(x any, path string) any {
	switch t := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			p := path + "/" + k
			if arr, ok := t[k].([]any); ok && slices.Contains(citationKeys, k) {
				out[k] = v.labels(arr)
				continue
			}
			out[k] = v.walk(t[k], p)
			if s, ok := t[k].(string); ok && k == "span" && v.doc != "" && !strings.Contains(v.doc, squash(s)) {
				v.spans = append(v.spans, p)
			}
		}
		for _, k := range citationKeys {
			if arr, ok := out[k].([]any); ok && len(arr) == 0 {
				if text := mainText(out); text != "" {
					v.uncited = append(v.uncited, Uncited{Path: cmp.Or(path, "/"), Text: text})
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = v.walk(e, fmt.Sprintf("%s/%d", path, i))
		}
		return out
	case string:
		rep := trust.VerifyCitations(t, v.known)
		if len(rep.Cited) == 0 && len(rep.Unknown) == 0 {
			return t
		}
		for _, l := range rep.Cited {
			v.note(&v.cited, l)
		}
		for _, l := range rep.Unknown {
			v.note(&v.unknown, l)
		}
		for _, s := range rep.Uncited {
			v.uncited = append(v.uncited, Uncited{Path: path, Text: s})
		}
		if len(rep.Unknown) > 0 {
			return trust.StripUnknownCitations(t, v.known)
		}
		return t
	default:
		return x
	}
}

// labels keeps the known labels of a citation list, recording each.
func (v *verifier) labels(arr []any) []any {
	out := make([]any, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			out = append(out, e)
			continue
		}
		label := strings.Trim(strings.TrimSpace(s), "[]【】")
		if i := slices.IndexFunc(v.known, func(k string) bool { return strings.EqualFold(k, label) }); i >= 0 {
			v.note(&v.cited, v.known[i])
			out = append(out, s)
			continue
		}
		v.note(&v.unknown, label)
	}
	return out
}

// mainText is the longest string field of an object: what an item claims.
func mainText(obj map[string]any) string {
	best := ""
	for _, k := range sortedKeys(obj) {
		if s, ok := obj[k].(string); ok && len(s) > len(best) {
			best = s
		}
	}
	return best
}

// squash collapses runs of white space to one space, so that a quote
// re-wrapped by a model still matches its document.
func squash(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}
