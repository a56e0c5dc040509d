package knowledge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	"github.com/tmc/langchaingo/embeddings"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/store"
)

// ErrNotFound means no document (or job) with that id is visible to the
// caller: it does not exist, belongs to another tenant, or is outside the
// caller's regions and roles.
var ErrNotFound = errors.New("not found")

// TextSearchConfig is the PostgreSQL text search configuration applied to
// segmented chunk text. 'english' stems English words; Chinese words, which
// lang has already separated with spaces, pass through unchanged.
const TextSearchConfig = "english"

// Store keeps documents and their chunks in PostgreSQL: parse, chunk, embed
// and write them, idempotently, one document version at a time.
type Store struct {
	db       *pgxpool.Pool
	embedder embeddings.Embedder
	loader   *Loader
	chunker  Chunker
	log      *slog.Logger
	// batch is how many chunks are embedded per call (and between two
	// progress reports).
	batch int
	// fingerprint names how chunks are made and embedded; it is part of
	// every document hash, so changing the chunker or the embedding model
	// re-processes documents on their next ingest.
	fingerprint string
}

// StoreOptions tunes a Store; zero values take the defaults.
type StoreOptions struct {
	Loader  *Loader
	Chunker Chunker
	Logger  *slog.Logger
	// EmbedBatch is the number of chunks embedded per call (default 64).
	EmbedBatch int
	// EmbedModel identifies the embedder (provider, model, dimension).
	EmbedModel string
}

// NewStore returns a Store writing to db and embedding with embedder.
func NewStore(db *pgxpool.Pool, embedder embeddings.Embedder, opts StoreOptions) *Store {
	s := &Store{db: db, embedder: embedder, loader: opts.Loader, chunker: opts.Chunker, log: opts.Logger, batch: opts.EmbedBatch}
	if s.loader == nil {
		s.loader = &Loader{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.batch <= 0 {
		s.batch = 64
	}
	target, overlap, maxTokens := s.chunker.sizes()
	s.fingerprint = fmt.Sprintf("chunker=%d/%d/%d embed=%s", target, overlap, maxTokens, opts.EmbedModel)
	return s
}

// Loader returns the loader the store parses files with.
func (s *Store) Loader() *Loader { return s.loader }

// Input is one file (or text) to ingest.
type Input struct {
	// Name is the file name or path relative to the ingest root. It is the
	// document's source (its identity for re-ingest) unless Meta.Source is
	// set.
	Name string
	Data []byte
	// Meta overrides what the file and its sidecar say.
	Meta Metadata
	// Sidecar is the parsed <name>.meta.yaml, if there is one.
	Sidecar *Metadata
	// DocumentID, when set, is the id a new document gets (an API upload
	// announces it before the job runs). An existing document keeps its id.
	DocumentID uuid.UUID
}

// Outcome says what an ingest did.
type Outcome string

// Ingest outcomes.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// Result reports one ingested document.
type Result struct {
	DocumentID uuid.UUID `json:"document_id"`
	Source     string    `json:"source"`
	Title      string    `json:"title"`
	Kind       Kind      `json:"kind"`
	Outcome    Outcome   `json:"outcome"`
	Version    int       `json:"version"`
	Chunks     int       `json:"chunks"`
	Tokens     int       `json:"tokens"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// Progress receives the stage of an ingest and, while embedding, how many
// of its chunks are done.
type Progress func(stage string, done, total int)

// Ingest parses, chunks, embeds and stores one document for the tenant. A
// document whose content and metadata hash is unchanged is skipped; a
// changed one replaces its chunks atomically as a new version.
func (s *Store) Ingest(ctx context.Context, tenant uuid.UUID, in Input, progress Progress) (Result, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	progress("parsing", 0, 0)
	parsed, meta, err := s.Validate(ctx, in)
	if err != nil {
		return Result{}, err
	}
	hash := documentHash(parsed, meta, s.fingerprint)
	res := Result{Source: meta.Source, Title: meta.Title, Kind: meta.Kind, Warnings: parsed.Warnings}

	existing, err := s.lookup(ctx, tenant, meta.Source)
	if err != nil {
		return Result{}, err
	}
	if existing != nil && existing.hash == hash {
		res.DocumentID, res.Outcome, res.Version, res.Chunks, res.Tokens =
			existing.id, Unchanged, existing.version, existing.chunks, existing.tokens
		progress("done", existing.chunks, existing.chunks)
		return res, nil
	}

	chunks := s.chunker.Chunk(parsed)
	if len(chunks) == 0 {
		return Result{}, fmt.Errorf("ingest %s: %w", in.Name, ErrEmpty)
	}
	rows, err := s.prepare(ctx, meta.Title, chunks, progress)
	if err != nil {
		return Result{}, fmt.Errorf("ingest %s: %w", in.Name, err)
	}
	progress("storing", len(chunks), len(chunks))
	id := in.DocumentID
	if id == uuid.Nil {
		id = uuid.New()
	}
	doc := docRow{id: id, meta: meta, format: string(parsed.Format), hash: hash, size: len(in.Data)}
	for _, c := range chunks {
		doc.tokens += c.TokenCount
	}
	doc.chunks = len(chunks)
	if err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		return writeDocument(ctx, tx, tenant, &doc, chunks, rows)
	}); err != nil {
		return Result{}, fmt.Errorf("ingest %s: store: %w", in.Name, err)
	}
	res.DocumentID, res.Version, res.Chunks, res.Tokens = doc.id, doc.version, doc.chunks, doc.tokens
	res.Outcome = Created
	if doc.version > 1 {
		res.Outcome = Updated
	}
	progress("done", len(chunks), len(chunks))
	return res, nil
}

// Validate parses in and resolves its metadata without storing anything:
// what an upload handler calls to refuse a broken file at once.
func (s *Store) Validate(ctx context.Context, in Input) (*Parsed, Metadata, error) {
	parsed, err := s.loader.Load(ctx, in.Name, bytes.NewReader(in.Data), int64(len(in.Data)))
	if err != nil {
		return nil, Metadata{}, err
	}
	meta, err := ResolveMetadata(in.Name, parsed, in.Meta, in.Sidecar)
	if err != nil {
		return nil, Metadata{}, err
	}
	if meta.Source == "" {
		meta.Source = in.Name
	}
	return parsed, meta, nil
}

// documentHash identifies what a document says, how it is described (the
// same file with a new region is a new version too) and how it is indexed.
func documentHash(p *Parsed, m Metadata, fingerprint string) string {
	h := sha256.New()
	h.Write([]byte(p.ContentHash()))
	h.Write([]byte(fingerprint))
	b, err := json.Marshal(m)
	if err != nil {
		fmt.Fprintf(h, "%+v", m)
	} else {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type existingDoc struct {
	id             uuid.UUID
	hash           string
	version        int
	chunks, tokens int
}

func (s *Store) lookup(ctx context.Context, tenant uuid.UUID, source string) (*existingDoc, error) {
	var d existingDoc
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, content_hash, version, chunk_count, token_count FROM documents WHERE source = $1`, source).
			Scan(&d.id, &d.hash, &d.version, &d.chunks, &d.tokens)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", source, err)
	}
	return &d, nil
}

