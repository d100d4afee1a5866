package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/lockfile"
)

// A journal of another sandbox with no lockfile beside it: the error states what is known
// (the journal's target and the manifest's), never a lockfile that does not exist, and gives
// each way out once. Neither the journal nor a lockfile is written.
func TestJournalOfAnotherTargetWithoutLockfile(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.yaml")
	dev := strings.Replace(hostileManifest, "sandbox: prod", "sandbox: dev", 1)
	if err := os.WriteFile(m, []byte(dev), 0o644); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "m.lock.json")
	prod := lockfile.Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}
	j, err := lockfile.OpenJournal(lockPath, lockfile.Header{Target: prod, Salt: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Begin("full-a", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(lockPath + ".journal")

	_, stderr, code := run(t, nil, "plan", "-f", m)
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	want := "journal of an interrupted apply to org 5C1328435BF324E90A49402A@AdobeOrg sandbox prod, " +
		"but the manifest targets org 5C1328435BF324E90A49402A@AdobeOrg sandbox dev (there is no lockfile)"
	if !strings.Contains(stderr, want) || strings.Contains(stderr, "the lockfile is for") || strings.Contains(stderr, "neither file") {
		t.Errorf("stderr does not say what is known:\n%s\nwant %q", stderr, want)
	}
	for _, hint := range []string{"hint: it records a run against org", "hint: to finish that run, with the manifest of org"} {
		if n := strings.Count(stderr, hint); n != 1 {
			t.Errorf("%q said %d times, want once:\n%s", hint, n, stderr)
		}
	}
	if after, _ := os.ReadFile(lockPath + ".journal"); string(after) != string(before) {
		t.Error("the journal was changed")
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Errorf("a lockfile was written: %v", err)
	}
}
