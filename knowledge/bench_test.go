package knowledge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tmc/langchaingo/schema"
	lcpgvector "github.com/tmc/langchaingo/vectorstores/pgvector"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// BenchmarkIngestThroughput ingests a synthetic corpus of about 20,000
// chunks end to end (parse, chunk, embed with the offline embedder,
// segment, COPY, build tsvectors, maintain the HNSW index) and, in the same
// run on the same Postgres, stores the same chunk texts with the same
// embedder through langchaingo's vectorstores/pgvector AddDocuments.
func BenchmarkIngestThroughput(b *testing.B) {
	docs, per := 520, 40
	if testing.Short() {
		docs = 50
	}
	fsys := knowledgetest.SyntheticCorpus(docs, per, 1)
	files, err := knowledge.FilesIn(fsys)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	embedder := providers.NewOfflineEmbedder(storetest.EmbedDim)
	chunker := knowledge.Chunker{}

	// The same chunk texts for the baseline.
	var texts []string
	for _, f := range files {
		p, err := knowledge.Load(ctx, f.Path, strings.NewReader(string(fsys[f.Path].Data)), int64(len(fsys[f.Path].Data)))
		if err != nil {
			b.Fatal(err)
		}
		m, err := knowledge.ResolveMetadata(f.Path, p, knowledge.Metadata{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range chunker.Chunk(p) {
			texts = append(texts, c.Contextual(m.Title))
		}
	}
	b.Logf("corpus: %d documents, %d chunks", len(files), len(texts))

	var ours, oursBulk, base, baseHNSW float64
	ingest := func(b *testing.B, bulk bool) float64 {
		db := storetest.New(b)
		t, err := auth.NewService(db.Pool).CreateTenant(ctx, "bench", "")
		if err != nil {
			b.Fatal(err)
		}
		st := knowledge.NewStore(db.Pool, embedder, knowledge.StoreOptions{Chunker: chunker})
		start := time.Now()
		var sum knowledge.Summary
		load := func() error { sum = st.IngestFiles(ctx, t.ID, files, 2, nil); return nil }
		if bulk {
			rebuild, err := st.BulkLoad(ctx, load)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("bulk load: index rebuilt in %s", rebuild.Round(time.Millisecond))
		} else {
			load()
		}
		if sum.Failed > 0 || sum.Chunks != len(texts) {
			b.Fatalf("ingest: %+v, want %d chunks", sum, len(texts))
		}
		return float64(sum.Chunks) / time.Since(start).Seconds()
	}
	b.Run("dealdesk", func(b *testing.B) {
		for b.Loop() {
			ours = ingest(b, false)
		}
		b.ReportMetric(ours, "chunks/s")
	})
	b.Run("dealdesk-bulk", func(b *testing.B) {
		for b.Loop() {
			oursBulk = ingest(b, true)
		}
		b.ReportMetric(oursBulk, "chunks/s")
	})
	baseline := func(hnsw bool) float64 {
		db := storetest.New(b)
		opts := []lcpgvector.Option{lcpgvector.WithConnectionURL(db.URL), lcpgvector.WithEmbedder(embedder),
			lcpgvector.WithVectorDimensions(storetest.EmbedDim), lcpgvector.WithCollectionName("bench")}
		if hnsw {
			opts = append(opts, lcpgvector.WithHNSWIndex(knowledge.DefaultIndexParams.M, knowledge.DefaultIndexParams.EfConstruction, "vector_cosine_ops"))
		}
		vs, err := lcpgvector.New(ctx, opts...)
		if err != nil {
			b.Fatal(err)
		}
		defer vs.Close()
		start := time.Now()
		// One AddDocuments call per source document, as an application
		// ingesting files would make.
		for i := 0; i < len(texts); i += per {
			batch := make([]schema.Document, 0, per)
			for _, t := range texts[i:min(len(texts), i+per)] {
				batch = append(batch, schema.Document{PageContent: t, Metadata: map[string]any{"kind": "tender"}})
			}
			if _, err := vs.AddDocuments(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		return float64(len(texts)) / time.Since(start).Seconds()
	}
	b.Run("langchaingo-pgvector", func(b *testing.B) {
		for b.Loop() {
			base = baseline(false)
		}
		b.ReportMetric(base, "chunks/s")
	})
	b.Run("langchaingo-pgvector-hnsw", func(b *testing.B) {
		for b.Loop() {
			baseHNSW = baseline(true)
		}
		b.ReportMetric(baseHNSW, "chunks/s")
	})
	b.Logf("ingest throughput (%d chunks): dealdesk live index %.0f chunks/s, bulk (COPY, index built after) %.0f chunks/s; "+
		"langchaingo AddDocuments without index %.0f chunks/s, with HNSW %.0f chunks/s; "+
		"ratios: live/lc-hnsw %.1fx, bulk/lc-hnsw %.1fx, bulk/lc-noindex %.1fx",
		len(texts), ours, oursBulk, base, baseHNSW, ours/baseHNSW, oursBulk/baseHNSW, oursBulk/base)
}
