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

func (e *FormatError) Error() string {
	var advice string
	switch {
	case errors.Is(e.Err, ErrNewerVersion):
		advice = "upgrade flowsync to use it"
	case strings.HasSuffix(e.Path, journalSuffix):
		advice = "it records an interrupted apply; restore it from a backup, or move it aside " +
			"(the next apply finds connections created meanwhile by name)"
	default:
		advice = "restore it from version control or a backup, or move it aside and rebuild it " +
			"with flowsync import --by-name"
	}
	return fmt.Sprintf("%s: %v; the file was left untouched: %s", e.Path, e.Err, advice)
}

func (e *FormatError) Unwrap() error { return e.Err }

// TargetError reports a lockfile that belongs to another org or sandbox than the manifest's.
// The file is never modified.
type TargetError struct {
	Path string
	Have Target // the lockfile's
	Want Target // the manifest's
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("%s: lockfile belongs to org %s sandbox %s, but the manifest targets org %s sandbox %s; "+
		"the file was left untouched: pass --lockfile with the lockfile of this target",
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
