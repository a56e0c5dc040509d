package retrieval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dealdesk/dealdesk/internal/textcache"
	"github.com/dealdesk/dealdesk/lang"
)

// Source is one numbered piece of context for a prompt: one or more
// neighbouring chunks of a document, with the hits it came from.
type Source struct {
	// Label is what the prompt and the answer cite: S1, S2, ...
	Label      string `json:"label"`
	DocumentID string `json:"document_id"`
	Title      string `json:"title"`
	Source     string `json:"source"`
	Kind       string `json:"kind"`
	Region     string `json:"region"`
	// SourceIDs are the chunks merged into this source, in document order.
	SourceIDs   []string `json:"source_ids"`
	HeadingPath []string `json:"heading_path"`
	Text        string   `json:"text"`
	Tokens      int      `json:"tokens"`
	Score       float64  `json:"score"`
}

// Pack fits the best hits into budget tokens of context. Hits are taken in
// rank order; a hit adjacent to one already packed from the same document
// is merged into that source (so the model reads continuous text, without
// the overlap repeated); a hit that does not fit is skipped in favour of
// smaller ones further down. Sources are labelled S1.. in rank order.
func Pack(hits []Hit, budget int) []Source {
	if budget <= 0 {
		return []Source{}
	}
	type group struct {
		src  Source
		ords []int
		hits []Hit
	}
	var groups []*group
	used := 0
	for _, h := range hits {
		var g *group
		for _, cand := range groups {
			if cand.src.DocumentID == h.DocumentID.String() &&
				(slices.Contains(cand.ords, h.Ordinal-1) || slices.Contains(cand.ords, h.Ordinal+1)) {
				g = cand
				break
			}
		}
		cost := h.TokenCount
		if g == nil {
			cost += headerTokens(h)
		}
		if used+cost > budget {
			continue
		}
		used += cost
		if g == nil {
			g = &group{src: Source{DocumentID: h.DocumentID.String(), Title: h.Title, Source: h.Source, Kind: h.Kind,
				Region: h.Region, HeadingPath: h.HeadingPath, Score: h.Score}}
			groups = append(groups, g)
		}
		g.ords = append(g.ords, h.Ordinal)
		g.hits = append(g.hits, h)
	}
	out := make([]Source, len(groups))
	for i, g := range groups {
		slices.SortFunc(g.hits, func(a, b Hit) int { return a.Ordinal - b.Ordinal })
		var b strings.Builder
		tokens := 0
		for j, h := range g.hits {
			text := h.Text
			tokens += h.TokenCount
			if j > 0 && g.hits[j-1].Ordinal == h.Ordinal-1 && h.overlap <= len(text) {
				// The text repeated from the previous chunk is dropped,
				// and so are its tokens.
				tokens -= lang.CountTokens(text[:h.overlap])
				text = strings.TrimLeft(text[h.overlap:], " \n")
			}
			if j > 0 {
				b.WriteString("\n")
			}
			b.WriteString(text)
			g.src.SourceIDs = append(g.src.SourceIDs, h.SourceID)
		}
		g.src.HeadingPath = g.hits[0].HeadingPath
		g.src.Label = fmt.Sprintf("S%d", i+1)
		g.src.Text = b.String()
		// The chunks' stored counts less their dropped overlaps: counting
		// the merged text again would cost more than the rest of Pack.
		g.src.Tokens = max(tokens, 1)
		out[i] = g.src
	}
	return out
}

// headerTokens is what a source's header costs in the budget: its title
// and heading path, and the fence and attributes around them.
func headerTokens(h Hit) int {
	return headerCounts.Memo(h.Title+strings.Join(h.HeadingPath, " > "), lang.CountTokens) + 12
}

// headerCounts holds the token counts of recent headers: the same
// documents' titles come back search after search.
var headerCounts = textcache.New[int](4096)
