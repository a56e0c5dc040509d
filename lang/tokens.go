package lang

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding is the tiktoken encoding used to count tokens everywhere in
// DealDesk. cl100k_base is what the OpenAI-compatible chat models most of our
// users point at count with; for other models it is a close, stable estimate.
const Encoding = "cl100k_base"

// encoder is tiktoken-go's own cl100k_base encoder, the reference the fast
// one (bpe.go) is tested against.
var encoder = sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
	enc, err := tiktoken.GetEncoding(Encoding)
	if err != nil {
		return nil, fmt.Errorf("lang: load %s: %w", Encoding, err)
	}
	return enc, nil
})

// maxRun is the longest run of letters encoded in one piece. tiktoken's
// byte-pair merge is quadratic in the length of a pre-tokenised piece, and
// Chinese text without punctuation is one piece: 16,000 characters took
// 1.4 s. Cutting such runs every maxRun letters changes the count by at
// most a token per cut (no cl100k token spans that many letters).
const maxRun = 64

// Tokens returns the token ids of text. It panics only if the embedded BPE
// table cannot be parsed, which is a build defect, not a run-time condition.
func Tokens(text string) []int {
	enc := mustFast()
	ids := make([]int, 0, len(text)/3)
	for _, p := range splitLongRuns(text) {
		ids = enc.encode(p, ids)
	}
	return ids
}

// splitLongRuns cuts text inside runs of more than maxRun letters.
func splitLongRuns(text string) []string {
	var pieces []string
	start, run := 0, 0
	for i, r := range text {
		if !unicode.IsLetter(r) {
			run = 0
			continue
		}
		run++
		if run > maxRun {
			pieces = append(pieces, text[start:i])
			start, run = i, 1
		}
	}
	return append(pieces, text[start:])
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
	return mustFast().decode(ids)
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

func mustFast() *cl100k {
	enc, err := fastEncoder()
	if err != nil {
		panic(err)
	}
	return enc
}
