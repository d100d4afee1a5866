package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Write replaces a file whole and leaves no temp file; WriteNew never replaces one.
func TestWriteAndWriteNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, data := range []string{"one\n", "two\n"} {
		if err := Write(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != data {
			t.Errorf("after Write(%q) the file holds %q", data, got)
		}
	}
	if err := WriteNew(p, []byte("three\n"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteNew over an existing file: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "two\n" {
		t.Errorf("WriteNew changed an existing file: %q", got)
	}
	q := filepath.Join(dir, "new.yaml")
	if err := WriteNew(q, []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(q); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("WriteNew: %v, mode %v; want 0644", err, st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the directory, want 2 (no temp file left)", len(entries))
	}
}
