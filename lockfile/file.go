package lockfile

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/flowsync/flowsync/internal/atomicfile"
	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/internal/strictjson"
	"github.com/flowsync/flowsync/names"
)

// New returns an empty lockfile for t: Version, serial 0, a fresh random salt.
func New(t Target) (*File, error) {
	var salt [32]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("new lockfile: salt: %w", err)
	}
	return &File{
		Version:     Version,
		Target:      t,
		Salt:        hex.EncodeToString(salt[:]),
		Connections: map[string]*Entry{},
	}, nil
}

// Digest returns the hex HMAC-SHA256 of value keyed by salt. The key is the salt's text as
// written in the lockfile (its hex digits), not the bytes they encode. A digest lets a plan
// tell whether a secret changed without the lockfile holding it.
func Digest(salt, value string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// DefaultPath returns the lockfile path of a manifest: its extension replaced by ".lock.json"
// ("examples/onboarding.yaml" → "examples/onboarding.lock.json", "m" → "m.lock.json").
func DefaultPath(manifestPath string) string {
	ext := filepath.Ext(manifestPath)
	return manifestPath[:len(manifestPath)-len(ext)] + ".lock.json"
}

// EnvPath returns the lockfile path of one environment of a manifest: its extension replaced
// by ".ENV.lock.json" ("connections.yaml", "dev" → "connections.dev.lock.json").
func EnvPath(manifestPath, env string) string {
	ext := filepath.Ext(manifestPath)
	return manifestPath[:len(manifestPath)-len(ext)] + "." + env + ".lock.json"
}

// Load reads the lockfile at path. An absent file gives an error wrapping os.ErrNotExist; a
// file that does not parse, has unknown fields, no salt, a bad entry or a newer version gives a
// *FormatError; a file of another target than want gives a *TargetError. Load only reads.
func Load(path string, want Target) (*File, error) {
	data, err := regular.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("read lockfile: %w", err)
	}
	return load(path, data, want)
}

// load is Load once the file is read.
func load(path string, data []byte, want Target) (*File, error) {
	f, err := parse(data)
	if err != nil {
		fe := &FormatError{Path: path, Err: err}
		if se, ok := errors.AsType[*strictjson.Error](err); ok {
			fe.Line, fe.Col = se.Line, se.Col
		}
		return nil, fe
	}
	if f.Target != want {
		return nil, &TargetError{Path: path, Have: f.Target, Want: want}
	}
	return f, nil
}

// parse decodes and checks lockfile bytes, and normalises them as Marshal would.
func parse(data []byte) (*File, error) {
	// The version first: a newer format may have fields this build does not know.
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		// Checked as a lockfile, the problem is found where it starts.
		if cerr := strictjson.Check(data, (*File)(nil)); cerr != nil {
			return nil, parseError(cerr)
		}
		return nil, parseError(strictjson.Locate(data, err))
	}
	if head.Version == nil {
		return nil, errors.New("no version: not a flowsync lockfile")
	}
	if *head.Version > Version {
		return nil, fmt.Errorf("format version %d, this build reads up to %d: %w", *head.Version, Version, ErrNewerVersion)
	}
	// Every key exactly a field (encoding/json would match "SERIAL" to serial, and keep the
	// last of duplicate keys: a recorded id dropped without a word), every value of its type.
	var f File
	if err := strictjson.Unmarshal(data, &f); err != nil {
		return nil, parseError(err)
	}
	if f.Connections == nil {
		f.Connections = map[string]*Entry{}
	}
	for _, e := range f.Connections {
		if e != nil {
			normalise(e)
		}
	}
	if err := normaliseNames(&f); err != nil {
		return nil, err
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// parseError says whether the file is not JSON ("does not parse") or JSON that is no
// lockfile ("corrupt": an unknown or repeated key, a value of the wrong type).
func parseError(err error) error {
	if se, ok := errors.AsType[*strictjson.Error](err); ok && se.Kind != strictjson.Syntax {
		return fmt.Errorf("corrupt: %w", err)
	}
	return fmt.Errorf("does not parse: %w", err)
}

// check reports what Load refuses, so that Marshal never writes it.
func (f *File) check() error {
	if f.Version < 1 || f.Version > Version {
		return fmt.Errorf("bad version %d", f.Version)
	}
	if f.Serial < 0 {
		return fmt.Errorf("bad serial %d", f.Serial)
	}
	if f.Salt == "" {
		return errors.New("no salt")
	}
	if b, err := hex.DecodeString(f.Salt); err != nil || len(b) != 32 || hex.EncodeToString(b) != f.Salt {
		return errors.New("bad salt: want 64 lowercase hex digits")
	}
	for _, name := range slices.Sorted(maps.Keys(f.Connections)) {
		if err := checkEntry(name, f.Connections[name]); err != nil {
			return err
		}
	}
	return nil
}

func checkEntry(name string, e *Entry) error {
	switch {
	case name == "":
		return errors.New("connection with an empty name")
	case e == nil:
		return fmt.Errorf("connection %q: null entry", name)
	case e.Pending != "" && e.Pending != PendingCreate:
		return fmt.Errorf("connection %q: unknown pending %q", name, e.Pending)
	case e.Pending == "" && e.ID == "":
		return fmt.Errorf("connection %q: no id", name)
	}
	for _, t := range []time.Time{e.CreatedAt, e.UpdatedAt, e.PendingAt} {
		if y := t.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("connection %q: time %v out of range", name, t)
		}
	}
	return nil
}

