package providers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // empty: valid
	}{
		{name: "zero value is offline", cfg: Config{}},
		{name: "offline ignores remote fields", cfg: Config{Provider: "Offline", BaseURL: "not a url"}},
		{
			name: "openai complete",
			cfg:  Config{Provider: "openai", BaseURL: "https://api.deepseek.com/v1", ChatModel: "deepseek-chat", EmbedProvider: "offline"},
		},
		{
			name: "ollama defaults its address",
			cfg:  Config{Provider: "ollama", ChatModel: "qwen2.5:7b", EmbedModel: "bge-m3", EmbedDim: 1024},
		},
		{
			name:    "openai needs a base URL and models",
			cfg:     Config{Provider: "openai"},
			wantErr: []string{"provider openai needs a base URL (DEALDESK_MODEL_BASE_URL)", "DEALDESK_CHAT_MODEL", "DEALDESK_EMBED_MODEL"},
		},
		{
			name:    "unknown provider",
			cfg:     Config{Provider: "anthropic"},
			wantErr: []string{`unknown chat provider "anthropic" (DEALDESK_MODEL_PROVIDER)`},
		},
		{
			name:    "base URL without scheme",
			cfg:     Config{Provider: "openai", BaseURL: "localhost:8000/v1", ChatModel: "m", EmbedModel: "e"},
			wantErr: []string{"must start with http:// or https://"},
		},
		{
			name:    "separate embedding provider needs its own address",
			cfg:     Config{Provider: "ollama", ChatModel: "m", EmbedProvider: "openai", EmbedModel: "e"},
			wantErr: []string{"DEALDESK_EMBED_BASE_URL"},
		},
		{
			name:    "dimension out of range",
			cfg:     Config{EmbedDim: 20000},
			wantErr: []string{"DEALDESK_EMBED_DIM"},
		},
		{
			name:    "negative durations and counts",
			cfg:     Config{Timeout: -time.Second, RetryMaxDelay: -1, EmbedWorkers: -2},
			wantErr: []string{"DEALDESK_MODEL_TIMEOUT", "DEALDESK_MODEL_RETRY_MAX_DELAY", "DEALDESK_EMBED_WORKERS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Provider: "ollama", APIKey: "k", MaxRetries: -1}.withDefaults()
	want := Config{
		Provider: "ollama", BaseURL: DefaultOllamaURL, APIKey: "k",
		EmbedProvider: "ollama", EmbedBaseURL: DefaultOllamaURL, EmbedAPIKey: "k",
		EmbedDim: 384, EmbedBatchSize: 64, EmbedWorkers: 4,
		Timeout: time.Minute, StreamTimeout: 10 * time.Minute,
		MaxRetries: 0, RetryBaseDelay: 500 * time.Millisecond, RetryMaxDelay: 20 * time.Second,
		BreakerFailures: 5, BreakerCooldown: 30 * time.Second,
	}
	if c != want {
		t.Errorf("withDefaults() =\n%+v\nwant\n%+v", c, want)
	}
	if got := (Config{}).withDefaults().MaxRetries; got != DefaultMaxRetries {
		t.Errorf("default MaxRetries = %d, want %d", got, DefaultMaxRetries)
	}
}

func TestNewOffline(t *testing.T) {
	m, err := New(t.Context(), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.LLM.(*OfflineLLM); !ok {
		t.Errorf("LLM is %T, want *OfflineLLM", m.LLM)
	}
	if e, ok := m.Embedder.(*OfflineEmbedder); !ok || e.Dim() != DefaultEmbedDim {
		t.Errorf("Embedder is %T, want a %d-dim *OfflineEmbedder", m.Embedder, DefaultEmbedDim)
	}
	if !m.Info.Offline || m.Info.Provider != "offline" || !strings.Contains(m.Info.Label, "not a language model") {
		t.Errorf("Info = %+v", m.Info)
	}
	if err := m.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if _, err := New(t.Context(), Config{Provider: "bogus"}, nil); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func TestInfoJSON(t *testing.T) {
	b, err := json.Marshal(Info{Provider: "openai", ChatModel: "qwen-plus", EmbedProvider: "openai", EmbedModel: "text-embedding-v3", EmbedDim: 1024, Label: "l"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"openai","chat_model":"qwen-plus","embed_provider":"openai","embed_model":"text-embedding-v3","embed_dim":1024,"offline":false,"label":"l"}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
}
