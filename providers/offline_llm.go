package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/tmc/langchaingo/llms"
)

// InfoEvidence is the GenerationInfo key under which OfflineLLM returns the
// []Evidence its answer quotes.
const InfoEvidence = "Evidence"

// DefaultMaxEvidence is how many sentences an offline answer quotes.
const DefaultMaxEvidence = 4

// OfflineLLM is the offline chat model: a deterministic extractive
// generator, not a language model. It reads the source blocks in the
// prompt (see Source), finds the sentences that best match the question
// (RankSentences), and answers with them verbatim, each followed by its
// citation, under a short lead line in the question's language. With no
// sources it says so instead of inventing anything.
//
// The question is the last user message's text outside source blocks; if
// that text has a line starting with "Question:" or "问题：", the question
// is what follows the marker. Text inside source blocks is only ever
// quoted, and sentences that look like instructions to a model are not
// even quoted.
//
// It honours llms.WithStreamingFunc (the answer arrives in small chunks),
// WithMaxTokens, WithStopWords and WithJSONMode (the answer and its
// evidence as a JSON object), and reports token usage under the same
// GenerationInfo keys as langchaingo's OpenAI client.
type OfflineLLM struct {
	// MaxEvidence is how many sentences an answer quotes; 0 means
	// DefaultMaxEvidence.
	MaxEvidence int
}

var _ llms.Model = (*OfflineLLM)(nil)

// NewOfflineLLM returns the offline generator with default settings.
func NewOfflineLLM() *OfflineLLM { return &OfflineLLM{MaxEvidence: DefaultMaxEvidence} }

// Call implements llms.Model.
func (m *OfflineLLM) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// GenerateContent implements llms.Model.
func (m *OfflineLLM) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	sources, question := readPrompt(messages)
	zh := isMostlyChinese(question)
	n := m.MaxEvidence
	if n <= 0 {
		n = DefaultMaxEvidence
	}

	lead, evidence := answerPlan(question, sources, n, zh)
	content, stop, evidence := render(lead, evidence, zh, opts)

	for chunk := range TextChunks(content) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opts.StreamingFunc != nil {
			if err := opts.StreamingFunc(ctx, []byte(chunk)); err != nil {
				return nil, fmt.Errorf("offline llm: streaming function: %w", err)
			}
		}
		if opts.StreamingReasoningFunc != nil {
			if err := opts.StreamingReasoningFunc(ctx, nil, []byte(chunk)); err != nil {
				return nil, fmt.Errorf("offline llm: streaming function: %w", err)
			}
		}
	}

	info := map[string]any{InfoEvidence: evidence}
	setUsage(info, lang.CountTokens(messagesText(messages)), lang.CountTokens(content))
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{
		Content:        content,
		StopReason:     stop,
		GenerationInfo: info,
	}}}, nil
}

// readPrompt collects the source blocks of all messages (the model's own
// earlier turns aside) and the question.
func readPrompt(messages []llms.MessageContent) ([]Source, string) {
	var (
		sources     []Source
		seen        = map[string]bool{}
		instruction string
		fallback    string // system text, if no user message has any
	)
	for _, msg := range messages {
		if msg.Role == llms.ChatMessageTypeAI {
			continue
		}
		var b strings.Builder
		for _, p := range msg.Parts {
			if t, ok := p.(llms.TextContent); ok {
				b.WriteString(t.Text)
				b.WriteString("\n")
			}
		}
		text := b.String()
		for _, s := range ParseSources(text) {
			if !seen[s.ID] {
				seen[s.ID] = true
				sources = append(sources, s)
			}
		}
		outside := StripSources(text)
		switch {
		case outside == "":
		case msg.Role == llms.ChatMessageTypeHuman || msg.Role == llms.ChatMessageTypeGeneric:
			instruction = outside
		case fallback == "":
			fallback = outside
		}
	}
	if instruction == "" {
		instruction = fallback
	}
	return sources, questionIn(instruction)
}

// questionMarkers introduce the question inside a longer instruction.
var questionMarkers = []string{"question:", "问题：", "问题:", "query:", "查询：", "客户问题："}

// questionIn returns the text after the last question marker up to the
// next blank line, or the whole instruction when it has no marker.
func questionIn(instruction string) string {
	lower := strings.ToLower(instruction)
	best := -1
	var marker string
	for _, m := range questionMarkers {
		if i := strings.LastIndex(lower, m); i > best && (i == 0 || lower[i-1] == '\n') {
			best, marker = i, m
		}
	}
	if best < 0 {
		return instruction
	}
	q := instruction[best+len(marker):]
	if end := strings.Index(q, "\n\n"); end >= 0 {
		q = q[:end]
	}
	return strings.TrimSpace(q)
}

