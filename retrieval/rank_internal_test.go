package retrieval

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

// TestOrRankMatchesTsRankCD checks orRankCD's identity: over every demo
// chunk that matches, for every labelled query of the relevance set and a
// few long task-like ones, it equals ts_rank_cd(lex, l1 | l2 | ..., 1) over
// the lexemes PostgreSQL makes of the query's words exactly, whether
// lex_positions was stored at ingest or is computed on the fly (NULL, as for
// rows older than the column). For a query whose words are single tokens
// that is ts_rank_cd of the words' own tsquery, as the lexical arm ranked
// before orRankCD; a word of several tokens (30-day) counts as its parts.
func TestOrRankMatchesTsRankCD(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	tenant := knowledgetest.DemoTenant(t, db.Pool, providers.NewOfflineEmbedder(storetest.EmbedDim), "demo")

	raw, err := os.ReadFile("testdata/relevance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{
		"南京市江宁区数据局 总经理 1 月 20 日交流会后跟进；客户关注专项债审计合规和授权运营收益结算。",
		"price objection competitor quoted 20% lower after the POC, video analytics, 视频解析 价格 偏高",
		"the and of 的 和",
		"a 30-day pilot of v2.0 from 2024-01-20, x86-64 nodes, GB/T 22239-2019 等保三级, 8.8 million",
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+query: "(.*)"\s*$`).FindAllStringSubmatch(string(raw), -1) {
		queries = append(queries, m[1])
	}
	if len(queries) < 100 {
		t.Fatalf("read %d queries from the relevance set", len(queries))
	}

	err = store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
		var missing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE lex_positions IS DISTINCT FROM dealdesk_lex_positions(lex)`).Scan(&missing); err != nil {
			return err
		}
		if missing > 0 {
			t.Errorf("%d chunks stored without their lex_positions", missing)
		}
		// orRankCD (and the identity) need every position weighted D.
		var weighted int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE lex <> setweight(lex, 'D')`).Scan(&weighted); err != nil {
			return err
		}
		if weighted > 0 {
			t.Errorf("%d chunks have lexemes weighted other than D", weighted)
		}
		compared, checked, ranked, phrases := 0, 0, 0, 0
		for _, q := range queries {
			words := queryWords(q)
			if len(words.all) == 0 {
				continue
			}
			joined := strings.Join(words.all, " ")
			var lexemesOf []string
			if err := tx.QueryRow(ctx, `SELECT tsvector_to_array(to_tsvector('english', $1))`, joined).Scan(&lexemesOf); err != nil {
				return err
			}
			if len(lexemesOf) == 0 {
				continue
			}
			// The words' own tsquery has a phrase when a word is several
			// tokens; then the lexemes' OR is what orRankCD ranks by.
			var phrase bool
			if err := tx.QueryRow(ctx, `SELECT strpos(to_tsquery('english', $1)::text, '<->') > 0`, lexemes(words.all, " | ")).Scan(&phrase); err != nil {
				return err
			}
			if phrase {
				phrases++
			}
			compared++
			for _, table := range []string{"chunks", "(SELECT lex, NULL::integer AS lex_positions FROM chunks) chunks"} {
				var n, differ, positive int
				var worst float64
				err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE want IS DISTINCT FROM got), count(*) FILTER (WHERE want > 0),
						coalesce(max(abs(want - got)), 0)
					FROM (SELECT ts_rank_cd(lex, $1::tsquery, 1) AS want, `+orRankCD("$2")+` AS got
						FROM `+table+` WHERE lex @@ $1::tsquery) x`,
					lexemes(lexemesOf, " | "), joined).Scan(&n, &differ, &positive, &worst)
				if err != nil {
					return err
				}
				if differ > 0 {
					t.Errorf("query %q over %s: %d of %d ranks differ from ts_rank_cd (by up to %g)", q, table, differ, n, worst)
				}
				checked += n
				ranked += positive
			}
		}
		if compared < 150 || ranked == 0 || phrases == 0 {
			t.Fatalf("%d queries compared (%d with a word of several tokens), %d positive ranks", compared, phrases, ranked)
		}
		t.Logf("%d queries (%d with a word of several tokens), %d ranks compared, %d positive", compared, phrases, checked, ranked)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompoundParts(t *testing.T) {
	for w, want := range map[string]string{"follow-up": "follow up", "data_security": "data security", "a-b-c": "a b c",
		"2024-01-20": "2024-01-20", "x86-64": "x86-64", "v2.0": "v2.0", "-up": "-up", "up-": "up-", "数据-安全": "数据-安全", "meeting": "meeting"} {
		if got := strings.Join(compoundParts(w), " "); got != want {
			t.Errorf("compoundParts(%q) = %q, want %q", w, got, want)
		}
	}
}

