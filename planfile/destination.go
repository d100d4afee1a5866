package planfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flowsync/flowsync/internal/regular"
)

// Taken is a file of the run that a plan file must never replace: what it is ("the
// manifest", "the lockfile's journal") and its path.
type Taken struct {
	What, Path string
}

// DestinationError is a path plan --out refuses to write: one of the run's own files, or an
// existing file that is not a plan file. Nothing was written.
type DestinationError struct {
	Path   string
	Reason string // "is the lockfile", "holds something else than a plan file"
}

func (e *DestinationError) Error() string {
	return fmt.Sprintf("--out %s %s; nothing was written", e.Path, e.Reason)
}

// CheckDestination reports whether a plan file may be written at path: path must name none of
// taken (the same file through a link counts, as does the same path of a file not created
// yet), and what exists at path must be an empty file or a plan file (of any version), which
// the new plan replaces. Anything else there (a journal, a manifest, a FIFO, a directory)
// holds state or waits for a reader: replacing it would lose it.
func CheckDestination(path string, taken []Taken) error {
	for _, t := range taken {
		if t.Path != "" && sameFile(path, t.Path) {
			return &DestinationError{Path: path, Reason: "is " + t.What}
		}
	}
	data, err := regular.ReadFile(path, maxSize)
	var notRegular *regular.NotRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.As(err, &notRegular):
		return &DestinationError{Path: path, Reason: "is " + regular.Kind(notRegular.Mode) + ", not a plan file"}
	case errors.As(err, new(*regular.TooLargeError)):
		return &DestinationError{Path: path, Reason: "is an existing file larger than any plan file"}
	case err != nil:
		return fmt.Errorf("--out %s: %w", path, err)
	case len(data) == 0:
		return nil
	}
	var head struct {
		FormatVersion *string `json:"format_version"`
	}
	if json.Unmarshal(data, &head) != nil || head.FormatVersion == nil {
		return &DestinationError{Path: path, Reason: "is an existing file that is not a plan file"}
	}
	return nil
}

// sameFile reports whether a and b name the same file: the same existing file (through
// symbolic or hard links), or the same cleaned absolute path.
func sameFile(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}
