package planfile_test

import (
	"bytes"
	"testing"

	"github.com/flowsync/flowsync/planfile"
)

// FuzzParse: Parse never panics, and what it accepts marshals to bytes it accepts again,
// unchanged.
func FuzzParse(f *testing.F) {
	lock, want := scenario(f)
	_, data := build(f, lock, want)
	f.Add(data)
	f.Add([]byte(`{"format_version": "1.0"}`))
	f.Add([]byte(`{"format_version": "2.0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := planfile.Parse(data)
		if err != nil {
			return
		}
		out, err := pf.Marshal()
		if err != nil {
			t.Fatalf("marshal of a parsed file: %v", err)
		}
		again, err := planfile.Parse(out)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, out)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
