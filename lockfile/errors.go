package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/flowsync/flowsync/internal/regular"
)

// ErrNewerVersion is wrapped by the *FormatError of a lockfile whose version is newer than
// Version: a newer flowsync wrote it, and this build must not rewrite it.
var ErrNewerVersion = errors.New("written by a newer flowsync")

// FormatError reports a lockfile or journal that this build refuses to use: it does not parse,
// has unknown fields, lacks its salt, holds a bad entry, or has a newer version. The file is
// never modified.
type FormatError struct {
	Path      string // the lockfile or journal
	Line, Col int    // where in the file, when known (1-based; 0: not known)
	Err       error
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.Path, e.Line, e.Col, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

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

// JournalMismatchError reports a journal that belongs to another lockfile: another target, or
// the same target with another salt (the lockfile was replaced or deleted since the journal
// was written). It is never folded in, and neither file is modified.
type JournalMismatchError struct {
	Path     string // the journal
	Journal  Header // what the journal records
	Lockfile Header // the lockfile's; with NoLockfile, that of the new lockfile asked for
	// NoLockfile: there is no lockfile beside the journal. Lockfile.Target is then the target
	// the caller asked for (the manifest's), not one read from a file.
	NoLockfile bool
}

func (e *JournalMismatchError) Error() string {
	const left = "it was not folded in, and neither file was changed"
	switch {
	case e.Journal.Target != e.Lockfile.Target && e.NoLockfile:
		return fmt.Sprintf("%s: journal of an interrupted apply to org %s sandbox %s, but the manifest targets org %s sandbox %s "+
			"(there is no lockfile); it was not folded in, and was left as it was",
			e.Path, e.Journal.Target.OrgID, e.Journal.Target.Sandbox, e.Lockfile.Target.OrgID, e.Lockfile.Target.Sandbox)
	case e.Journal.Target != e.Lockfile.Target:
		return fmt.Sprintf("%s: journal of an interrupted apply to org %s sandbox %s, but the lockfile is for org %s sandbox %s; "+left,
			e.Path, e.Journal.Target.OrgID, e.Journal.Target.Sandbox, e.Lockfile.Target.OrgID, e.Lockfile.Target.Sandbox)
	case e.NoLockfile:
		return fmt.Sprintf("%s: journal of an interrupted apply to a lockfile of org %s sandbox %s (salt %s…) that is no longer there; "+
			"it was not folded in, and was left as it was",
			e.Path, e.Journal.Target.OrgID, e.Journal.Target.Sandbox, short(e.Journal.Salt))
	}
	return fmt.Sprintf("%s: journal of an interrupted apply to another lockfile of org %s sandbox %s (salt %s…, the lockfile's is %s…); "+left,
		e.Path, e.Journal.Target.OrgID, e.Journal.Target.Sandbox, short(e.Journal.Salt), short(e.Lockfile.Salt))
}

// SameTarget reports whether the journal and the lockfile have the same target (the salt
// differs).
func (e *JournalMismatchError) SameTarget() bool { return e.Journal.Target == e.Lockfile.Target }

func short(salt string) string {
	if len(salt) > 8 {
		return salt[:8]
	}
	return salt
}

// RunLockPathError reports that the run lock path beside a lockfile holds something other
// than a regular file (a symbolic link, a directory, a FIFO, a device). It is never opened
// through, written or waited on, and is left as it was.
type RunLockPathError struct {
	Path     string // the run lock path, LOCKFILE.lock
	Lockfile string
	Mode     fs.FileMode
}

func (e *RunLockPathError) Error() string {
	return fmt.Sprintf("run lock %s of %s is %s, not a regular file; it was left as it was", e.Path, e.Lockfile, runLockKind(e.Mode))
}

func runLockKind(m fs.FileMode) string {
	if m&fs.ModeSymlink != 0 {
		return "a symbolic link"
	}
	return regular.Kind(m)
}
