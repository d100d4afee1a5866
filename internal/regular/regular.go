// Package regular reads files that must be regular files: the manifest, the lockfile, its
// journal, a plan file. A FIFO, device, socket or directory given in their place is an error
// at once, never a read that waits for a writer that may never come.
package regular

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError is a path that names something other than a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// TooLargeError is a file larger than the reader accepts.
type TooLargeError struct {
	Path string
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.Path, e.Max)
}

// ReadFile reads the regular file at path, at most max bytes (0: no limit). It opens without
// blocking (opening a FIFO for reading waits for a writer otherwise) and checks what it
// opened, not what the path named a moment before. Errors opening the file are the
// *fs.PathError os.ReadFile gives (errors.Is(err, fs.ErrNotExist) holds for an absent file).
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, path, max)
}

// Check returns a *NotRegularError unless the open file f (named path) is a regular file.
func Check(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return nil
}

func read(f *os.File, path string, max int64) ([]byte, error) {
	if err := Check(f, path); err != nil {
		return nil, err
	}
	var r io.Reader = f
	if max > 0 {
		r = io.LimitReader(f, max+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if max > 0 && int64(len(data)) > max {
		return nil, &TooLargeError{Path: path, Max: max}
	}
	return data, nil
}

// Kind describes a file mode for an error: "a named pipe (FIFO)", "a directory".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}
