package lang

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentences splits text into sentences. It ends a sentence after Chinese
// full stops, question and exclamation marks (。！？ and their half-width
// forms when followed by a space or the end), after ；and after line breaks
// that separate paragraphs, and keeps closing quotes and brackets with the
// sentence they close. Whitespace around sentences is trimmed; empty ones are
// dropped. Joining the result with no separator loses only that whitespace.
func Sentences(text string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		next := i + size
		switch {
		case r == '\n' && next < len(text) && text[next] == '\n':
			emit(next)
		case isFullStop(r):
			end := next
			for end < len(text) {
				c, n := utf8.DecodeRuneInString(text[end:])
				if !isCloser(c) && !isFullStop(c) {
					break
				}
				end += n
			}
			emit(end)
			next = end
		case r == '.' || r == '!' || r == '?':
			end := next
			for end < len(text) && isCloserByte(text[end]) {
				end++
			}
			if end == len(text) || unicode.IsSpace(rune(text[end])) {
				if !isAbbreviation(text[start:i]) {
					emit(end)
				}
			}
			next = end
		}
		i = next
	}
	emit(len(text))
	return out
}

func isFullStop(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '…':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '”', '’', '」', '』', '）', ')', '】', '"', '\'':
		return true
	}
	return false
}

func isCloserByte(b byte) bool { return b == '"' || b == '\'' || b == ')' }

// isAbbreviation reports whether the text before a '.' ends in a short
// abbreviation or a number ("e.g", "No", "3"), where a period does not end
// the sentence.
func isAbbreviation(before string) bool {
	i := strings.LastIndexFunc(before, unicode.IsSpace)
	word := strings.ToLower(before[i+1:])
	switch word {
	case "e.g", "i.e", "etc", "vs", "no", "mr", "mrs", "dr", "inc", "ltd", "co", "fig", "approx":
		return true
	}
	return word != "" && len(word) <= 2 && strings.IndexFunc(word, unicode.IsDigit) >= 0
}
