package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/schema"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestDefaultsMerge(t *testing.T) {
	src := `version: 1
target: {orgId: A1B2@AdobeOrg, sandbox: dev-1}
defaults:
  description: Managed by flowsync
  auth:
    specName: Access Key
    params:
      s3AccessKey: {env: S3_ACCESS_KEY}
      s3SecretKey: {env: S3_SECRET_KEY}
      serviceUrl: https://s3.us-east-1.amazonaws.com/
connections:
  - name: plain
  - name: override
    description: mine
    auth:
      params:
        s3SecretKey: {file: secrets/override}
        bucketName: acme-override
  - name: role
    auth:
      specName: IAMRole Based
      params: {bucketName: acme-role}
`
	m, err := Parse("dir/m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		Path: "dir/m.yaml", Dir: "dir", Version: 1,
		Target: Target{OrgID: "A1B2@AdobeOrg", Sandbox: "dev-1"},
		Connections: []Connection{
			{
				Name: "plain", Description: "Managed by flowsync", ConnectionSpec: s3source.ConnectionSpec(), SpecName: s3source.AccessKey,
				Params: map[string]Value{
					"s3AccessKey": {Ref: &Ref{Kind: "env", Name: "S3_ACCESS_KEY"}, Pos: Pos{8, 20}},
					"s3SecretKey": {Ref: &Ref{Kind: "env", Name: "S3_SECRET_KEY"}, Pos: Pos{9, 20}},
					"serviceUrl":  {Literal: "https://s3.us-east-1.amazonaws.com/", Pos: Pos{10, 19}},
				},
				Pos: Pos{12, 5}, Index: 0,
			},
			{
				Name: "override", Description: "mine", ConnectionSpec: s3source.ConnectionSpec(), SpecName: s3source.AccessKey,
				Params: map[string]Value{
					"s3AccessKey": {Ref: &Ref{Kind: "env", Name: "S3_ACCESS_KEY"}, Pos: Pos{8, 20}},
					"s3SecretKey": {Ref: &Ref{Kind: "file", Name: "secrets/override"}, Pos: Pos{17, 22}},
					"serviceUrl":  {Literal: "https://s3.us-east-1.amazonaws.com/", Pos: Pos{10, 19}},
					"bucketName":  {Literal: "acme-override", Pos: Pos{18, 21}},
				},
				Pos: Pos{13, 5}, Index: 1,
			},
			{
				Name: "role", Description: "Managed by flowsync", ConnectionSpec: s3source.ConnectionSpec(), SpecName: s3source.IAMRoleBased,
				Params: map[string]Value{"bucketName": {Literal: "acme-role", Pos: Pos{22, 28}}},
				Pos:    Pos{19, 5}, Index: 2,
			},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestAliases(t *testing.T) {
	src := `version: 1
target: {orgId: A1B2@AdobeOrg, sandbox: prod}
connections:
  - name: a
    auth: &auth
      specName: IAMRole Based
      params: {bucketName: acme-shared}
  - name: b
    auth: *auth
`
	m, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Connections[1].Params["bucketName"]
	if diff := cmp.Diff(Value{Literal: "acme-shared", Pos: Pos{7, 28}}, got); diff != "" {
		t.Errorf("aliased param (-want +got):\n%s", diff)
	}
}

func TestExamplesParse(t *testing.T) {
	for _, tt := range []struct {
		file  string
		count int
	}{{"../examples/quickstart.yaml", 3}, {"../examples/onboarding.yaml", 24}} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			m, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Connections) != tt.count {
				t.Errorf("%d connections, want %d", len(m.Connections), tt.count)
			}
			data, _ := os.ReadFile(tt.file)
			if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=../schema/manifest.schema.json\n") {
				t.Error("example does not name the schema for editors")
			}
		})
	}
	// The quickstart resolves with no environment at all.
	m, err := Load("../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	for _, c := range m.Connections {
		if _, err := m.Resolve(c, noEnv); err != nil {
			t.Errorf("quickstart %s: %v", c.Name, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("lf", "secret-from-file\n")
	write("crlf", "secret-crlf\r\n")
	write("two", "secret-two\n\n")
	write("empty", "\n")
	write("big", strings.Repeat("x", MaxSecretFile+1))
	write("max", strings.Repeat("y", MaxSecretFile))

	const secret = "s3cr3t-VALUE-do-not-print"
	env := map[string]string{"S3_ACCESS_KEY": "AKIAEXAMPLE", "S3_SECRET_KEY": secret, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	manifest := func(token string) *Manifest {
		src := head + entry("acme-eu", "s3SessionToken: "+token)
		m, err := Parse(filepath.Join(dir, "m.yaml"), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name, token string
		want        string // the session token
		wantErr     string // after the file name
	}{
		{"env set", "{env: S3_SECRET_KEY}", secret, ""},
		{"env unset", "{env: S3_SESSION_TOKEN}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: environment variable S3_SESSION_TOKEN is not set"},
		{"env empty", "{env: EMPTY}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: environment variable EMPTY is empty"},
		{"file LF trimmed", "{file: lf}", "secret-from-file", ""},
		{"file CRLF trimmed", "{file: crlf}", "secret-crlf", ""},
		{"only one newline trimmed", "{file: two}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: value read from {file: two}: holds a line break (at byte 10): a value is one line"},
		{"file of 64 KiB", "{file: max}", strings.Repeat("y", MaxSecretFile), ""},
		{"file too big", "{file: big}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: file " + filepath.Join(dir, "big") + " is larger than 64 KiB"},
		{"file empty", "{file: empty}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: file " + filepath.Join(dir, "empty") + " is empty"},
		{"file missing", "{file: missing}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: cannot read file " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"file is a directory", "{file: .}", "", ":17:25: connections[0] (acme-eu): auth.params.s3SessionToken: file " + dir + " is a directory, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifest(tt.token)
			got, err := m.Resolve(m.Connections[0], lookup)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Resolve = %v, want an error", got)
				}
				if diff := cmp.Diff(filepath.Join(dir, "m.yaml")+tt.wantErr, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				for _, v := range []string{secret, "AKIAEXAMPLE", "xxxxxxxx", "secret-"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error holds a value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"s3AccessKey": "AKIAEXAMPLE", "s3SecretKey": secret, "s3SessionToken": tt.want,
				"serviceUrl": "https://s3.eu-west-1.amazonaws.com/", "bucketName": "acme-bucket",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveReportsEveryReference(t *testing.T) {
	m, err := Parse("m.yaml", []byte(head+entry("a", "s3SessionToken: {env: TOKEN}")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Resolve(m.Connections[0], func(string) (string, bool) { return "", false })
	want := []string{
		"m.yaml:9:20: connections[0] (a): auth.params.s3AccessKey: environment variable S3_ACCESS_KEY is not set",
		"m.yaml:10:20: connections[0] (a): auth.params.s3SecretKey: environment variable S3_SECRET_KEY is not set",
		"m.yaml:17:25: connections[0] (a): auth.params.s3SessionToken: environment variable TOKEN is not set",
	}
	if diff := cmp.Diff(want, diagLines(t, err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSecretAndRefs(t *testing.T) {
	m, err := Load("../examples/onboarding.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{"env", "S3_ACCESS_KEY"}, {"env", "S3_SECRET_KEY"}, {"env", "S3_SESSION_TOKEN"}}
	if diff := cmp.Diff(want, m.Refs()); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
}

// manifestOf generates a valid manifest with n entries.
func manifestOf(n int) []byte {
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		fmt.Fprintf(&b, "  - name: bucket-%05d\n    description: generated entry %d\n    auth:\n      params:\n        serviceUrl: https://s3.eu-west-1.amazonaws.com/\n        bucketName: acme-bucket-%05d\n        folderPath: events/%d\n", i, i, i, i)
		if i%10 == 0 {
			b.WriteString("        s3SessionToken: {env: S3_SESSION_TOKEN}\n")
		}
	}
	return []byte(b.String())
}

func BenchmarkParse10k(b *testing.B) {
	data := manifestOf(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse("m.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Connections) != 10000 {
			b.Fatal(len(m.Connections))
		}
	}
}

// BenchmarkParse10kParts splits BenchmarkParse10k into YAML decoding and schema validation,
// to show where the time goes.
func BenchmarkParse10kParts(b *testing.B) {
	data := manifestOf(10000)
	b.Run("yaml", func(b *testing.B) {
		for b.Loop() {
			var n yaml.Node
			if err := yaml.Unmarshal(data, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schema", func(b *testing.B) {
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if p := schema.Validate(&n); p != nil {
				b.Fatal(p)
			}
		}
	})
}
