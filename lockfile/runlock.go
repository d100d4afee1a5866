package lockfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gofrs/flock"

	"github.com/flowsync/flowsync/internal/regular"
)

const lockSuffix = ".lock"

// RunLock is the exclusive OS lock (flock(2) on Unix, LockFileEx on Windows) that lets one run
// at a time use a lockfile. It lives on PATH+".lock", which holds a description of its holder
// while it is held and is emptied when it is released. The operating system releases the lock
// when the process exits, however it exits; a run that was killed leaves its description
// behind, so a reader names the holder only after checking that it is the process holding the
// lock now (see holderIsCurrent).
type RunLock struct {
	fl   *flock.Flock
	path string       // PATH+".lock"
	id   *flock.Flock // the lock on the lockfile itself (nil: none, see lockIdentity)
}

// holder is what a run lock file holds: who has it.
type holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Command string    `json:"command"`
}

func (h holder) String() string {
	return fmt.Sprintf("pid %d on %s since %s: %s", h.PID, h.Host, h.Since.UTC().Format(time.RFC3339), h.Command)
}

// Acquire takes the run lock of the lockfile at lockfilePath without waiting, and records this
// process (pid, host, start time and command line) as its holder. Where flock(2) exists it
// also locks the lockfile itself, so that two hard links of one lockfile share one lock. When another run holds it,
// Acquire returns a *LockedError naming that run at once.
//
// The lock belongs to an open file, not to a process: a second Acquire in the same process
// also fails while the first is held (true of flock(2) on Linux and the BSDs; platforms where
// flock is emulated with fcntl locks are an exception).
func Acquire(lockfilePath string) (*RunLock, error) {
	return AcquireAs(lockfilePath, commandLine())
}

// AcquireAs is Acquire with the command recorded for the holder given explicitly
// (e.g. "flowsync apply").
func AcquireAs(lockfilePath, command string) (*RunLock, error) {
	path := RealPath(lockfilePath) + lockSuffix
	fl, err := lockRunFile(lockfilePath, path)
	if err != nil || fl == nil {
		return nil, err
	}
	id, err := lockIdentity(lockfilePath)
	if err != nil {
		fl.Close()
		return nil, err
	}
	l := &RunLock{fl: fl, path: path, id: id}
	host, _ := os.Hostname()
	h := holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second), Command: command}
	if err := l.writeHolder(h); err != nil {
		l.Release()
		return nil, fmt.Errorf("lock %s: %w", lockfilePath, err)
	}
	return l, nil
}

// runFileFlag opens the run lock file: created 0600 when absent, never truncated (only the
// file verified as ours is emptied, through its own descriptor), never through a symbolic
// link (a link there could point the emptying at any file), and without blocking (a FIFO
// there would otherwise wait for a writer forever).
const runFileFlag = os.O_CREATE | os.O_RDWR | oNoFollow | syscall.O_NONBLOCK

// lockRunFile takes the lock on the run lock file path of lockfilePath without waiting. What
// is there must be a regular file (else a *RunLockPathError); another run holding it is a
// *LockedError.
func lockRunFile(lockfilePath, path string) (*flock.Flock, error) {
	fl := flock.New(path, flock.SetFlag(runFileFlag))
	ok, err := fl.TryLock()
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, &RunLockPathError{Path: path, Lockfile: lockfilePath, Mode: fi.Mode()}
		}
		return nil, fmt.Errorf("lock %s: %w", lockfilePath, err)
	}
	if !ok {
		return nil, &LockedError{Path: lockfilePath, Holder: readHolder(path)}
	}
	fi, err := fl.Stat() // the descriptor just locked, not the path
	if err == nil && !fi.Mode().IsRegular() {
		err = &RunLockPathError{Path: path, Lockfile: lockfilePath, Mode: fi.Mode()}
	}
	if err != nil {
		fl.Close()
		return nil, err
	}
	return fl, nil
}

// openOwn opens the run lock file for writing, as long as it is still the file this lock
// holds: never through a link, never another file that replaced it since.
func (l *RunLock) openOwn() (*os.File, error) {
	want, err := l.fl.Stat()
	if err != nil {
		return nil, err
	}
	w, err := os.OpenFile(l.path, os.O_WRONLY|oNoFollow|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if got, err := w.Stat(); err != nil || !os.SameFile(got, want) {
		w.Close()
		return nil, fmt.Errorf("%s was replaced while it was locked", l.path)
	}
	return w, nil
}

// writeHolder overwrites the lock file's contents in place. Only the lock's holder writes it;
// readers that lost the race to lock it may see it half-written and say so.
func (l *RunLock) writeHolder(h holder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	w, err := l.openOwn()
	if err != nil {
		return err
	}
	_, err = w.WriteAt(append(data, '\n'), 0)
	if err == nil {
		err = w.Truncate(int64(len(data) + 1))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// anotherProcess is how a holder that cannot be named is described.
const anotherProcess = "another process"

// readHolder describes who holds the lock on path, which the caller just failed to take. The
// description in the file is used only when it is known to be the current holder's: a run
// killed before it could empty the file leaves its own there, and the lock may now be held by
// a later run that has not written its description yet, or by a program that writes none
// (flock(1)). When that cannot be told, the holder is "another process", without details.
func readHolder(path string) string {
	data, err := regular.ReadFile(path, 4096) // never a FIFO's wait, nor a huge file
	if err != nil || len(data) == 0 {
		return anotherProcess
	}
	var h holder
	if err := json.Unmarshal(data, &h); err != nil || h.PID <= 0 {
		return anotherProcess
	}
	if host, _ := os.Hostname(); host == "" || h.Host != host || !holderIsCurrent(path, h.PID) {
		return anotherProcess
	}
	return h.String()
}

// Release releases the lock. The lock file is left in place on purpose: deleting it would let
// a run that opened it before the deletion lock the orphaned file while another run creates
// and locks a new one, both believing they are alone. Its contents only mean something while
// it is locked. Release on a released or nil lock does nothing.
func (l *RunLock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	// Empty the description while the lock is still held: once released, it would name a
	// process that no longer holds it. A failure here only leaves a description that a reader
	// checks anyway.
	if w, err := l.openOwn(); err == nil {
		_ = w.Truncate(0)
		_ = w.Close()
	}
	if l.id != nil {
		_ = l.id.Close() // a read-only lock: nothing to lose if closing fails
		l.id = nil
	}
	err := l.fl.Close() // unlock and close
	l.fl = nil
	if err != nil {
		return fmt.Errorf("release run lock: %w", err)
	}
	return nil
}

// commandLine describes this process for the lock's holder: program name and arguments,
// shortened. flowsync takes no secret on its command line (credentials come from the
// environment), and any user of the machine can read it from the process table anyway.
func commandLine() string {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	s := strings.Join(args, " ")
	if n := 200; len(s) > n {
		for !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
