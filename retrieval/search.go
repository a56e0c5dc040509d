package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	"github.com/tmc/langchaingo/embeddings"

	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/store"
)

// Mode selects the arms a search uses.
type Mode string

// Search modes.
const (
	Hybrid  Mode = "hybrid"
	Vector  Mode = "vector"
	Lexical Mode = "lexical"
)

// ParseMode validates a mode name; "" is Hybrid.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return Hybrid, nil
	case Hybrid, Vector, Lexical:
		return m, nil
	}
	return "", fmt.Errorf("%w: mode %q (want hybrid, vector or lexical)", ErrInvalidQuery, s)
}

// Filters narrow a search. Empty fields do not filter.
type Filters struct {
	Kinds       []string    `json:"kinds,omitempty"`
	Regions     []string    `json:"regions,omitempty"`
	Industries  []string    `json:"industries,omitempty"`
	Customers   []string    `json:"customers,omitempty"`
	Tags        []string    `json:"tags,omitempty" doc:"documents with any of these tags"`
	DocumentIDs []uuid.UUID `json:"document_ids,omitempty"`
	From        *time.Time  `json:"from,omitempty" doc:"documents dated on or after"`
	To          *time.Time  `json:"to,omitempty" doc:"documents dated on or before"`
}

// Query is one search.
type Query struct {
	Text    string
	Scope   store.Scope
	Filters Filters
	K       int  // hits wanted, default 10, at most MaxK
	Mode    Mode // default Hybrid
	// Diversity, between 0 and 1, re-ranks the fused candidates with
	// maximal marginal relevance: 0 (default) keeps pure relevance, higher
	// values trade relevance for hits that say different things.
	Diversity float64
	// NoSnippets leaves Hit.Snippet and Hit.Highlights empty, for callers
	// that read whole chunks (the assistant packs Text into sources).
	NoSnippets bool
}

// MaxK bounds the hits of one search.
const MaxK = 100

// Scores are what each arm said about a hit. Ranks are 1-based; zero means
// the arm did not find the chunk.
type Scores struct {
	Vector      *float64 `json:"vector"`
	Lexical     *float64 `json:"lexical"`
	VectorRank  int      `json:"vector_rank,omitempty"`
	LexicalRank int      `json:"lexical_rank,omitempty"`
}

// Hit is one retrieved chunk.
type Hit struct {
	// SourceID identifies the chunk for citations: document id and chunk
	// ordinal, stable while the document is unchanged.
	SourceID    string    `json:"source_id"`
	ChunkID     int64     `json:"chunk_id"`
	DocumentID  uuid.UUID `json:"document_id"`
	Ordinal     int       `json:"ordinal"`
	Title       string    `json:"title"`
	Source      string    `json:"source"`
	Kind        string    `json:"kind"`
	Region      string    `json:"region"`
	HeadingPath []string  `json:"heading_path"`
	Page        int       `json:"page,omitempty"`
	// Text is the whole chunk; Snippet the part around the query words,
	// with Highlights as [start, end) rune offsets into Snippet.
	Text       string   `json:"text"`
	Snippet    string   `json:"snippet"`
	Highlights [][2]int `json:"highlights"`
	TokenCount int      `json:"token_count"`
	Score      float64  `json:"score"`
	Scores     Scores   `json:"scores"`

	embedding []float32
	overlap   int // bytes at the start of Text repeated from the previous chunk
}

// Result is a search's hits with how they were found.
type Result struct {
	Hits []Hit `json:"hits"`
	Mode Mode  `json:"mode"`
	// Degraded names the arms that ran out of time and were left out.
	Degraded []string `json:"degraded,omitempty"`
	// VectorSearch says how the vector arm searched: VectorExact or
	// VectorHNSW ("" without a vector arm); see Config.ExactMaxChunks.
	VectorSearch string        `json:"vector_search,omitempty"`
	Took         time.Duration `json:"-"`
}

// How the vector arm searched (Result.VectorSearch).
const (
	VectorExact = "exact" // every distance of the tenant's chunks
	VectorHNSW  = "hnsw"  // the approximate index
)

