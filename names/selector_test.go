package names

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelector(t *testing.T) {
	const nfc, nfd = "caf\u00e9-eu", "cafe\u0301-*" // é as one code point; e + combining acute
	s, err := NewSelector("--only", []string{nfd, "x-?", "nomatch"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Match(nfc) {
		t.Errorf("the NFD glob %q does not match the NFC name %q", nfd, nfc)
	}
	if !s.Match("x-1") || s.Match("x-12") {
		t.Error("x-? does not match names whole")
	}
	var un *UnmatchedError
	if err := s.Unmatched("manifest entry"); !errors.As(err, &un) {
		t.Fatalf("Unmatched = %v, want an *UnmatchedError", err)
	}
	if diff := cmp.Diff([]string{"nomatch"}, un.Globs); diff != "" {
		t.Errorf("unmatched globs (-want +got):\n%s", diff)
	}
	if got, want := un.Error(), `--only "nomatch": no manifest entry matches`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}

	all, _ := NewSelector("--name", nil)
	if !all.All() || !all.Match("anything") || all.Unmatched("x") != nil {
		t.Error("no globs must select every name and report nothing")
	}
	var ge *GlobError
	if _, err := NewSelector("--name", []string{"[a"}); !errors.As(err, &ge) || ge.Flag != "--name" {
		t.Errorf("a bad glob: %v, want a *GlobError naming --name", err)
	}
}
