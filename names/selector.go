package names

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Selector picks names by globs, as --only and --name give them: each glob is checked when
// the selector is made, normalised as names are (so a pattern typed in NFD matches the NFC
// name), and matched against the whole name with path.Match. A Selector remembers which
// globs matched, so that a glob that matched nothing can be reported (a typo must not read as
// "no changes"). Not safe for concurrent use.
type Selector struct {
	flag  string // "--only", "--name": how errors name the globs
	globs []string
	hit   []bool
}

// GlobError is a glob that path.Match cannot use.
type GlobError struct {
	Flag, Glob string
	Err        error
}

func (e *GlobError) Error() string { return fmt.Sprintf("%s %q: %v", e.Flag, e.Glob, e.Err) }
func (e *GlobError) Unwrap() error { return e.Err }

// UnmatchedError names the globs that matched nothing, and among what.
type UnmatchedError struct {
	Flag  string
	Globs []string
	Among string // "manifest entry or recorded connection"
}

func (e *UnmatchedError) Error() string {
	q := make([]string, len(e.Globs))
	for i, g := range e.Globs {
		q[i] = strconv.Quote(g)
	}
	return fmt.Sprintf("%s %s: no %s matches", e.Flag, strings.Join(q, ", "), e.Among)
}

// NewSelector checks and normalises globs; flag names them in errors. No globs select every
// name.
func NewSelector(flag string, globs []string) (*Selector, error) {
	s := &Selector{flag: flag, globs: make([]string, len(globs)), hit: make([]bool, len(globs))}
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return nil, &GlobError{Flag: flag, Glob: g, Err: err}
		}
		s.globs[i] = Normalize(g)
	}
	return s, nil
}

// Globs are the normalised globs, in the order given.
func (s *Selector) Globs() []string { return s.globs }

// All reports whether the selector selects every name (no globs).
func (s *Selector) All() bool { return len(s.globs) == 0 }

// Match reports whether name matches a glob (every name when there are none), and marks each
// glob that matched.
func (s *Selector) Match(name string) bool {
	if len(s.globs) == 0 {
		return true
	}
	name = Normalize(name)
	ok := false
	for i, g := range s.globs {
		if m, _ := path.Match(g, name); m {
			s.hit[i], ok = true, true
		}
	}
	return ok
}

// Unmatched is an *UnmatchedError for the globs no Match call has matched yet, or nil.
func (s *Selector) Unmatched(among string) error {
	var missed []string
	for i, ok := range s.hit {
		if !ok {
			missed = append(missed, s.globs[i])
		}
	}
	if len(missed) == 0 {
		return nil
	}
	return &UnmatchedError{Flag: s.flag, Globs: missed, Among: among}
}