// ErrInvalidQuery marks a query the caller must fix.
var ErrInvalidQuery = errors.New("invalid query")

// DefaultEfSearch is the default hnsw.ef_search (see Config.EfSearch).
const DefaultEfSearch = 250

// Config tunes the searcher. Zero values take the defaults, chosen from the
// measurements in make bench (see README).
type Config struct {
	// EfSearch is hnsw.ef_search: the candidate list of the HNSW scan
	// (default 250: with the default index over 1,000,000 chunks in make
	// bench, recall@10 0.970-0.976 at p50 4.2-4.4 ms in two builds; across
	// three builds 200 gave 0.948-0.962 and 300 0.966-0.978 at 4.4-4.9 ms).
	// Higher is slower and closer to exact.
	EfSearch int
	// Candidates is how many hits each arm contributes to fusion (default
	// 50, at least K).
	Candidates int
	// RRFK is the k of reciprocal rank fusion, 1/(k+rank) (default 60).
	RRFK float64
	// MaxScanTuples bounds pgvector's iterative scan for filtered queries
	// (hnsw.max_scan_tuples, default 20000).
	MaxScanTuples int
	// LexicalTimeout bounds a hybrid search's statement (default 150ms).
	// The vector arm's cost is bounded by the index; the lexical arm's is
	// not, since PostgreSQL ranks every chunk that has all the query words
	// before it can sort them, so common words over a large corpus can take
	// seconds. Past the budget the search answers from the vector arm alone
	// and says so (Degraded).
	LexicalTimeout time.Duration
	// GenericPlanMaxChunks is the largest chunks table (rows, all tenants)
	// searched with generic plans (default 5000; negative: never). A
	// custom plan of the search statement costs about 1 ms of planning and,
	// on a small table, picks a sequential scan for the lexical arm that is
	// slower than its GIN index; a generic plan is planned once per
	// connection. Over large tables custom plans stay, since only they see
	// the query's words and vector.
	GenericPlanMaxChunks int
	// ExactMaxChunks is the most chunks a tenant may have for the vector
	// arm to compute the distance of every one of them (through the
	// tenant's index) instead of walking the HNSW index (default 1000;
	// negative: never). The HNSW index holds every tenant's vectors, and a
	// scan kept to one tenant by row-level security reads about n·N/T index
	// entries to keep n (N chunks in the table, T the tenant's): over
	// 107,500 chunks a 500-chunk tenant's hybrid search took 318 ms that
	// way and 13 ms exactly. So a larger tenant is also searched exactly
	// while that costs less: see exactIsCheaper. Exact search finds the
	// true nearest chunks, which an index scan only approximates.
	ExactMaxChunks int
}

// exactShare weighs the two costs that exactIsCheaper compares, as
// measured on a 2-core machine over 105,000-107,500 chunks: an HNSW scan
// kept to one tenant costs about 15 µs per index entry it reads (n·N/T of
// them), an exact scan about 2.5 µs per chunk of the tenant (T), so exact
// is cheaper while 2.5·T ≤ 15·n·N/T, that is T² ≤ 6·n·N.
const exactShare = 6

func (c *Config) defaults() {
	if c.EfSearch <= 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.Candidates <= 0 {
		c.Candidates = 50
	}
	if c.RRFK <= 0 {
		c.RRFK = 60
	}
	if c.MaxScanTuples <= 0 {
		c.MaxScanTuples = 20000
	}
	if c.LexicalTimeout <= 0 {
		c.LexicalTimeout = 150 * time.Millisecond
	}
	if c.GenericPlanMaxChunks == 0 {
		c.GenericPlanMaxChunks = 5000
	}
	if c.ExactMaxChunks == 0 {
		c.ExactMaxChunks = 1000
	}
}

// Searcher runs searches against the chunks table.
type Searcher struct {
	db       *pgxpool.Pool
	embedder embeddings.Embedder
	cfg      Config

	sizeMu sync.Mutex
	size   tableSize // the chunks table's estimated rows, refreshed every sizeTTL

	tenantMu    sync.Mutex
	tenantSizes map[uuid.UUID]tenantSize // each tenant's chunks, refreshed every sizeTTL
}

