//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package lockfile

import "github.com/gofrs/flock"

// lockIdentity locks nothing here: on Windows a lock on the lockfile itself would keep other
// processes from reading it, and where flock(2) is emulated with fcntl(2) a read-only file
// cannot take an exclusive lock. The run lock beside the path still serialises runs of one
// path (and of its symbolic links).
func lockIdentity(string) (*flock.Flock, error) { return nil, nil }
