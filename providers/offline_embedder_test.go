package providers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/lang"
)

func cosine(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

func norm(v []float32) float64 { return math.Sqrt(cosine(v, v)) }

func TestOfflineEmbedderVectors(t *testing.T) {
	texts := map[string]string{
		"english":     "The customer asked for a discount on the annual license renewal.",
		"chinese":     "政务云项目需要满足等保三级要求，并支持信创国产化适配。",
		"mixed":       "华为 OceanStor 存储的报价 is due on 2024-06-30.",
		"single word": "pricing",
		"empty":       "",
		"punctuation": "。，！？…  ---",
	}
	for _, dim := range []int{8, 384, 1536} {
		e := NewOfflineEmbedder(dim)
		for name, text := range texts {
			t.Run(fmt.Sprintf("%s/%d", name, dim), func(t *testing.T) {
				v, err := e.EmbedQuery(t.Context(), text)
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != dim {
					t.Fatalf("len = %d, want %d", len(v), dim)
				}
				if n := norm(v); math.Abs(n-1) > 1e-5 {
					t.Errorf("norm = %f, want 1 (cosine distance needs unit vectors)", n)
				}
				again, _ := NewOfflineEmbedder(dim).EmbedQuery(t.Context(), text)
				if !slices.Equal(v, again) {
					t.Error("same text embedded twice gave different vectors")
				}
			})
		}
	}
}

func TestOfflineEmbedderDefaultDim(t *testing.T) {
	if got := NewOfflineEmbedder(0).Dim(); got != DefaultEmbedDim {
		t.Errorf("Dim() = %d, want %d", got, DefaultEmbedDim)
	}
}

func TestOfflineEmbedderFeaturelessTexts(t *testing.T) {
	e := NewOfflineEmbedder(384)
	empty, _ := e.EmbedQuery(t.Context(), "")
	punct, _ := e.EmbedQuery(t.Context(), " 。，！ ")
	word, _ := e.EmbedQuery(t.Context(), "renewal")
	if !slices.Equal(empty, punct) {
		t.Error("texts without features should share one fixed vector")
	}
	if c := cosine(empty, word); math.Abs(c) > 0.2 {
		t.Errorf("cosine(empty, word) = %.3f, want near 0", c)
	}
}

func TestOfflineEmbedderRelatedTextsScoreHigher(t *testing.T) {
	tests := []struct {
		name, anchor, related, unrelated string
	}{
		{
			name:      "english pricing",
			anchor:    "The customer asked for a discount on the annual license renewal price.",
			related:   "Renewal pricing: annual licenses can be discounted by 15% for a three-year term.",
			unrelated: "Our engineers deployed the monitoring agent on Kubernetes clusters last week.",
		},
		{
			name:      "english morphology",
			anchor:    "How do we deploy on premises?",
			related:   "On-premises deployment takes two weeks with our installer.",
			unrelated: "The tender deadline for the hospital project is 30 June.",
		},
		{
			name:      "chinese compliance",
			anchor:    "政务云项目需要满足等保三级要求，并支持信创国产化适配。",
			related:   "该招标文件要求投标方的政务云平台通过等保三级测评，兼容麒麟和统信操作系统。",
			unrelated: "我们的销售团队上周在深圳举办了客户答谢会，现场气氛热烈。",
		},
		{
			name:      "chinese budget",
			anchor:    "客户的预算来源是财政拨款还是专项债？",
			related:   "本项目预算来自市级财政拨款，另有部分专项债资金。",
			unrelated: "竞争对手的产品在高并发场景下性能不稳定。",
		},
		{
			name:      "mixed language query",
			anchor:    "OceanStor 存储 报价",
			related:   "华为 OceanStor 存储设备的报价为每台 12 万元。",
			unrelated: "The kickoff meeting is scheduled for Monday morning.",
		},
	}
	e := NewOfflineEmbedder(384)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := e.EmbedDocuments(t.Context(), []string{tt.anchor, tt.related, tt.unrelated})
			if err != nil {
				t.Fatal(err)
			}
			rel, unrel := cosine(vs[0], vs[1]), cosine(vs[0], vs[2])
			if rel < unrel+0.1 {
				t.Errorf("cosine(related) = %.3f, cosine(unrelated) = %.3f; want related clearly higher", rel, unrel)
			}
		})
	}
}

func TestOfflineEmbedderBatchMatchesQueries(t *testing.T) {
	e := NewOfflineEmbedder(128)
	texts := make([]string, 150) // enough to run on several workers
	for i := range texts {
		texts[i] = fmt.Sprintf("第%d号合同 renewal %d 的付款条件与交付周期", i, i*7)
	}
	batch, err := e.EmbedDocuments(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, _ := e.EmbedQuery(t.Context(), text)
		if !slices.Equal(batch[i], one) {
			t.Fatalf("vector %d differs between EmbedDocuments and EmbedQuery", i)
		}
	}
	batch[0] = append(batch[0], 1)
	if again, _ := e.EmbedQuery(t.Context(), texts[1]); !slices.Equal(batch[1], again) {
		t.Error("appending to one vector overwrote the next")
	}
}

func TestOfflineEmbedderHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := NewOfflineEmbedder(16)
	if _, err := e.EmbedQuery(ctx, "x"); err == nil {
		t.Error("EmbedQuery on a cancelled context succeeded")
	}
	if _, err := e.EmbedDocuments(ctx, make([]string, 100)); err == nil {
		t.Error("EmbedDocuments on a cancelled context succeeded")
	}
}

// benchChunks returns n distinct chunks of about 300 tokens, half Chinese
// and half English, like ingested sales documents.
func benchChunks(n int) []string {
	zh := []string{"政务云", "等保三级", "信创", "国产化", "招标文件", "技术参数", "评分标准", "预算", "财政拨款",
		"客户", "项目", "交付", "运维", "数据安全", "采购", "合同", "付款", "验收", "服务器", "存储"}
	en := []string{"customer", "renewal", "discount", "license", "deployment", "pricing", "tender", "security",
		"integration", "support", "contract", "payment", "storage", "cluster", "migration", "budget", "timeline"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for j := 0; lang.CountTokens(b.String()) < 300; j++ {
			k := i*31 + j*7
			if j%2 == 0 {
				fmt.Fprintf(&b, "本次%s项目要求%s满足%s，并在%d天内完成%s。", zh[k%len(zh)], zh[(k+3)%len(zh)], zh[(k+5)%len(zh)], 30+k%60, zh[(k+9)%len(zh)])
			} else {
				fmt.Fprintf(&b, "The %s asked about %s and %s for the %s in Q%d. ", en[k%len(en)], en[(k+2)%len(en)], en[(k+5)%len(en)], en[(k+7)%len(en)], 1+k%4)
			}
		}
		out[i] = b.String()
	}
	return out
}

func BenchmarkOfflineEmbedder(b *testing.B) {
	// More distinct chunks than lang's segmentation cache holds, so that
	// every call segments for real, as ingestion of new text does.
	chunks := benchChunks(8192)
	e := NewOfflineEmbedder(DefaultEmbedDim)
	ctx := context.Background()
	lang.Warm()

	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.EmbedQuery(ctx, chunks[i%len(chunks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("documents", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.EmbedDocuments(ctx, chunks); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(chunks)), "ns/chunk")
	})
	b.Run("segmentation only", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lang.Words(chunks[i%len(chunks)])
			i++
		}
	})
}
