package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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
	Degraded []string      `json:"degraded,omitempty"`
	Took     time.Duration `json:"-"`
}

// ErrInvalidQuery marks a query the caller must fix.
var ErrInvalidQuery = errors.New("invalid query")

// Config tunes the searcher. Zero values take the defaults, chosen from the
// measurements in make bench (see README).
type Config struct {
	// EfSearch is hnsw.ef_search: the candidate list of the HNSW scan
	// (default 80). Higher is slower and closer to exact.
	EfSearch int
	// Candidates is how many hits each arm contributes to fusion (default
	// 50, at least K).
	Candidates int
	// RRFK is the k of reciprocal rank fusion, 1/(k+rank) (default 60).
	RRFK float64
	// MaxScanTuples bounds pgvector's iterative scan for filtered queries
	// (hnsw.max_scan_tuples, default 20000).
	MaxScanTuples int
	// LexicalTimeout bounds the lexical arm (default 150ms). PostgreSQL
	// must rank every chunk that matches before it can sort, so a query of
	// words common across a large corpus can take seconds; past the budget
	// the search answers from the vector arm alone and says so (Degraded).
	LexicalTimeout time.Duration
}

func (c *Config) defaults() {
	if c.EfSearch <= 0 {
		c.EfSearch = 80
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
}

// Searcher runs searches against the chunks table.
type Searcher struct {
	db       *pgxpool.Pool
	embedder embeddings.Embedder
	cfg      Config
}

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

	var hits []Hit
	var degraded []string
	err := store.InScope(ctx, s.db, q.Scope, func(tx pgx.Tx) error {
		var vecRanked, lexRanked []ranked
		var err error
		if q.Mode != Lexical {
			if vecRanked, err = s.vectorArm(ctx, tx, vec, q.Filters, n); err != nil {
				return fmt.Errorf("vector search: %w", err)
			}
		}
		if q.Mode != Vector && len(words) > 0 {
			lexRanked, err = s.boundedLexical(ctx, tx, words, q.Filters, n)
			switch {
			case errors.Is(err, errLexicalTimeout) && q.Mode == Hybrid:
				degraded = append(degraded, string(Lexical))
			case err != nil:
				return fmt.Errorf("lexical search: %w", err)
			}
		}
		fused := fuse(vecRanked, lexRanked, s.cfg.RRFK)
		if q.Diversity == 0 && len(fused) > q.K {
			fused = fused[:q.K]
		}
		hits, err = load(ctx, tx, fused, q.Diversity > 0)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if q.Diversity > 0 {
		hits = mmr(hits, q.K, q.Diversity)
	}
	for i := range hits {
		hits[i].Snippet, hits[i].Highlights = snippet(hits[i].Text, words, 240)
	}
	return Result{Hits: hits, Mode: q.Mode, Degraded: degraded, Took: time.Since(start)}, nil
}

var errLexicalTimeout = errors.New("lexical search ran out of time")

// boundedLexical runs the lexical arm in a savepoint under LexicalTimeout,
// so that a timeout cancels only this arm, not the search.
func (s *Searcher) boundedLexical(ctx context.Context, tx pgx.Tx, words []string, f Filters, n int) ([]ranked, error) {
	// The savepoint and its time limit go in one round trip (simple
	// protocol: two statements), and so do their release.
	limit := fmt.Sprintf("SAVEPOINT lexical_arm; SET LOCAL statement_timeout = %d", max(1, s.cfg.LexicalTimeout.Milliseconds()))
	if _, err := tx.Exec(ctx, limit, pgx.QueryExecModeSimpleProtocol); err != nil {
		return nil, err
	}
	res, err := lexicalArm(ctx, tx, words, f, n)
	if err != nil {
		// Rolling back to the savepoint also undoes the SET LOCAL.
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lexical_arm", pgx.QueryExecModeSimpleProtocol); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil { // query_canceled by the timeout
			return nil, errLexicalTimeout
		}
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0; RELEASE SAVEPOINT lexical_arm", pgx.QueryExecModeSimpleProtocol); err != nil {
		return nil, err
	}
	return res, nil
}

// queryWords are the distinct words of the query for the lexical arm and
// highlighting.
func queryWords(text string) []string {
	var out []string
	for _, w := range lang.Words(text) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

type ranked struct {
	id    int64
	score float64
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
		add("tags && $?::text[]", f.Tags)
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

func (s *Searcher) vectorArm(ctx context.Context, tx pgx.Tx, vec pgvector.Vector, f Filters, n int) ([]ranked, error) {
	// Transaction-local index settings: a larger candidate list for
	// recall, and iterative scans so that rows removed by filters or by
	// the scope are replaced by further index candidates instead of
	// leaving the result short.
	if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL hnsw.ef_search = %d; SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.max_scan_tuples = %d`,
		max(s.cfg.EfSearch, n), s.cfg.MaxScanTuples)); err != nil {
		return nil, err
	}
	where, args := filterSQL(f, 3)
	// relaxed_order may return rows slightly out of order; the outer
	// ORDER BY puts them right (pgvector's documented pattern).
	rows, err := tx.Query(ctx, `SELECT id, dist FROM (
			SELECT id, embedding <=> $1 AS dist FROM chunks WHERE `+where+` ORDER BY embedding <=> $1 LIMIT $2
		) c ORDER BY dist`, append([]any{vec, n}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ranked, error) {
		var x ranked
		var dist float64
		err := r.Scan(&x.id, &dist)
		x.score = 1 - dist // cosine similarity
		return x, err
	})
}

// lexicalCap bounds how many matching chunks the OR form of a lexical
// query ranks. PostgreSQL ranks every match before it can sort, so a query
// of common words over a million chunks would otherwise rank most of them.
const lexicalCap = 1000

// lexicalArm ranks chunks by ts_rank_cd. It first asks for chunks with all
// the query words (AND: selective, cheap, and the best lexical matches);
// when that finds fewer than n it asks for chunks with any of them (OR),
// ranking at most lexicalCap of those.
func lexicalArm(ctx context.Context, tx pgx.Tx, words []string, f Filters, n int) ([]ranked, error) {
	all, err := lexicalQuery(ctx, tx, words, " & ", f, n, 0)
	if err != nil || len(all) >= n || len(words) == 1 {
		return all, err
	}
	return lexicalQuery(ctx, tx, words, " | ", f, n, lexicalCap)
}

func lexicalQuery(ctx context.Context, tx pgx.Tx, words []string, op string, f Filters, n, limit int) ([]ranked, error) {
	// Each word is quoted as a lexeme so that no query text is parsed as
	// tsquery syntax. The query is a plain parameter, so the planner can
	// use the GIN index.
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(w) + "'"
	}
	where, args := filterSQL(f, 3)
	tsq := "to_tsquery('" + knowledge.TextSearchConfig + "', $1)"
	candidates := "chunks"
	if limit > 0 {
		// The filters go inside the capped candidate set.
		candidates = fmt.Sprintf("(SELECT id, lex FROM chunks WHERE lex @@ %s AND %s LIMIT %d)", tsq, where, limit)
		where = "true"
	}
	// ts_rank_cd rewards more of the words, closer together.
	rows, err := tx.Query(ctx, `SELECT c.id, ts_rank_cd(c.lex, `+tsq+`, 1) AS rank FROM `+candidates+` c
		WHERE c.lex @@ `+tsq+` AND `+where+`
		ORDER BY rank DESC, c.id LIMIT $2`, append([]any{strings.Join(quoted, op), n}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ranked, error) {
		var x ranked
		err := r.Scan(&x.id, &x.score)
		return x, err
	})
}

type fusedHit struct {
	id     int64
	score  float64
	scores Scores
}

// fuse merges the arms by reciprocal rank fusion: score = sum over arms of
// 1/(k + rank). A single arm passes through in its own order.
func fuse(vec, lex []ranked, k float64) []fusedHit {
	byID := map[int64]*fusedHit{}
	var order []*fusedHit
	get := func(id int64) *fusedHit {
		h, ok := byID[id]
		if !ok {
			h = &fusedHit{id: id}
			byID[id] = h
			order = append(order, h)
		}
		return h
	}
	for i, r := range vec {
		h := get(r.id)
		sc := r.score
		h.scores.Vector, h.scores.VectorRank = &sc, i+1
		h.score += 1 / (k + float64(i+1))
	}
	for i, r := range lex {
		h := get(r.id)
		sc := r.score
		h.scores.Lexical, h.scores.LexicalRank = &sc, i+1
		h.score += 1 / (k + float64(i+1))
	}
	out := make([]fusedHit, len(order))
	for i, h := range order {
		out[i] = *h
	}
	slices.SortStableFunc(out, func(a, b fusedHit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return int(a.id - b.id)
	})
	return out
}

// load fetches the fused chunks with their documents, in fused order.
func load(ctx context.Context, tx pgx.Tx, fused []fusedHit, withEmbeddings bool) ([]Hit, error) {
	if len(fused) == 0 {
		return []Hit{}, nil
	}
	ids := make([]int64, len(fused))
	for i, f := range fused {
		ids[i] = f.id
	}
	embCol := "NULL::vector"
	if withEmbeddings {
		embCol = "c.embedding"
	}
	rows, err := tx.Query(ctx, `
		SELECT c.id, c.document_id, c.ordinal, d.title, d.source, c.kind, c.region, c.heading_path, c.page,
			c.text, c.token_count, c.overlap, `+embCol+`
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.id = ANY ($1)`, ids)
	if err != nil {
		return nil, err
	}
	byID := map[int64]Hit{}
	for rows.Next() {
		var h Hit
		var emb *pgvector.Vector
		if err := rows.Scan(&h.ChunkID, &h.DocumentID, &h.Ordinal, &h.Title, &h.Source, &h.Kind, &h.Region,
			&h.HeadingPath, &h.Page, &h.Text, &h.TokenCount, &h.overlap, &emb); err != nil {
			rows.Close()
			return nil, err
		}
		if emb != nil {
			h.embedding = emb.Slice()
		}
		byID[h.ChunkID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, len(fused))
	for _, f := range fused {
		h, ok := byID[f.id]
		if !ok {
			continue // deleted between the arms and now
		}
		h.SourceID = fmt.Sprintf("%s#%d", h.DocumentID, h.Ordinal)
		h.Score, h.Scores = f.score, f.scores
		hits = append(hits, h)
	}
	return hits, nil
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
