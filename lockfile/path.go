package lockfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// RealPath is the file that the lockfile path names: path itself, or, when path is a symbolic
// link (a lockfile kept in another checkout, say), the file at the end of its chain of links,
// which may not exist yet. Every function of this package that takes a lockfile path works on
// RealPath(path): a save writes through the link instead of replacing it with a regular file,
// and the run lock and the journal of a link and of its target are the same files.
func RealPath(path string) string {
	start := path
	for hops := 0; hops < 40; hops++ {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return real
		}
		target, err := os.Readlink(path) // a link to a file not created yet
		if err != nil {
			return path
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return start // a loop of links: let the operation on start fail with the system's reason
}

// JournalPath is the journal of the lockfile at lockfilePath (beside the file its links lead
// to).
func JournalPath(lockfilePath string) string { return RealPath(lockfilePath) + journalSuffix }

// RunLockPath is the file that holds the run lock of the lockfile at lockfilePath.
func RunLockPath(lockfilePath string) string { return RealPath(lockfilePath) + lockSuffix }
