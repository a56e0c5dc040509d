package assistant

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant/offline"
	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// composerModel is the offline provider's chat model for one task call:
// it answers with offline.Compose's structured answer to the (masked)
// input, as JSON text, streamed in small pieces like a model's tokens, and
// cut at the call's max tokens. It
// ignores the rendered prompt, which it would only have to parse back into
// the input it was made from; the prompt is still rendered, counted and
// recorded, so that offline and model-backed generations look alike.
type composerModel struct {
	tmpl  *prompts.Template
	input any
}

var _ llms.Model = (*composerModel)(nil)

func (m *composerModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

func (m *composerModel) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	answer, err := offline.Compose(m.tmpl, m.input)
	if err != nil {
		return nil, err
	}
	raw, err := marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("offline composer: %w", err)
	}
	content, stop := string(raw), "stop"
	// Like any model, the composer stops at the template's max_tokens: a
	// prompt version whose budget is too small gets cut, invalid answers.
	if opts.MaxTokens > 0 && lang.CountTokens(content) > opts.MaxTokens {
		content, stop = lang.TruncateTokens(content, opts.MaxTokens), "length"
	}
	if opts.StreamingFunc != nil {
		for chunk := range providers.TextChunks(content) {
			if err := opts.StreamingFunc(ctx, []byte(chunk)); err != nil {
				return nil, err
			}
		}
	}
	prompt := 0
	for _, msg := range messages {
		for _, p := range msg.Parts {
			if t, ok := p.(llms.TextContent); ok {
				if msg.Role == llms.ChatMessageTypeSystem {
					prompt += systemTokens.count(t.Text)
				} else {
					prompt += lang.CountTokens(t.Text)
				}
			}
		}
	}
	completion := lang.CountTokens(content)
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{
		Content:    content,
		StopReason: stop,
		GenerationInfo: map[string]any{
			providers.InfoPromptTokens:     prompt,
			providers.InfoCompletionTokens: completion,
			providers.InfoTotalTokens:      prompt + completion,
		},
	}}}, nil
}

// tokenMemo remembers the token counts of texts that repeat: system
// prompts depend only on the template, the language and the seller, and
// counting them again on every call was a third of the offline path's CPU.
type tokenMemo struct {
	mu     sync.Mutex
	counts map[uint64]int
}

// maxMemo bounds the memo; it starts afresh when full.
const maxMemo = 1024

var (
	systemTokens = &tokenMemo{}
	memoSeed     = maphash.MakeSeed()
)

func (m *tokenMemo) count(text string) int {
	key := maphash.String(memoSeed, text)
	m.mu.Lock()
	n, ok := m.counts[key]
	m.mu.Unlock()
	if ok {
		return n
	}
	n = lang.CountTokens(text)
	m.mu.Lock()
	if m.counts == nil || len(m.counts) >= maxMemo {
		m.counts = make(map[uint64]int, 64)
	}
	m.counts[key] = n
	m.mu.Unlock()
	return n
}

// streamUnmasker passes streamed model text to a caller with placeholders
// unmasked. A placeholder can arrive split over several pieces, so text
// from an unclosed "⟦" on is held back until its "⟧" (or enough text to
// show it is no placeholder) arrives.
type streamUnmasker struct {
	mu     sync.Mutex
	masker *trust.Masker
	emit   func(string) error
	held   string
}

// maxPlaceholderBytes bounds how much text is held back waiting for a
// placeholder to close: the longest placeholder is ⟦BANK_CARD_999999999⟧.
const maxPlaceholderBytes = 40

func (s *streamUnmasker) write(piece string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := s.held + piece
	s.held = ""
	// A piece may end inside a UTF-8 sequence ...
	cut := len(text)
	for j := len(text) - 1; j >= 0 && j >= len(text)-utf8.UTFMax; j-- {
		if utf8.RuneStart(text[j]) {
			if !utf8.FullRuneInString(text[j:]) {
				cut = j
			}
			break
		}
	}
	// ... or inside a placeholder.
	if i := strings.LastIndex(text[:cut], "⟦"); i >= 0 && !strings.Contains(text[i:cut], "⟧") && cut-i < maxPlaceholderBytes {
		cut = i
	}
	text, s.held = text[:cut], text[cut:]
	if text == "" {
		return nil
	}
	return s.emit(s.masker.Unmask(text))
}

func (s *streamUnmasker) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == "" {
		return nil
	}
	text := s.held
	s.held = ""
	return s.emit(s.masker.Unmask(text))
}
