package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/s3source"
)

// FuzzParse checks that Parse never panics and that what it accepts keeps the invariants the
// rest of flowsync relies on: unique names, secrets only as references, a known spec name.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../examples/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(head + entry("a") + entry("b", "s3SessionToken: {file: t}")))
	f.Add([]byte(head + entry("a", "s3SecretKey: literal")))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("f.yaml", data)
		if err != nil {
			if _, ok := err.(Diagnostics); !ok {
				t.Fatalf("error is %T, not Diagnostics", err)
			}
			return
		}
		lists := [][]Connection{m.Connections}
		for _, e := range m.Environments {
			lists = append(lists, e.Connections)
		}
		for _, list := range lists {
			checkAccepted(t, list)
		}
	})
}

// checkAccepted holds the connections of one target (or environment) to the invariants.
func checkAccepted(t *testing.T, list []Connection) {
	names := map[string]bool{}
	for _, c := range list {
		if names[c.Name] {
			t.Fatalf("duplicate name %q accepted", c.Name)
		}
		names[c.Name] = true
		if c.SpecName != s3source.AccessKey && c.SpecName != s3source.IAMRoleBased {
			t.Fatalf("spec name %q accepted", c.SpecName)
		}
		if c.ConnectionSpec != s3source.ConnectionSpec() {
			t.Fatalf("connection spec %v accepted", c.ConnectionSpec)
		}
		for p, v := range c.Params {
			if s3source.Secret(p) && v.Ref == nil {
				t.Fatalf("%s: literal %s accepted", c.Name, p)
			}
			if v.Ref != nil && v.Ref.Name == "" {
				t.Fatalf("%s: empty reference accepted", c.Name)
			}
		}
	}
}
