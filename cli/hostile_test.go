package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowsync/flowsync/lockfile"
)

const hostileManifest = `version: 1
target:
  orgId: 5C1328435BF324E90A49402A@AdobeOrg
  sandbox: prod
connections:
  - name: full-a
    auth: {specName: IAMRole Based, params: {bucketName: full-a}}
  - name: full-b
    auth: {specName: IAMRole Based, params: {bucketName: full-b}}
`

// On a full disk the lockfile cannot be saved: the per-entry summary is still printed, the
// error says "save lockfile" once, and the journal keeps the run's progress for the next run.
func TestDiskFullStillSummarises(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(m, []byte(hostileManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func(save func(*lockfile.File, string) error) { saveLockfile = save }(saveLockfile)
	saveLockfile = func(f *lockfile.File, path string) error {
		// What lockfile.Save returns when the temp file's write meets ENOSPC.
		return fmt.Errorf("save lockfile %s: %w", path, &fs.PathError{Op: "write", Path: filepath.Join(dir, ".m.lock.json.tmp-1"), Err: syscall.ENOSPC})
	}
	stdout, stderr, code := run(t, nil, "apply", "-f", m, "--endpoint", "emulator", "--yes")
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	for _, want := range []string{"2 created"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no per-entry summary (%q) on stdout:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stderr, "save lockfile"); n != 1 {
		t.Errorf("stderr says \"save lockfile\" %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "hint: the journal beside it still holds this run's progress") {
		t.Errorf("stderr does not say what happened and what to do:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.lock.json.journal")); err != nil {
		t.Errorf("the journal was not kept: %v", err)
	}

	// With room again, the next run folds the journal in: nothing is created twice.
	saveLockfile = (*lockfile.File).Save
	stdout, stderr, code = run(t, nil, "plan", "-f", m, "--endpoint", "emulator", "--refresh", "--detailed-exitcode")
	if code != ExitOK {
		t.Errorf("plan after the full disk: exit %d, want 0 (no changes)\n%s\n%s", code, stdout, stderr)
	}
}