// maxTenantSizes bounds the tenants whose sizes a Searcher remembers.
const maxTenantSizes = 10000

// tableSize is an estimate of the chunks table's rows and when it was read.
type tableSize struct {
	rows int64
	at   time.Time
}

// sizeTTL is how long an estimate of the chunks table's size is used.
const sizeTTL = 30 * time.Second

// NewSearcher returns a Searcher embedding queries with embedder.
func NewSearcher(db *pgxpool.Pool, embedder embeddings.Embedder, cfg Config) *Searcher {
	cfg.defaults()
	return &Searcher{db: db, embedder: embedder, cfg: cfg}
}

// Search finds the chunks that best answer q within its scope and filters.
func (s *Searcher) Search(ctx context.Context, q Query) (Result, error) {
	start := time.Now()
	q.Text = strings.TrimSpace(q.Text)
	if q.Text == "" {
		return Result{}, fmt.Errorf("%w: query text is empty", ErrInvalidQuery)
	}
	if q.Mode == "" {
		q.Mode = Hybrid
	}
	if q.K <= 0 {
		q.K = 10
	}
	if q.K > MaxK {
		return Result{}, fmt.Errorf("%w: k %d is over %d", ErrInvalidQuery, q.K, MaxK)
	}
	if q.Diversity < 0 || q.Diversity > 1 {
		return Result{}, fmt.Errorf("%w: diversity %v must be between 0 and 1", ErrInvalidQuery, q.Diversity)
	}
	if q.Filters.From != nil && q.Filters.To != nil && q.Filters.From.After(*q.Filters.To) {
		return Result{}, fmt.Errorf("%w: from is after to", ErrInvalidQuery)
	}
	n := max(s.cfg.Candidates, q.K)
	if q.Mode != Hybrid && q.Diversity == 0 {
		n = q.K
	}

	var vec pgvector.Vector
	if q.Mode != Lexical {
		v, err := s.embedder.EmbedQuery(ctx, q.Text)
		if err != nil {
			return Result{}, fmt.Errorf("embed query: %w", err)
		}
		vec = pgvector.NewVector(v)
	}
	words := queryWords(q.Text)
	var how string
	if q.Mode != Lexical {
		how = VectorHNSW
		if s.exactVectors(ctx, q.Scope.Tenant, n) {
			how = VectorExact
		}
	}

	hits, err := s.run(ctx, q, vec, words, n, q.Mode == Hybrid, how == VectorExact)
	var degraded []string
	if errors.Is(err, errLexicalTimeout) {
		// The lexical arm is the one whose cost grows with the corpus:
		// answer from the vectors alone and say so.
		degraded = append(degraded, string(Lexical))
		q.Mode = Vector
		hits, err = s.run(ctx, q, vec, terms{}, n, false, how == VectorExact)
	}
	if err != nil {
		return Result{}, err
	}
	if q.Diversity > 0 {
		hits = mmr(hits, q.K, q.Diversity)
	}
	for i := range hits {
		if !q.NoSnippets {
			hits[i].Snippet, hits[i].Highlights = snippet(hits[i].Text, words.content, 240)
		}
	}
	mode := q.Mode
	if degraded != nil {
		mode = Hybrid
	}
	return Result{Hits: hits, Mode: mode, Degraded: degraded, VectorSearch: how, Took: time.Since(start)}, nil
}

var errLexicalTimeout = errors.New("lexical search ran out of time")

