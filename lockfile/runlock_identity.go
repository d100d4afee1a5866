//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/gofrs/flock"
)

// lockIdentity takes flock(2) on the lockfile itself (the file at the end of its symbolic
// links), without waiting, so that two paths of one file share one lock: the run lock file
// beside a path differs between two hard links of the lockfile, the lockfile's inode does
// not. An absent lockfile has no other name yet: nothing to lock. It is opened read-only and
// without blocking (a FIFO in its place is refused when it is read). When another run holds
// it, the result is a *LockedError.
func lockIdentity(lockfilePath string) (*flock.Flock, error) {
	path := RealPath(lockfilePath)
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|syscall.O_NONBLOCK))
	ok, err := fl.TryLock()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("lock %s: %w", lockfilePath, err)
	case !ok:
		return nil, &LockedError{Path: lockfilePath, Holder: "another run, through another path to the same file (a hard link)"}
	}
	return fl, nil
}
