package lockfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testTarget = Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}

const testSalt = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func sampleFile() *File {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	return &File{
		Version: Version,
		Serial:  7,
		Target:  testTarget,
		Salt:    testSalt,
		Connections: map[string]*Entry{
			"acme-eu": {
				ID:             "c0ffee00-0000-4000-8000-000000000001",
				ETag:           `"3b00a1f2-0000-0200-0000-64b1a2c30000"`,
				Description:    "EU marketing <events> & more",
				SpecName:       "Access Key",
				ConnectionSpec: Spec{ID: "ecadc60c-7455-4d87-84dc-2a0e293d997b", Version: "1.0"},
				Params:         map[string]string{"bucketName": "acme-eu", "serviceUrl": "https://s3.eu-west-1.amazonaws.com/"},
				SecretDigests:  map[string]string{"s3SecretKey": Digest(testSalt, "hunter2")},
				Retired:        []string{"old-id"},
				CreatedAt:      t0,
				UpdatedAt:      t0.Add(time.Hour),
			},
			"acme-us": {Pending: PendingCreate, ConnectionSpec: Spec{ID: "ecadc60c-7455-4d87-84dc-2a0e293d997b", Version: "1.0"}},
		},
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	a, err := New(testTarget)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(testTarget)
	if a.Version != Version || a.Serial != 0 || a.Target != testTarget || a.Connections == nil || len(a.Connections) != 0 {
		t.Errorf("New = %+v", a)
	}
	if len(a.Salt) != 64 || a.Salt == b.Salt {
		t.Errorf("salts %q, %q: want 64 hex digits, different each time", a.Salt, b.Salt)
	}
	if _, err := a.Marshal(); err != nil {
		t.Errorf("Marshal(New()): %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    *File
	}{
		{"sample", sampleFile()},
		{"empty", &File{Version: Version, Target: testTarget, Salt: testSalt, Connections: map[string]*Entry{}}},
		{"nil connections", &File{Version: Version, Target: testTarget, Salt: testSalt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.lock.json")
			want := tt.f.Clone()
			if err := tt.f.Save(path); err != nil {
				t.Fatal(err)
			}
			want.Serial++
			if want.Connections == nil {
				want.Connections = map[string]*Entry{}
			}
			got, err := Load(path, testTarget)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Load after Save (-want +got):\n%s", d)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestMarshalDeterministic(t *testing.T) {
	f := sampleFile()
	a, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same state, reached differently: other time zone, sub-millisecond noise, a fresh map,
	// empty rather than nil collections.
	g := f.Clone()
	e := g.Connections["acme-eu"]
	e.CreatedAt = e.CreatedAt.In(time.FixedZone("CEST", 2*3600)).Add(300 * time.Microsecond)
	g.Connections = map[string]*Entry{"acme-us": g.Connections["acme-us"], "acme-eu": e}
	g.Connections["acme-us"].Params = map[string]string{}
	g.Connections["acme-us"].Retired = []string{}
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(a), string(b)); d != "" {
		t.Errorf("Marshal of the same state differs (-first +second):\n%s", d)
	}
	if !bytes.HasSuffix(a, []byte("}\n")) || !bytes.Contains(a, []byte("\n  \"serial\": 7,\n")) {
		t.Errorf("want 2-space indented JSON with a trailing newline:\n%s", a)
	}
	if !bytes.Contains(a, []byte(`"createdAt": "2026-03-04T05:06:07.89Z"`)) {
		t.Errorf("want UTC millisecond times:\n%s", a)
	}
	if strings.Index(string(a), `"acme-eu"`) > strings.Index(string(a), `"acme-us"`) {
		t.Errorf("connections not sorted:\n%s", a)
	}

	// Saving twice gives the same bytes but for the serial.
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "1.lock.json"), filepath.Join(dir, "2.lock.json")
	if err := f.Save(p1); err != nil {
		t.Fatal(err)
	}
	f.Serial--
	if err := f.Save(p2); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Errorf("two saves of one state differ:\n%s\n%s", b1, b2)
	}
	if err := f.Save(p2); err != nil {
		t.Fatal(err)
	}
	b3, _ := os.ReadFile(p2)
	if d := cmp.Diff(strings.Replace(string(b1), `"serial": 8`, `"serial": 9`, 1), string(b3)); d != "" {
		t.Errorf("a later save differs beyond the serial:\n%s", d)
	}
}

func TestMarshalRefusesWhatLoadRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*File)
	}{
		{"nil entry", func(f *File) { f.Connections["x"] = nil }},
		{"no id", func(f *File) { f.Connections["x"] = &Entry{} }},
		{"empty name", func(f *File) { f.Connections[""] = &Entry{ID: "i"} }},
		{"no salt", func(f *File) { f.Salt = "" }},
		{"no version", func(f *File) { f.Version = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sampleFile()
			tt.mutate(f)
			if _, err := f.Marshal(); err == nil {
				t.Error("Marshal succeeded")
			}
			path := filepath.Join(t.TempDir(), "l.json")
			if err := f.Save(path); err == nil {
				t.Error("Save succeeded")
			}
			if f.Serial != 7 {
				t.Errorf("serial %d after a failed save, want 7", f.Serial)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed save left a file: %v", err)
			}
		})
	}
}

