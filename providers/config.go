package providers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Provider names accepted in Config.Provider and Config.EmbedProvider.
const (
	ProviderOffline = "offline"
	ProviderOpenAI  = "openai"
	ProviderOllama  = "ollama"
)

// Defaults applied by Config for fields left at their zero value.
const (
	DefaultEmbedDim        = 384
	DefaultTimeout         = 60 * time.Second
	DefaultStreamTimeout   = 10 * time.Minute
	DefaultMaxRetries      = 3
	DefaultRetryBaseDelay  = 500 * time.Millisecond
	DefaultRetryMaxDelay   = 20 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultEmbedBatchSize  = 64
	DefaultEmbedWorkers    = 4
	DefaultOllamaURL       = "http://localhost:11434"

	// maxEmbedDim is pgvector's limit for the vector type.
	maxEmbedDim = 16000
)

// Config selects and tunes the model provider. Each field documents the
// DEALDESK_* environment variable it is read from; zero values take the
// documented defaults.
type Config struct {
	// Provider is the chat model provider (DEALDESK_MODEL_PROVIDER):
	// "offline" (default, no network), "openai" (any OpenAI-compatible
	// server: OpenAI, vLLM, DeepSeek, Qwen/DashScope compatible mode) or
	// "ollama".
	Provider string
	// BaseURL is the provider's address (DEALDESK_MODEL_BASE_URL), e.g.
	// https://api.deepseek.com/v1 or http://localhost:11434. Required for
	// openai; ollama defaults to http://localhost:11434.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer" (DEALDESK_MODEL_API_KEY).
	// Optional for self-hosted servers.
	APIKey string
	// ChatModel names the chat model (DEALDESK_CHAT_MODEL).
	ChatModel string
	// LegacyMaxTokens sends the answer length limit as "max_tokens"
	// instead of "max_completion_tokens" to OpenAI-compatible servers
	// (DEALDESK_MODEL_LEGACY_MAX_TOKENS, default false). Set it for servers
	// that ignore or reject the newer field (older vLLM, some gateways);
	// OpenAI's reasoning models accept only the newer one.
	LegacyMaxTokens bool

	// EmbedProvider is the embedding provider (DEALDESK_EMBED_PROVIDER);
	// empty means the same as Provider. Set it when the chat provider has
	// no embeddings endpoint (DeepSeek, for one) or to keep embeddings
	// local while chatting with a hosted model.
	EmbedProvider string
	// EmbedBaseURL is the embedding provider's address
	// (DEALDESK_EMBED_BASE_URL); empty means BaseURL when both sides use
	// the same provider.
	EmbedBaseURL string
	// EmbedAPIKey is the embedding provider's key (DEALDESK_EMBED_API_KEY);
	// empty means APIKey when both sides use the same provider.
	EmbedAPIKey string
	// EmbedModel names the embedding model (DEALDESK_EMBED_MODEL).
	EmbedModel string
	// EmbedDim is the dimension of the database's embedding column
	// (DEALDESK_EMBED_DIM, default 384). Real embedders must return exactly
	// this many dimensions; every call checks.
	EmbedDim int
	// EmbedRequestDim sends EmbedDim as the "dimensions" field of OpenAI
	// embedding requests (DEALDESK_EMBED_REQUEST_DIM, default false). Only
	// models that can shorten their vectors accept it (OpenAI
	// text-embedding-3, DashScope text-embedding-v3); most other
	// OpenAI-compatible servers reject the field.
	EmbedRequestDim bool
	// EmbedBatchSize is how many texts go into one embedding request
	// (DEALDESK_EMBED_BATCH_SIZE, default 64).
	EmbedBatchSize int
	// EmbedWorkers is how many embedding requests run at once
	// (DEALDESK_EMBED_WORKERS, default 4).
	EmbedWorkers int

	// Timeout bounds each outbound call (DEALDESK_MODEL_TIMEOUT, default
	// 60s). For streamed chat it bounds the wait for the first chunk and
	// the silence between chunks, so long answers are not cut.
	Timeout time.Duration
	// StreamTimeout bounds a whole streamed chat call
	// (DEALDESK_MODEL_STREAM_TIMEOUT, default 10m).
	StreamTimeout time.Duration
	// MaxRetries is how many times a failed request is retried
	// (DEALDESK_MODEL_MAX_RETRIES, default 3; negative disables retries).
	MaxRetries int
	// RetryBaseDelay is the first backoff step (DEALDESK_MODEL_RETRY_BASE_DELAY,
	// default 500ms); backoff doubles per attempt with full jitter.
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps every wait between attempts, including waits the
	// server asks for with Retry-After (DEALDESK_MODEL_RETRY_MAX_DELAY,
	// default 20s).
	RetryMaxDelay time.Duration
	// BreakerFailures is how many consecutive failed calls open the circuit
	// breaker (DEALDESK_MODEL_BREAKER_FAILURES, default 5).
	BreakerFailures int
	// BreakerCooldown is how long an open breaker rejects calls before
	// letting one probe through (DEALDESK_MODEL_BREAKER_COOLDOWN, default 30s).
	BreakerCooldown time.Duration
}

