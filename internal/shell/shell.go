// Package shell quotes words for a POSIX shell, so that a command printed as advice runs as
// printed. It is the only place flowsync quotes for a shell, and escapes for a terminal
// (Printable).
package shell

import (
	"strconv"
	"strings"
	"unicode"
)

// Quote returns s as one POSIX shell word: unchanged when it holds only characters no shell
// treats specially, else in single quotes (a ' inside becomes '\”).
func Quote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Printable is s with its control characters (and bidirectional controls) escaped as Go
// escapes them (\x1b, \a, \u202e), fit for one line of a terminal: text from a file (a
// name, a CSV header, a message from the service) cannot drive the terminal it is shown on.
func Printable(s string) string {
	if !strings.ContainsFunc(s, Escaped) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !Escaped(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// Escaped reports whether Printable escapes r.
func Escaped(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