func TestLoadAbsent(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.lock.json"), testTarget)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want os.ErrNotExist", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	good, err := sampleFile().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in sample", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	type check func(t *testing.T, err error)
	format := func(substr string) check {
		return func(t *testing.T, err error) {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), substr) || fe.Journal() {
				t.Errorf("err = %q (journal %v), want it to contain %q", err, fe.Journal(), substr)
			}
			noAdvice(t, err)
		}
	}
	tests := []struct {
		name  string
		data  []byte
		check check
	}{
		{"garbage", []byte("\x00\x01garbage"), format("does not parse")},
		{"empty", nil, format("does not parse")},
		{"truncated", good[:len(good)/2], format("does not parse")},
		{"trailing data", append(append([]byte{}, good...), "{}"...), format("does not parse")},
		{"unknown field", replace(`"serial"`, `"colour": "red", "serial"`), format(`unknown field "colour"`)},
		{"unknown entry field", replace(`"etag"`, `"secret": "x", "etag"`), format(`unknown field "secret"`)},
		{"no salt", replace(`"salt": "`+testSalt+`",`, ``), format("no salt")},
		{"bad salt", replace(testSalt, "xyz"), format("bad salt")},
		{"no version", replace(`"version": 1,`, ``), format("no version")},
		{"duplicate id", replace(`"id": "c0ffee00-0000-4000-8000-000000000001",`, `"id": "c0ffee00-0000-4000-8000-000000000001", "id": "other",`), format(`corrupt: connections.acme-eu: key "id" appears twice (JSON would keep only the last)`)},
		{"duplicate entry", replace(`"connections": {`, `"connections": {"acme-eu": {"pending": "create", "connectionSpec": {"id": "x", "version": "1"}},`), format(`corrupt: connections: key "acme-eu" appears twice`)},
		{"one name twice once normalised", replace(`"connections": {`, `"connections": {"cafe\u0301": {"pending": "create", "connectionSpec": {"id": "x", "version": "1"}}, "caf\u00e9": {"pending": "create", "connectionSpec": {"id": "x", "version": "1"}},`), format(`are the same name once Unicode-normalised (NFC)`)},
		{"duplicate top-level key", replace(`"serial": 7,`, `"serial": 7, "serial": 8,`), format(`corrupt: the top-level object: key "serial" appears twice`)},
		{"null entry", replace(`"connections": {`, `"connections": {"zz": null,`), format("null entry")},
		{"bad pending", replace(`"pending": "create"`, `"pending": "delete"`), format("unknown pending")},
		{"newer version", replace(`"version": 1,`, `"version": 2, "future": true,`), func(t *testing.T, err error) {
			format("newer flowsync")(t, err)
			if !errors.Is(err, ErrNewerVersion) {
				t.Errorf("err = %v, want ErrNewerVersion", err)
			}
		}},
		{"other target", replace(`"sandbox": "prod"`, `"sandbox": "dev"`), func(t *testing.T, err error) {
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want *TargetError", err, err)
			}
			if d := cmp.Diff(Target{OrgID: testTarget.OrgID, Sandbox: "dev"}, te.Have); d != "" {
				t.Errorf("Have (-want +got):\n%s", d)
			}
			if te.Want != testTarget {
				t.Errorf("err = %v", err)
			}
			noAdvice(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.lock.json")
			writeFile(t, path, tt.data)
			f, err := Load(path, testTarget)
			if f != nil {
				t.Errorf("Load returned a file with the error %v", err)
			}
			tt.check(t, err)
			after, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(after, tt.data) {
				t.Errorf("file changed: %v", rerr)
			}
		})
	}
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.lock.json")
	f := sampleFile()
	for range 3 {
		if err := f.Save(path); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{"m.lock.json"}, names); d != "" {
		t.Errorf("directory after saves (-want +got):\n%s", d)
	}
	// A save that cannot rename (path is a directory) leaves neither the old file nor a temp file.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(filepath.Join(dir, "d")); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("a failed save left files behind: %v", ents)
	}
}