// withDefaults returns c with zero values replaced by the defaults and
// the embedding side filled in from the chat side where left empty.
func (c Config) withDefaults() Config {
	c.Provider = strings.ToLower(strings.TrimSpace(c.Provider))
	c.EmbedProvider = strings.ToLower(strings.TrimSpace(c.EmbedProvider))
	if c.Provider == "" {
		c.Provider = ProviderOffline
	}
	if c.EmbedProvider == "" {
		c.EmbedProvider = c.Provider
	}
	if c.Provider == ProviderOllama && c.BaseURL == "" {
		c.BaseURL = DefaultOllamaURL
	}
	if c.EmbedProvider == c.Provider {
		if c.EmbedBaseURL == "" {
			c.EmbedBaseURL = c.BaseURL
		}
		if c.EmbedAPIKey == "" {
			c.EmbedAPIKey = c.APIKey
		}
	}
	if c.EmbedProvider == ProviderOllama && c.EmbedBaseURL == "" {
		c.EmbedBaseURL = DefaultOllamaURL
	}
	setDefault(&c.EmbedDim, DefaultEmbedDim)
	setDefault(&c.EmbedBatchSize, DefaultEmbedBatchSize)
	setDefault(&c.EmbedWorkers, DefaultEmbedWorkers)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.StreamTimeout, DefaultStreamTimeout)
	setDefault(&c.RetryBaseDelay, DefaultRetryBaseDelay)
	setDefault(&c.RetryMaxDelay, DefaultRetryMaxDelay)
	setDefault(&c.BreakerFailures, DefaultBreakerFailures)
	setDefault(&c.BreakerCooldown, DefaultBreakerCooldown)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports every problem with the configuration at once, naming
