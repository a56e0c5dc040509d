package providers

import (
	"strings"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/tmc/langchaingo/llms"
)

// GenerationInfo keys for token usage, the ones langchaingo's OpenAI and
// Ollama clients use.
const (
	InfoPromptTokens     = "PromptTokens"
	InfoCompletionTokens = "CompletionTokens"
	InfoTotalTokens      = "TotalTokens"
	// InfoTokensEstimated is set to true when DealDesk counted the tokens
	// itself (with lang.CountTokens) because the server did not report them.
	InfoTokensEstimated = "TokensEstimated"
)

// Usage is the token usage of one generation.
type Usage struct {
	PromptTokens     int  `json:"prompt_tokens"`
	CompletionTokens int  `json:"completion_tokens"`
	TotalTokens      int  `json:"total_tokens"`
	Estimated        bool `json:"estimated,omitempty"`
}

// UsageOf reads the token usage of the first choice of resp, whichever
// provider produced it. Models built by New always report usage.
func UsageOf(resp *llms.ContentResponse) Usage {
	if resp == nil || len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return Usage{}
	}
	info := resp.Choices[0].GenerationInfo
	estimated, _ := info[InfoTokensEstimated].(bool)
	return Usage{
		PromptTokens:     intOf(info[InfoPromptTokens]),
		CompletionTokens: intOf(info[InfoCompletionTokens]),
		TotalTokens:      intOf(info[InfoTotalTokens]),
		Estimated:        estimated,
	}
}

func intOf(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int32:
		return int(n)
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// estimateUsage counts tokens for choices whose server reported none
// (streams without include_usage support, some OpenAI-compatible servers).
func estimateUsage(resp *llms.ContentResponse, messages []llms.MessageContent) {
	prompt := -1
	for _, c := range resp.Choices {
		if c == nil {
			continue
		}
		if c.GenerationInfo == nil {
			c.GenerationInfo = map[string]any{}
		}
		if intOf(c.GenerationInfo[InfoTotalTokens]) > 0 {
			continue
		}
		if prompt < 0 {
			prompt = lang.CountTokens(messagesText(messages))
		}
		setUsage(c.GenerationInfo, prompt, lang.CountTokens(c.Content))
		c.GenerationInfo[InfoTokensEstimated] = true
	}
}

func setUsage(info map[string]any, prompt, completion int) {
	info[InfoPromptTokens] = prompt
	info[InfoCompletionTokens] = completion
	info[InfoTotalTokens] = prompt + completion
}

// messagesText joins the text parts of messages, one message a paragraph.
func messagesText(messages []llms.MessageContent) string {
	var b strings.Builder
	for _, m := range messages {
		for _, p := range m.Parts {
			if t, ok := p.(llms.TextContent); ok {
				if b.Len() > 0 {
					b.WriteString("\n\n")
				}
				b.WriteString(t.Text)
			}
		}
	}
	return b.String()
}
