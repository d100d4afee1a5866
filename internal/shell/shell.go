// Package shell quotes words for a POSIX shell, so that a command printed as advice runs as
// printed. It is the only place flowsync quotes for a shell.
package shell

import "strings"

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
