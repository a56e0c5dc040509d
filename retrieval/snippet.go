package retrieval

import (
	"sort"
	"strings"
	"unicode"
)

// snippet cuts about width runes of text around the densest cluster of
// query words and returns it with the [start, end) rune offsets of every
// word occurrence inside it. Matching is case-insensitive.
func snippet(text string, words []string, width int) (string, [][2]int) {
	runes := []rune(text)
	lower := []rune(strings.ToLower(text))
	if len(lower) != len(runes) { // case mapping changed lengths: match on the original
		lower = runes
	}
	var spans [][2]int
	for _, w := range words {
		wr := []rune(w)
		if len(wr) == 0 || (len(wr) == 1 && !isCJKRune(wr[0])) {
			continue // single Latin letters highlight noise
		}
		for i := 0; i+len(wr) <= len(lower); i++ {
			if equalRunes(lower[i:i+len(wr)], wr) && wordBoundary(lower, i, i+len(wr)) {
				spans = append(spans, [2]int{i, i + len(wr)})
			}
		}
	}
	spans = mergeSpans(spans)
	if len(runes) <= width {
		return text, nonNilSpans(spans)
	}
	// The window start that covers the most highlighted runes.
	bestStart, bestCover := 0, -1
	for _, s := range spans {
		start := max(0, min(s[0]-width/4, len(runes)-width))
		cover := 0
		for _, t := range spans {
			if t[0] >= start && t[1] <= start+width {
				cover += t[1] - t[0]
			}
		}
		if cover > bestCover {
			bestStart, bestCover = start, cover
		}
	}
	end := min(len(runes), bestStart+width)
	out := string(runes[bestStart:end])
	prefix := 0
	if bestStart > 0 {
		out = "…" + out
		prefix = 1
	}
	if end < len(runes) {
		out += "…"
	}
	var inside [][2]int
	for _, s := range spans {
		if s[0] >= bestStart && s[1] <= end {
			inside = append(inside, [2]int{s[0] - bestStart + prefix, s[1] - bestStart + prefix})
		}
	}
	return out, nonNilSpans(inside)
}

func nonNilSpans(s [][2]int) [][2]int {
	if s == nil {
		return [][2]int{}
	}
	return s
}

func mergeSpans(spans [][2]int) [][2]int {
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s[0] <= last[1] {
			last[1] = max(last[1], s[1])
			continue
		}
		out = append(out, s)
	}
	return out
}

func equalRunes(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wordBoundary keeps Latin matches to whole words ("port" does not light up
// "report"); CJK text has no spaces, so any position is a boundary there.
func wordBoundary(r []rune, start, end int) bool {
	if isCJKRune(r[start]) {
		return true
	}
	before := start == 0 || !isWordRune(r[start-1])
	after := end == len(r) || !isWordRune(r[end])
	return before && after
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) && !isCJKRune(r) || unicode.IsDigit(r) }

func isCJKRune(r rune) bool { return unicode.Is(unicode.Han, r) }