// run sends the search as one statement with its settings in one round
// trip. bounded puts the statement under LexicalTimeout: a timeout then
// returns errLexicalTimeout. exact computes every vector distance of the
// tenant's chunks instead of scanning the HNSW index.
func (s *Searcher) run(ctx context.Context, q Query, vec pgvector.Vector, words terms, n int, bounded, exact bool) ([]Hit, error) {
	b, err := store.ScopedBatch(q.Scope)
	if err != nil {
		return nil, err
	}
	timeout := "0"
	if bounded {
		timeout = strconv.FormatInt(max(1, s.cfg.LexicalTimeout.Milliseconds()), 10)
	}
	// Transaction-local index settings: a larger candidate list for
	// recall, and iterative scans so that rows removed by filters or by the
	// scope are replaced by further index candidates instead of leaving the
	// result short. Over a large table, custom plans: a generic plan cannot
	// see the query's words or vector, so it cannot tell a rare word from a
	// common one. Over a small table, generic plans (Config.GenericPlanMaxChunks).
	generic := s.genericPlans(ctx)
	planMode := "force_custom_plan"
	if generic {
		planMode = "force_generic_plan"
	}
	b.Queue(`SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.max_scan_tuples', $2, true), set_config('statement_timeout', $3, true), set_config('plan_cache_mode', $4, true)`,
		strconv.Itoa(max(s.cfg.EfSearch, n)), strconv.Itoa(s.cfg.MaxScanTuples), timeout, planMode)
	sql, args := searchSQL(q, vec, words, n, s.cfg.RRFK, generic, exact)
	b.Queue(sql, args...)
	br := s.db.SendBatch(ctx, b)
	hits, err := readHits(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	var pgErr *pgconn.PgError
	if bounded && errors.As(err, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil { // query_canceled by the timeout
		return nil, errLexicalTimeout
	}
	return hits, err
}

// genericPlans reports whether the chunks table is small enough for
// generic plans.
func (s *Searcher) genericPlans(ctx context.Context) bool {
	if s.cfg.GenericPlanMaxChunks < 0 {
		return false
	}
	rows, _ := s.tableRows(ctx)
	return rows <= int64(s.cfg.GenericPlanMaxChunks)
}

// exactVectors reports whether the vector arm, keeping n candidates,
// should compute the distance of every chunk of the tenant (see
// Config.ExactMaxChunks).
func (s *Searcher) exactVectors(ctx context.Context, tenant uuid.UUID, n int) bool {
	if s.cfg.ExactMaxChunks < 0 {
		return false
	}
	rows, rowsOK := s.tableRows(ctx)
	// The tenant's chunks are counted up to the most for which any search
	// would be exact; past that the count stops (a tenant's whole count
	// would cost a scan of its index entries).
	limit := int64(s.cfg.ExactMaxChunks)
	if rowsOK {
		limit = max(limit, int64(math.Sqrt(exactShare*float64(max(s.cfg.Candidates, MaxK))*float64(rows))))
	}
	t, ok := s.tenantRows(ctx, tenant, limit+1)
	if !ok || t > limit {
		return false
	}
	return exactIsCheaper(t, rows, rowsOK, n, s.cfg.ExactMaxChunks)
}

// exactIsCheaper is Config.ExactMaxChunks's rule for a tenant of t chunks
// in a table of rows (known when rowsOK), keeping n candidates: exact up to
// maxChunks, and beyond while T² ≤ exactShare·n·N.
func exactIsCheaper(t, rows int64, rowsOK bool, n, maxChunks int) bool {
	if t <= int64(maxChunks) {
		return true
	}
	return rowsOK && float64(t)*float64(t) <= exactShare*float64(n)*float64(rows)
}

// tenantRows returns the number of chunks of a tenant, counted up to
// limit, at most every sizeTTL; false when it could not be read (then read
// again after a second).
func (s *Searcher) tenantRows(ctx context.Context, tenant uuid.UUID, limit int64) (int64, bool) {
	s.tenantMu.Lock()
	defer s.tenantMu.Unlock()
	if sz, ok := s.tenantSizes[tenant]; ok && time.Since(sz.at) <= sizeTTL && (sz.rows < sz.limit || sz.limit >= limit) {
		return sz.rows, sz.rows >= 0
	}
	rows := int64(-1)
	at := time.Now()
	b, err := store.TenantBatch(tenant)
	if err == nil {
		b.Queue(`SELECT count(*) FROM (SELECT FROM chunks WHERE tenant_id = $1 LIMIT $2) c`, tenant, limit).
			QueryRow(func(r pgx.Row) error { return r.Scan(&rows) })
		err = s.db.SendBatch(ctx, b).Close()
	}
	if err != nil {
		rows, at = -1, at.Add(time.Second-sizeTTL)
	}
	if s.tenantSizes == nil || len(s.tenantSizes) >= maxTenantSizes {
		s.tenantSizes = map[uuid.UUID]tenantSize{}
	}
	s.tenantSizes[tenant] = tenantSize{rows: rows, limit: limit, at: at}
	return rows, rows >= 0
}

// tenantSize is a tenant's chunks counted up to limit, and when.
type tenantSize struct {
	rows, limit int64
	at          time.Time
}

// tableRows returns an estimate of the chunks table's rows (all tenants),
// read at most every sizeTTL; false when it could not be read (then read
// again after a second, and math.MaxInt64 meanwhile). PostgreSQL's own
// estimate (reltuples) is scaled to the table's current size, as the
// planner does, so a bulk load is seen before the next ANALYZE; a table
// never analyzed counts a row per KiB, which overestimates.
func (s *Searcher) tableRows(ctx context.Context) (int64, bool) {
	s.sizeMu.Lock()
	defer s.sizeMu.Unlock()
	if time.Since(s.size.at) > sizeTTL {
		var rows int64
		err := s.db.QueryRow(ctx, `SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 0
				THEN (c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int))::bigint
				ELSE pg_relation_size(c.oid) / 1024 END
			FROM pg_class c WHERE c.oid = 'chunks'::regclass`).Scan(&rows)
		at := time.Now()
		if err != nil {
			// Custom plans are right at every size; read again in a second.
			rows, at = math.MaxInt64, at.Add(time.Second-sizeTTL)
		}
		s.size = tableSize{rows: rows, at: at}
	}
	return s.size.rows, s.size.rows != math.MaxInt64
}

// readHits skips the batch's settings and scans the search's rows.
func readHits(br pgx.BatchResults) ([]Hit, error) {
	for range 2 { // the scope, the search settings
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hit, error) {
		var h Hit
		var emb *pgvector.Vector
		var vrank, lrank *int64
		err := r.Scan(&h.ChunkID, &h.Score, &h.Scores.Vector, &vrank, &h.Scores.Lexical, &lrank,
			&h.DocumentID, &h.Ordinal, &h.Title, &h.Source, &h.Kind, &h.Region,
			&h.HeadingPath, &h.Page, &h.Text, &h.TokenCount, &h.overlap, &emb)
		if vrank != nil {
			h.Scores.VectorRank = int(*vrank)
		}
		if lrank != nil {
			h.Scores.LexicalRank = int(*lrank)
		}
		if emb != nil {
			h.embedding = emb.Slice()
		}
		h.SourceID = fmt.Sprintf("%s#%d", h.DocumentID, h.Ordinal)
		return h, err
	})
}

// lexemes renders words as quoted lexemes joined by a tsquery operator,
// so that no word is parsed as tsquery syntax.
func lexemes(words []string, op string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + lexemeEscaper.Replace(w) + "'"
	}
	return strings.Join(quoted, op)
}

