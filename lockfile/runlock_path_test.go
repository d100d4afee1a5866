//go:build unix

package lockfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// What is at the run lock path is never opened through, written or waited on: a symbolic
// link, a FIFO or a directory is a *RunLockPathError naming it, and is left as it was.
func TestAcquireRunLockPathNotRegular(t *testing.T) {
	dir := t.TempDir()
	lockfilePath := filepath.Join(dir, "m.lock.json")
	if err := os.WriteFile(lockfilePath, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runLock := lockfilePath + lockSuffix
	for name, make := range map[string]func() error{
		"link to a file":      func() error { return os.Symlink(precious, runLock) },
		"link to itself":      func() error { return os.Symlink(lockfilePath, runLock) },
		"link to a device":    func() error { return os.Symlink("/dev/zero", runLock) },
		"FIFO":                func() error { return syscall.Mkfifo(runLock, 0o600) },
		"directory":           func() error { return os.Mkdir(runLock, 0o700) },
		"link to a directory": func() error { return os.Symlink(dir, runLock) },
	} {
		if err := make(); err != nil {
			t.Fatal(err)
		}
		l, err := AcquireAs(lockfilePath, "flowsync apply")
		var pe *RunLockPathError
		if !errors.As(err, &pe) || pe.Path != runLock {
			t.Errorf("%s: %v, want a *RunLockPathError naming %s", name, err, runLock)
		}
		l.Release()
		if b, _ := os.ReadFile(precious); string(b) != "precious\n" {
			t.Errorf("%s: precious.txt holds %q", name, b)
		}
		if b, _ := os.ReadFile(lockfilePath); string(b) != "{}" {
			t.Errorf("%s: the lockfile holds %q", name, b)
		}
		if err := os.Remove(runLock); err != nil {
			t.Fatal(err)
		}
	}
	l, err := AcquireAs(lockfilePath, "flowsync apply")
	if err != nil {
		t.Fatalf("a regular run lock file: %v", err)
	}
	l.Release()
}
