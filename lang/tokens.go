package lang

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding is the tiktoken encoding used to count tokens everywhere in
// DealDesk. cl100k_base is what the OpenAI-compatible chat models most of our
// users point at count with; for other models it is a close, stable estimate.
const Encoding = "cl100k_base"

var encoder = sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
	enc, err := tiktoken.GetEncoding(Encoding)
	if err != nil {
		return nil, fmt.Errorf("lang: load %s: %w", Encoding, err)
	}
	return enc, nil
})

// Tokens returns the token ids of text. It panics only if the embedded BPE
// table cannot be parsed, which is a build defect, not a run-time condition.
func Tokens(text string) []int {
	return mustEncoder().EncodeOrdinary(text)
}

// CountTokens returns the number of tokens in text.
func CountTokens(text string) int {
	if text == "" {
		return 0
	}
	return len(Tokens(text))
}

// DecodeTokens turns token ids back into text.
func DecodeTokens(ids []int) string {
	return mustEncoder().Decode(ids)
}

// TruncateTokens returns the longest prefix of text that fits in max tokens,
// cut on a token boundary and never inside a multi-byte character.
func TruncateTokens(text string, max int) string {
	if max <= 0 {
		return ""
	}
	ids := Tokens(text)
	if len(ids) <= max {
		return text
	}
	out := DecodeTokens(ids[:max])
	// A token boundary can fall inside a UTF-8 sequence (common for CJK);
	// drop the broken tail rather than emit U+FFFD.
	for len(out) > 0 {
		r, size := utf8.DecodeLastRuneInString(out)
		if r != utf8.RuneError || size > 1 {
			break
		}
		out = out[:len(out)-size]
	}
	return out
}

func mustEncoder() *tiktoken.Tiktoken {
	enc, err := encoder()
	if err != nil {
		panic(err)
	}
	return enc
}