func TestClone(t *testing.T) {
	f := sampleFile()
	g := f.Clone()
	if d := cmp.Diff(f, g); d != "" {
		t.Fatalf("Clone differs:\n%s", d)
	}
	g.Connections["acme-eu"].Params["bucketName"] = "changed"
	g.Connections["acme-eu"].SecretDigests["s3SecretKey"] = "changed"
	g.Connections["acme-eu"].Retired[0] = "changed"
	delete(g.Connections, "acme-us")
	if d := cmp.Diff(sampleFile(), f); d != "" {
		t.Errorf("changing the clone changed the original:\n%s", d)
	}
	if (*File)(nil).Clone() != nil {
		t.Error("nil Clone not nil")
	}
}

func TestDigest(t *testing.T) {
	// Canaries long enough that a hex string would not contain them by chance.
	secrets := []string{"hunter2", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "e3b0c44298fc", ""}
	for _, s := range secrets {
		d := Digest(testSalt, s)
		if d == s || s != "" && strings.Contains(d, s) || strings.Contains(s, d) {
			t.Errorf("Digest(%q) = %q reveals the value", s, d)
		}
		if len(d) != 64 {
			t.Errorf("Digest(%q) = %q, want 64 hex digits", s, d)
		}
		if d != Digest(testSalt, s) {
			t.Errorf("Digest(%q) not deterministic", s)
		}
		if d == Digest(strings.Repeat("0", 64), s) {
			t.Errorf("Digest(%q) does not depend on the salt", s)
		}
	}
	// HMAC-SHA256 test vector (RFC 4231 test case 2).
	if got, want := Digest("Jefe", "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	// The canary: a saved lockfile holds digests, never the value.
	f := sampleFile()
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("hunter2")) {
		t.Error("lockfile bytes contain the secret")
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"examples/onboarding.yaml", "examples/onboarding.lock.json"},
		{"m", "m.lock.json"},
		{"m.yml", "m.lock.json"},
		{"a.b/m", "a.b/m.lock.json"},
		{"/abs/x.y.yaml", "/abs/x.y.lock.json"},
	}
	for _, tt := range tests {
		if got := DefaultPath(tt.in); got != tt.want {
			t.Errorf("DefaultPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// noAdvice fails when an error gives the CLI's advice: the lockfile states facts, and cli
// says what to do next, once.
func noAdvice(t *testing.T, err error) {
	t.Helper()
	for _, advice := range []string{"--lockfile", "flowsync import", "upgrade", "restore", "untouched"} {
		if strings.Contains(err.Error(), advice) {
			t.Errorf("err = %q gives advice (%q); that is cli's to give", err, advice)
		}
	}
}

// A lockfile that is not JSON, or JSON that is no lockfile, is refused with the line and
// column of the problem, and left untouched: a syntax error, an unknown top-level field (also
// one that differs from a field only in case, which encoding/json would take for it), a
// duplicate key, a value of the wrong type.
func TestLoadSaysWhere(t *testing.T) {
	good, err := (&File{Version: Version, Serial: 3, Target: testTarget, Salt: testSalt}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// {
	//   "version": 1,
	//   "serial": 3,
	//   "target": {…
	replace := func(old, new string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in %s", old, good)
		}
		return string(bytes.Replace(good, []byte(old), []byte(new), 1))
	}
	for _, tt := range []struct{ data, want string }{
		{`{"version": 1, "serial": 3, "connections": {"name-1": {"id": ` + "\n", `m.lock.json:1:61: does not parse: unexpected end of JSON input`},
		{replace(`"serial": 3,`, `"serial": ,`), `m.lock.json:3:13: does not parse: invalid character ',' looking for beginning of value`},
		{replace(`"serial": 3,`, `"serial": 3, "bogus": true,`), `m.lock.json:3:16: corrupt: unknown field "bogus"`},
		{replace(`"serial": 3,`, `"Serial": 4,`), `m.lock.json:3:3: corrupt: unknown field "Serial" (did you mean "serial"?)`},
		{replace(`"serial": 3,`, `"serial": 3, "serial": 4,`), `m.lock.json:3:16: corrupt: the top-level object: key "serial" appears twice (JSON would keep only the last)`},
		{replace(`"serial": 3,`, `"serial": "3",`), `m.lock.json:3:13: corrupt: serial: a string where an integer (64-bit) is expected`},
		{replace(`"version": 1,`, `"version": "1",`), `m.lock.json:2:14: corrupt: version: a string where an integer (64-bit) is expected`},
		{replace(`"connections": {}`, `"connections": {"a": {"id": "x", "connectionSpec": {"id": "s", "version": "1"}, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": 5}}`),
			`m.lock.json:9:133: corrupt: connections.a.updatedAt: a number where a time (an RFC 3339 string) is expected`},
	} {
		path := filepath.Join(t.TempDir(), "m.lock.json")
		writeFile(t, path, []byte(tt.data))
		_, err := Load(path, testTarget)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.HasSuffix(err.Error(), tt.want) || !strings.HasPrefix(tt.want, "m.lock.json:") {
			t.Errorf("Load of\n%s\n= %v, want …%s", tt.data, err, tt.want)
		}
		if after, _ := os.ReadFile(path); string(after) != tt.data {
			t.Error("the file was changed")
		}
	}
}

func TestEnvPath(t *testing.T) {
	for _, tt := range []struct{ in, env, want string }{
		{"connections.yaml", "dev", "connections.dev.lock.json"},
		{"examples/onboarding.yml", "prod", "examples/onboarding.prod.lock.json"},
		{"m", "stage", "m.stage.lock.json"},
	} {
		if got := EnvPath(tt.in, tt.env); got != tt.want {
			t.Errorf("EnvPath(%q, %q) = %q, want %q", tt.in, tt.env, got, tt.want)
		}
	}
}

// A lockfile written before promotion existed loads, and one without promotion digests is
// written as it was: the field is only there when set.
func TestPromotionOptional(t *testing.T) {
	f, err := New(Target{OrgID: "A1@AdobeOrg", Sandbox: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	f.Connections["acme"] = &Entry{ID: "id-1", ConnectionSpec: Spec{ID: "s", Version: "1.0"}}
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "promotion") {
		t.Errorf("an entry without a promotion digest writes one:\n%s", b)
	}
	f.Connections["acme"].Promotion = "sha256:00"
	b, err = f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Connections["acme"].Promotion; got != "sha256:00" {
		t.Errorf("promotion after a round trip: %q", got)
	}
}
