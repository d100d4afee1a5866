package planfile_test

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"

	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
)

// FuzzParse: Parse never panics, and what it accepts marshals to bytes it accepts again,
// unchanged. Whatever it accepts is then checked against a small manifest and lockfile (as
// they are, and after the lockfile moved): Check never panics and never widens the plan,
// every change it lets through being exactly the change of a plan made now; and with the
// lockfile and the live state as planned, it refuses a file it does not send whole.
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
	asApplied := liveAsApplied(lock)
	refreshed := buildRefreshed(f, lock, want, asApplied)
	f.Add(refreshed)
	for _, edit := range forgedEdits {
		pf, err := planfile.Parse(refreshed)
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
	live := liveOf(lock)
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
			live   *reconcile.Observed
		}{{true, lock.Serial, nil}, {true, moved.Serial, nil}, {false, 0, nil}, {true, lock.Serial, live}, {true, moved.Serial, live}} {
			lk := lock.Clone()
			lk.Serial = l.serial
			in := planfile.Input{Desired: want, Lock: lk, LockExists: l.exists, Observed: l.live, APIKey: "our-key"}
			cs, _, err := planfile.Check(pf, in)
			if err != nil {
				continue
			}
			assertNarrower(t, cs, reconcile.Plan(want, lk, l.live, reconcile.Options{Prune: pf.Options.Prune, Only: pf.Options.Only, APIKey: "our-key"}))
		}
		// With the lockfile at the serial planned and the live state as the plan saw it,
		// nothing can have moved: a change is sent as planned, or the file is refused whole.
		// No difference is ever "stale" then.
		for _, now := range []*reconcile.Observed{nil, asApplied} {
			in := planfile.Input{Desired: want, Lock: lock.Clone(), LockExists: true, Observed: now, APIKey: "our-key"}
			if pf.Options.Refresh && now == nil {
				continue // a plan of the live state, checked without it: what moved is not known
			}
			_, refused, err := planfile.Check(pf, in)
			if err != nil || pf.Lockfile.Serial != lock.Serial || !pf.Lockfile.Exists {
				continue
			}
			for _, r := range refused {
				// A digest of a secret the change sets cannot be told from a secret rotated
				// since the plan: that one alone may be stale.
				if se, ok := errors.AsType[*reconcile.StaleError](r.Err); !ok || !strings.Contains(se.Moved, "rotated since the plan") {
					t.Fatalf("nothing moved, yet %s was refused as stale rather than the file as not planned: %v", r.Name, r.Err)
				}
			}
		}
	})
}

// liveOf is the live state of lock as applied, plus a colleague's connection named like the
// scenario's new entry (a name conflict for its create).
func liveOf(lock *lockfile.File) *reconcile.Observed {
	o := &reconcile.Observed{}
	for name, e := range lock.Connections {
		if e.ID == "" {
			continue
		}
		params := map[string]string{}
		for k, v := range e.Params {
			params[k] = v
		}
		o.Connections = append(o.Connections, flowapi.Connection{ID: e.ID, Name: name, Description: e.Description, ETag: e.ETag,
			ConnectionSpec: flowapi.Spec{ID: e.ConnectionSpec.ID, Version: e.ConnectionSpec.Version},
			Auth:           flowapi.Auth{SpecName: e.SpecName, Params: params}, CreatedClient: "our-key", CreatedAt: 1})
	}
	o.Connections = append(o.Connections, flowapi.Connection{ID: "colleagues", Name: "j-new", ETag: `"c"`,
		ConnectionSpec: flowapi.Spec{ID: s3.ID, Version: s3.Version}, Auth: flowapi.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "theirs"}},
		CreatedClient: "colleague-key", CreatedAt: 1})
	sort.Slice(o.Connections, func(i, j int) bool { return o.Connections[i].ID < o.Connections[j].ID })
	return o
}
