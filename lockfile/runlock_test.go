package lockfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelperHoldLock is not a test: run as a subprocess with LOCKFILE_TEST_HOLD=PATH, it
// acquires PATH's run lock, prints "locked", and holds it until its stdin closes.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("LOCKFILE_TEST_HOLD")
	if path == "" {
		t.Skip("helper process")
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

func TestAcquireHeldByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "LOCKFILE_TEST_HOLD="+path)
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
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = Acquire(path)
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
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after the holder exited: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
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
	if got := readHolder(path + ".lock"); !strings.HasPrefix(got, "another process") {
		t.Errorf("readHolder of a half-written file = %q", got)
	}
}
