package retrieval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// BenchmarkSearchAtScale builds a synthetic corpus of DEALDESK_BENCH_CHUNKS
// chunks (make bench: 1,000,000; skipped when unset), embedded with the
// offline embedder so the vectors have the structure of real text, then
// measures: HNSW build time and size, recall@10 of the index against exact
// search for several ef_search values, and p50/p99 of Search (vector and
// hybrid, unfiltered and with a 1%-selective filter). Figures go to the log
// and, as JSON, to DEALDESK_BENCH_OUT.
func BenchmarkSearchAtScale(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("DEALDESK_BENCH_CHUNKS"))
	if n <= 0 {
		b.Skip("set DEALDESK_BENCH_CHUNKS (make bench uses 1000000)")
	}
	ctx := context.Background()
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	report := map[string]any{"chunks": n}
	var db *storetest.DB
	var tenant uuid.UUID
	if reuse := os.Getenv("DEALDESK_BENCH_DB"); reuse != "" {
		// A corpus kept by an earlier run (DEALDESK_BENCH_KEEP=1): measure
		// other search settings without loading and indexing again.
		pool, err := store.Open(ctx, store.PoolConfig{URL: reuse})
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		db = &storetest.DB{Pool: pool, URL: reuse}
		tn, err := auth.NewService(pool).TenantBySlug(ctx, "bench")
		if err != nil {
			b.Fatalf("DEALDESK_BENCH_DB: %v", err)
		}
		tenant = tn.ID
		report["reused"] = true
	} else {
		var drop func() error
		var err error
		db, drop, err = storetest.Create("search_at_scale")
		if err != nil {
			b.Fatal(err)
		}
		if os.Getenv("DEALDESK_BENCH_KEEP") == "" {
			defer func() { _ = drop() }()
		} else {
			b.Logf("keeping the corpus database (DEALDESK_BENCH_DB=%s reuses it)", db.URL)
		}
		tenant = buildCorpus(b, ctx, db, emb, n, report)
	}

	r := rand.New(rand.NewPCG(99, 99))
	queries := make([]string, 200)
	for i := range queries {
		queries[i] = knowledgetest.Passage(r, 2)
	}
	scope := store.Scope{Tenant: tenant, Role: "admin"}
	rare := retrieval.Filters{Tags: []string{"rare"}}

	// Recall of the index against exact search, per ef_search.
	exact := map[string]truth{}
	exactRare := map[string]truth{}
	const truthQueries = 50 // each exact search scans every chunk
	for _, q := range queries[:truthQueries] {
		exact[q] = exactTop(b, ctx, db, tenant, emb, q, "")
		exactRare[q] = exactTop(b, ctx, db, tenant, emb, q, "rare")
	}
	type row struct {
		EfSearch  int     `json:"ef_search"`
		Filter    string  `json:"filter"`
		Mode      string  `json:"mode"`
		Recall10  float64 `json:"recall_at_10"`
		Strict10  float64 `json:"recall_at_10_by_id"`
		P50ms     float64 `json:"p50_ms"`
		P99ms     float64 `json:"p99_ms"`
		AvgHits   float64 `json:"avg_hits"`
		SearchFor string  `json:"-"`
	}
	var rows []row
	efs := []int{100, 200, 250, 300, 400}
	if v := os.Getenv("DEALDESK_BENCH_EF"); v != "" { // e.g. 200,400,800
		efs = nil
		for _, f := range strings.Split(v, ",") {
			ef, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || ef < 1 {
				b.Fatalf("DEALDESK_BENCH_EF=%q: want ef_search values separated by commas", v)
			}
			efs = append(efs, ef)
		}
	}
	// One untimed pass first, so that every row measures a warm index
	// rather than the first row paying for the cold cache.
	warm := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{EfSearch: efs[0], Candidates: 10})
	for _, q := range queries {
		if _, err := warm.Search(ctx, retrieval.Query{Text: q, Scope: scope, K: 10, Mode: retrieval.Vector}); err != nil {
			b.Fatal(err)
		}
	}
	for _, ef := range efs {
		s := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{EfSearch: ef, Candidates: 10})
		for _, filtered := range []bool{false, true} {
			f, truth, name := retrieval.Filters{}, exact, "none"
			if filtered {
				f, truth, name = rare, exactRare, "tag 1%"
			}
			var lat []time.Duration
			recall, strict, hits := 0.0, 0.0, 0
			for i, q := range queries {
				t0 := time.Now()
				res, err := s.Search(ctx, retrieval.Query{Text: q, Scope: scope, K: 10, Mode: retrieval.Vector, Filters: f})
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				hits += len(res.Hits)
				if i < truthQueries {
					recall += truth[q].recall(res.Hits)
					strict += truth[q].recallByID(res.Hits)
				}
			}
			p50, p99 := percentiles(lat)
			rows = append(rows, row{EfSearch: ef, Filter: name, Mode: "vector", Recall10: recall / truthQueries, Strict10: strict / truthQueries, P50ms: p50, P99ms: p99,
				AvgHits: float64(hits) / float64(len(queries))})
		}
	}
	// Hybrid at the default settings, then with either kind of plan forced
	// (the default picks by the table's size: Config.GenericPlanMaxChunks).
	for _, plans := range []struct {
		mode string
		max  int
	}{{"hybrid", 0}, {"hybrid/cust", -1}, {"hybrid/gen", math.MaxInt32}} {
		s := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{GenericPlanMaxChunks: plans.max})
		for _, filtered := range []bool{false, true} {
			f, name := retrieval.Filters{}, "none"
			if filtered {
				f, name = rare, "tag 1%"
			}
			p50, p99, hits := timeSearches(b, s, queries, func(q string) retrieval.Query {
				return retrieval.Query{Text: q, Scope: scope, K: 10, Filters: f}
			}, nil)
			rows = append(rows, row{EfSearch: retrieval.DefaultEfSearch, Filter: name, Mode: plans.mode, P50ms: p50, P99ms: p99, AvgHits: hits})
		}
	}
	// A rep's searches: the caller's scope (one region of five, a fifth of
	// the chunks) is applied by row-level security inside each arm, so the
	// vector arm's iterative scan passes over four rows for each it keeps.
	rep := store.Scope{Tenant: tenant, Role: "rep", Regions: []string{"jiangsu"}}
	for _, mode := range []retrieval.Mode{retrieval.Vector, retrieval.Hybrid} {
		s := retrieval.NewSearcher(db.Pool, emb, modeConfig(mode))
		p50, p99, hits := timeSearches(b, s, queries, func(q string) retrieval.Query {
			return retrieval.Query{Text: q, Scope: rep, K: 10, Mode: mode}
		}, func(res retrieval.Result) {
			for _, h := range res.Hits {
				if h.Region != "jiangsu" {
					b.Fatalf("a jiangsu rep's %s search returned a chunk of %q", mode, h.Region)
				}
			}
		})
		rows = append(rows, row{EfSearch: retrieval.DefaultEfSearch, Filter: repScope, Mode: string(mode), P50ms: p50, P99ms: p99, AvgHits: hits})
	}
	// A small tenant's searches, exact (the default at its size) and
	// through the HNSW index, where the scan passes over the big tenant's
	// vectors (about n·N/T index entries), on a quarter of the queries.
	if small, err := auth.NewService(db.Pool).TenantBySlug(ctx, smallTenant); err == nil {
		for _, exact := range []bool{true, false} {
			for _, mode := range []retrieval.Mode{retrieval.Vector, retrieval.Hybrid} {
				cfg := modeConfig(mode)
				want, name := retrieval.VectorExact, "small exact"
				if !exact {
					cfg.ExactMaxChunks, want, name = -1, retrieval.VectorHNSW, "small hnsw"
				}
				s := retrieval.NewSearcher(db.Pool, emb, cfg)
				p50, p99, hits := timeSearches(b, s, queries[:len(queries)/4], func(q string) retrieval.Query {
					return retrieval.Query{Text: q, Scope: store.Scope{Tenant: small.ID, Role: "admin"}, K: 10, Mode: mode}
				}, func(res retrieval.Result) {
					if res.VectorSearch != want {
						b.Fatalf("small tenant, %s: vector search %q, want %q", mode, res.VectorSearch, want)
					}
				})
				rows = append(rows, row{EfSearch: retrieval.DefaultEfSearch, Filter: name, Mode: string(mode), P50ms: p50, P99ms: p99, AvgHits: hits})
			}
		}
	} else {
		b.Logf("no %s tenant in this corpus: its rows are left out", smallTenant)
	}
	// The same searches through POST /v1/search on the real server: the
	// HTTP overhead against the in-process rows at the default settings.
	overHTTP, httpHits := httpSearches(b, ctx, db, tenant, queries)
	inProcess := map[retrieval.Mode]float64{}
	for _, x := range rows {
		if x.Filter == "none" && x.EfSearch == retrieval.DefaultEfSearch {
			inProcess[retrieval.Mode(x.Mode)] = x.P50ms
		}
	}
	for _, mode := range []retrieval.Mode{retrieval.Vector, retrieval.Hybrid} {
		p50, p99 := percentiles(overHTTP[mode])
		rows = append(rows, row{EfSearch: retrieval.DefaultEfSearch, Filter: "none", Mode: "http " + string(mode), P50ms: p50, P99ms: p99,
			AvgHits: float64(httpHits[mode]) / float64(len(queries))})
		if in := inProcess[mode]; in > 0 {
			report["http_over_in_process_p50_"+string(mode)] = p50 / in
		}
	}
	var out strings.Builder
	// recall@10 counts a hit whose distance is within the 10th true
	// neighbour's (ann-benchmarks' definition: generated passages repeat,
	// so many chunks tie at the same distance and any of them is a right
	// answer); "by id" is the overlap with one exact top 10.
	fmt.Fprintf(&out, "\n%-11s %-5s %-11s %10s %10s %8s %8s %8s\n", "mode", "ef", "filter", "recall@10", "(by id)", "p50 ms", "p99 ms", "hits")
	for _, x := range rows {
		rec, strict := fmt.Sprintf("%.3f", x.Recall10), fmt.Sprintf("%.3f", x.Strict10)
		if x.Mode != "vector" || x.Filter == repScope || strings.HasPrefix(x.Filter, "small") {
			rec, strict = "-", "-"
		}
		fmt.Fprintf(&out, "%-11s %-5d %-11s %10s %10s %8.2f %8.2f %8.1f\n", x.Mode, x.EfSearch, x.Filter, rec, strict, x.P50ms, x.P99ms, x.AvgHits)
	}
	b.Log(out.String())
	report["searches"] = rows
	if path := os.Getenv("DEALDESK_BENCH_OUT"); path != "" {
		j, _ := json.MarshalIndent(report, "", "  ")
		_ = os.WriteFile(path, j, 0o644)
	}
}

