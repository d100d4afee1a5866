package planfile_test

import (
	"bytes"
	"testing"

	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
)

// FuzzParse: Parse never panics, and what it accepts marshals to bytes it accepts again,
// unchanged. Whatever it accepts is then checked against a small manifest and lockfile (as
// they are, and after the lockfile moved): Check never panics and never widens the plan,
// every change it lets through being exactly the change of a plan made now.
func FuzzParse(f *testing.F) {
	lock, want := scenario(f)
	_, data := build(f, lock, want)
	f.Add(data)
	for _, edit := range edits {
		pf, err := planfile.Parse(data)
		if err != nil {
			f.Fatal(err)
		}
		edit(pf)
		out, err := pf.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
	f.Add([]byte(`{"format_version": "1.0"}`))
	f.Add([]byte(`{"format_version": "2.0"}`))
	moved := lock.Clone()
	moved.Serial++
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
		for _, l := range []struct {
			exists bool
			serial int64
		}{{true, lock.Serial}, {true, moved.Serial}, {false, 0}} {
			lk := lock.Clone()
			lk.Serial = l.serial
			cs, _, err := planfile.Check(pf, planfile.Input{Desired: want, Lock: lk, LockExists: l.exists})
			if err != nil {
				continue
			}
			assertNarrower(t, cs, reconcile.Plan(want, lk, nil, reconcile.Options{Prune: pf.Options.Prune, Only: pf.Options.Only}))
		}
	})
}
