package lockfile

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A symlinked lockfile is written through the link: the link stays a link, its target gets
// the new bytes, and the link's and the target's run locks and journals are the same files.
func TestSymlinkedLockfile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "shared", "m.lock.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "m.lock.json")
	if err := os.Symlink(filepath.Join("shared", "m.lock.json"), link); err != nil {
		t.Fatal(err)
	}
	f := sampleFile()
	// The target does not exist yet: the first save creates it through the link.
	if err := f.Save(link); err != nil {
		t.Fatal(err)
	}
	f.Connections["acme-eu"].ETag = `"moved"`
	if err := f.Save(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	got, err := Load(real, testTarget)
	if err != nil || got.Connections["acme-eu"].ETag != `"moved"` || got.Serial != f.Serial {
		t.Fatalf("the target is stale: %+v, %v", got, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".m.lock.json.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temp files beside the link: %v", leftovers)
	}

	held, err := Acquire(link)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	var le *LockedError
	if _, err := Acquire(real); !errors.As(err, &le) {
		t.Fatalf("the target's run lock is another lock than the link's: %v", err)
	}

	j, err := OpenJournal(link, HeaderOf(f))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := os.Stat(real + journalSuffix); err != nil {
		t.Errorf("the journal is not beside the target: %v", err)
	}
	if err := RemoveJournal(link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(real + journalSuffix); !os.IsNotExist(err) {
		t.Errorf("RemoveJournal through the link left the target's journal: %v", err)
	}
}

func TestRealPathLoop(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.Symlink(b, a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, b); err != nil {
		t.Fatal(err)
	}
	if got := RealPath(a); got != a {
		t.Errorf("RealPath of a loop = %s, want it unchanged", got)
	}
	if err := sampleFile().Save(a); err == nil {
		t.Errorf("Save through a loop of links succeeded")
	}
}

// A lockfile written with a name in NFD (before names were normalised) is read in NFC, the
// form the manifest's names have, so that its entry is not taken for an orphan.
func TestLoadNormalisesNames(t *testing.T) {
	f := sampleFile()
	f.Connections["cafe\u0301"] = f.Connections["acme-eu"]
	delete(f.Connections, "acme-eu")
	path := filepath.Join(t.TempDir(), "m.lock.json")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if got.Connections["caf\u00e9"] == nil || got.Connections["cafe\u0301"] != nil {
		t.Errorf("names after Load: %v", slices.Collect(maps.Keys(got.Connections)))
	}
}
