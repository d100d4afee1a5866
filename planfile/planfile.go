// Package planfile reads and writes saved plans (flowsync plan --out, apply --plan): the
// changes a plan found, each with the exact requests apply will send and the lockfile entry
// and etag it was planned against. The format is documented in docs/planfile.md.
//
// Invariants: a File never holds a secret value: a sensitive param appears only as its
// HMAC-SHA256 keyed by the salt the File records; Write is atomic (temp file, fsync, rename);
// Parse refuses unknown fields and another major format version; Check is pure and never
// widens a plan: a planned change is sent only as the same change of a plan made again (the
// file is a claim, never a command), else refused.
package planfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/internal/strictjson"
	"github.com/flowsync/flowsync/lockfile"
)

// FormatVersion is the version of the plan file this build writes: additive changes keep
// 1.x, breaking ones bump the major. Parse reads any 1.x.
const FormatVersion = "1.2"

// maxSize bounds how much of a plan file is read: a plan of 10,000 connections takes a few MB.
const maxSize = 256 << 20

// File is a saved plan.
type File struct {
	FormatVersion   string          `json:"format_version"`
	FlowsyncVersion string          `json:"flowsync_version"`
	Manifest        Manifest        `json:"manifest"`
	Lockfile        Lockfile        `json:"lockfile"`
	Target          lockfile.Target `json:"target"`
	Options         Options         `json:"options"`
	Summary         Summary         `json:"summary"`
	// Changes are the changes that send something (create, update, replace, delete), sorted by
	// name. Unchanged connections and kept orphans are not listed: apply --plan leaves them.
	Changes []Change `json:"changes"`
}

// Manifest is the manifest a plan was made from.
type Manifest struct {
	Path   string `json:"path"`   // as given to plan -f (relative to plan's working directory)
	SHA256 string `json:"sha256"` // of its bytes, hex
	// Env is the environment planned (--env) in a manifest with environments; absent
	// otherwise.
	Env string `json:"env,omitempty"`
}

// Lockfile is the lockfile a plan was made against.
type Lockfile struct {
	Path string `json:"path"` // as plan used it (relative to plan's working directory)
	// FromManifest is the same path relative to the manifest's directory (format 1.1): the
	// lockfile apply --plan uses. "": a 1.0 file, Path is used.
	FromManifest string `json:"from_manifest,omitempty"`
	Exists       bool   `json:"exists"` // false: no lockfile yet; apply --plan starts one with Salt
	Serial       int64  `json:"serial"`
	// Salt keys every digest in the file: the lockfile's, or the one a first apply will use.
	Salt string `json:"salt"`
}

// Options are the flags the plan was made with.
type Options struct {
	Prune   bool     `json:"prune"`
	Only    []string `json:"only"`
	Refresh bool     `json:"refresh"`
	// SkipPromotion: planned with --skip-promotion (changes the previous environment has not
	// applied were planned too); absent when false.
	SkipPromotion bool `json:"skip_promotion,omitempty"`
}

// Summary counts the changes by action.
type Summary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	// Blocked counts the deletes and replaces blocked by dataflows (format 1.2; absent when
	// none): not counted under their action, never sent.
	Blocked int `json:"blocked,omitempty"`
}

// Change is one planned change.
type Change struct {
	Name   string `json:"name"`
	Action string `json:"action"` // create, update, replace, delete
	Reason string `json:"reason"`
	ID     string `json:"id,omitempty"`   // the connection acted on (absent for a create)
	ETag   string `json:"etag,omitempty"` // the etag planned against: If-Match of its PATCH
	// RenamedFrom: a rename (formerNames); Recorded is the entry under this name, which
	// apply moves to Name.
	RenamedFrom string `json:"renamed_from,omitempty"`
	// LookupFirst: an earlier create's outcome is unknown; apply looks the name up first.
	LookupFirst bool `json:"lookup_first,omitempty"`
	// Resend: the connection changed outside flowsync in a way no GET shows; every secret is
	// sent again.
	Resend bool `json:"resend,omitempty"`
	// Resolved: on the delete of a pending orphan planned with --refresh, the id its
	// interrupted create made, as the ownership rule proved.
	Resolved string `json:"resolved,omitempty"`
	// Blocked (format 1.2): a delete or replace (or an update that deletes what an unfinished
	// replace left) of a connection the dataflows UsedBy used when planned. It holds no request: apply --plan never sends it, whatever the fresh plan says.
	Blocked bool       `json:"blocked,omitempty"`
	UsedBy  []Dataflow `json:"used_by,omitempty"`
	// Recorded is the lockfile entry the change was planned against; nil: none was recorded.
	Recorded *Recorded `json:"recorded"`
	Fields   []Field   `json:"fields"`
	Notes    []string  `json:"notes"`
	// Secrets maps each sensitive param of the desired connection to its digest: the values
	// apply must read again (and records as applied).
	Secrets  map[string]string `json:"secrets"`
	Requests []Request         `json:"requests"`
}

