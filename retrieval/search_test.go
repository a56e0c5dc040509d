package retrieval_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// scoped is a small corpus laid out to catch leaks: the same secret phrase
// in documents of two regions, a manager-only document, and a second tenant.
type scoped struct {
	s          *retrieval.Searcher
	hnsw       *retrieval.Searcher // always through the HNSW index
	a, b       uuid.UUID
	docs       map[string]uuid.UUID
	secretWord string
}

func newScoped(t *testing.T) *scoped {
	t.Helper()
	db := storetest.New(t)
	ctx := context.Background()
	svc := auth.NewService(db.Pool)
	ta, err := svc.CreateTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := svc.CreateTenant(ctx, "globex", "")
	if err != nil {
		t.Fatal(err)
	}
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	st := knowledge.NewStore(db.Pool, emb, knowledge.StoreOptions{})
	sc := &scoped{s: retrieval.NewSearcher(db.Pool, emb, retrieval.Config{LexicalTimeout: 10 * time.Second}),
		hnsw: retrieval.NewSearcher(db.Pool, emb, retrieval.Config{LexicalTimeout: 10 * time.Second, ExactMaxChunks: -1}),
		a:    ta.ID, b: tb.ID, docs: map[string]uuid.UUID{}, secretWord: "蓝鲸计划"}
	add := func(key string, tenant uuid.UUID, meta knowledge.Metadata, body string) {
		meta.Title = key
		if meta.Kind == "" {
			meta.Kind = knowledge.KindMeeting
		}
		r, err := st.Ingest(ctx, tenant, knowledge.Input{Name: key + ".md", Data: []byte("# " + key + "\n\n" + body), Meta: meta}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sc.docs[key] = r.DocumentID
	}
	secret := "客户确认蓝鲸计划预算为 880 万元，决策人是王总。The Blue Whale plan budget is 8.8 million."
	add("jiangsu-meeting", ta.ID, knowledge.Metadata{Region: "jiangsu", Date: knowledge.Date{Year: 2025, Month: 3, Day: 1}}, secret)
	add("guangdong-meeting", ta.ID, knowledge.Metadata{Region: "guangdong", Date: knowledge.Date{Year: 2026, Month: 1, Day: 10}}, secret)
	add("pricing-playbook", ta.ID, knowledge.Metadata{Kind: knowledge.KindPlaybook, Access: knowledge.Access{Roles: []string{"manager"}}}, secret+" 折扣底线为 35%。")
	add("company-wide", ta.ID, knowledge.Metadata{Kind: knowledge.KindProduct, Tags: []string{"govdata", `it's a "tag"\ `}}, "蓝鲸计划 uses CloudHelm GovData with 5000 concurrent cases.")
	add("other-tenant", tb.ID, knowledge.Metadata{Region: "jiangsu"}, secret)
	return sc
}

func (sc *scoped) search(t *testing.T, scope store.Scope, q string, f retrieval.Filters, mode retrieval.Mode) []retrieval.Hit {
	t.Helper()
	return sc.searchWith(t, sc.s, scope, q, f, mode)
}

// searchWith searches with s, and checks that the vector arm searched the
// way s is configured to for this tiny corpus.
func (sc *scoped) searchWith(t *testing.T, s *retrieval.Searcher, scope store.Scope, q string, f retrieval.Filters, mode retrieval.Mode) []retrieval.Hit {
	t.Helper()
	res, err := s.Search(context.Background(), retrieval.Query{Text: q, Scope: scope, K: 20, Mode: mode, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	want := retrieval.VectorExact
	switch {
	case mode == retrieval.Lexical:
		want = ""
	case s == sc.hnsw:
		want = retrieval.VectorHNSW
	}
	if res.VectorSearch != want {
		t.Errorf("%s search: vector search %q, want %q", mode, res.VectorSearch, want)
	}
	return res.Hits
}

func TestScopeNeverLeaks(t *testing.T) {
	t.Parallel()
	sc := newScoped(t)
	tests := []struct {
		name  string
		scope store.Scope
		see   []string
	}{
		{"admin", store.Scope{Tenant: sc.a, Role: "admin"}, []string{"jiangsu-meeting", "guangdong-meeting", "pricing-playbook", "company-wide"}},
		{"jiangsu rep", store.Scope{Tenant: sc.a, Role: "rep", Regions: []string{"jiangsu"}}, []string{"jiangsu-meeting", "company-wide"}},
		{"jiangsu manager", store.Scope{Tenant: sc.a, Role: "manager", Regions: []string{"jiangsu"}}, []string{"jiangsu-meeting", "pricing-playbook", "company-wide"}},
		{"guangdong rep", store.Scope{Tenant: sc.a, Role: "rep", Regions: []string{"guangdong"}}, []string{"guangdong-meeting", "company-wide"}},
		{"plugin all regions", store.Scope{Tenant: sc.a, Role: "plugin"}, []string{"jiangsu-meeting", "guangdong-meeting", "company-wide"}},
		{"other tenant", store.Scope{Tenant: sc.b, Role: "admin"}, []string{"other-tenant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both ways of searching vectors: exactly (the default for a
			// corpus this small) and through the HNSW index.
			for _, s := range []*retrieval.Searcher{sc.s, sc.hnsw} {
				for _, mode := range []retrieval.Mode{retrieval.Hybrid, retrieval.Vector, retrieval.Lexical} {
					for _, q := range []string{"蓝鲸计划预算和决策人", "Blue Whale plan budget", "折扣底线"} {
						hits := sc.searchWith(t, s, tt.scope, q, retrieval.Filters{}, mode)
						for _, h := range hits {
							if !slices.Contains(tt.see, h.Title) {
								t.Errorf("%s %q: hit from %s leaked (snippet %q)", mode, q, h.Title, h.Snippet)
							}
						}
						// Even naming a hidden document or region in the
						// filters finds nothing of it.
						for key, id := range sc.docs {
							if slices.Contains(tt.see, key) {
								continue
							}
							if hits := sc.searchWith(t, s, tt.scope, q, retrieval.Filters{DocumentIDs: []uuid.UUID{id}}, mode); len(hits) != 0 {
								t.Errorf("%s: filter on hidden %s returned %d hits", mode, key, len(hits))
							}
						}
					}
				}
			}
			// Totals: everything visible is findable, nothing else.
			hits := sc.search(t, tt.scope, "蓝鲸计划", retrieval.Filters{}, retrieval.Lexical)
			seen := map[string]bool{}
			for _, h := range hits {
				seen[h.Title] = true
			}
			if len(seen) != len(tt.see) {
				t.Errorf("lexical search for the shared phrase found %v, want %v", slices.Sorted(maps.Keys(seen)), tt.see)
			}
		})
	}
}

func TestFiltersApplyInSQL(t *testing.T) {
	t.Parallel()
	sc := newScoped(t)
	admin := store.Scope{Tenant: sc.a, Role: "admin"}
	d := func(y, m, day int) *time.Time { t := time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC); return &t }
	tests := []struct {
		name string
		f    retrieval.Filters
		want []string
	}{
		{"kind", retrieval.Filters{Kinds: []string{"playbook"}}, []string{"pricing-playbook"}},
		{"region", retrieval.Filters{Regions: []string{"guangdong"}}, []string{"guangdong-meeting"}},
		{"tag", retrieval.Filters{Tags: []string{"govdata"}}, []string{"company-wide"}},
		{"any of the tags", retrieval.Filters{Tags: []string{"nope", "govdata"}}, []string{"company-wide"}},
		{"tag with quotes", retrieval.Filters{Tags: []string{`it's a "tag"\`}}, []string{"company-wide"}},
		{"tag of another case", retrieval.Filters{Tags: []string{"GovData"}}, nil},
		{"from", retrieval.Filters{From: d(2026, 1, 1)}, []string{"guangdong-meeting"}},
		{"to", retrieval.Filters{To: d(2025, 12, 31)}, []string{"jiangsu-meeting"}},
		{"document", retrieval.Filters{DocumentIDs: []uuid.UUID{sc.docs["company-wide"]}}, []string{"company-wide"}},
		{"nothing", retrieval.Filters{Kinds: []string{"tender"}}, nil},
	}
	for _, tt := range tests {
		for _, mode := range []retrieval.Mode{retrieval.Hybrid, retrieval.Vector, retrieval.Lexical} {
			hits := sc.search(t, admin, "蓝鲸计划 budget", tt.f, mode)
			var got []string
			for _, h := range hits {
				if !slices.Contains(got, h.Title) {
					got = append(got, h.Title)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s/%s: got %v, want %v", tt.name, mode, got, tt.want)
			}
		}
	}
}

func TestHitsAreComplete(t *testing.T) {
	t.Parallel()
	sc := newScoped(t)
	hits := sc.search(t, store.Scope{Tenant: sc.a, Role: "admin"}, "蓝鲸计划 budget", retrieval.Filters{}, retrieval.Hybrid)
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	for i, h := range hits {
		if h.SourceID != fmt.Sprintf("%s#%d", h.DocumentID, h.Ordinal) || h.Title == "" || h.Source == "" || h.Kind == "" || h.Text == "" {
			t.Errorf("hit %d incomplete: %+v", i, h)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits out of order at %d", i)
		}
		if h.Scores.Vector == nil && h.Scores.Lexical == nil {
			t.Errorf("hit %d has no arm scores", i)
		}
		for _, span := range h.Highlights {
			r := []rune(h.Snippet)
			if span[0] < 0 || span[1] > len(r) || span[0] >= span[1] {
				t.Fatalf("bad highlight %v in %q", span, h.Snippet)
			}
			got := strings.ToLower(string(r[span[0]:span[1]]))
			if got != "蓝鲸计划" && got != "budget" && !strings.Contains("蓝鲸计划", got) {
				t.Errorf("highlight %q is not a query word", got)
			}
		}
	}
	if hits[0].Snippet == "" || len(hits[0].Highlights) == 0 {
		t.Errorf("first hit has no snippet or highlights: %+v", hits[0])
	}
	// Without snippets: the same hits, with whole texts and no snippets.
	res, err := sc.s.Search(context.Background(), retrieval.Query{Text: "蓝鲸计划 budget", Scope: store.Scope{Tenant: sc.a, Role: "admin"},
		K: 20, Mode: retrieval.Hybrid, NoSnippets: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != len(hits) {
		t.Fatalf("%d hits without snippets, %d with", len(res.Hits), len(hits))
	}
	for i, h := range res.Hits {
		if h.ChunkID != hits[i].ChunkID || h.Text != hits[i].Text || h.Snippet != "" || h.Highlights != nil {
			t.Errorf("hit %d without snippets: chunk %d, snippet %q, highlights %v", i, h.ChunkID, h.Snippet, h.Highlights)
		}
	}
}

func TestBadQueries(t *testing.T) {
	t.Parallel()
	sc := newScoped(t)
	admin := store.Scope{Tenant: sc.a, Role: "admin"}
	from, to := time.Now(), time.Now().Add(-time.Hour)
	for _, q := range []retrieval.Query{
		{Text: "  ", Scope: admin},
		{Text: "x", Scope: admin, K: retrieval.MaxK + 1},
		{Text: "x", Scope: admin, Diversity: 1.5},
		{Text: "x", Scope: admin, Filters: retrieval.Filters{From: &from, To: &to}},
	} {
		if _, err := sc.s.Search(context.Background(), q); !errors.Is(err, retrieval.ErrInvalidQuery) {
			t.Errorf("%+v: err = %v, want ErrInvalidQuery", q, err)
		}
	}
	if _, err := retrieval.ParseMode("fuzzy"); !errors.Is(err, retrieval.ErrInvalidQuery) {
		t.Errorf("ParseMode: %v", err)
	}
	// Query text that looks like tsquery syntax is just text.
	if _, err := sc.s.Search(context.Background(), retrieval.Query{Text: "budget & !(plan | 'x') :* <->", Scope: admin}); err != nil {
		t.Fatalf("tsquery-like text: %v", err)
	}
}

func TestDiversityAndPacking(t *testing.T) {
	t.Parallel()
	sc := newScoped(t)
	admin := store.Scope{Tenant: sc.a, Role: "admin"}
	res, err := sc.s.Search(context.Background(), retrieval.Query{Text: "蓝鲸计划预算", Scope: admin, K: 3, Diversity: 0.7})
	if err != nil || len(res.Hits) != 3 {
		t.Fatalf("MMR search: %v, %d hits", err, len(res.Hits))
	}
	all := sc.search(t, admin, "蓝鲸计划预算", retrieval.Filters{}, retrieval.Hybrid)
	sources := retrieval.Pack(all, 10000)
	if len(sources) != len(all) {
		t.Fatalf("packed %d sources from %d hits of different documents", len(sources), len(all))
	}
	for i, s := range sources {
		if s.Label != fmt.Sprintf("S%d", i+1) || s.Text == "" || len(s.SourceIDs) == 0 || s.Tokens == 0 {
			t.Errorf("source %d: %+v", i, s)
		}
	}
	small := retrieval.Pack(all, all[0].TokenCount+20)
	if len(small) == 0 || len(small) >= len(all) {
		t.Fatalf("a budget for about one hit packed %d sources", len(small))
	}
}

// TestLexicalTimeoutDegradesToVectors fills a tenant with chunks that all
// match a common word, so that ranking them takes far longer than a 1ms
// budget: the search must still answer, from the vectors alone, and say so.
func TestLexicalTimeoutDegradesToVectors(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := context.Background()
	tn, err := auth.NewService(db.Pool).CreateTenant(ctx, "busy", "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	err = store.InTenant(ctx, db.Pool, tn.ID, func(tx pgx.Tx) error {
		doc := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO documents (id, tenant_id, kind, title, source, content_hash)
			VALUES ($1, $2, 'product', 'Busy', 'busy.md', 'x')`, doc, tn.ID); err != nil {
			return err
		}
		// Long chunks of common words: ts_rank_cd must walk every position.
		_, err := tx.Exec(ctx, `INSERT INTO chunks (tenant_id, document_id, ordinal, text, token_count, kind, embedding, lex)
			SELECT $1, $2, i, 'platform tender ' || i, 3, 'product',
				(SELECT array_agg(sin(i * d))::real[] FROM generate_series(1, $3::int) d)::vector,
				to_tsvector('english', repeat('platform tender security ', 300) || i)
			FROM generate_series(1, $4::int) i`, tn.ID, doc, storetest.EmbedDim, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	q := retrieval.Query{Text: "platform tender", Scope: store.Scope{Tenant: tn.ID, Role: "rep"}, K: 5}

	res, err := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{LexicalTimeout: time.Millisecond}).Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Degraded, []string{"lexical"}) || res.Mode != retrieval.Hybrid || len(res.Hits) != 5 {
		t.Fatalf("degraded %v, mode %s, %d hits; want lexical left out, hybrid, 5 hits", res.Degraded, res.Mode, len(res.Hits))
	}
	for _, h := range res.Hits {
		if h.Scores.Lexical != nil || h.Scores.Vector == nil {
			t.Fatalf("hit %s has scores %+v; want the vector arm's only", h.SourceID, h.Scores)
		}
	}

	// With time to spare the same search uses both arms.
	res, err = retrieval.NewSearcher(db.Pool, emb, retrieval.Config{LexicalTimeout: time.Minute}).Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Degraded != nil || len(res.Hits) != 5 || res.Hits[0].Scores.Lexical == nil {
		t.Fatalf("degraded %v, %d hits, first %+v; want both arms", res.Degraded, len(res.Hits), res.Hits)
	}
}

// TestExactVectorSearchIsExact checks the exact vector arm against distances
// computed here: over the demo corpus, with a second tenant holding the same
// chunks in the table, a vector search returns exactly the tenant's own
// nearest chunks by cosine distance, in order; through the HNSW index it
// says so and finds (nearly) the same.
func TestExactVectorSearchIsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	tenant := knowledgetest.DemoTenant(t, db.Pool, emb, "demo")
	knowledgetest.DemoTenant(t, db.Pool, emb, "twin") // the same vectors, another tenant
	type chunk struct {
		id  int64
		vec []float32
	}
	var chunks []chunk
	err := store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, embedding FROM chunks`)
		if err != nil {
			return err
		}
		chunks, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (chunk, error) {
			var c chunk
			var v pgvector.Vector
			err := r.Scan(&c.id, &v)
			c.vec = v.Slice()
			return c, err
		})
		return err
	})
	if err != nil || len(chunks) != 199 {
		t.Fatalf("read %d demo chunks: %v", len(chunks), err)
	}
	exact := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{})
	index := retrieval.NewSearcher(db.Pool, emb, retrieval.Config{ExactMaxChunks: -1})
	scope := store.Scope{Tenant: tenant, Role: "admin"}
	overlap, total := 0, 0
	for _, q := range []string{"专项债 审计合规", "why did we lose the hospital deal", "鲲鹏 国产化 超融合 节点", "price objection"} {
		v, err := emb.EmbedQuery(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(chunks)
		dist := func(c chunk) float64 { return 1 - cosineSimilarity(v, c.vec) }
		slices.SortStableFunc(want, func(a, b chunk) int {
			if da, db := dist(a), dist(b); math.Abs(da-db) > 1e-6 {
				return cmp.Compare(da, db)
			}
			return cmp.Compare(a.id, b.id)
		})
		res, err := exact.Search(ctx, retrieval.Query{Text: q, Scope: scope, K: 10, Mode: retrieval.Vector})
		if err != nil {
			t.Fatal(err)
		}
		if res.VectorSearch != retrieval.VectorExact || len(res.Hits) != 10 {
			t.Fatalf("%q: %d hits by %q, want 10 exact", q, len(res.Hits), res.VectorSearch)
		}
		for i, h := range res.Hits {
			// Equal distances may come in either order: compare distances.
			if got, w := dist(chunks[slices.IndexFunc(chunks, func(c chunk) bool { return c.id == h.ChunkID })]), dist(want[i]); math.Abs(got-w) > 1e-5 {
				t.Errorf("%q hit %d: chunk %d at distance %.6f, want %.6f (chunk %d)", q, i+1, h.ChunkID, got, w, want[i].id)
			}
		}
		approx, err := index.Search(ctx, retrieval.Query{Text: q, Scope: scope, K: 10, Mode: retrieval.Vector})
		if err != nil {
			t.Fatal(err)
		}
		if approx.VectorSearch != retrieval.VectorHNSW {
			t.Errorf("%q: vector search %q, want hnsw", q, approx.VectorSearch)
		}
		for _, h := range approx.Hits {
			total++
			if slices.ContainsFunc(res.Hits, func(e retrieval.Hit) bool { return e.ChunkID == h.ChunkID }) {
				overlap++
			}
		}
	}
	if float64(overlap) < 0.9*float64(total) {
		t.Errorf("the index found %d of %d exact hits", overlap, total)
	}
}

func cosineSimilarity(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}