// Lead lines, in English and Chinese.
var leads = map[bool]struct{ answer, closest, none, empty string }{
	false: {
		answer:  "Based on the retrieved sources (offline extractive answer, quoted verbatim):",
		closest: "The retrieved sources do not address this question directly. The closest material:",
		none: "No sources were retrieved for this question, so there is nothing in the knowledge base to answer from. " +
			"Try rephrasing, widening the filters, or adding documents.",
		empty: "The retrieved sources contain no text that can be quoted.",
	},
	true: {
		answer:  "根据检索到的资料（离线摘录式回答，原文引用）：",
		closest: "检索到的资料没有直接回答这个问题，最相关的内容如下：",
		none:    "没有检索到与该问题相关的资料，知识库中暂无可据以回答的内容。请换个问法、放宽筛选条件或补充资料。",
		empty:   "检索到的资料中没有可引用的文字。",
	},
}

// answerPlan picks the lead line and the sentences to quote.
func answerPlan(question string, sources []Source, n int, zh bool) (string, []Evidence) {
	l := leads[zh]
	if len(sources) == 0 {
		return l.none, nil
	}
	if ev := RankSentences(question, sources, n); len(ev) > 0 {
		return l.answer, ev
	}
	if ev := leadSentences(sources, n); len(ev) > 0 {
		return l.closest, ev
	}
	return l.empty, nil
}

// render writes the answer, fitting it into opts.MaxTokens and cutting it
// at the first stop word. It returns the text, the stop reason and the
// evidence the text is made of.
func render(lead string, evidence []Evidence, zh bool, opts llms.CallOptions) (string, string, []Evidence) {
	text := func(ev []Evidence) string {
		var b strings.Builder
		b.WriteString(lead)
		for _, e := range ev {
			b.WriteString("\n- ")
			b.WriteString(e.Text)
			// Chinese puts a citation right after the full stop.
			if last, _ := utf8.DecodeLastRuneInString(e.Text); last <= unicode.MaxLatin1 {
				b.WriteString(" ")
			}
			b.WriteString("[")
			b.WriteString(e.SourceID)
			b.WriteString("]")
		}
		return b.String()
	}
	fits := func(s string) bool { return opts.MaxTokens <= 0 || lang.CountTokens(s) <= opts.MaxTokens }

	var content string
	stop := "stop"
	if opts.JSONMode {
		// Cut JSON is useless, so it shrinks by whole pieces of evidence.
		k := len(evidence)
		for ; k >= 0; k-- {
			content = answerJSON(text(evidence[:k]), evidence[:k], zh)
			if fits(content) || k == 0 {
				break
			}
			stop = "length"
		}
		return content, stop, evidence[:k]
	}
	content = text(evidence)
	for _, w := range opts.StopWords {
		if i := strings.Index(content, w); w != "" && i >= 0 {
			content, stop = content[:i], "stop"
		}
	}
	if !fits(content) {
		content, stop = lang.TruncateTokens(content, opts.MaxTokens), "length"
	}
	return content, stop, evidence
}

func answerJSON(answer string, evidence []Evidence, zh bool) string {
	language := "en"
	if zh {
		language = "zh"
	}
	if evidence == nil {
		evidence = []Evidence{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Answer   string     `json:"answer"`
		Language string     `json:"language"`
		Evidence []Evidence `json:"evidence"`
		Offline  bool       `json:"offline"`
	}{answer, language, evidence, true})
	return strings.TrimSpace(b.String())
}

// isMostlyChinese reports whether text reads as Chinese: two Han
// characters count as one word against the Latin words, so a product name
// in a Chinese question does not flip it to English.
func isMostlyChinese(text string) bool {
	cjk, latin, inWord := 0, 0, false
	for _, r := range text {
		switch {
		case lang.IsCJK(r):
			cjk++
			inWord = false
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			if !inWord {
				latin++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	return cjk > 0 && cjk >= 2*latin
}

// TextChunks splits s into the pieces an offline stream delivers: a Latin word with
// the space after it, or up to three CJK characters. Joined, the pieces
// are s.
func TextChunks(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		start, cjk := 0, 0
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			flush := false
			switch {
			case unicode.IsSpace(r):
				flush = true
			case lang.IsCJK(r) || unicode.Is(unicode.P, r) && r > unicode.MaxLatin1:
				cjk++
				flush = cjk == 3
			}
			if flush {
				if !yield(s[start:i]) {
					return
				}
				start, cjk = i, 0
			}
		}
		if start < len(s) {
			yield(s[start:])
		}
	}
}
