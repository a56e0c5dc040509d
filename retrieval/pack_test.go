package retrieval

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/lang"
)

func TestPackMergesNeighboursAndKeepsBudget(t *testing.T) {
	doc, other := uuid.New(), uuid.New()
	hit := func(d uuid.UUID, ord int, text string, overlap int, score float64) Hit {
		return Hit{DocumentID: d, Ordinal: ord, SourceID: d.String() + "#" + string(rune('0'+ord)), Title: "T", Text: text,
			TokenCount: lang.CountTokens(text), overlap: overlap, Score: score}
	}
	first := "预算为 880 万元。决策人是王总。"
	second := "决策人是王总。下周安排技术交流。"
	hits := []Hit{
		hit(doc, 4, second, len("决策人是王总。"), 0.9),
		hit(other, 0, "Competitor notes.", 0, 0.8),
		hit(doc, 3, first, 0, 0.7),
	}
	got := Pack(hits, 1000)
	if len(got) != 2 {
		t.Fatalf("Pack = %d sources, want 2 (neighbours merged)", len(got))
	}
	if got[0].Label != "S1" || got[0].Text != first+"\n下周安排技术交流。" || len(got[0].SourceIDs) != 2 {
		t.Fatalf("merged source = %+v", got[0])
	}
	if strings.Count(got[0].Text, "决策人是王总") != 1 {
		t.Fatalf("overlap repeated: %q", got[0].Text)
	}
	// The merged source's tokens: both chunks' counts less the overlap's,
	// within a token or two of counting the merged text (BPE merges across
	// the seam).
	if want := hits[2].TokenCount + hits[0].TokenCount - lang.CountTokens("决策人是王总。"); got[0].Tokens != want {
		t.Fatalf("merged source has %d tokens, want %d", got[0].Tokens, want)
	}
	if n := lang.CountTokens(got[0].Text); got[0].Tokens < n-2 || got[0].Tokens > n+2 {
		t.Fatalf("merged source has %d tokens, its text %d", got[0].Tokens, n)
	}
	// A budget that fits only the first hit and its header.
	tight := Pack(hits, hits[0].TokenCount+headerTokens(hits[0]))
	if len(tight) != 1 || len(tight[0].SourceIDs) != 1 {
		t.Fatalf("tight budget packed %+v", tight)
	}
	if Pack(nil, 100) == nil || len(Pack(hits, 0)) != 0 {
		t.Fatal("empty packs")
	}
}

func TestSnippetHighlights(t *testing.T) {
	text := strings.Repeat("无关内容。", 80) + "客户确认蓝鲸计划预算为 880 万元，report on the Budget." + strings.Repeat("其他内容。", 80)
	s, spans := snippet(text, []string{"蓝鲸计划", "budget", "port"}, 60)
	if !strings.HasPrefix(s, "…") || !strings.HasSuffix(s, "…") {
		t.Fatalf("snippet not cut around the match: %q", s)
	}
	r := []rune(s)
	var got []string
	for _, sp := range spans {
		got = append(got, string(r[sp[0]:sp[1]]))
	}
	if strings.Join(got, ",") != "蓝鲸计划,Budget" {
		t.Fatalf("highlights = %q (\"port\" inside \"report\" must not count)", got)
	}
}