// lexemeEscaper escapes a word for a quoted lexeme in tsquery syntax.
var lexemeEscaper = strings.NewReplacer(`\`, `\\`, "'", "''")

// maxEveryWordTerms is the longest query (in distinct words) whose lexical
// arm first looks for chunks with every word.
const maxEveryWordTerms = 12

// lexicalCap bounds how many matching chunks each form of a lexical query
// ranks. PostgreSQL ranks every match before it can sort, so words common
// across a million chunks would otherwise have it rank most of them; past
// the cap the ranking is over the first lexicalCap matches found.
const lexicalCap = 1000

// searchSQL renders a search as one statement. Each arm is a CTE of its n
// best candidates with their ranks; the arms are fused by reciprocal rank
// fusion, score = sum over arms of 1/(k + rank); the best fused hits are
// joined to their chunks and documents. The filters go inside every arm,
// and row-level security applies the caller's scope to every table read.
//
// The lexical arm ranks chunks by ts_rank_cd (more of the words, closer
// together). It first takes chunks with all the query words (AND:
// selective, cheap, and the best lexical matches); only when that finds
// fewer than n does it rank chunks with any of their content words (OR),
// ranked after the chunks that have them all. Each form ranks at most
// lexicalCap matches.
//
// With generic, the statement is written for a generic plan: each tsquery
// is a scalar subquery, computed once, where a generic plan would parse it
// again for every row it rechecks or ranks. A custom plan needs the bare
// function call, whose constant result the planner folds and estimates.
// The arms' limit is a literal, not a parameter: a generic plan assumes a
// parameter limit returns a tenth of the table, and then scans and sorts
// every chunk rather than take the vector index's first few. It is the
// same for every k up to Config.Candidates, so it adds few statements to
// each connection's cache; the final limit (k) stays a parameter.
func searchSQL(q Query, vec pgvector.Vector, words terms, n int, rrfK float64, generic, exact bool) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	nArg := strconv.Itoa(n)
	where, fargs := filterSQL(q.Filters, 1)
	args = append(args, fargs...)

	var ctes, arms []string
	if q.Mode != Lexical {
		v := arg(vec)
		// relaxed_order may return rows slightly out of order; ranking by
		// the distance puts them right (pgvector's documented pattern).
		// Exact: cosine_distance is <=> without the operator, so no index
		// serves the order and every chunk of the tenant is measured; the
		// tenant is named for the planner, which then reads the tenant's
		// chunks through its index (row-level security applies it anyway).
		scan := `SELECT id, embedding <=> ` + v + ` AS dist FROM chunks WHERE ` + where + ` ORDER BY embedding <=> ` + v + ` LIMIT ` + nArg
		if exact {
			scan = `SELECT id, cosine_distance(embedding, ` + v + `) AS dist FROM chunks WHERE tenant_id = ` + arg(q.Scope.Tenant) +
				` AND ` + where + ` ORDER BY dist, id LIMIT ` + nArg
		}
		ctes = append(ctes, `v AS (
			SELECT id, 1 - dist AS score, row_number() OVER (ORDER BY dist, id) AS rank FROM (
				`+scan+`
			) s)`)
		arms = append(arms, "v")
	}
	if q.Mode != Vector && len(words.all) > 0 {
		// Each word is quoted as a lexeme so that no query text is parsed
		// as tsquery syntax. The queries are plain parameters, so the
		// planner can use the GIN index.
		tsq := func(words []string, op string) string {
			q := "to_tsquery('" + knowledge.TextSearchConfig + "', " + arg(lexemes(words, op)) + ")"
			if generic {
				q = "(SELECT " + q + ")"
			}
			return q
		}
		// Chunks with every word rank first (tier 0), then those with some.
		// A long query (a task's context) skips the every-word form: a
		// chunk practically never has all of its words, and proving that
		// costs the GIN index an intersection of every word's posting list
		// (9-22 ms over 1,000,000 chunks), while the any-word form still
		// ranks highest a chunk that has them all.
		var lexical string
		everyWord := len(words.all) <= maxEveryWordTerms
		if everyWord {
			all := tsq(words.all, " & ")
			ctes = append(ctes, `la AS MATERIALIZED (
			SELECT id, ts_rank_cd(lex, `+all+`, 1) AS score FROM (
				SELECT id, lex FROM chunks WHERE lex @@ `+all+` AND `+where+` LIMIT `+strconv.Itoa(lexicalCap)+`
			) c ORDER BY score DESC, id LIMIT `+nArg+`)`)
			lexical = "SELECT id, score, 0 AS tier FROM la"
		}
		if len(words.all) > 1 {
			// Chunks are found by their content words (a function word
			// would match nearly every chunk) and ranked by all the words.
			anyContent := tsq(words.content, " | ")
			rank := orRankCD(arg(strings.Join(words.all, " ")))
			after := "true"
			if everyWord {
				after = `(SELECT count(*) FROM la) < ` + nArg + ` AND id NOT IN (SELECT id FROM la)`
			}
			ctes = append(ctes, `lo AS (
				SELECT id, `+rank+` AS score FROM (
					SELECT id, lex, lex_positions FROM chunks WHERE lex @@ `+anyContent+` AND `+where+` LIMIT `+strconv.Itoa(lexicalCap)+`
				) c WHERE `+after+`
				ORDER BY score DESC, id LIMIT `+nArg+`)`)
			if lexical != "" {
				lexical += " UNION ALL "
			}
			lexical += "SELECT id, score, 1 AS tier FROM lo"
		}
		ctes = append(ctes, `l AS (
			SELECT id, score, row_number() OVER (ORDER BY tier, score DESC, id) AS rank FROM (`+lexical+`) x)`)
		arms = append(arms, "l")
	}
	k := arg(rrfK)
	limit := q.K
	embCol := "NULL::vector"
	if q.Diversity > 0 {
		// MMR re-ranks every fused candidate by its embedding.
		limit, embCol = 2*n, "c.embedding"
	}
	rrf := func(arm string) string { return "1 / (" + k + "::float8 + " + arm + ".rank)" }
	var fused string
	switch len(arms) {
	case 2:
		fused = `SELECT coalesce(v.id, l.id) AS id, v.score AS vscore, v.rank AS vrank, l.score AS lscore, l.rank AS lrank,
				coalesce(` + rrf("v") + `, 0) + coalesce(` + rrf("l") + `, 0) AS score
			FROM v FULL JOIN l ON l.id = v.id`
	case 1:
		a := arms[0]
		cols := "score::float8 AS vscore, rank AS vrank, NULL::float8 AS lscore, NULL::bigint AS lrank"
		if a == "l" {
			cols = "NULL::float8 AS vscore, NULL::bigint AS vrank, score::float8 AS lscore, rank AS lrank"
		}
		fused = "SELECT id, " + cols + ", " + rrf(a) + " AS score FROM " + a
	default:
		return "SELECT NULL::bigint, 0::float8, NULL::float8, NULL::bigint, NULL::float8, NULL::bigint, NULL::uuid, 0, '', '', '', '', '{}'::text[], 0, '', 0, 0, NULL::vector WHERE false", args
	}
	ctes = append(ctes, "f AS ("+fused+" ORDER BY score DESC, id LIMIT "+arg(limit)+")")
	return `WITH ` + strings.Join(ctes, ",\n") + `
		SELECT f.id, f.score, f.vscore, f.vrank, f.lscore, f.lrank, c.document_id, c.ordinal, d.title, d.source,
			c.kind, c.region, c.heading_path, c.page, c.text, c.token_count, c.overlap, ` + embCol + `
		-- One primary-key lookup per fused hit: OFFSET 0 keeps the planner,
		-- which cannot estimate the CTEs, from joining every visible chunk.
		FROM f CROSS JOIN LATERAL (SELECT * FROM chunks WHERE id = f.id OFFSET 0) c
		JOIN documents d ON d.id = c.document_id
		ORDER BY f.score DESC, f.id`, args
}

// orRankCD renders ts_rank_cd(lex, l1 | l2 | ..., 1) for the lexemes
// l1, l2, ... that PostgreSQL makes of the parameter words (space-separated)
// without calling it. ts_rank_cd sums, over the query's covers, the cover's
// weight over its noise; for single lexemes joined by OR every cover is one
// matching position, of weight 0.1 (D, the weight of every lexeme in lex)
// and no noise, so the rank is 0.1 × (positions of the query's lexemes) /
// ln(1 + positions in the chunk), rounded to float4 like ts_rank_cd's
// result. That takes one filtered copy of the tsvector instead of
// ts_rank_cd's walk over the query for every matching position (about 8x
// cheaper for a 25-word query): the query's lexemes are marked with weight A
// and kept, and since every other position has weight D (ingest writes lex
// with to_tsvector, which weighs nothing) no other position is kept.
//
// A word that PostgreSQL reads as several tokens (30-day, 2024-01-20,
// x86-64; to_tsquery would make it a phrase) is ranked by its parts, each a
// lexeme of the OR: a bag of words, like the rest of the any-word form.
// Calling ts_rank_cd for such queries instead cost about 56 µs a chunk for
// a two-sentence query, 56 of a search's 69 ms over 100,000 chunks, where
// matches are many and the form ranks up to lexicalCap of them.
// TestOrRankMatchesTsRankCD checks the identity and that weighting on the
// demo corpus.
func orRankCD(words string) string {
	queryLexemes := "(SELECT tsvector_to_array(to_tsvector('" + knowledge.TextSearchConfig + "', " + words + "::text)))"
	matched := "(SELECT coalesce(sum(cardinality(u.positions)), 0) FROM unnest(ts_filter(setweight(lex, 'A', " +
		queryLexemes + "), '{a}')) u)"
	return "(0.1::float4::float8 * " + matched + " / ln(1 + greatest(coalesce(lex_positions, dealdesk_lex_positions(lex)), 1)))::float4"
}

// compoundParts splits a word of ASCII letters joined by '-' or '_'
// (follow-up, data-security, x_y) into its parts, the words PostgreSQL's
// parser also indexes it by, so that the any-word form finds chunks by
// either part instead of only by the phrase. The parts find every chunk the
// phrase found, unless they are all stop words ("up-to", whose parts
// PostgreSQL drops). Other words are kept whole: a date such as
// 2024-01-20 is indexed as 2024, -01 and -20, and v2.0 as one token.
func compoundParts(w string) []string {
	if !strings.ContainsAny(w, "-_") {
		return []string{w}
	}
	parts := strings.FieldsFunc(w, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) < 2 {
		return []string{w}
	}
	for _, p := range parts {
		for _, r := range p {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
				return []string{w}
			}
		}
	}
	return parts
}

// terms are a query's words for the lexical arm: all its distinct words,
// and the content words among them (without stop words, unless the query
// has nothing else).
type terms struct{ all, content []string }

func queryWords(text string) terms {
	var t terms
	for _, word := range lang.Words(text) {
		for _, w := range compoundParts(word) {
			if slices.Contains(t.all, w) {
				continue
			}
			t.all = append(t.all, w)
			if !lang.IsStopWord(w) {
				t.content = append(t.content, w)
			}
		}
	}
	if len(t.content) == 0 {
		t.content = t.all
	}
	return t
}

// filterSQL renders the filters as a WHERE clause over chunks, with its
// arguments numbered from first.
func filterSQL(f Filters, first int) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", first+len(args)-1)))
	}
	if len(f.Kinds) > 0 {
		add("kind = ANY ($?::text[])", f.Kinds)
	}
	if len(f.Regions) > 0 {
		add("region = ANY ($?::text[])", f.Regions)
	}
	if len(f.Industries) > 0 {
		add("industry = ANY ($?::text[])", f.Industries)
	}
	if len(f.Customers) > 0 {
		add("customer = ANY ($?::text[])", f.Customers)
	}
	if len(f.Tags) > 0 {
		// Any of the tags, as verbatim lexemes of tag_lex: @@ may use the
		// chunks_tags index under row-level security, && may not.
		if tags := slices.DeleteFunc(slices.Clone(f.Tags), func(t string) bool { return t == "" }); len(tags) == 0 {
			conds = append(conds, "false")
		} else {
			add("tag_lex @@ $?::tsquery", lexemes(tags, " | "))
		}
	}
	if len(f.DocumentIDs) > 0 {
		add("document_id = ANY ($?::uuid[])", f.DocumentIDs)
	}
	if f.From != nil {
		add("doc_date >= $?::date", *f.From)
	}
	if f.To != nil {
		add("doc_date <= $?::date", *f.To)
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), args
}

// mmr re-ranks hits by maximal marginal relevance: each pick maximises
// (1-diversity)·relevance - diversity·(similarity to what was picked).
func mmr(hits []Hit, k int, diversity float64) []Hit {
	if len(hits) == 0 {
		return hits
	}
	maxScore := hits[0].Score
	picked := make([]Hit, 0, min(k, len(hits)))
	used := make([]bool, len(hits))
	for len(picked) < k && len(picked) < len(hits) {
		best, bestVal := -1, math.Inf(-1)
		for i, h := range hits {
			if used[i] {
				continue
			}
			sim := 0.0
			for _, p := range picked {
				sim = math.Max(sim, cosine(h.embedding, p.embedding))
			}
			val := (1-diversity)*h.Score/maxScore - diversity*sim
			if val > bestVal {
				best, bestVal = i, val
			}
		}
		used[best] = true
		picked = append(picked, hits[best])
	}
	return picked
}

func cosine(a, b []float32) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
