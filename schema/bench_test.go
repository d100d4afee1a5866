package schema

import (
	"testing"

	"github.com/flowsync/flowsync/internal/testmanifest"
	"gopkg.in/yaml.v3"
)

// BenchmarkValidate10k is the reason fast.go exists: validation of the bench manifest's
// 10,000 entries with the fast path, and with the compiled JSON Schema alone.
func BenchmarkValidate10k(b *testing.B) {
	data := testmanifest.Bench("5C1328435BF324E90A49402A@AdobeOrg", "prod", "bench", 10_000).Bytes()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fast bool
	}{{"fast", true}, {"schema", false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := validate(&doc, c.fast); p != nil {
					b.Fatal(p)
				}
			}
		})
	}
}