// Dataflow is a dataflow that used a connection when planned (reconcile.Dataflow).
type Dataflow struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state,omitempty"`
	LastRun   string `json:"last_run,omitempty"`
	LastRunAt int64  `json:"last_run_at,omitempty"`
}

// Recorded is a lockfile entry as it was when planned.
type Recorded struct {
	ID      string `json:"id,omitempty"`
	ETag    string `json:"etag,omitempty"`
	Pending string `json:"pending,omitempty"`
}

// Field is a field that changes, as in the JSON plan (docs/plan-json.md).
type Field struct {
	Path      string  `json:"path"`
	Before    *string `json:"before,omitempty"`
	After     *string `json:"after,omitempty"`
	Sensitive bool    `json:"sensitive"`
	Drift     bool    `json:"drift"`
}

// Request is one call apply sends, its secrets replaced by {"hmac_sha256": DIGEST}.
type Request struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	IfMatch     string          `json:"if_match,omitempty"`
	LookupFirst bool            `json:"lookup_first,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// Marshal returns f's bytes: 2-space indented JSON with a trailing newline, <, > and & kept,
// except that each change is one compact line, so that a plan of thousands of connections is
// written fast and reads (and diffs) one change per line.
func (f *File) Marshal() ([]byte, error) {
	head := *f
	head.Changes = []Change{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&head); err != nil {
		return nil, fmt.Errorf("marshal plan file: %w", err)
	}
	const empty = "\"changes\": []\n}\n"
	b := buf.Bytes()
	if !bytes.HasSuffix(b, []byte(empty)) {
		return nil, errors.New("marshal plan file: changes is not the last field")
	}
	if len(f.Changes) == 0 {
		return b, nil
	}
	out := bytes.NewBuffer(make([]byte, 0, len(b)+len(f.Changes)*2048))
	out.Write(b[:len(b)-len(empty)])
	out.WriteString("\"changes\": [\n")
	var line bytes.Buffer
	lenc := json.NewEncoder(&line)
	lenc.SetEscapeHTML(false)
	for i := range f.Changes {
		line.Reset()
		if err := lenc.Encode(&f.Changes[i]); err != nil {
			return nil, fmt.Errorf("marshal plan file: %s: %w", f.Changes[i].Name, err)
		}
		out.WriteString("    ")
		out.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
		if i < len(f.Changes)-1 {
			out.WriteByte(',')
		}
		out.WriteByte('\n')
	}
	out.WriteString("  ]\n}\n")
	return out.Bytes(), nil
}

// Write writes f to path atomically and returns the hex SHA-256 of the bytes written.
func Write(path string, f *File) (sum string, err error) {
	data, err := f.Marshal()
	if err != nil {
		return "", err
	}
	if err := lockfile.WriteFile(path, data); err != nil {
		return "", fmt.Errorf("write plan file %s: %w", path, err)
	}
	return SHA256(data), nil
}

// SHA256 is the hex SHA-256 of data.
func SHA256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// FormatError is a plan file that cannot be used: it does not parse, is of another format
// version or is inconsistent.
type FormatError struct {
	Path      string
	Line, Col int // where in the file, when known (1-based; 0: not known)
	Err       error
	// Parsed is the file as decoded when it decoded but is inconsistent (nil otherwise): an
	// unchecked claim, for advice only (the manifest and lockfile to plan with again).
	Parsed *File
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("plan file %s:%d:%d: %v", e.Path, e.Line, e.Col, e.Err)
	}
	return "plan file " + e.Path + ": " + e.Err.Error()
}
func (e *FormatError) Unwrap() error { return e.Err }

// Read reads and parses the plan file at path and returns it with the hex SHA-256 of its bytes.
func Read(path string) (*File, string, error) {
	data, err := regular.ReadFile(path, maxSize)
	var notRegular *regular.NotRegularError
	switch {
	case errors.As(err, &notRegular):
		return nil, "", &FormatError{Path: path, Err: fmt.Errorf("%s, not a regular file", regular.Kind(notRegular.Mode))}
	case errors.As(err, new(*regular.TooLargeError)):
		return nil, "", &FormatError{Path: path, Err: fmt.Errorf("larger than %d MiB", maxSize>>20)}
	case err != nil:
		return nil, "", fmt.Errorf("read plan file: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		fe := &FormatError{Path: path, Err: err, Parsed: f}
		if se, ok := errors.AsType[*strictjson.Error](err); ok {
			fe.Line, fe.Col = se.Line, se.Col
		}
		return nil, "", fe
	}
	return f, SHA256(data), nil
}

// LockfilePath is the lockfile apply --plan uses: FromManifest beside the manifest, or Path
// for a file of format 1.0.
func (f *File) LockfilePath() string {
	if f.Lockfile.FromManifest == "" {
		return f.Lockfile.Path
	}
	return filepath.Join(filepath.Dir(f.Manifest.Path), filepath.FromSlash(f.Lockfile.FromManifest))
}

// Parse decodes and checks plan file bytes.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parse is Parse, returning also the file as decoded when it decodes but fails a check.
func parse(data []byte) (*File, error) {
	// Every key exactly a field, once; every value of its type; the problem's line and column.
	var f File
	if err := strictjson.Unmarshal(data, &f); err != nil {
		// A file of another version may well not decode: say that first.
		if verr := checkVersion(data); verr != nil {
			return nil, verr
		}
		if se, ok := errors.AsType[*strictjson.Error](err); ok && se.Kind != strictjson.Syntax {
			return nil, fmt.Errorf("corrupt: %w", err)
		}
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	if f.FormatVersion == "" {
		return nil, errors.New("no format_version: not a flowsync plan file")
	}
	if err := checkMajor(f.FormatVersion); err != nil {
		return nil, err
	}
	if err := f.check(); err != nil {
		return &f, err
	}
	return &f, nil
}

// checkVersion reports a format_version this build does not read, or its absence.
func checkVersion(data []byte) error {
	var head struct {
		FormatVersion *string `json:"format_version"`
	}
	if json.Unmarshal(data, &head) != nil {
		return nil // not JSON at all: the caller says so
	}
	if head.FormatVersion == nil {
		return errors.New("no format_version: not a flowsync plan file")
	}
	return checkMajor(*head.FormatVersion)
}

func checkMajor(v string) error {
	if major, _, _ := strings.Cut(v, "."); major != "1" {
		return fmt.Errorf("format_version %q: this build reads 1.x (made by another flowsync version?)", v)
	}
	return nil
}

func hex64(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

// check reports what makes a parsed file unusable.
func (f *File) check() error {
	switch {
	case f.Manifest.Path == "":
		return errors.New("manifest.path is empty")
	case !hex64(f.Manifest.SHA256):
		return errors.New("manifest.sha256: want 64 lowercase hex digits")
	case f.Lockfile.Path == "":
		return errors.New("lockfile.path is empty")
	case !hex64(f.Lockfile.Salt):
		return errors.New("lockfile.salt: want 64 lowercase hex digits")
	case f.Target.OrgID == "" || f.Target.Sandbox == "":
		return errors.New("target: orgId and sandbox are required")
	}
	seen := make(map[string]bool, len(f.Changes))
	for i, c := range f.Changes {
		at := fmt.Sprintf("changes[%d]", i)
		switch {
		case c.Name == "":
			return errors.New(at + ": no name")
		case seen[c.Name]:
			return fmt.Errorf("%s: %q is planned twice", at, c.Name)
		case i > 0 && c.Name < f.Changes[i-1].Name:
			return fmt.Errorf("%s: %q: changes are not sorted by name", at, c.Name)
		}
		seen[c.Name] = true
		if _, ok := actions[c.Action]; !ok {
			return fmt.Errorf("%s: unknown action %q", at, c.Action)
		}
		if c.Blocked && (len(c.Requests) > 0 || c.Action == "create") {
			return fmt.Errorf("%s: %q: a blocked change is a delete, replace or update and holds no requests", at, c.Name)
		}
		for k, d := range c.Secrets {
			if !hex64(d) {
				return fmt.Errorf("%s: secrets.%s: want a 64-hex-digit digest", at, k)
			}
		}
	}
	return nil
}
