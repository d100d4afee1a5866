package testmanifest_test

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/internal/testmanifest"
	"github.com/flowsync/flowsync/manifest"
)

// The generated manifests are valid, and each entry is what Entry says.
func TestGeneratedManifestParses(t *testing.T) {
	m := testmanifest.Bench("5C1328435BF324E90A49402A@AdobeOrg", "prod", "bench", 250)
	m.IAM = "bench-000007"
	parsed, err := manifest.Parse("m.yaml", m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Connections) != 250 {
		t.Fatalf("%d connections, want 250", len(parsed.Connections))
	}
	for k, c := range parsed.Connections {
		i := k + 1
		e := m.Entry(i)
		if c.Name != e.Name || c.Name != fmt.Sprintf("bench-%06d", i) || c.Description != e.Description {
			t.Fatalf("entry %d: %q %q, want %q %q", i, c.Name, c.Description, e.Name, e.Description)
		}
		wantSpec := "Access Key"
		if e.Name == m.IAM {
			wantSpec = "IAMRole Based"
		}
		if c.SpecName != wantSpec {
			t.Errorf("%s: specName %q, want %q", c.Name, c.SpecName, wantSpec)
		}
		for _, p := range e.Params {
			if _, ok := c.Params[p.Key]; !ok {
				t.Errorf("%s: no param %s", c.Name, p.Key)
			}
		}
	}
}
