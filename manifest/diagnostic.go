package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one problem in a manifest, pointing at the input.
type Diagnostic struct {
	File    string // the manifest's path as the user gave it
	Pos     Pos
	Path    string // e.g. connections[3].auth.params.bucketName; empty for the whole file
	Message string
	// Unreadable marks a reference that could not be read (an unset variable, a missing or
	// irregular file), as opposed to one whose value breaks a rule: the next step differs.
	Unreadable bool
}

// Error formats the diagnostic as FILE:LINE:COL: path: message, or FILE: path: message when
// the position is not known (Pos.Line 0).
func (d Diagnostic) Error() string {
	if d.Pos.Line == 0 {
		if d.Path == "" {
			return fmt.Sprintf("%s: %s", d.File, d.Message)
		}
		return fmt.Sprintf("%s: %s: %s", d.File, d.Path, d.Message)
	}
	if d.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Pos.Line, d.Pos.Col, d.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.File, d.Pos.Line, d.Pos.Col, d.Path, d.Message)
}

// Diagnostics is every problem found in a manifest, sorted by position. It is the error
// Parse, Load and Resolve return.
type Diagnostics []Diagnostic

// Error joins the diagnostics, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

func (ds Diagnostics) sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}