// DocumentIDFor returns the id of the tenant's document with source, or
// uuid.Nil when there is none.
func (s *Store) DocumentIDFor(ctx context.Context, tenant uuid.UUID, source string) (uuid.UUID, error) {
	d, err := s.lookup(ctx, tenant, source)
	if err != nil || d == nil {
		return uuid.Nil, err
	}
	return d.id, nil
}

// chunkRow is what a chunk adds for storage: its vector and its segmented
// text for the lexical index.
type chunkRow struct {
	embedding pgvector.Vector
	lexText   string
}

// prepare embeds the chunks in batches and segments them for the lexical
// index, reporting progress per batch.
func (s *Store) prepare(ctx context.Context, title string, chunks []Chunk, progress Progress) ([]chunkRow, error) {
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.Contextual(title)
	}
	rows := make([]chunkRow, len(chunks))
	// Segment on every core first: the offline embedder then finds each
	// chunk's words in lang's cache instead of segmenting it again.
	var wg sync.WaitGroup
	workers := max(1, min(runtime.GOMAXPROCS(0), len(texts)/16))
	per := (len(texts) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		from, to := w*per, min(len(texts), (w+1)*per)
		if from >= to {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from; i < to; i++ {
				rows[i].lexText = lang.SegmentedText(texts[i])
			}
		}()
	}
	wg.Wait()
	progress("embedding", 0, len(chunks))
	var embedErr error
	for from := 0; from < len(texts); from += s.batch {
		to := min(len(texts), from+s.batch)
		vecs, err := s.embedder.EmbedDocuments(ctx, texts[from:to])
		if err != nil {
			embedErr = fmt.Errorf("embed chunks %d-%d: %w", from, to-1, err)
			break
		}
		if len(vecs) != to-from {
			embedErr = fmt.Errorf("embedder returned %d vectors for %d chunks", len(vecs), to-from)
			break
		}
		for i, v := range vecs {
			rows[from+i].embedding = pgvector.NewVector(v)
		}
		progress("embedding", to, len(chunks))
	}
	return rows, embedErr
}

type docRow struct {
	id             uuid.UUID
	meta           Metadata
	format, hash   string
	size           int
	version        int
	chunks, tokens int
}