// modeConfig is the searcher's configuration for a row of mode: vector rows
// keep 10 candidates, as k (the rows per ef_search above do the same).
func modeConfig(mode retrieval.Mode) retrieval.Config {
	if mode == retrieval.Vector {
		return retrieval.Config{Candidates: 10}
	}
	return retrieval.Config{}
}

// timeSearches runs one search per query, built by query, and returns the
// p50 and p99 latency and the mean number of hits; check, when not nil,
// sees every result.
func timeSearches(b *testing.B, s *retrieval.Searcher, queries []string, query func(string) retrieval.Query, check func(retrieval.Result)) (p50, p99, hits float64) {
	b.Helper()
	lat := make([]time.Duration, 0, len(queries))
	n := 0
	for _, q := range queries {
		t0 := time.Now()
		res, err := s.Search(context.Background(), query(q))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		n += len(res.Hits)
		if check != nil {
			check(res)
		}
	}
	p50, p99 = percentiles(lat)
	return p50, p99, float64(n) / float64(len(queries))
}

// smallTenant holds smallTenantChunks chunks in the benchmark's table.
const (
	smallTenant       = "bench-small"
	smallTenantChunks = 1000
)

// repScope names the rows searched as a rep of one region (no recall: the
// exact neighbours are computed for the whole tenant).
const repScope = "rep 20%"

