package trust

import (
	"reflect"
	"testing"
)

func TestVerifyCitations(t *testing.T) {
	known := []string{"S1", "S2", "S3"}
	tests := []struct {
		name  string
		text  string
		known []string
		want  CitationReport
	}{
		{
			name: "every claim cited",
			text: "预算为480万元[S1]。主要竞争对手是华为公司[S2]。",
			want: CitationReport{Cited: []string{"S1", "S2"}, Valid: true},
		},
		{
			name: "hallucinated source",
			text: "The budget is ¥4.86M [S1][S7]. Delivery is due in 90 days [S9].",
			want: CitationReport{Cited: []string{"S1"}, Unknown: []string{"S7", "S9"}, Uncited: []string{"Delivery is due in 90 days [S9]."}},
		},
		{
			name: "lists, full-width brackets, separators, ranges, case and zeros",
			text: "A 2025 plan [S3, S1]. B 2026 plan 【S2】. C 30% off ［S1］. D 4 lots [S1-S3]. E 5 sites [s01]. F 6 bids [S2 S3]. G 7 [S1、S2]. H 8 [S1; S2].",
			want: CitationReport{Cited: []string{"S3", "S1", "S2"}, Valid: true},
		},
		{
			name: "range into unknown sources",
			text: "四个标段[S2–S5]。",
			want: CitationReport{Cited: []string{"S2", "S3"}, Unknown: []string{"S4", "S5"}},
		},
		{
			name: "not citation markers",
			text: "Galaxy (S1) phones, footnote [1], [see S1], [S1a], [S], array[S12x].",
			want: CitationReport{Valid: true, Uncited: []string{"Galaxy (S1) phones, footnote [1], [see S1], [S1a], [S], array[S12x]."}},
		},
		{
			name:  "custom labels",
			text:  "Budget approved in 2025 [T-9, doc2].",
			known: []string{"T-9", "DOC2"},
			want:  CitationReport{Cited: []string{"T-9", "DOC2"}, Valid: true},
		},
		{
			name: "marker after the full stop belongs to the sentence before",
			text: "预算480万元。[S1]\n交付期90天。 [S2]下一步安排拜访。",
			want: CitationReport{Cited: []string{"S1", "S2"}, Valid: true},
		},
		{
			name: "uncited claims, and what is not a claim",
			text: "## 2025 年重点\n以下是要点：\n1. 预算来源明确\n- 项目预算 480 万元，4 月挂网\n- 深圳市数据局牵头\n请联系王总⟦PHONE_1⟧确认。\n" +
				"Our team will follow up with the procurement office next week to confirm the evaluation approach.\n如有疑问，请随时联系。",
			want: CitationReport{Valid: true, Uncited: []string{
				"- 项目预算 480 万元，4 月挂网",
				"Our team will follow up with the procurement office next week to confirm the evaluation approach.",
			}},
		},
		{
			name: "a claim citing only an unknown source is uncited",
			text: "竞争对手报价 460 万元[S8]。",
			want: CitationReport{Unknown: []string{"S8"}, Uncited: []string{"竞争对手报价 460 万元[S8]。"}},
		},
		{name: "empty", text: "", want: CitationReport{Valid: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.known
			if k == nil {
				k = known
			}
			if got := VerifyCitations(tt.text, k); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("VerifyCitations(%q) =\n%#v\nwant\n%#v", tt.text, got, tt.want)
			}
		})
	}
}

func TestStripUnknownCitations(t *testing.T) {
	known := []string{"S1", "S2", "S3"}
	tests := []struct{ text, want string }{
		{"预算480万元 [S9]。", "预算480万元。"},
		{"预算480万元[S9]。", "预算480万元。"},
		{"Budget [S1, S9].", "Budget [S1]."},
		{"预算【S1，S9，S2】。", "预算【S1，S2】。"},
		{"Lots [S1-S5].", "Lots [S1, S2, S3]."},
		{"Kept as written [s1] [S2,S3].", "Kept as written [s1] [S2,S3]."},
		{"A [S1][S9][S2]", "A [S1][S2]"},
		{"[S7] leading", " leading"},
		{"no markers (S9) [9]", "no markers (S9) [9]"},
	}
	for _, tt := range tests {
		if got := StripUnknownCitations(tt.text, known); got != tt.want {
			t.Errorf("StripUnknownCitations(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if rep := VerifyCitations(StripUnknownCitations(tt.text, known), known); !rep.Valid {
			t.Errorf("after stripping %q, unknown citations remain: %v", tt.text, rep.Unknown)
		}
	}
}
