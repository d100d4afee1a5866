// Package manifest reads flowsync's YAML manifest into typed connections, keeping the file,
// line and column of every value, deep-merging defaults under each connection, and holding
// secret references ({env: NAME}, {file: PATH}) unresolved until a command needs them.
//
// Invariants: every problem in a manifest is reported at once as Diagnostics, each with
// FILE:LINE:COL and a path; a resolved secret value is never part of an error message.
package manifest

import "github.com/flowsync/flowsync/s3source"

// Pos is a position in the manifest file.
type Pos struct {
	Line, Col int
}

// Target is the org and sandbox of the manifest.
type Target struct {
	OrgID   string
	Sandbox string
}

// Ref is a secret reference: Kind is "env" or "file"; Name is the variable name or the path
// as written (relative to the manifest's directory).
type Ref struct {
	Kind string
	Name string
}

// Value is one auth param: a literal or a reference. Sensitive is true for references.
type Value struct {
	Literal string
	Ref     *Ref
	Pos     Pos
}

// Sensitive reports whether the value came from a reference and must be redacted.
func (v Value) Sensitive() bool { return v.Ref != nil }

// Connection is one manifest entry after defaults were merged under it.
type Connection struct {
	Name           string
	Description    string
	ConnectionSpec s3source.Spec
	SpecName       string
	Params         map[string]Value
	// FormerNames are the names the entry had before (NFC), in the manifest's order: a
	// lockfile entry recorded under one of them, and not under Name, is renamed in place.
	FormerNames []string
	Pos         Pos // position of the entry (its "name" key)
	Index       int // position in the manifest's connections list
	// Promotion is set in a manifest with environments and a promotion order: the digest of the entry as the
	// manifest writes it, before any environment's defaults and overrides and without
	// secret values (a reference counts by its text). Equal in every environment.
	Promotion string
}

// Manifest is a parsed, valid manifest.
type Manifest struct {
	Path        string // as given by the user
	Dir         string // directory that file references are relative to
	Version     int
	Target      Target       // of the selected environment in a manifest with environments
	Connections []Connection // file order; names unique (of the selected environment)
	// Env is the environment Select chose ("" without environments). Environments are
	// the manifest's, in promotion order then file order (nil without environments), and
	// Promotion the order as written. A manifest with environments has no Target or
	// Connections until Select.
	Env             string
	Environments    []Environment
	Promotion       []string
	EnvironmentsPos Pos // of the environments key, for --env errors
	// Warnings are what is accepted but worth a look (a legacy bucket name), each at its
	// place, sorted.
	Warnings Diagnostics
}
