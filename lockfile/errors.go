package lockfile

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNewerVersion is wrapped by the *FormatError of a lockfile whose version is newer than
// Version: a newer flowsync wrote it, and this build must not rewrite it.
var ErrNewerVersion = errors.New("written by a newer flowsync")

// FormatError reports a lockfile or journal that this build refuses to use: it does not parse,
// has unknown fields, lacks its salt, holds a bad entry, or has a newer version. The file is
// never modified.
type FormatError struct {
	Path string // the lockfile or journal
	Err  error
}

func (e *FormatError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

func (e *FormatError) Unwrap() error { return e.Err }

// Journal reports whether the file is a journal (the record of an interrupted apply) rather
// than a lockfile.
func (e *FormatError) Journal() bool { return strings.HasSuffix(e.Path, journalSuffix) }

// TargetError reports a lockfile that belongs to another org or sandbox than the manifest's.
// The file is never modified.
type TargetError struct {
	Path string
	Have Target // the lockfile's
	Want Target // the manifest's
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("%s: lockfile belongs to org %s sandbox %s, but the manifest targets org %s sandbox %s",
		e.Path, e.Have.OrgID, e.Have.Sandbox, e.Want.OrgID, e.Want.Sandbox)
}

// LockedError reports that another run holds the run lock of a lockfile.
type LockedError struct {
	Path   string // the lockfile
	Holder string // "pid 1234 on HOST since 2026-01-02T15:04:05Z: flowsync apply"
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is held by %s", e.Path, e.Holder)
}
