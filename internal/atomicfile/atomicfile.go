// Package atomicfile writes files so that a reader sees the old bytes or the new ones, never a
// part: a temp file in the same directory, written, synced and closed, then renamed (Write) or
// hard-linked (WriteNew) into place, then the directory synced. It is the one place flowsync
// writes a file whole: the lockfile, the plan file, generate's manifest, the emulator's state.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces path with data (mode 0600, as os.CreateTemp makes it). A failure leaves the
// old file as it was and no temp file behind.
func Write(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or removal in dir durable. Windows cannot sync a directory (NTFS
// journals renames): there it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// syncDir is SyncDir for a file that is already safely in place: a file system that cannot
// sync a directory is not an error there.
func syncDir(dir string) { _ = SyncDir(dir) }

// WriteNew writes data to a new file p atomically, and never over an existing one: a temp
// file in the same directory, synced, then hard-linked to p (which fails when p exists),
// then the directory synced.
func WriteNew(p string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(p)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return fs.ErrExist
		}
		// A file system without hard links: create it exclusively instead.
		f, cerr := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if cerr != nil {
			return cerr
		}
		if _, werr := f.Write(data); werr != nil {
			f.Close()
			os.Remove(p)
			return werr
		}
		if serr := f.Sync(); serr != nil {
			f.Close()
			os.Remove(p)
			return serr
		}
		if cerr := f.Close(); cerr != nil {
			os.Remove(p)
			return cerr
		}
	}
	syncDir(dir)
	return nil
}
