package feedback

import (
	"time"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// diffTimeout bounds the diff of two long, unrelated texts; past it the
// diff is coarser but still correct.
const diffTimeout = 200 * time.Millisecond

// diff returns the character-level Levenshtein distance from a to b and
// the changed spans, with rune offsets into a.
func diff(a, b string) (int, []Change) {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = diffTimeout
	raw := dmp.DiffMain(a, b, false)
	distance := dmp.DiffLevenshtein(raw)
	// Spans for people: merged into whole words and phrases.
	diffs := dmp.DiffCleanupSemantic(raw)
	changes := []Change{}
	at := 0
	for i := 0; i < len(diffs); i++ {
		d := diffs[i]
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			at += utf8.RuneCountInString(d.Text)
		case diffmatchpatch.DiffDelete:
			c := Change{Op: "delete", Original: d.Text, At: at}
			if i+1 < len(diffs) && diffs[i+1].Type == diffmatchpatch.DiffInsert {
				c.Op, c.Corrected = "replace", diffs[i+1].Text
				i++
			}
			changes = append(changes, c)
			at += utf8.RuneCountInString(d.Text)
		case diffmatchpatch.DiffInsert:
			c := Change{Op: "insert", Corrected: d.Text, At: at}
			if i+1 < len(diffs) && diffs[i+1].Type == diffmatchpatch.DiffDelete {
				c.Op, c.Original = "replace", diffs[i+1].Text
				at += utf8.RuneCountInString(diffs[i+1].Text)
				i++
			}
			changes = append(changes, c)
		}
	}
	return distance, changes
}
