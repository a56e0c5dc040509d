package cli

import (
	"github.com/dealdesk/dealdesk/assistant"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/api"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

// Config is every setting of the dealdesk binary. Each subcommand binds the
// parts it uses.
type Config struct {
	DatabaseURL string
	DBMaxConns  int
	LogLevel    string
	LogFormat   string
	Models      providers.Config
	HTTP        api.Config
	CORSOrigins stringList
	// KeyCacheTTL is how long the server trusts an API key it has read
	// (auth.Service.CacheKeys).
	KeyCacheTTL time.Duration

	Retrieval retrieval.Config
	Assistant assistant.Config

	ChunkTokens   int
	ChunkOverlap  int
	IngestWorkers int
}

func (c *Config) bindIngest(fs *flag.FlagSet) {
	fs.IntVar(&c.ChunkTokens, "chunk-tokens", 400, "target chunk size in tokens")
	fs.IntVar(&c.ChunkOverlap, "chunk-overlap", 60, "tokens of trailing sentences repeated at the start of the next chunk")
	fs.IntVar(&c.IngestWorkers, "ingest-workers", 2, "files (or queued uploads) ingested at once")
}

func (c *Config) bindRetrieval(fs *flag.FlagSet) {
	r := &c.Retrieval
	fs.IntVar(&r.EfSearch, "hnsw-ef-search", retrieval.DefaultEfSearch, "HNSW candidate list per vector search (recall against speed)")
	fs.IntVar(&r.Candidates, "search-candidates", 50, "hits each search arm contributes to fusion")
	fs.Float64Var(&r.RRFK, "rrf-k", 60, "k of reciprocal rank fusion, 1/(k+rank)")
	fs.IntVar(&r.MaxScanTuples, "hnsw-max-scan-tuples", 20000, "bound of pgvector's iterative scan for filtered searches")
	fs.DurationVar(&r.LexicalTimeout, "lexical-timeout", 150*time.Millisecond, "time budget of a hybrid search's statement; past it the search answers from vectors alone")
	fs.IntVar(&r.ExactMaxChunks, "search-exact-max-chunks", 1000, "tenants with at most this many chunks (or a small share of a large table) get exact vector search instead of the HNSW index (-1: never)")
	fs.IntVar(&r.GenericPlanMaxChunks, "search-generic-plan-max-chunks", 5000, "largest chunks table (rows, all tenants) searched with generic plans, planned once per connection; larger tables get custom plans (-1: always custom)")
}

func (c *Config) bindAssistant(fs *flag.FlagSet) {
	a := &c.Assistant
	fs.IntVar(&a.MaxDocumentTokens, "max-document-tokens", 8000, "longest transcript, tender or intel text a task reads, in tokens; longer ones are cut with a warning")
	fs.IntVar(&a.SourceBudget, "source-budget", 0, "token budget of retrieved sources in a task prompt (0: each task's own default)")
	fs.DurationVar(&a.Timeout, "task-timeout", 3*time.Minute, "longest time one assistant task may take, retrieval and model included (the request timeout applies too)")
}

func (c *Config) knowledgeOptions(log *slog.Logger, info providers.Info) knowledge.StoreOptions {
	return knowledge.StoreOptions{
		EmbedModel: fmt.Sprintf("%s/%s/%d", info.EmbedProvider, info.EmbedModel, info.EmbedDim),
		Chunker:    knowledge.Chunker{TargetTokens: c.ChunkTokens, OverlapTokens: c.ChunkOverlap},
		Logger:     log,
		EmbedBatch: c.Models.EmbedBatchSize,
	}
}

func (c *Config) bindDatabase(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL, as a role without SUPERUSER/BYPASSRLS (make run sets it)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 20, "maximum database connections in the pool")
}

func (c *Config) bindLog(fs *flag.FlagSet) {
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
}