// normaliseNames keys f's entries by their names in NFC, as the manifest's names are (a
// lockfile written before names were normalised may hold another form). Two entries that
// are one name once normalised are corrupt: one of them would silently win.
func normaliseNames(f *File) error {
	var renamed map[string]*Entry
	for name, e := range f.Connections {
		if n := names.Normalize(name); n != name {
			if renamed == nil {
				renamed = map[string]*Entry{}
			}
			renamed[name] = e
		}
	}
	for name, e := range renamed {
		n := names.Normalize(name)
		if _, dup := f.Connections[n]; dup {
			return fmt.Errorf("corrupt: connections %s and %s are the same name once Unicode-normalised (NFC)", strconv.Quote(name), strconv.Quote(n))
		}
		delete(f.Connections, name)
		f.Connections[n] = e
	}
	return nil
}

// normalise puts e's times in UTC at millisecond precision and empties to nil, so that the
// same state always gives the same bytes and a reloaded entry equals the saved one.
func normalise(e *Entry) {
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
	e.UpdatedAt = e.UpdatedAt.UTC().Truncate(time.Millisecond)
	if e.PendingAt.IsZero() {
		e.PendingAt = time.Time{}
	} else {
		e.PendingAt = e.PendingAt.UTC().Truncate(time.Millisecond)
	}
	if len(e.Params) == 0 {
		e.Params = nil
	}
	if len(e.SecretDigests) == 0 {
		e.SecretDigests = nil
	}
	if len(e.Retired) == 0 {
		e.Retired = nil
	}
}

// Marshal returns f's bytes: 2-space indented JSON with a trailing newline, keys sorted, times
// in UTC at millisecond precision. The same state always gives the same bytes. It refuses a File
// that Load would refuse (a nil entry, an entry without id or pending, a bad salt).
func (f *File) Marshal() ([]byte, error) {
	g := f.Clone()
	if g.Connections == nil {
		g.Connections = map[string]*Entry{}
	}
	for _, e := range g.Connections {
		if e != nil {
			normalise(e)
		}
	}
	if err := g.check(); err != nil {
		return nil, fmt.Errorf("marshal lockfile: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		return nil, fmt.Errorf("marshal lockfile: %w", err)
	}
	return buf.Bytes(), nil
}

// Save increments f.Serial and writes f to path atomically: a temp file in the same
// directory (mode 0600: the file holds digests), written, synced, closed, renamed over path,
// then the directory synced. The file at path is never truncated in place; on error it is
// unchanged and f.Serial is restored.
func (f *File) Save(path string) (err error) {
	if f.Serial == math.MaxInt64 {
		return fmt.Errorf("save lockfile %s: serial overflow", path)
	}
	// Errors name the lockfile once, here; callers add nothing before "save lockfile".
	f.Serial++
	defer func() {
		if err != nil {
			f.Serial--
		}
	}()
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("save lockfile %s: %w", path, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("save lockfile %s: %w", path, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) (err error) {
	path = RealPath(path) // through a symbolic link, never replacing it
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link that leads nowhere (a loop): not replacing it", path)
	}
	return atomicfile.Write(path, data)
}

// Clone returns a deep copy of f (nil for nil).
func (f *File) Clone() *File {
	if f == nil {
		return nil
	}
	g := *f
	if f.Connections != nil {
		g.Connections = make(map[string]*Entry, len(f.Connections))
		for name, e := range f.Connections {
			g.Connections[name] = e.Clone()
		}
	}
	return &g
}

// Clone returns a deep copy of e (nil for nil).
func (e *Entry) Clone() *Entry {
	if e == nil {
		return nil
	}
	c := *e
	c.Params = maps.Clone(e.Params)
	c.SecretDigests = maps.Clone(e.SecretDigests)
	c.Retired = slices.Clone(e.Retired)
	return &c
}
