package planfile_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
)

// liveAsApplied is the live state of lock exactly as applied, with a colleague's connection
// of a name neither the manifest nor the lockfile has.
func liveAsApplied(lock *lockfile.File) *reconcile.Observed {
	o := liveOf(lock)
	for i := range o.Connections {
		if o.Connections[i].ID == "colleagues" {
			o.Connections[i].Name = "k-colleague"
		}
	}
	return o
}

// buildRefreshed is the plan of the scenario made against the live state (plan --refresh).
func buildRefreshed(t testing.TB, lock *lockfile.File, want []reconcile.Desired, live *reconcile.Observed) []byte {
	t.Helper()
	cs := reconcile.Plan(want, lock, live, reconcile.Options{Prune: true, APIKey: "our-key"})
	f, err := planfile.Build(cs, lock, planfile.Meta{
		FlowsyncVersion: "test", ManifestPath: "m.yaml", ManifestSHA256: strings.Repeat("ab", 32),
		LockfilePath: "m.lock.json", LockfileExists: true, Options: planfile.Options{Prune: true, Refresh: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func addChange(f *planfile.File, c planfile.Change) {
	f.Changes = append(f.Changes, c)
	slices.SortFunc(f.Changes, func(a, b planfile.Change) int { return strings.Compare(a.Name, b.Name) })
}

// forgedEdits are edits of a plan made against the live state that no live state explains:
// each says something about the lockfile that the lockfile does not hold.
var forgedEdits = map[string]func(f *planfile.File){
	"a create turned into a delete of a colleague's id": func(f *planfile.File) {
		c := change(f, "j-new")
		c.Action, c.ID = "delete", "colleagues"
		c.Requests = []planfile.Request{{Method: "DELETE", Path: "/connections/colleagues"}}
	},
	"a delete of a colleague's id under its name, recorded null": func(f *planfile.File) {
		addChange(f, planfile.Change{Name: "k-colleague", Action: "delete", Reason: "orphan", ID: "colleagues",
			Requests: []planfile.Request{{Method: "DELETE", Path: "/connections/colleagues"}}})
	},
	"an update pointed at a colleague's id": func(f *planfile.File) {
		c := change(f, "b-desc")
		c.ID, c.Requests[0].Path = "colleagues", "/connections/colleagues"
	},
	"an update's etag set to deadbeef": func(f *planfile.File) {
		c := change(f, "b-desc")
		c.ETag, c.Requests[0].IfMatch = "deadbeef", "deadbeef"
	},
	"a delete's etag set to deadbeef": func(f *planfile.File) { change(f, "e-orphan").ETag = "deadbeef" },
	"a create added for a recorded name": func(f *planfile.File) {
		body := change(f, "j-new").Requests[0].Body
		addChange(f, planfile.Change{Name: "f-same", Action: "create", Reason: "manifest",
			Requests: []planfile.Request{{Method: "POST", Path: "/connections", Body: json.RawMessage(strings.ReplaceAll(string(body), "j-new", "f-same"))}}})
	},
	"a create added for a recorded name, its entry copied": func(f *planfile.File) {
		body := change(f, "j-new").Requests[0].Body
		addChange(f, planfile.Change{Name: "f-same", Action: "create", Reason: "missing", Recorded: &planfile.Recorded{ID: "id-f-same", ETag: `"etag-5"`},
			Requests: []planfile.Request{{Method: "POST", Path: "/connections", Body: json.RawMessage(strings.ReplaceAll(string(body), "j-new", "f-same"))}}})
	},
	"an update of a name nobody records, among real changes": func(f *planfile.File) {
		addChange(f, ghost())
	},
	"an update of a name nobody records, alone": func(f *planfile.File) {
		f.Changes = []planfile.Change{ghost()}
	},
}

func ghost() planfile.Change {
	return planfile.Change{Name: "ghost", Action: "update", Reason: "manifest", ID: "id-a-token", ETag: `"etag-0"`,
		Requests: []planfile.Request{{Method: "PATCH", Path: "/connections/id-a-token", IfMatch: `"etag-0"`,
			Body: json.RawMessage(`[{"op":"replace","path":"/description","value":"x"}]`)}}}
}

// A plan made against the live state, edited: with the lockfile at the serial planned, each
// edit is refused as a file flowsync did not make, the live state being as planned or not;
// after the lockfile moved, the edited change alone is refused, and never sent.
func TestCheckRefusesForgedRefreshedPlan(t *testing.T) {
	lock, want := scenario(t)
	live := liveAsApplied(lock)
	data := buildRefreshed(t, lock, want, live)
	for name, edit := range forgedEdits {
		t.Run(name, func(t *testing.T) {
			f, err := planfile.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			edit(f)
			for _, now := range []*reconcile.Observed{live, movedLive(live)} {
				_, refused, err := planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true, Observed: now, APIKey: "our-key"})
				if np, ok := errors.AsType[*planfile.NotPlannedError](err); !ok {
					t.Fatalf("same lockfile: %v (refused %v), want a NotPlannedError", err, refused)
				} else if strings.Contains(np.Why, "since the plan") {
					t.Errorf("the reason blames a move that did not happen: %s", np.Why)
				}
			}
			moved := lock.Clone()
			moved.Serial++
			cs, refused, err := planfile.Check(f, planfile.Input{Desired: want, Lock: moved, LockExists: true, Observed: live, APIKey: "our-key"})
			if err != nil {
				t.Fatal(err)
			}
			assertNarrower(t, cs, reconcile.Plan(want, moved, live, reconcile.Options{Prune: true, APIKey: "our-key"}))
			if len(refused) == 0 {
				t.Fatal("nothing refused")
			}
		})
	}
}

// movedLive is live after a colleague edited b-desc on the service (its etag moved).
func movedLive(live *reconcile.Observed) *reconcile.Observed {
	o := &reconcile.Observed{Connections: slices.Clone(live.Connections)}
	for i := range o.Connections {
		if o.Connections[i].ID == "id-b-desc" {
			o.Connections[i].ETag = `"moved"`
			o.Connections[i].Description = "edited in the UI"
		}
	}
	return o
}

// What moves live between plan and apply, the lockfile unchanged, makes the changes it touches
// stale or a name conflict, never a file flowsync did not make: an etag moved on the service,
// a connection deleted outside flowsync, a colleague's namesake of a planned create.
func TestCheckLiveMovesAreStale(t *testing.T) {
	lock, want := scenario(t)
	live := liveAsApplied(lock)
	data := buildRefreshed(t, lock, want, live)
	f, err := planfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	now := movedLive(live)
	now.Connections = slices.DeleteFunc(now.Connections, func(c flowapi.Connection) bool { return c.ID == "id-c-params" })
	for i := range now.Connections {
		if now.Connections[i].ID == "colleagues" {
			now.Connections[i].Name = "j-new"
		}
	}
	cs, refused, err := planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true, Observed: now, APIKey: "our-key"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range refused {
		switch {
		case errors.As(r.Err, new(*reconcile.StaleError)):
			got[r.Name] = "stale"
		case errors.As(r.Err, new(*reconcile.ConflictError)):
			got[r.Name] = "conflict"
		default:
			got[r.Name] = r.Err.Error()
		}
	}
	wantRefused := map[string]string{"b-desc": "stale", "c-params": "stale", "j-new": "conflict"}
	if !maps.Equal(got, wantRefused) {
		t.Errorf("refused %v, want %v", got, wantRefused)
	}
	assertNarrower(t, cs, reconcile.Plan(want, lock, now, reconcile.Options{Prune: true, APIKey: "our-key"}))
	if len(cs.Changes) != len(f.Changes)-3 {
		t.Errorf("%d changes sent, want %d", len(cs.Changes), len(f.Changes)-3)
	}
}

// A lockfile entry whose etag was never known (an answer without one): a plan against the
// live state plans its update against the live etag, with no drift to show. That plan is one
// flowsync made: it is sent, and once the connection moved live again it is stale, never
// "not planned".
func TestCheckUnknownRecordedETag(t *testing.T) {
	lock, want := scenario(t)
	lock.Connections["b-desc"].ETag = ""
	live := liveAsApplied(lock)
	for i := range live.Connections {
		if live.Connections[i].ID == "id-b-desc" {
			live.Connections[i].ETag = `"live"`
		}
	}
	f, err := planfile.Parse(buildRefreshed(t, lock, want, live))
	if err != nil {
		t.Fatal(err)
	}
	if c := change(f, "b-desc"); c.ETag != `"live"` {
		t.Fatalf("b-desc planned against %s, want the live etag", c.ETag)
	}
	cs, refused, err := planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true, Observed: live, APIKey: "our-key"})
	if err != nil || len(refused) > 0 || len(cs.Changes) != len(f.Changes) {
		t.Fatalf("err %v, refused %v, %d of %d sent", err, refused, len(cs.Changes), len(f.Changes))
	}
	_, refused, err = planfile.Check(f, planfile.Input{Desired: want, Lock: lock, LockExists: true, Observed: movedLive(live), APIKey: "our-key"})
	if err != nil || len(refused) != 1 || refused[0].Name != "b-desc" {
		t.Fatalf("moved live: err %v, refused %v; want b-desc stale", err, refused)
	}
}
