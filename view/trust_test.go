package view

import (
	"strings"
	"testing"
)

// Names and notes from a file (a plan file, a lockfile) or the service are shown with their
// control characters escaped, in text and in markdown: they cannot drive a terminal.
func TestSafeEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"acme-eu":              "acme-eu",
		"a\x1b[2Jb":            `a\x1b[2Jb`,
		"evil\u202egpj.exe":    `evil\u202egpj.exe`,
		"tab\there":            `tab\there`,
		"café zero\u200bwidth": "café zero\u200bwidth",
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
		if got := mdEscape(in); strings.ContainsFunc(got, isEscaped) {
			t.Errorf("mdEscape(%q) = %q keeps a control character", in, got)
		}
	}
}
