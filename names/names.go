// Package names is the one place where connection names are normalised and compared. A name
// is what a person reads, so two strings that read the same are the same name: names are
// compared in Unicode NFC (café typed on a Mac and on Linux is one name), and two names that
// differ only by invisible characters (zero-width spaces and joiners, bidirectional controls,
// variation selectors) are told apart by nothing a reviewer can see, so a manifest may not
// hold both.
//
// Invariants: Normalize is idempotent; Key(a) == Key(b) whenever Normalize(a) == Normalize(b).
package names

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns name in Unicode NFC, the form flowsync keeps, sends and compares.
func Normalize(name string) string {
	if ascii(name) {
		return name
	}
	return norm.NFC.String(name)
}

// ascii reports whether s is plain ASCII: already NFC, with nothing invisible in it.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Same reports whether a and b are the same name (equal in NFC).
func Same(a, b string) bool { return a == b || Normalize(a) == Normalize(b) }

// Invisible reports whether r shows as nothing: a format character (Unicode category Cf:
// zero-width space and joiners, bidirectional marks, embeddings and isolates, word joiner,
// byte order mark, soft hyphen) or a variation selector.
func Invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}

// Key is what two names that read the same have in common: NFC with the invisible
// characters removed. Names with the same Key must not be two manifest entries.
func Key(name string) string {
	if ascii(name) {
		return name
	}
	if strings.IndexFunc(name, Invisible) < 0 {
		return Normalize(name)
	}
	return Normalize(strings.Map(func(r rune) rune {
		if Invisible(r) {
			return -1
		}
		return r
	}, name))
}

// Clash says why two different strings with the same Key are the same name to a reader, for
// an error about the second (b); "" when they are not the same name.
func Clash(a, b string) string {
	switch {
	case a == b:
		return "the same name"
	case Normalize(a) == Normalize(b):
		return "the same name once Unicode-normalised (NFC)"
	case Key(a) == Key(b):
		return "the same name but for invisible characters (" + invisibles(a+b) + ")"
	}
	return ""
}

// invisibles lists the invisible characters of s as U+XXXX, each once.
func invisibles(s string) string {
	var out []string
	seen := map[rune]bool{}
	for _, r := range s {
		if Invisible(r) && !seen[r] {
			seen[r] = true
			out = append(out, fmt.Sprintf("U+%04X", r))
		}
	}
	return strings.Join(out, ", ")
}
