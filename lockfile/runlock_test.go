package lockfile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// TestHelperHoldLock is not a test: run as a subprocess with LOCKFILE_TEST_HOLD=PATH, it
// acquires PATH's run lock, prints "locked", and holds it until its stdin closes.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("LOCKFILE_TEST_HOLD")
	if path == "" {
		t.Skip("helper process")
	}
	if os.Getenv("LOCKFILE_TEST_BARE") != "" {
		// Like flock(1): take the lock, write nothing into the file.
		fl := flock.New(path + lockSuffix)
		if ok, err := fl.TryLock(); !ok || err != nil {
			fmt.Println("error:", ok, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	l, err := AcquireAs(path, "flowsync apply")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := l.Release(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// holdInChild runs TestHelperHoldLock in a child process holding path's run lock, with the
// extra environment given, and returns it with the pipe whose closing makes it release.
func holdInChild(t *testing.T, path string, env ...string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(append(os.Environ(), "LOCKFILE_TEST_HOLD="+path), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return cmd, stdin
}

func TestAcquireHeldByOtherProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the holder is named only where the system says who holds the lock")
	}
	path := filepath.Join(t.TempDir(), "m.lock.json")
	cmd, stdin := holdInChild(t, path)

	_, err := Acquire(path)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Acquire while held = %v (%T), want *LockedError", err, err)
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("pid %d on %s since ", cmd.Process.Pid, host)
	if le.Path != path || !strings.HasPrefix(le.Holder, want) || !strings.HasSuffix(le.Holder, ": flowsync apply") {
		t.Errorf("LockedError = %+v, want Path %s and Holder %q…: flowsync apply", le, path, want)
	}
	if !strings.Contains(err.Error(), path+" is held by pid ") {
		t.Errorf("message %q", err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if data, err := os.ReadFile(path + lockSuffix); err != nil || len(data) != 0 {
		t.Errorf("after release the lock file holds %q (%v), want it empty", data, err)
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after the holder exited: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// A description left behind by a run that was killed names a process that does not hold the
// lock (here a live one, on this host, saying it is flowsync apply); the run that holds it now
// wrote none (flock(1), or a run that has not written it yet). The error must not name the
// process of the stale description.
func TestLockedStaleDescription(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	host, _ := os.Hostname()
	stale := holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second), Command: "flowsync apply --plan p.json"}
	data, _ := json.Marshal(stale)
	writeFile(t, path+lockSuffix, data)
	holdInChild(t, path, "LOCKFILE_TEST_BARE=1")

	_, err := Acquire(path)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Acquire while held = %v, want *LockedError", err)
	}
	if le.Holder != "another process" || strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) || strings.Contains(err.Error(), "p.json") {
		t.Errorf("message %q names the stale holder, want %q", err, path+" is held by another process")
	}
}

func TestLockedBy(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 77 fe:00:42 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fe:00:42 0 EOF
2: -> FLOCK  ADVISORY  WRITE 99 fe:00:42 0 EOF
3: FLOCK  ADVISORY  WRITE 55 103:02:42 0 EOF
`
	dev := uint64(0xfe00)
	for _, c := range []struct {
		dev, ino uint64
		pid      int
		want     bool
	}{
		{dev, 42, 1234, true},
		{dev, 42, 99, false},    // waiting, not holding
		{dev, 42, 77, false},    // a POSIX lock is not the run lock
		{dev, 43, 1234, false},  // another file
		{0x10302, 42, 55, true}, // major 0x103, minor 2
		{0x302, 42, 55, false},  // major 3, minor 2
	} {
		if got := lockedBy(bufio.NewScanner(strings.NewReader(locks)), c.dev, c.ino, c.pid); got != c.want {
			t.Errorf("lockedBy(dev %#x, ino %d, pid %d) = %v, want %v", c.dev, c.ino, c.pid, got, c.want)
		}
	}
}

// flock(2) locks belong to open file descriptions, so a second Acquire in the same process
// conflicts with the first, and a released lock can be taken again.
func TestAcquireTwiceInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	l, err := AcquireAs(path, "flowsync plan")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(path)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Acquire = %v, want *LockedError", err)
	}
	if !strings.HasPrefix(le.Holder, fmt.Sprintf("pid %d on ", os.Getpid())) || !strings.HasSuffix(le.Holder, ": flowsync plan") {
		t.Errorf("Holder = %q", le.Holder)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("lock file removed on release: %v", err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestLockedHolderUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	writeFile(t, path+".lock", []byte("{\"pid\":12"))
	if got := readHolder(path + ".lock"); got != "another process" {
		t.Errorf("readHolder of a half-written file = %q", got)
	}
}

// TestHardLinksShareTheRunLock: two hard links of one lockfile have run lock files of their
// own, but one lock: while a run holds one path, the other is locked, and the other way round.
func TestHardLinksShareTheRunLock(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the lockfile itself is locked where flock(2) exists")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.lock.json"), filepath.Join(dir, "b.lock.json")
	if err := os.WriteFile(a, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Skip("no hard links here:", err)
	}
	for _, p := range [][2]string{{a, b}, {b, a}} {
		l, err := Acquire(p[0])
		if err != nil {
			t.Fatal(err)
		}
		var le *LockedError
		if l2, err := Acquire(p[1]); !errors.As(err, &le) {
			l2.Release()
			t.Errorf("Acquire(%s) while %s is held = %v, want a *LockedError", p[1], p[0], err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		l2, err := Acquire(p[1])
		if err != nil {
			t.Errorf("Acquire(%s) after release: %v", p[1], err)
		}
		l2.Release()
	}
	// An absent lockfile has no other name: its run lock is the one beside its path.
	l, err := Acquire(filepath.Join(dir, "new.lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}