// TestPlansFollowTableSize checks that searches over a table under
// Config.GenericPlanMaxChunks run generic plans, and custom plans above it
// or when switched off, as PostgreSQL counts them per prepared statement.
func TestPlansFollowTableSize(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	tenant := knowledgetest.DemoTenant(t, db.Pool, emb, "demo")
	if _, err := db.Pool.Exec(ctx, `ANALYZE chunks`); err != nil {
		t.Fatal(err)
	}
	// A size that cannot be read means custom plans, for a second.
	s := NewSearcher(db.Pool, emb, Config{})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if s.genericPlans(cancelled) {
		t.Error("generic plans although the table's size could not be read")
	}
	time.Sleep(1100 * time.Millisecond)
	if !s.genericPlans(ctx) {
		t.Error("the table's size was not read again a second after a failure")
	}
	for _, tc := range []struct {
		max     int
		generic bool
	}{{0, true}, {1000, true}, {100, false}, {-1, false}} {
		// One connection, so that its prepared statements are the ones counted.
		pool, err := store.Open(ctx, store.PoolConfig{URL: db.URL, MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		s := NewSearcher(pool, emb, Config{GenericPlanMaxChunks: tc.max})
		if got := s.genericPlans(ctx); got != tc.generic {
			t.Errorf("max %d over the demo's chunks: generic plans %t, want %t", tc.max, got, tc.generic)
		}
		for range 3 {
			if _, err := s.Search(ctx, Query{Text: "专项债 审计合规 data security", Scope: store.Scope{Tenant: tenant, Role: "admin"}}); err != nil {
				t.Fatal(err)
			}
		}
		var generic, custom int64
		err = pool.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements WHERE statement LIKE 'WITH v AS%'`).Scan(&generic, &custom)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		if tc.generic && (generic != 3 || custom != 0) || !tc.generic && (generic != 0 || custom != 3) {
			t.Errorf("max %d: %d generic and %d custom plans of 3 searches, want generic %t", tc.max, generic, custom, tc.generic)
		}
	}
}

// TestExactRule checks Config.ExactMaxChunks's rule: a tenant of at most
// the limit is searched exactly; a larger one while it is a small enough
// share of the table for the candidates kept (T² ≤ exactShare·n·N), as
// measured; and only by the limit when the table's size is unknown.
func TestExactRule(t *testing.T) {
	for _, tc := range []struct {
		t, rows int64
		rowsOK  bool
		n       int
		exact   bool
	}{
		{199, 199, true, 50, true},
		{1000, 1000, true, 10, true},
		{1001, 1001, true, 50, false},
		// Measured over 107,500 chunks (ms, exactly against the index):
		{500, 107500, true, 10, true},    // 5.2 against 21.6
		{2000, 107500, true, 10, true},   // 6.4 against 9.6
		{4000, 107500, true, 10, false},  // 12.8 against 5.5
		{4000, 107500, true, 50, true},   // hybrid: 29.9 against 41.0
		{10000, 107500, true, 50, false}, // about 26 against 12
		{100000, 100000, true, 50, false},
		{17000, 1000000, true, 50, true},
		{4000, 0, false, 50, false},
		{500, 0, false, 50, true},
	} {
		if got := exactIsCheaper(tc.t, tc.rows, tc.rowsOK, tc.n, 1000); got != tc.exact {
			t.Errorf("tenant %d chunks of %d (known %t), %d candidates: exact %t, want %t", tc.t, tc.rows, tc.rowsOK, tc.n, got, tc.exact)
		}
	}
}

// TestExactFollowsTenantSize checks that the searcher reads each tenant's
// size: the demo tenant (199 chunks) is searched exactly, unless the limit
// is negative, and a size that cannot be read means the index, read again
// a second later. (Below the limit the rule is TestExactRule's.)
func TestExactFollowsTenantSize(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	emb := providers.NewOfflineEmbedder(storetest.EmbedDim)
	tenant := knowledgetest.DemoTenant(t, db.Pool, emb, "demo")
	s := NewSearcher(db.Pool, emb, Config{})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if s.exactVectors(cancelled, tenant, 50) {
		t.Error("exact although the tenant's size could not be read")
	}
	time.Sleep(1100 * time.Millisecond)
	if !s.exactVectors(ctx, tenant, 50) {
		t.Error("the tenant's size was not read again a second after a failure")
	}
	if n, ok := s.tenantRows(ctx, tenant, 10000); !ok || n != 199 {
		t.Errorf("demo tenant: %d chunks (%t), want 199", n, ok)
	}
	// Counted up to a limit: past it the count stops, and a later call
	// with a higher limit counts again.
	s2 := NewSearcher(db.Pool, emb, Config{})
	if n, ok := s2.tenantRows(ctx, tenant, 100); !ok || n != 100 {
		t.Errorf("demo tenant counted to 100: %d (%t)", n, ok)
	}
	if n, ok := s2.tenantRows(ctx, tenant, 1000); !ok || n != 199 {
		t.Errorf("demo tenant counted to 1000 after 100: %d (%t), want 199", n, ok)
	}
	for limit, want := range map[int]bool{0: true, 199: true, -1: false} {
		if got := NewSearcher(db.Pool, emb, Config{ExactMaxChunks: limit}).exactVectors(ctx, tenant, 10); got != want {
			t.Errorf("limit %d over the demo's 199 chunks: exact %t, want %t", limit, got, want)
		}
	}
}
