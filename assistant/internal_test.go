package assistant

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/retrieval"
)

// FuzzStreamUnmasker: however a masked answer is cut into streamed pieces,
// the pieces the caller gets join into the unmasked answer.
func FuzzStreamUnmasker(f *testing.F) {
	f.Add("请致电 13812345678 或发邮件到 wang@example.com，身份证 110101199003074514。", 3)
	f.Add("⟦ not a placeholder ⟦PHONE", 1)
	f.Add("plain text", 5)
	f.Fuzz(func(t *testing.T, text string, step int) {
		if !utf8.ValidString(text) || step < 1 || step > 64 {
			t.Skip()
		}
		m := &trust.Masker{}
		masked := m.Mask(text)
		var got strings.Builder
		s := &streamUnmasker{masker: m, emit: func(p string) error { got.WriteString(p); return nil }}
		for i := 0; i < len(masked); i += step {
			if err := s.write(masked[i:min(i+step, len(masked))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.flush(); err != nil {
			t.Fatal(err)
		}
		if got.String() != m.Unmask(masked) || got.String() != text {
			t.Fatalf("streamed %q, want %q (masked %q)", got.String(), text, masked)
		}
	})
}

func TestVerifierRemovesUnknownCitations(t *testing.T) {
	v := &verifier{known: []string{"S1", "S2", "T1"}, doc: squash("王总：这个项目要等财政拨款。\n周宁：好的。")}
	out := v.walk(map[string]any{
		"points": []any{
			map[string]any{"point": "合同后第 100 天上线 [S1][S7]", "citations": []any{"S1", "S7"}},
			map[string]any{"point": "没有出处的说法", "citations": []any{"S9"}},
		},
		"rationale": "预算 610 万 [S2]。审批在 2 月完成，共 3 轮。",
		"span":      "这个项目要等财政拨款。",
		"other":     map[string]any{"span": "编造的引文"},
	}, "").(map[string]any)
	if !slices.Equal(v.cited, []string{"S1", "S2"}) || !slices.Equal(v.unknown, []string{"S7", "S9"}) {
		t.Fatalf("cited %v unknown %v", v.cited, v.unknown)
	}
	points := out["points"].([]any)
	first := points[0].(map[string]any)
	if first["point"] != "合同后第 100 天上线 [S1]" || !slices.Equal(first["citations"].([]any), []any{"S1"}) {
		t.Fatalf("first point: %v", first)
	}
	if len(points[1].(map[string]any)["citations"].([]any)) != 0 {
		t.Fatalf("second point keeps an unknown citation: %v", points[1])
	}
	var paths []string
	for _, u := range v.uncited {
		paths = append(paths, u.Path)
	}
	if !slices.Contains(paths, "/points/1") || !slices.Contains(paths, "/rationale") {
		t.Fatalf("uncited: %+v", v.uncited)
	}
	if !slices.Equal(v.spans, []string{"/other/span"}) {
		t.Fatalf("spans not found: %v", v.spans)
	}
}

func TestRequirementLinesPickMarkedAndQuantified(t *testing.T) {
	tender := "一、项目概况\n本项目为数据平台建设。\n★1. API 网关峰值吞吐不低于 10000 TPS。\n2. 界面美观。\n▲3. 资源目录支持不少于 100000 条。\n4. 响应时间 ≤ 200 ms。"
	got := requirementLines(tender, 2)
	if len(got) != 2 || !strings.Contains(got[0], "★") && !strings.Contains(got[0], "▲") {
		t.Fatalf("lines: %q", got)
	}
	if all := requirementLines(tender, 10); len(all) != 3 {
		t.Fatalf("all lines: %q", all)
	}
}

func TestMergeKeepsRankOrderAcrossSearches(t *testing.T) {
	hit := func(id string) retrieval.Hit { return retrieval.Hit{SourceID: id} }
	got := mergeHits([]retrieval.Result{
		{Hits: []retrieval.Hit{hit("a"), hit("b"), hit("c")}},
		{Hits: []retrieval.Hit{hit("b"), hit("d")}},
	})
	var ids []string
	for _, h := range got {
		ids = append(ids, h.SourceID)
	}
	if !slices.Equal(ids, []string{"a", "b", "d", "c"}) {
		t.Fatalf("merged %v", ids)
	}
}
