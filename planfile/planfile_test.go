package planfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

var (
	target = lockfile.Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}
	s3     = flowapi.Spec{ID: s3source.SpecID, Version: s3source.SpecVersion}
)

const (
	secretKey = "CANARY-planfile-secret-key-0000000000001"
	token     = "CANARY-planfile-session-token-001"
)

func desired(name, desc, tok string) reconcile.Desired {
	d := reconcile.Desired{
		Name: name, Description: desc, Spec: s3, SpecName: "Access Key",
		Params: map[string]reconcile.Param{
			"s3AccessKey": {Value: "AKIAIOSFODNN7EXAMPLE", Known: true},
			"s3SecretKey": {Value: secretKey, Sensitive: true, Known: true},
			"bucketName":  {Value: name, Known: true},
		},
	}
	if tok != "" {
		d.Params["s3SessionToken"] = reconcile.Param{Value: tok, Sensitive: true, Known: true}
	}
	return d
}

// applied is the lockfile entry of d as applied (id, etag).
func applied(lock *lockfile.File, d reconcile.Desired, id, etag string, retired ...string) *lockfile.Entry {
	e := &lockfile.Entry{
		ID: id, ETag: etag, Description: d.Description, SpecName: d.SpecName,
		ConnectionSpec: lockfile.Spec{ID: d.Spec.ID, Version: d.Spec.Version},
		Params:         map[string]string{}, SecretDigests: map[string]string{},
		Retired:   retired,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	for k, p := range d.Params {
		if p.Sensitive {
			e.SecretDigests[k] = lockfile.Digest(lock.Salt, p.Value)
		} else {
			e.Params[k] = p.Value
		}
	}
	return e
}

// scenario is a lockfile and a manifest whose plan holds every kind of change: creates,
// updates (token alone, description, every param), a replace, deletes (one with leftovers of
// an earlier replace), and a heal of an unknown create.
func scenario(t testing.TB) (*lockfile.File, []reconcile.Desired) {
	t.Helper()
	lock, err := lockfile.New(target)
	if err != nil {
		t.Fatal(err)
	}
	lock.Serial = 7
	old := []reconcile.Desired{
		desired("a-token", "d", "old-token"),
		desired("b-desc", "old description", ""),
		desired("c-params", "d", ""),
		desired("d-replace", "d", ""),
		desired("e-orphan", "d", ""),
		desired("f-same", "d", token),
		desired("g-orphan-retired", "d", ""),
		desired("h-retired", "d", ""),
	}
	for i, d := range old {
		id := "id-" + d.Name
		var retired []string
		if strings.HasSuffix(d.Name, "retired") {
			retired = []string{"old-" + d.Name}
		}
		lock.Connections[d.Name] = applied(lock, d, id, `"etag-`+string(rune('0'+i))+`"`, retired...)
	}
	lock.Connections["i-pending"] = &lockfile.Entry{Pending: lockfile.PendingCreate}

	want := []reconcile.Desired{
		desired("a-token", "d", token),
		desired("b-desc", "new <description> & more", ""),
		desired("c-params", "d", ""),
		desired("d-replace", "d", ""),
		desired("f-same", "d", token),
		desired("h-retired", "d", ""),
		desired("i-pending", "d", ""),
		desired("j-new", "d", token),
	}
	want[2].Params["folderPath"] = reconcile.Param{Value: "events/2026", Known: true}
	want[3].SpecName = "IAMRole Based"
	want[3].Params = map[string]reconcile.Param{"bucketName": {Value: "d-replace", Known: true}}
	return lock, want
}

func build(t testing.TB, lock *lockfile.File, want []reconcile.Desired) (*planfile.File, []byte) {
	t.Helper()
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{Prune: true})
	f, err := planfile.Build(cs, lock, planfile.Meta{
		FlowsyncVersion: "test", ManifestPath: "m.yaml", ManifestSHA256: strings.Repeat("ab", 32),
		LockfilePath: "m.lock.json", LockfileExists: true, Options: planfile.Options{Prune: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return f, data
}

func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "planfile.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("planfile.schema.json", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("planfile.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

func TestBuildEveryKindOfChange(t *testing.T) {
	lock, want := scenario(t)
	f, data := build(t, lock, want)
	got := map[string]string{}
	for _, c := range f.Changes {
		var reqs []string
		for _, r := range c.Requests {
			reqs = append(reqs, r.Method+" "+r.Path)
		}
		got[c.Name] = c.Action + ": " + strings.Join(reqs, ", ")
	}
	wantReqs := map[string]string{
		"a-token":          "update: PATCH /connections/id-a-token",
		"b-desc":           "update: PATCH /connections/id-b-desc",
		"c-params":         "update: PATCH /connections/id-c-params",
		"d-replace":        "replace: POST /connections, DELETE /connections/id-d-replace",
		"e-orphan":         "delete: DELETE /connections/id-e-orphan",
		"g-orphan-retired": "delete: DELETE /connections/id-g-orphan-retired, DELETE /connections/old-g-orphan-retired",
		"h-retired":        "update: DELETE /connections/old-h-retired",
		"i-pending":        "create: POST /connections",
		"j-new":            "create: POST /connections",
	}
	if d := cmp.Diff(wantReqs, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if err := validate(t, schema(t), data); err != nil {
		t.Errorf("does not match docs/planfile.schema.json: %#v\n%s", err, data)
	}
	for _, leak := range []string{secretKey, token, "old-token"} {
		if bytes.Contains(data, []byte(leak)) {
			t.Errorf("plan file holds %q", leak)
		}
	}
	// The token rotation is the documented single-path PATCH, its value a digest.
	var ops []map[string]any
	for _, c := range f.Changes {
		if c.Name == "a-token" {
			if err := json.Unmarshal(c.Requests[0].Body, &ops); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantOps := []map[string]any{{"op": "replace", "path": "/auth/params/s3SessionToken",
		"value": map[string]any{"hmac_sha256": lockfile.Digest(lock.Salt, token)}}}
	if d := cmp.Diff(wantOps, ops); d != "" {
		t.Errorf("a-token's PATCH (-want +got):\n%s", d)
	}
	if !bytes.Contains(data, []byte("new <description> & more")) {
		t.Error("values are not kept as the manifest has them (<, >, & escaped?)")
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	lock, want := scenario(t)
	_, a := build(t, lock, want)
	_, b := build(t, lock, want)
	if !bytes.Equal(a, b) {
		t.Error("the same inputs gave different plan files")
	}
}

func TestBuildRefusesUnknownSecrets(t *testing.T) {
	lock, want := scenario(t)
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{NoSecrets: true})
	if _, err := planfile.Build(cs, lock, planfile.Meta{}); !errors.Is(err, planfile.ErrSecretsUnknown) {
		t.Fatalf("got %v, want ErrSecretsUnknown", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	lock, want := scenario(t)
	f, data := build(t, lock, want)
	g, err := planfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(data), string(again)); d != "" {
		t.Errorf("parse then marshal changed the bytes:\n%s", d)
	}
	if len(g.Changes) != len(f.Changes) {
		t.Errorf("%d changes, want %d", len(g.Changes), len(f.Changes))
	}
}

func TestParseRefuses(t *testing.T) {
	lock, want := scenario(t)
	_, data := build(t, lock, want)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	changes := func(m map[string]any) []any { return m["changes"].([]any) }
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"not json":      {[]byte("version: 1\n"), "does not parse"},
		"no version":    {[]byte(`{"changes": []}`), "no format_version"},
		"next major":    {[]byte(`{"format_version": "2.0"}`), `format_version "2.0"`},
		"unknown field": {edit(func(m map[string]any) { m["extra"] = true }), "unknown field"},
		"trailing data": {append(append([]byte{}, data...), []byte("{}")...), "does not parse"},
		"bad sha":       {edit(func(m map[string]any) { m["manifest"].(map[string]any)["sha256"] = "x" }), "manifest.sha256"},
		"bad salt":      {edit(func(m map[string]any) { m["lockfile"].(map[string]any)["salt"] = "ABC" }), "lockfile.salt"},
		"unsorted": {edit(func(m map[string]any) {
			c := changes(m)
			c[0], c[1] = c[1], c[0]
		}), "not sorted"},
		"twice": {edit(func(m map[string]any) {
			c := changes(m)
			c[1] = c[0]
		}), "planned twice"},
		"bad action": {edit(func(m map[string]any) { changes(m)[0].(map[string]any)["action"] = "orphan" }), "unknown action"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := planfile.Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestCheck: nothing moved, every change comes back as planned; each kind of movement makes
// exactly its change stale, saying what moved.
func TestCheck(t *testing.T) {
	lock, want := scenario(t)
	f, data := build(t, lock, want)

	cs, stale, err := planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 0 || len(cs.Changes) != len(f.Changes) {
		t.Fatalf("nothing moved, yet %d stale, %d of %d fresh: %v", len(stale), len(cs.Changes), len(f.Changes), stale)
	}

	for name, tc := range map[string]struct {
		move  func(lock *lockfile.File, want []reconcile.Desired, f *planfile.File)
		stale string
		moved string
	}{
		"etag moved": {
			move: func(l *lockfile.File, _ []reconcile.Desired, _ *planfile.File) {
				l.Connections["b-desc"].ETag = `"other"`
			},
			stale: "b-desc", moved: `etag moved: planned against "etag-1", the lockfile now records "other"`,
		},
		"id moved": {
			move: func(l *lockfile.File, _ []reconcile.Desired, _ *planfile.File) {
				l.Connections["e-orphan"].ID = "id-new"
			},
			stale: "e-orphan", moved: "id moved: planned against id-e-orphan, the lockfile now records id-new",
		},
		"recorded since": {
			move: func(l *lockfile.File, w []reconcile.Desired, _ *planfile.File) {
				l.Connections["j-new"] = applied(l, w[7], "id-j", `"e"`)
			},
			stale: "j-new", moved: `recorded in the lockfile since the plan as id-j (etag "e")`,
		},
		"removed since": {
			move:  func(l *lockfile.File, _ []reconcile.Desired, _ *planfile.File) { delete(l.Connections, "c-params") },
			stale: "c-params", moved: "its lockfile entry (id-c-params) was removed since the plan",
		},
		"pending resolved": {
			move: func(l *lockfile.File, _ []reconcile.Desired, _ *planfile.File) {
				l.Connections["i-pending"] = &lockfile.Entry{ID: "found", ETag: `"f"`}
			},
			stale: "i-pending", moved: "id moved: planned against none, the lockfile now records found",
		},
		"secret rotated": {
			move: func(_ *lockfile.File, w []reconcile.Desired, _ *planfile.File) {
				w[0].Params["s3SessionToken"] = reconcile.Param{Value: "rotated", Sensitive: true, Known: true}
			},
			stale: "a-token", moved: "auth.params.s3SessionToken: the secret's value is not the one planned (rotated since the plan)",
		},
		"rotated secret it only records": {
			move: func(_ *lockfile.File, w []reconcile.Desired, _ *planfile.File) {
				w[1].Params["s3SecretKey"] = reconcile.Param{Value: "rotated", Sensitive: true, Known: true}
			},
			stale: "b-desc", moved: "auth.params.s3SecretKey: the secret's value is not the one planned",
		},
		"tampered request, lockfile moved": {
			move: func(l *lockfile.File, _ []reconcile.Desired, f *planfile.File) {
				for i := range f.Changes {
					if f.Changes[i].Name == "j-new" {
						f.Changes[i].Requests[0].Body = json.RawMessage(strings.Replace(string(f.Changes[i].Requests[0].Body), `"j-new"`, `"j-other"`, 1))
					}
				}
				l.Serial++
			},
			stale: "j-new", moved: `request 1 ("POST" "/connections") would differ from the planned one`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := lock.Clone()
			f, err := planfile.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			w := make([]reconcile.Desired, len(want))
			for i, d := range want {
				w[i] = d
				w[i].Params = map[string]reconcile.Param{}
				for k, p := range d.Params {
					w[i].Params[k] = p
				}
			}
			tc.move(l, w, f)
			if !strings.Contains(name, "secret") {
				l.Serial++ // the lockfile moved: a saved lockfile has another serial
			}
			cs, stale, err := planfile.Check(f, planfile.Input{Desired: w, Lock: l, LockExists: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(stale) != 1 || stale[0].Name != tc.stale {
				t.Fatalf("stale %v, want only %s", stale, tc.stale)
			}
			var se *reconcile.StaleError
			if !errors.As(stale[0].Err, &se) || !strings.Contains(se.Moved, tc.moved) {
				t.Errorf("stale says %v, want %q", stale[0].Err, tc.moved)
			}
			if len(cs.Changes) != len(f.Changes)-1 {
				t.Errorf("%d fresh changes, want %d", len(cs.Changes), len(f.Changes)-1)
			}
		})
	}
}

func TestWriteReadSHA(t *testing.T) {
	lock, want := scenario(t)
	f, data := build(t, lock, want)
	path := filepath.Join(t.TempDir(), "plan.json")
	sum, err := planfile.Write(path, f)
	if err != nil {
		t.Fatal(err)
	}
	if sum != planfile.SHA256(data) {
		t.Errorf("Write's SHA-256 %s is not that of the bytes", sum)
	}
	_, readSum, err := planfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if readSum != sum {
		t.Errorf("Read's SHA-256 %s, Write's %s", readSum, sum)
	}
	if _, _, err := planfile.Read(filepath.Dir(path)); err == nil {
		t.Error("read a directory as a plan file")
	}
}

// A plan file that is not JSON, or JSON that is no plan file, is refused naming
// FILE:LINE:COL: a syntax error, an unknown or repeated key (a repeated one would be decoded
// as its last value without a word), a value of the wrong type.
func TestReadSaysWhere(t *testing.T) {
	lock, want := scenario(t)
	_, data := build(t, lock, want)
	first := bytes.IndexByte(data, '\n') + 1 // line 2 starts here: `  "format_version": "1.0",`
	if !bytes.HasPrefix(data[first:], []byte(`  "format_version": `)) {
		t.Fatalf("line 2 of the plan file is not format_version:\n%s", data)
	}
	insert := func(s string) []byte {
		return append(append(append([]byte{}, data[:first]...), s...), data[first:]...)
	}
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{[]byte("{\n  \"format_version\": \"1.0\",\n  \"changes\": [}\n"), ":3:15: does not parse: invalid character '}' looking for beginning of value"},
		{data[:len(data)/2], ": does not parse: unexpected end of JSON input"},
		{insert("  \"bogus\": true,\n"), `:2:3: corrupt: unknown field "bogus"`},
		{insert("  \"Changes\": [],\n"), `:2:3: corrupt: unknown field "Changes" (did you mean "changes"?)`},
		{insert("  \"format_version\": \"1.0\",\n"), `:3:3: corrupt: the top-level object: key "format_version" appears twice (JSON would keep only the last)`},
		{insert("  \"target\": [],\n"), `:2:13: corrupt: target: an array where an object is expected`},
	} {
		path := filepath.Join(t.TempDir(), "plan.json")
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := planfile.Read(path)
		var fe *planfile.FormatError
		if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "plan file "+path+":") || !strings.HasSuffix(err.Error(), tc.want) || fe.Line == 0 {
			t.Errorf("Read = %v, want plan file %s:LINE:COL%s", err, path, tc.want)
		}
	}
}

// edits are hand edits of a saved plan that would widen what apply sends: each must be
// refused, whatever the lockfile did since.
var edits = map[string]func(f *planfile.File){
	"delete of a manifest name": func(f *planfile.File) {
		c := change(f, "b-desc")
		c.Action, c.Requests = "delete", []planfile.Request{{Method: "DELETE", Path: "/connections/id-b-desc"}}
	},
	"delete without prune": func(f *planfile.File) { f.Options.Prune = false },
	"create of a recorded name": func(f *planfile.File) {
		c := change(f, "c-params")
		body := change(f, "j-new").Requests[0].Body
		c.Action, c.ID, c.ETag = "create", "", ""
		c.Requests = []planfile.Request{{Method: "POST", Path: "/connections", Body: json.RawMessage(strings.ReplaceAll(string(body), "j-new", "c-params"))}}
	},
	"replace of an unchanged entry": func(f *planfile.File) {
		c := *change(f, "d-replace")
		c.Name, c.ID, c.ETag = "f-same", "id-f-same", `"etag-5"`
		c.Requests = []planfile.Request{c.Requests[0], {Method: "DELETE", Path: "/connections/id-f-same"}}
		f.Changes = append(f.Changes, c)
		slices.SortFunc(f.Changes, func(a, b planfile.Change) int { return strings.Compare(a.Name, b.Name) })
	},
	"a foreign resolved id": func(f *planfile.File) {
		c := change(f, "e-orphan")
		c.Resolved = "colleagues-connection"
		c.Requests = append(c.Requests, planfile.Request{Method: "DELETE", Path: "/connections/colleagues-connection"})
	},
	"dropped lookup_first": func(f *planfile.File) {
		c := change(f, "i-pending")
		c.LookupFirst, c.Requests[0].LookupFirst = false, false
	},
	"a change without a lockfile entry": func(f *planfile.File) {
		c := change(f, "j-new")
		c.Action, c.ID, c.ETag, c.Recorded = "update", "id-j", `"e"`, nil
		c.Requests = []planfile.Request{{Method: "PATCH", Path: "/connections/id-j", IfMatch: `"e"`, Body: json.RawMessage(`[{"op":"replace","path":"/description","value":"x"}]`)}}
	},
}

func change(f *planfile.File, name string) *planfile.Change {
	for i := range f.Changes {
		if f.Changes[i].Name == name {
			return &f.Changes[i]
		}
	}
	panic("no change " + name)
}

// An edited plan file is refused: with the lockfile it names unchanged, as a file flowsync did
// not make (nothing may be sent); after the lockfile moved, the edited change alone, which is
// then never among the changes to send.
func TestCheckRefusesEdits(t *testing.T) {
	lock, want := scenario(t)
	_, data := build(t, lock, want)
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			f, err := planfile.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			edit(f)
			edited := map[string]bool{}
			for _, c := range f.Changes {
				edited[c.Name] = true
			}
			_, _, err = planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true})
			var np *planfile.NotPlannedError
			if !errors.As(err, &np) {
				t.Fatalf("same lockfile: %v, want a NotPlannedError", err)
			}
			moved := lock.Clone()
			moved.Serial++
			cs, refused, err := planfile.Check(f, planfile.Input{Desired: want, Lock: moved, LockExists: true})
			if err != nil {
				t.Fatal(err)
			}
			fresh := reconcile.Plan(want, moved, nil, reconcile.Options{Prune: f.Options.Prune})
			assertNarrower(t, cs, fresh)
			if len(refused) == 0 {
				t.Fatalf("nothing refused")
			}
		})
	}
}

// assertNarrower fails unless every change of cs is the fresh plan's change of its name,
// exactly: a checked plan never sends what a plan made now would not.
func assertNarrower(t testing.TB, cs, fresh *reconcile.Changeset) {
	t.Helper()
	by := map[string]reconcile.Change{}
	for _, c := range fresh.Changes {
		by[c.Name] = c
	}
	for _, c := range cs.Changes {
		f, ok := by[c.Name]
		if !ok || !c.Action.Sends() || !reflect.DeepEqual(c, f) {
			t.Fatalf("%s: sends %+v, a plan made now holds %+v", c.Name, c, f)
		}
		rc, err := reconcile.Requests(&c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		rf, _ := reconcile.Requests(&f)
		if !reflect.DeepEqual(rc, rf) {
			t.Fatalf("%s: requests %+v, fresh %+v", c.Name, rc, rf)
		}
	}
}
