package lockfile

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoad: Load never panics, and a lockfile it accepts re-marshals to bytes that load back
// to the same File and marshal to the same bytes (it never accepts what it would mis-write).
func FuzzLoad(f *testing.F) {
	sample, err := sampleFile().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	empty, _ := (&File{Version: Version, Target: testTarget, Salt: testSalt}).Marshal()
	f.Add(sample)
	f.Add(empty)
	f.Add(bytes.Replace(sample, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	f.Add([]byte(`{"version":1,"serial":3,"target":{"orgId":"5C1328435BF324E90A49402A@AdobeOrg","sandbox":"prod"},"salt":"` + testSalt + `","connections":{"a":{"id":"x","connectionSpec":{"id":"","version":""},"createdAt":"2026-01-01T00:00:00.123456789+05:00","updatedAt":"0001-01-01T00:00:00Z"}}}`))
	dir := f.TempDir() // inputs run one at a time in each fuzzing process
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "m.lock.json")
		writeFile(t, path, data)
		got, err := Load(path, testTarget)
		if err != nil {
			return
		}
		b1, err := got.Marshal()
		if err != nil {
			t.Fatalf("accepted a lockfile it cannot marshal: %v", err)
		}
		path2 := filepath.Join(dir, "again.lock.json")
		writeFile(t, path2, b1)
		again, err := Load(path2, testTarget)
		if err != nil {
			t.Fatalf("re-marshalled lockfile refused: %v\n%s", err, b1)
		}
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("re-loaded lockfile differs (-first +second):\n%s", d)
		}
		b2, err := again.Marshal()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("marshal not stable: %v\n%s\n%s", err, b1, b2)
		}
	})
}

// FuzzJournal: Fold never panics, and a journal it accepts leaves a File that saves and loads
// back unchanged.
func FuzzJournal(f *testing.F) {
	f.Add(journalBytes(f, 3))
	f.Add(journalBytes(f, 0))
	good := journalBytes(f, 2)
	f.Add(good[:len(good)-7])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		lockPath := filepath.Join(dir, "m.lock.json")
		writeFile(t, lockPath+journalSuffix, data)
		lf := sampleFile()
		if _, err := Fold(lf, lockPath); err != nil {
			return
		}
		if err := lf.Save(lockPath); err != nil {
			t.Fatalf("folded journal gives a lockfile that does not save: %v", err)
		}
		back, err := Load(lockPath, testTarget)
		if err != nil {
			t.Fatalf("folded journal gives a lockfile that does not load: %v", err)
		}
		if d := cmp.Diff(lf, back); d != "" {
			t.Fatalf("saved fold differs (-folded +loaded):\n%s", d)
		}
		// A journal that folds can be reopened and appended to.
		j, err := OpenJournal(lockPath)
		if err != nil {
			t.Fatalf("OpenJournal of a journal Fold accepts: %v", err)
		}
		if err := j.Begin("n", "create", ""); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := Fold(lf, lockPath); err != nil {
			t.Fatalf("Fold after appending: %v", err)
		}
	})
}
