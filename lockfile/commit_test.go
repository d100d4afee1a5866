package lockfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Commit folds what only the journal knows (a create begun, never answered) into the file,
// saves it, and removes the journal; when the save fails, the journal stays.
func TestCommit(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "m.lock.json")
	f := sampleFile()
	j, err := OpenJournal(lockPath, HeaderOf(f))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Begin("sent-no-answer", "create", "", &Entry{Description: "d"}); err != nil {
		t.Fatal(err)
	}
	kept, err := Commit(f, lockPath, j, (*File).Save)
	if err != nil || kept != nil {
		t.Fatalf("Commit = %v, %v", kept, err)
	}
	if _, err := os.Stat(lockPath + journalSuffix); !os.IsNotExist(err) {
		t.Errorf("journal not removed: %v", err)
	}
	saved, err := Load(lockPath, f.Target)
	if err != nil {
		t.Fatal(err)
	}
	if e := saved.Connections["sent-no-answer"]; e == nil || e.Pending != PendingCreate {
		t.Errorf("the begun create is not recorded as pending: %+v", e)
	}

	// A save that fails (the lockfile's path is a directory) keeps the journal.
	bad := filepath.Join(dir, "dir.lock.json")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(bad, HeaderOf(f))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Begin("x", "create", "", &Entry{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(f, bad, j, (*File).Save); err == nil {
		t.Fatal("Commit over a directory succeeded")
	}
	if _, err := os.Stat(bad + journalSuffix); err != nil {
		t.Errorf("journal removed after a failed save: %v", err)
	}
}