// the environment variable to fix.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	checkSide := func(side, purpose, provider, baseURL, model, providerVar, urlVar, modelVar string, checkBase bool) {
		switch provider {
		case ProviderOffline:
			return
		case ProviderOpenAI, ProviderOllama:
		default:
			bad("unknown %s provider %q (%s): use offline, openai or ollama", side, provider, providerVar)
			return
		}
		switch {
		case !checkBase:
		case baseURL == "":
			bad("provider %s needs a base URL (%s)", provider, urlVar)
		default:
			if err := checkURL(baseURL); err != nil {
				bad("%s base URL %q (%s): %v", side, baseURL, urlVar, err)
			}
		}
		if model == "" {
			bad("provider %s needs a model name for %s (%s)", provider, purpose, modelVar)
		}
	}
	checkSide("chat", "chat", c.Provider, c.BaseURL, c.ChatModel,
		"DEALDESK_MODEL_PROVIDER", "DEALDESK_MODEL_BASE_URL", "DEALDESK_CHAT_MODEL", true)
	// When both sides share the provider and address, the address has
	// been checked (and reported) once already.
	shared := c.EmbedProvider == c.Provider && c.EmbedBaseURL == c.BaseURL
	checkSide("embedding", "embeddings", c.EmbedProvider, c.EmbedBaseURL, c.EmbedModel,
		"DEALDESK_EMBED_PROVIDER", "DEALDESK_EMBED_BASE_URL", "DEALDESK_EMBED_MODEL", !shared)

	if c.EmbedDim < 1 || c.EmbedDim > maxEmbedDim {
		bad("embedding dimension %d (DEALDESK_EMBED_DIM) must be between 1 and %d", c.EmbedDim, maxEmbedDim)
	}
	for _, d := range []struct {
		name, env string
		v         time.Duration
	}{
		{"timeout", "DEALDESK_MODEL_TIMEOUT", c.Timeout},
		{"stream timeout", "DEALDESK_MODEL_STREAM_TIMEOUT", c.StreamTimeout},
		{"retry base delay", "DEALDESK_MODEL_RETRY_BASE_DELAY", c.RetryBaseDelay},
		{"retry max delay", "DEALDESK_MODEL_RETRY_MAX_DELAY", c.RetryMaxDelay},
		{"breaker cooldown", "DEALDESK_MODEL_BREAKER_COOLDOWN", c.BreakerCooldown},
	} {
		if d.v < 0 {
			bad("%s %s (%s) must not be negative", d.name, d.v, d.env)
		}
	}
	for _, n := range []struct {
		name, env string
		v         int
	}{
		{"embedding batch size", "DEALDESK_EMBED_BATCH_SIZE", c.EmbedBatchSize},
		{"embedding workers", "DEALDESK_EMBED_WORKERS", c.EmbedWorkers},
		{"breaker failures", "DEALDESK_MODEL_BREAKER_FAILURES", c.BreakerFailures},
	} {
		if n.v < 1 {
			bad("%s %d (%s) must be at least 1", n.name, n.v, n.env)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must start with http:// or https://")
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// Info describes the configured models for API answers, logs and
// generation records. It never contains secrets.
type Info struct {
	Provider      string `json:"provider"`
	ChatModel     string `json:"chat_model"`
	EmbedProvider string `json:"embed_provider"`
	EmbedModel    string `json:"embed_model"`
	EmbedDim      int    `json:"embed_dim"`
	// Offline is true when answers come from the offline extractive
	// generator rather than a language model.
	Offline bool `json:"offline"`
	// Label is a one-line human description, e.g. "offline (deterministic
	// extractive generator, not a language model)".
	Label string `json:"label"`
}

// offlineChatModel and offlineEmbedModel name the offline implementations
// in Info and generation records.
const (
	offlineChatModel  = "extractive-v1"
	offlineEmbedModel = "hashed-features-v1"
)

func infoFor(c Config) Info {
	info := Info{
		Provider:      c.Provider,
		ChatModel:     c.ChatModel,
		EmbedProvider: c.EmbedProvider,
		EmbedModel:    c.EmbedModel,
		EmbedDim:      c.EmbedDim,
		Offline:       c.Provider == ProviderOffline,
	}
	if info.Offline {
		info.ChatModel = offlineChatModel
	}
	if c.EmbedProvider == ProviderOffline {
		info.EmbedModel = offlineEmbedModel
	}

	var chat string
	switch c.Provider {
	case ProviderOffline:
		chat = "offline (deterministic extractive generator, not a language model)"
	case ProviderOpenAI:
		chat = fmt.Sprintf("openai-compatible %s at %s", c.ChatModel, hostOf(c.BaseURL))
	case ProviderOllama:
		chat = fmt.Sprintf("ollama %s at %s", c.ChatModel, hostOf(c.BaseURL))
	}
	var embed string
	switch c.EmbedProvider {
	case ProviderOffline:
		embed = fmt.Sprintf("offline hashed-feature embeddings, %d dims", c.EmbedDim)
	default:
		embed = fmt.Sprintf("%s embeddings %s, %d dims", c.EmbedProvider, c.EmbedModel, c.EmbedDim)
	}
	info.Label = chat + "; " + embed
	return info
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