func (c *Config) bindModels(fs *flag.FlagSet) {
	m := &c.Models
	fs.StringVar(&m.Provider, "model-provider", providers.ProviderOffline, "chat model provider: offline (built in, no network), openai (any OpenAI-compatible URL) or ollama")
	fs.StringVar(&m.BaseURL, "model-base-url", "", "provider base URL, e.g. https://api.deepseek.com/v1 or http://localhost:11434")
	fs.StringVar(&m.APIKey, "model-api-key", "", "provider API key, sent as a bearer token")
	fs.StringVar(&m.ChatModel, "chat-model", "", "chat model name, e.g. qwen2.5:7b or deepseek-chat")
	fs.StringVar(&m.EmbedProvider, "embed-provider", "", "embedding provider (default: same as --model-provider)")
	fs.StringVar(&m.EmbedBaseURL, "embed-base-url", "", "embedding provider URL (default: --model-base-url when the provider is the same)")
	fs.StringVar(&m.EmbedAPIKey, "embed-api-key", "", "embedding provider key (default: --model-api-key when the provider is the same)")
	fs.StringVar(&m.EmbedModel, "embed-model", "", "embedding model name, e.g. bge-m3")
	fs.IntVar(&m.EmbedDim, "embed-dim", providers.DefaultEmbedDim, "embedding dimension; fixed when the database schema is created")
	fs.BoolVar(&m.EmbedRequestDim, "embed-request-dim", false, "send the dimension in OpenAI embedding requests (for models that can shorten their vectors)")
	fs.BoolVar(&m.LegacyMaxTokens, "model-legacy-max-tokens", false, "send max_tokens instead of max_completion_tokens (older OpenAI-compatible servers)")
	fs.IntVar(&m.EmbedBatchSize, "embed-batch-size", providers.DefaultEmbedBatchSize, "texts per embedding request")
	fs.IntVar(&m.EmbedWorkers, "embed-workers", providers.DefaultEmbedWorkers, "embedding requests in flight at once")
	fs.DurationVar(&m.Timeout, "model-timeout", providers.DefaultTimeout, "timeout of each model call (for streams: first chunk and gaps between chunks)")
	fs.DurationVar(&m.StreamTimeout, "model-stream-timeout", providers.DefaultStreamTimeout, "timeout of a whole streamed model call")
	fs.IntVar(&m.MaxRetries, "model-max-retries", providers.DefaultMaxRetries, "retries of a failed model call (429, 5xx, connection errors); negative disables")
	fs.DurationVar(&m.RetryBaseDelay, "model-retry-base-delay", providers.DefaultRetryBaseDelay, "first backoff step; doubles per attempt with full jitter")
	fs.DurationVar(&m.RetryMaxDelay, "model-retry-max-delay", providers.DefaultRetryMaxDelay, "longest wait between attempts, Retry-After included")
	fs.IntVar(&m.BreakerFailures, "model-breaker-failures", providers.DefaultBreakerFailures, "consecutive failures that open the circuit breaker")
	fs.DurationVar(&m.BreakerCooldown, "model-breaker-cooldown", providers.DefaultBreakerCooldown, "how long an open breaker rejects calls")
}

func (c *Config) bindHTTP(fs *flag.FlagSet) {
	h := &c.HTTP
	fs.StringVar(&h.Addr, "addr", ":8080", "listen address")
	fs.StringVar(&h.BodyLimit, "body-limit", "1M", "largest JSON request body (K, M, G suffixes)")
	fs.StringVar(&h.UploadLimit, "upload-limit", "32M", "largest document upload")
	fs.Float64Var(&h.RateLimit, "rate-limit", 20, "requests per second allowed per API key")
	fs.IntVar(&h.RateBurst, "rate-burst", 40, "burst of requests allowed per API key")
	fs.Var(&c.CORSOrigins, "cors-origins", "comma-separated origins allowed by CORS (empty: CORS off)")
	fs.DurationVar(&h.RequestTimeout, "request-timeout", 60*time.Second, "longest time a request may take")
	fs.DurationVar(&h.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "grace period for in-flight requests on shutdown")
	fs.DurationVar(&c.KeyCacheTTL, "key-cache-ttl", auth.DefaultKeyCacheTTL, "how long a valid API key is trusted without reading it again; a key revoked through another server or the CLI works here that much longer (0: read every request)")
}

// validate reports every configuration problem at once.
func (c *Config) validate(needDB, needModels bool) error {
	var errs []error
	if needDB {
		if c.DatabaseURL == "" {
			errs = append(errs, errors.New("no database: set DEALDESK_DATABASE_URL or --database-url (make run starts a private cluster and sets it)"))
		} else if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			errs = append(errs, fmt.Errorf("DEALDESK_DATABASE_URL: %v", err))
		}
		if c.DBMaxConns < 1 {
			errs = append(errs, fmt.Errorf("DEALDESK_DB_MAX_CONNS must be at least 1, got %d", c.DBMaxConns))
		}
	}
	if needModels {
		if err := c.Models.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("DEALDESK_LOG_LEVEL %q: use debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("DEALDESK_LOG_FORMAT %q: use json or text", c.LogFormat))
	}
	if c.IngestWorkers < 0 || c.ChunkTokens < 0 {
		errs = append(errs, errors.New("DEALDESK_INGEST_WORKERS and DEALDESK_CHUNK_TOKENS must not be negative"))
	}
	if c.KeyCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("DEALDESK_KEY_CACHE_TTL must not be negative, got %s", c.KeyCacheTTL))
	}
	if c.HTTP.RateLimit < 0 || c.HTTP.RateBurst < 0 {
		errs = append(errs, errors.New("DEALDESK_RATE_LIMIT and DEALDESK_RATE_BURST must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c *Config) migrateOptions() store.MigrateOptions {
	dim := c.Models.EmbedDim
	if dim == 0 {
		dim = providers.DefaultEmbedDim
	}
	return store.MigrateOptions{EmbedDim: dim}
}

func (c *Config) openDB(ctx context.Context) (*pgxpool.Pool, error) {
	return store.Open(ctx, store.PoolConfig{URL: c.DatabaseURL, MaxConns: int32(c.DBMaxConns)})
}