var chunkColumns = []string{"ordinal", "text", "heading_path", "page", "token_count", "overlap", "embedding", "lex_text"}

// writeDocument upserts the document row and replaces its chunks: COPY into
// a transaction-local staging table, then one INSERT ... SELECT that builds
// the tsvectors, so the whole version appears at once or not at all.
func writeDocument(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, d *docRow, chunks []Chunk, rows []chunkRow) error {
	m := d.meta
	metaJSON, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	var date *time.Time
	if !m.Date.IsZero() {
		t := m.Date.Time()
		date = &t
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO documents (id, tenant_id, kind, title, source, region, industry, customer, doc_date, tags, language,
			access_regions, access_roles, metadata, format, content_hash, chunk_count, token_count, size_bytes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (tenant_id, source) DO UPDATE SET
			kind = EXCLUDED.kind, title = EXCLUDED.title, region = EXCLUDED.region, industry = EXCLUDED.industry,
			customer = EXCLUDED.customer, doc_date = EXCLUDED.doc_date, tags = EXCLUDED.tags, language = EXCLUDED.language,
			access_regions = EXCLUDED.access_regions, access_roles = EXCLUDED.access_roles, metadata = EXCLUDED.metadata,
			format = EXCLUDED.format, content_hash = EXCLUDED.content_hash, chunk_count = EXCLUDED.chunk_count,
			token_count = EXCLUDED.token_count, size_bytes = EXCLUDED.size_bytes,
			version = documents.version + 1, updated_at = now()
		RETURNING id, version`,
		d.id, tenant, m.Kind, m.Title, m.Source, m.Region, m.Industry, m.Customer, date, nonNil(m.Tags), m.Language,
		nonNil(m.Access.Regions), nonNil(m.Access.Roles), metaJSON, d.format, d.hash, d.chunks, d.tokens, d.size,
	).Scan(&d.id, &d.version)
	if err != nil {
		return fmt.Errorf("upsert document: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, d.id); err != nil {
		return fmt.Errorf("delete old chunks: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		CREATE TEMP TABLE chunk_stage (
			ordinal integer, text text, heading_path text[], page integer, token_count integer,
			overlap integer, embedding vector, lex_text text
		) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("stage chunks: %w", err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"chunk_stage"}, chunkColumns, pgx.CopyFromSlice(len(chunks), func(i int) ([]any, error) {
		c := chunks[i]
		return []any{c.Ordinal, c.Text, nonNil(c.HeadingPath), c.Page, c.TokenCount, c.Overlap, rows[i].embedding, rows[i].lexText}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy chunks: %w", err)
	}
	if int(n) != len(chunks) {
		return fmt.Errorf("copied %d of %d chunks", n, len(chunks))
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO chunks (tenant_id, document_id, ordinal, text, heading_path, page, token_count, overlap,
			kind, region, industry, customer, doc_date, tags, access_regions, access_roles, embedding, lex, lex_positions)
		SELECT $1, $2, s.ordinal, s.text, s.heading_path, s.page, s.token_count, s.overlap,
			d.kind, d.region, d.industry, d.customer, d.doc_date, d.tags, d.access_regions, d.access_roles,
			s.embedding, t.lex, dealdesk_lex_positions(t.lex)
		-- OFFSET 0 keeps the planner from inlining to_tsvector twice.
		FROM chunk_stage s CROSS JOIN LATERAL (SELECT to_tsvector('`+TextSearchConfig+`', s.lex_text) AS lex OFFSET 0) t, documents d
		WHERE d.id = $2`, tenant, d.id)
	if err != nil {
		return fmt.Errorf("insert chunks: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Document is a stored document as listed and shown by the API.
type Document struct {
	ID        uuid.UUID `json:"id"`
	Title     string    `json:"title"`
	Kind      Kind      `json:"kind"`
	Source    string    `json:"source"`
	Region    string    `json:"region"`
	Industry  string    `json:"industry,omitempty"`
	Customer  string    `json:"customer,omitempty"`
	Date      *Date     `json:"date,omitempty"`
	Tags      []string  `json:"tags"`
	Language  string    `json:"language,omitempty"`
	Access    Access    `json:"access"`
	Metadata  Metadata  `json:"metadata"`
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Chunks    int       `json:"chunks"`
	Tokens    int       `json:"tokens"`
	SizeBytes int64     `json:"size_bytes"`
	Hash      string    `json:"content_hash"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const documentColumns = `id, title, kind, source, region, industry, customer, doc_date, tags, language,
	access_regions, access_roles, metadata, format, version, chunk_count, token_count, size_bytes, content_hash, created_at, updated_at`

func scanDocument(row pgx.Row) (Document, error) {
	var d Document
	var date *time.Time
	var meta []byte
	err := row.Scan(&d.ID, &d.Title, &d.Kind, &d.Source, &d.Region, &d.Industry, &d.Customer, &date, &d.Tags, &d.Language,
		&d.Access.Regions, &d.Access.Roles, &meta, &d.Format, &d.Version, &d.Chunks, &d.Tokens, &d.SizeBytes, &d.Hash,
		&d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return d, err
	}
	if date != nil {
		dd := DateOf(*date)
		d.Date = &dd
	}
	if err := json.Unmarshal(meta, &d.Metadata); err != nil {
		return d, fmt.Errorf("decode metadata of %s: %w", d.ID, err)
	}
	return d, nil
}

// Get returns one document visible in scope.
func (s *Store) Get(ctx context.Context, scope store.Scope, id uuid.UUID) (Document, error) {
	var d Document
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		var err error
		d, err = scanDocument(tx.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	return d, err
}

// Text returns one document visible in scope with its text, rebuilt from
// its chunks in order with the overlap each chunk repeats from the one
// before dropped. Tasks that read a whole ingested document (a tender to
// analyse) use it.
func (s *Store) Text(ctx context.Context, scope store.Scope, id uuid.UUID) (Document, string, error) {
	var (
		d      Document
		chunks []Chunk
	)
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		var err error
		d, err = scanDocument(tx.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1`, id))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT text, overlap FROM chunks WHERE document_id = $1 ORDER BY ordinal`, id)
		if err != nil {
			return err
		}
		var c Chunk
		_, err = pgx.ForEachRow(rows, []any{&c.Text, &c.Overlap}, func() error {
			chunks = append(chunks, c)
			return nil
		})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, "", fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	return d, JoinChunks(chunks), err
}

// JoinChunks rebuilds a document's text from its chunks, in order: the
// overlap a chunk repeats from the one before is dropped (what follows it
// continues the same section, after a space), and other chunks start a
// new paragraph. Table rows keep their rendered form, one a line
// ("参数项: API 网关吞吐 | 指标: 12,000 TPS").
func JoinChunks(chunks []Chunk) string {
	var text strings.Builder
	for i, c := range chunks {
		chunk := c.Text
		if i > 0 && c.Overlap > 0 && c.Overlap <= len(chunk) {
			chunk = strings.TrimLeft(chunk[c.Overlap:], " \n")
			text.WriteString(" ")
		} else if i > 0 {
			text.WriteString("\n\n")
		}
		text.WriteString(chunk)
	}
	return text.String()
}

// Delete removes a document visible in scope and its chunks.
func (s *Store) Delete(ctx context.Context, scope store.Scope, id uuid.UUID) error {
	var n int64
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete document %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	return nil
}

// ListFilter narrows a document listing.
type ListFilter struct {
	Kinds   []Kind
	Regions []string
	Tags    []string
	// Query matches titles and sources (case-insensitive substring).
	Query string
	Limit int // default 50, at most 200
	// Cursor continues a previous listing (its NextCursor).
	Cursor string
}

// ErrBadCursor means a listing cursor was not one this server issued.
var ErrBadCursor = errors.New("invalid cursor")

// List returns documents visible in scope, newest first, with a cursor for
// the next page ("" when there is none).
func (s *Store) List(ctx context.Context, scope store.Scope, f ListFilter) ([]Document, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	var after *cursor
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	kinds := make([]string, len(f.Kinds))
	for i, k := range f.Kinds {
		kinds[i] = string(k)
	}
	var docs []Document
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		var at *time.Time
		var id *uuid.UUID
		if after != nil {
			at, id = &after.At, &after.ID
		}
		rows, err := tx.Query(ctx, `SELECT `+documentColumns+` FROM documents
			WHERE (cardinality($1::text[]) = 0 OR kind = ANY ($1))
			  AND (cardinality($2::text[]) = 0 OR region = ANY ($2))
			  AND (cardinality($3::text[]) = 0 OR tags && $3)
			  AND ($4 = '' OR title ILIKE '%' || $4 || '%' OR source ILIKE '%' || $4 || '%')
			  AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid))
			ORDER BY created_at DESC, id DESC LIMIT $7`,
			kinds, nonNil(f.Regions), nonNil(f.Tags), escapeLike(f.Query), at, id, limit+1)
		if err != nil {
			return err
		}
		docs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDocument(r) })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	next := ""
	if len(docs) > limit {
		last := docs[limit-1]
		next = encodeCursor(cursor{At: last.CreatedAt, ID: last.ID})
		docs = docs[:limit]
	}
	if docs == nil {
		docs = []Document{}
	}
	return docs, next, nil
}

type cursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == uuid.Nil {
		return c, ErrBadCursor
	}
	return c, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSpace(s))
}