// buildCorpus creates the bench tenant, loads n synthetic chunks and builds
// the HNSW index, recording the times and sizes in report.
func buildCorpus(b *testing.B, ctx context.Context, db *storetest.DB, emb *providers.OfflineEmbedder, n int, report map[string]any) uuid.UUID {
	tn, err := auth.NewService(db.Pool).CreateTenant(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := loadSynthetic(ctx, db, tn.ID, emb, n); err != nil {
		b.Fatal(err)
	}
	// A small tenant in the same table (smallTenantChunks), whose searches
	// the big tenant's vectors surround in the index.
	small, err := auth.NewService(db.Pool).CreateTenant(ctx, smallTenant, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := loadSynthetic(ctx, db, small.ID, emb, smallTenantChunks); err != nil {
		b.Fatal(err)
	}
	report["load_seconds"] = time.Since(start).Seconds()
	start = time.Now()
	// DEALDESK_BENCH_HNSW=m,ef_construction measures other build parameters.
	params := knowledge.DefaultIndexParams
	if v := os.Getenv("DEALDESK_BENCH_HNSW"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d", &params.M, &params.EfConstruction); err != nil {
			b.Fatalf("DEALDESK_BENCH_HNSW=%q: want m,ef_construction", v)
		}
	}
	report["hnsw_m"], report["hnsw_ef_construction"] = params.M, params.EfConstruction
	if _, err := knowledge.RebuildVectorIndex(ctx, db.Pool, params); err != nil {
		b.Fatal(err)
	}
	report["index_build_seconds"] = time.Since(start).Seconds()
	var indexSize, tableSize int64
	if err := db.Pool.QueryRow(ctx, `SELECT pg_relation_size('chunks_embedding'), pg_total_relation_size('chunks')`).Scan(&indexSize, &tableSize); err != nil {
		b.Fatal(err)
	}
	report["index_mb"], report["table_total_mb"] = indexSize>>20, tableSize>>20
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE chunks`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d chunks in %.0fs, HNSW built in %.0fs (%d MB; table with indexes %d MB)",
		n, report["load_seconds"], report["index_build_seconds"], indexSize>>20, tableSize>>20)
	return tn.ID
}

func percentiles(lat []time.Duration) (p50, p99 float64) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])
}

// truth is an exact top 10: ids and cosine distances, nearest first.
type truth struct {
	ids   []int64
	dists []float64
}

// recall counts the hits no farther than the 10th true neighbour (with a
// float tolerance), so that a chunk tied with it counts as found.
func (t truth) recall(hits []retrieval.Hit) float64 {
	if len(t.ids) == 0 {
		return 1
	}
	limit := t.dists[len(t.dists)-1] + 1e-6
	n := 0
	for _, h := range hits {
		if h.Scores.Vector != nil && 1-*h.Scores.Vector <= limit {
			n++
		}
	}
	return float64(min(n, len(t.ids))) / float64(len(t.ids))
}

// recallByID is the overlap of the hits with the exact top 10's ids.
func (t truth) recallByID(hits []retrieval.Hit) float64 {
	n := 0
	for _, h := range hits {
		if slices.Contains(t.ids, h.ChunkID) {
			n++
		}
	}
	return float64(n) / float64(max(1, len(t.ids)))
}

// exactTop is the true top 10 by cosine distance, by a sequential scan.
func exactTop(b *testing.B, ctx context.Context, db *storetest.DB, tenant uuid.UUID, emb *providers.OfflineEmbedder, q, tag string) truth {
	v, err := emb.EmbedQuery(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	var t truth
	err = store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, embedding <=> $1 FROM chunks WHERE ($2 = '' OR tags && ARRAY[$2]) ORDER BY 2 LIMIT 10`, pgvector.NewVector(v), tag)
		if err != nil {
			return err
		}
		var id int64
		var d float64
		_, err = pgx.ForEachRow(rows, []any{&id, &d}, func() error {
			t.ids, t.dists = append(t.ids, id), append(t.dists, d)
			return nil
		})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// loadSynthetic writes n chunks of generated passages in 1,000 documents,
// every hundredth chunk tagged "rare", by COPY, without the vector index.
func loadSynthetic(ctx context.Context, db *storetest.DB, tenant uuid.UUID, emb *providers.OfflineEmbedder, n int) error {
	if _, err := db.Pool.Exec(ctx, `DROP INDEX IF EXISTS chunks_embedding`); err != nil {
		return err
	}
	docs := make([]uuid.UUID, 1000)
	regions := []string{"jiangsu", "zhejiang", "guangdong", "sichuan", "beijing"}
	err := store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
		for i := range docs {
			docs[i] = uuid.New()
			if _, err := tx.Exec(ctx, `INSERT INTO documents (id, tenant_id, kind, title, source, region, content_hash)
				VALUES ($1, $2, 'tender', $3, $4, $5, 'x')`, docs[i], tenant, fmt.Sprintf("合成文档 %d", i), fmt.Sprintf("synthetic/%d.md", i), regions[i%5]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	const batch = 20000
	type prepared struct{ text, lex string }
	for from := 0; from < n; from += batch {
		size := min(batch, n-from)
		items := make([]prepared, size)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(from), uint64(w)))
				for i := w; i < size; i += workers {
					items[i].text = knowledgetest.Passage(r, 3)
					items[i].lex = lang.SegmentedText(items[i].text)
				}
			}()
		}
		wg.Wait()
		texts := make([]string, size)
		for i := range items {
			texts[i] = items[i].text
		}
		vecs, err := emb.EmbedDocuments(ctx, texts)
		if err != nil {
			return err
		}
		err = store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage (doc uuid, ord int, text text, tags text[], emb vector, lex text) ON COMMIT DROP`); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"stage"}, []string{"doc", "ord", "text", "tags", "emb", "lex"},
				pgx.CopyFromSlice(size, func(i int) ([]any, error) {
					id := from + i
					tags := []string{}
					if id%100 == 0 {
						tags = []string{"rare"}
					}
					return []any{docs[id%len(docs)], id / len(docs), items[i].text, tags, pgvector.NewVector(vecs[i]), items[i].lex}, nil
				}))
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO chunks (tenant_id, document_id, ordinal, text, token_count, kind, region, tags, embedding, lex, lex_positions)
				SELECT $1, s.doc, s.ord, s.text, 60, 'tender', d.region, s.tags, s.emb, t.lex, dealdesk_lex_positions(t.lex)
				FROM stage s CROSS JOIN LATERAL (SELECT to_tsvector('`+knowledge.TextSearchConfig+`', s.lex) AS lex OFFSET 0) t JOIN documents d ON d.id = s.doc`, tenant)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
