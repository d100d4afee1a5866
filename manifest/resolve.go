package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowsync/flowsync/internal/regular"
)

// MaxSecretFile is the largest {file: PATH} reference Resolve reads.
const MaxSecretFile = 64 << 10

// Resolve returns every auth param of c with its references read: {env: NAME} through
// lookupEnv (os.LookupEnv in production; unset or empty is an error), {file: PATH} through
// ReadRef. A value read from a reference is then held to the rules of a literal written in
// its place (valueProblem), so that nothing a file or variable holds is sent unchecked. Its
// error is Diagnostics naming the entry, the param and the variable or file, never a value.
func (m *Manifest) Resolve(c Connection, lookupEnv func(string) (string, bool)) (map[string]string, error) {
	out := make(map[string]string, len(c.Params))
	names := make([]string, 0, len(c.Params))
	for name := range c.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	var diags Diagnostics
	for _, name := range names {
		v := c.Params[name]
		if v.Ref == nil {
			out[name] = v.Literal
			continue
		}
		fail := func(msg string, unreadable bool) {
			diags = append(diags, Diagnostic{
				File:       m.Path,
				Pos:        v.Pos,
				Path:       fmt.Sprintf("connections[%d] (%s): auth.params.%s", c.Index, c.Name, name),
				Message:    msg,
				Unreadable: unreadable,
			})
		}
		val, err := m.ReadRef(*v.Ref, lookupEnv)
		if err != nil {
			fail(err.Error(), true)
			continue
		}
		if msg := valueProblem(name, val); msg != "" {
			fail(fmt.Sprintf("value read from %s: %s", v.Ref, msg), false)
			continue
		}
		out[name] = val
	}
	if len(diags) > 0 {
		diags.sort()
		return nil, diags
	}
	return out, nil
}

// String renders r as written: {env: NAME} or {file: PATH}.
func (r Ref) String() string { return "{" + r.Kind + ": " + r.Name + "}" }

// ReadRef is the one reader of secret references. {env: NAME} is looked up with lookupEnv;
// {file: PATH} is read relative to the manifest's directory (absolute paths are allowed, for
// mounted secrets): a regular file only (a FIFO, device or directory is an error, never a
// wait), at most MaxSecretFile bytes, one trailing newline trimmed, not empty. Its errors
// never hold the value.
func (m *Manifest) ReadRef(r Ref, lookupEnv func(string) (string, bool)) (string, error) {
	switch r.Kind {
	case "env":
		if lookupEnv == nil {
			return "", fmt.Errorf("environment variable %s is not set", r.Name)
		}
		v, ok := lookupEnv(r.Name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", r.Name)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", r.Name)
		}
		return v, nil
	case "file":
		path := r.Name
		if !filepath.IsAbs(path) {
			path = filepath.Join(m.Dir, path)
		}
		b, err := readSecretFile(path)
		if err != nil {
			if strings.HasPrefix(r.Name, "~") && errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%w (~ is not expanded: write the absolute path)", err)
			}
			return "", err
		}
		s := string(b)
		if strings.HasSuffix(s, "\r\n") {
			s = s[:len(s)-2]
		} else if strings.HasSuffix(s, "\n") {
			s = s[:len(s)-1]
		}
		if s == "" {
			return "", fmt.Errorf("file %s is empty", path)
		}
		return s, nil
	}
	return "", fmt.Errorf("unknown reference kind %q", r.Kind)
}

// readSecretFile reads a regular file of at most MaxSecretFile bytes, through the one reader
// of regular files (no wait on a FIFO; what was opened is checked, not the path).
func readSecretFile(path string) ([]byte, error) {
	b, err := regular.ReadFile(path, MaxSecretFile)
	var notRegular *regular.NotRegularError
	var tooLarge *regular.TooLargeError
	switch {
	case errors.As(err, &notRegular):
		return nil, fmt.Errorf("file %s is %s, not a regular file", path, regular.Kind(notRegular.Mode))
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("file %s is larger than %d KiB", path, MaxSecretFile>>10)
	case err != nil:
		return nil, fileError(path, err)
	}
	return b, nil
}

// fileError names the file once, with the operating system's reason.
func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read file %s: %w", path, err)
}

// Refs returns every distinct secret reference in the manifest, in file order.
func (m *Manifest) Refs() []Ref {
	seen := map[Ref]bool{}
	var refs []Ref
	for _, c := range m.Connections {
		names := make([]string, 0, len(c.Params))
		for name := range c.Params {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool {
			a, b := c.Params[names[i]].Pos, c.Params[names[j]].Pos
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		for _, name := range names {
			if r := c.Params[name].Ref; r != nil && !seen[*r] {
				seen[*r] = true
				refs = append(refs, *r)
			}
		}
	}
	return refs
}
