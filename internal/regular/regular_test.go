//go:build unix

package regular

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "p")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(link, 0); err != nil || string(b) != "hello" {
		t.Errorf("through a link: %q, %v", b, err)
	}
	if _, err := ReadFile(file, 4); !errors.As(err, new(*TooLargeError)) {
		t.Errorf("over the limit: %v, want a *TooLargeError", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "absent"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent: %v, want fs.ErrNotExist", err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory", "/dev/null": "a character device"} {
		var nr *NotRegularError
		_, err := ReadFile(path, 0) // a FIFO without a writer: refused at once, never waited on
		if !errors.As(err, &nr) || err.Error() != path+" is "+kind+", not a regular file" {
			t.Errorf("%s: %v, want it named as %s", path, err, kind)
		}
	}
}
