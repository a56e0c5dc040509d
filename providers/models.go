package providers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/ollama"
	"github.com/tmc/langchaingo/llms/openai"
)

// Models is the configured chat model and embedder. Both are safe for
// concurrent use.
type Models struct {
	// LLM answers chat and completion calls.
	LLM llms.Model
	// Embedder turns text into vectors of Info.EmbedDim dimensions.
	Embedder embeddings.Embedder
	// Info describes the models for answers, logs and records.
	Info Info
}

// New validates cfg and builds the models it selects. It does not contact
// the provider: a server that is still starting must not stop DealDesk
// from starting; use Check for a readiness probe.
//
// Remote models get retries with backoff, a per-call time limit, a
// circuit breaker, token counting when the server reports no usage and,
// for embedders, a dimension check on every vector.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Models, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("component", "providers"))

	llm, err := newChatModel(cfg, logger)
	if err != nil {
		return nil, err
	}
	embedder, err := newEmbedder(cfg, logger)
	if err != nil {
		return nil, err
	}
	m := &Models{LLM: llm, Embedder: embedder, Info: infoFor(cfg)}
	logger.InfoContext(ctx, "model providers configured",
		slog.String("provider", m.Info.Provider), slog.String("chat_model", m.Info.ChatModel),
		slog.String("embed_provider", m.Info.EmbedProvider), slog.String("embed_model", m.Info.EmbedModel),
		slog.Int("embed_dim", m.Info.EmbedDim))
	return m, nil
}

// Check embeds a short probe text to confirm the embedder is reachable and
// returns vectors of the configured dimension. It does not call the chat
// model, which would cost tokens.
func (m *Models) Check(ctx context.Context) error {
	if _, err := m.Embedder.EmbedQuery(ctx, "DealDesk readiness probe"); err != nil {
		return fmt.Errorf("check embedder: %w", err)
	}
	return nil
}

// placeholderKey is sent to OpenAI-compatible servers that need no key
// (vLLM, local gateways): langchaingo refuses to build a client without one.
const placeholderKey = "EMPTY"

func newChatModel(cfg Config, logger *slog.Logger) (llms.Model, error) {
	var (
		inner llms.Model
		err   error
	)
	switch cfg.Provider {
	case ProviderOffline:
		return NewOfflineLLM(), nil
	case ProviderOpenAI:
		client := httpClient(cfg, cfg.Provider, "", logger)
		inner, err = openai.New(
			openai.WithBaseURL(cfg.BaseURL),
			openai.WithToken(keyOrPlaceholder(cfg.APIKey)),
			openai.WithOrganization(""), // not OPENAI_ORGANIZATION from the environment
			openai.WithModel(cfg.ChatModel),
			openai.WithHTTPClient(client),
		)
	case ProviderOllama:
		client := httpClient(cfg, cfg.Provider, cfg.APIKey, logger)
		inner, err = ollama.New(
			ollama.WithServerURL(cfg.BaseURL),
			ollama.WithModel(cfg.ChatModel),
			ollama.WithHTTPClient(client),
		)
	}
	if err != nil {
		return nil, fmt.Errorf("%s chat client: %w", cfg.Provider, err)
	}
	name := fmt.Sprintf("%s chat %s", cfg.Provider, cfg.ChatModel)
	return &guardedLLM{
		inner:           inner,
		guard:           newGuard(name, cfg, logger),
		legacyMaxTokens: cfg.Provider == ProviderOpenAI && cfg.LegacyMaxTokens,
	}, nil
}

func newEmbedder(cfg Config, logger *slog.Logger) (embeddings.Embedder, error) {
	var (
		client embeddings.EmbedderClient
		err    error
	)
	switch cfg.EmbedProvider {
	case ProviderOffline:
		return NewOfflineEmbedder(cfg.EmbedDim), nil
	case ProviderOpenAI:
		opts := []openai.Option{
			openai.WithBaseURL(cfg.EmbedBaseURL),
			openai.WithToken(keyOrPlaceholder(cfg.EmbedAPIKey)),
			openai.WithOrganization(""),
			openai.WithModel(cfg.EmbedModel),
			openai.WithEmbeddingModel(cfg.EmbedModel),
			openai.WithHTTPClient(httpClient(cfg, cfg.EmbedProvider, "", logger)),
		}
		if cfg.EmbedRequestDim {
			opts = append(opts, openai.WithEmbeddingDimensions(cfg.EmbedDim))
		}
		client, err = openai.New(opts...)
	case ProviderOllama:
		// A client of its own: langchaingo's Ollama client embeds with the
		// model it chats with.
		client, err = ollama.New(
			ollama.WithServerURL(cfg.EmbedBaseURL),
			ollama.WithModel(cfg.EmbedModel),
			ollama.WithHTTPClient(httpClient(cfg, cfg.EmbedProvider, cfg.EmbedAPIKey, logger)),
		)
	}
	if err != nil {
		return nil, fmt.Errorf("%s embedding client: %w", cfg.EmbedProvider, err)
	}
	// Newlines are kept: current embedding models handle them, and
	// stripping rewrites the caller's slice in place.
	inner, err := embeddings.NewEmbedder(client,
		embeddings.WithStripNewLines(false), embeddings.WithBatchSize(cfg.EmbedBatchSize))
	if err != nil {
		return nil, fmt.Errorf("%s embedder: %w", cfg.EmbedProvider, err)
	}
	name := fmt.Sprintf("%s embeddings %s", cfg.EmbedProvider, cfg.EmbedModel)
	return &guardedEmbedder{
		inner:   inner,
		guard:   newGuard(name, cfg, logger),
		dim:     cfg.EmbedDim,
		batch:   cfg.EmbedBatchSize,
		workers: cfg.EmbedWorkers,
	}, nil
}

func keyOrPlaceholder(key string) string {
	if key == "" {
		return placeholderKey
	}
	return key
}

// httpClient builds the client under one langchaingo client: no
// http.Client.Timeout (it would cut long streams), a response header
// timeout instead, and the retry transport. apiKey is added as a bearer
// token for clients that do not send one themselves.
func httpClient(cfg Config, provider, apiKey string, logger *slog.Logger) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// A backstop for requests outside a guarded call; inside one, the
	// call's own deadline fires first and says more.
	base.ResponseHeaderTimeout = cfg.Timeout + cfg.Timeout/4
	// Enough idle connections for a busy server's concurrent model calls.
	base.MaxIdleConnsPerHost = max(2*cfg.EmbedWorkers, 64)
	return &http.Client{Transport: &retryTransport{
		base:       base,
		provider:   provider,
		apiKey:     apiKey,
		maxRetries: cfg.MaxRetries,
		baseDelay:  cfg.RetryBaseDelay,
		maxDelay:   cfg.RetryMaxDelay,
		logger:     logger,
	}}
}
