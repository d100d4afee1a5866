package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
)

// A rename through formerNames is labelled a rename (no drift), keeps the id, and takes the
// old record over (no orphan); the same live state with a hand-edited lockfile key is drift.
// A live connection already renamed (an interrupted apply) is a rename with nothing to send.
func TestPlanRename(t *testing.T) {
	old := want("acme-eu", "d", "b", "t")
	renamed := old
	renamed.Name, renamed.FormerNames = "acme-marketing-eu", []string{"acme-eu"}
	e := applied(old, "id-1", `"e1"`)

	for name, tt := range map[string]struct {
		lock     map[string]*lockfile.Entry
		d        Desired
		live     flowapi.Connection
		action   Action
		from     string
		drift    bool
		resend   bool
		nFields  int
		prune    bool
		nChanges int
	}{
		"formerNames":       {map[string]*lockfile.Entry{"acme-eu": e}, renamed, live(old, "id-1", `"e1"`), Update, "acme-eu", false, false, 1, true, 1},
		"hand-edited key":   {map[string]*lockfile.Entry{"acme-marketing-eu": e}, renamed, live(old, "id-1", `"e1"`), Update, "", true, false, 1, true, 1},
		"already renamed":   {map[string]*lockfile.Entry{"acme-eu": e}, renamed, live(renamed, "id-1", `"e2"`), Update, "acme-eu", false, false, 0, true, 1},
		"both keys, one id": {map[string]*lockfile.Entry{"acme-eu": e, "acme-marketing-eu": e}, renamed, live(renamed, "id-1", `"e1"`), Update, "acme-eu", false, false, 0, true, 1},
	} {
		t.Run(name, func(t *testing.T) {
			for _, observed := range []*Observed{nil, {Connections: []flowapi.Connection{tt.live}}} {
				cs := Plan([]Desired{tt.d}, lockOf(tt.lock), observed, Options{Prune: tt.prune})
				if len(cs.Changes) != tt.nChanges {
					t.Fatalf("refreshed=%v: %d changes, want %d: %+v", observed != nil, len(cs.Changes), tt.nChanges, cs.Changes)
				}
				ch := cs.Changes[0]
				if observed == nil {
					continue // offline, only the count: no orphan, no delete
				}
				if ch.Action != tt.action || ch.RenamedFrom != tt.from || ch.ID != "id-1" || anyDrift(ch.Fields) != tt.drift || ch.Resend != tt.resend || len(ch.Fields) != tt.nFields {
					t.Errorf("%v from %q id %s drift %v resend %v fields %+v", ch.Action, ch.RenamedFrom, ch.ID, anyDrift(ch.Fields), ch.Resend, ch.Fields)
				}
				reqs, err := Requests(&ch)
				if err != nil {
					t.Fatal(err)
				}
				if want := min(tt.nFields, 1); len(reqs) != want {
					t.Errorf("%d requests, want %d", len(reqs), want)
				}
			}
		})
	}
}

// fakeDependents answers the two lookups from a fixed world and counts its calls.
type fakeDependents struct {
	srcs  []flowapi.SourceConnection
	flows []flowapi.Flow
	calls []string
}

func (f *fakeDependents) SourceConnections(_ context.Context, ids []string) ([]flowapi.SourceConnection, error) {
	f.calls = append(f.calls, fmt.Sprintf("sources %d", len(ids)))
	var out []flowapi.SourceConnection
	for _, s := range f.srcs {
		if slices.Contains(ids, s.BaseConnectionID) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeDependents) Flows(_ context.Context, ids []string) ([]flowapi.Flow, error) {
	f.calls = append(f.calls, fmt.Sprintf("flows %d", len(ids)))
	var out []flowapi.Flow
	for _, fl := range f.flows {
		for _, id := range fl.SourceConnectionIDs {
			if slices.Contains(ids, id) {
				out = append(out, fl)
				break
			}
		}
	}
	return out, nil
}

// Deletes and replaces of connections a dataflow uses are blocked and send nothing; a source
// connection no flow reads blocks nothing; no ids to check cost no lookup.
func TestImpactBlocks(t *testing.T) {
	a, b, c := want("a", "", "ba", "t"), want("b", "", "bb", "t"), want("c", "", "bc", "t")
	lock := lockOf(map[string]*lockfile.Entry{
		"a": applied(a, "id-a", `"1"`), "b": applied(b, "id-b", `"1"`), "c": applied(c, "id-c", `"1"`),
	})
	cRole := c
	cRole.SpecName = "IAMRole Based"
	cRole.Params = map[string]Param{"bucketName": {Value: "bc", Known: true}}
	desired := []Desired{cRole} // a and b pruned, c replaced
	first := Plan(desired, lock, nil, Options{Prune: true})
	if got := first.AtRisk(); !slices.Equal(got, []string{"id-a", "id-b", "id-c"}) {
		t.Fatalf("AtRisk = %q", got)
	}
	d := &fakeDependents{
		srcs: []flowapi.SourceConnection{{ID: "s-a", BaseConnectionID: "id-a"}, {ID: "s-b", BaseConnectionID: "id-b"}, {ID: "s-c", BaseConnectionID: "id-c"}},
		flows: []flowapi.Flow{
			{ID: "f1", Name: "orders", State: "enabled", SourceConnectionIDs: []string{"s-a"}, LastRunDetails: &flowapi.RunDetails{State: "success", StartedAtUTC: 1}},
			{ID: "f2", Name: "returns", State: "disabled", SourceConnectionIDs: []string{"s-c", "s-a"}},
		},
	}
	imp, err := LookupImpact(context.Background(), d, first.AtRisk())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sources 3", "flows 3"}, d.calls); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}
	cs := Plan(desired, lock, nil, Options{Prune: true, Impact: imp})
	got := map[string][]string{}
	for _, ch := range cs.Changes {
		for _, u := range ch.UsedBy {
			got[ch.Name] = append(got[ch.Name], u.Name)
		}
		if ch.Blocked != (len(ch.UsedBy) > 0) {
			t.Errorf("%s: blocked %v with %d dataflows", ch.Name, ch.Blocked, len(ch.UsedBy))
		}
	}
	if diff := cmp.Diff(map[string][]string{"a": {"orders", "returns"}, "c": {"returns"}}, got); diff != "" {
		t.Errorf("used by (-want +got):\n%s", diff)
	}
	if !cs.ImpactChecked || cs.Blocked() != 2 || cs.Sends() != 1 || !cs.HasChanges() {
		t.Errorf("checked %v blocked %d sends %d", cs.ImpactChecked, cs.Blocked(), cs.Sends())
	}
	var sent []string
	_, sum, err := Apply(context.Background(), recordingClient{&sent}, cs, lock, ApplyOptions{})
	var partial *PartialError
	if !errors.As(err, &partial) || sum.Blocked != 2 || partial.Blocked != 2 {
		t.Fatalf("apply: %v, summary %+v", err, sum)
	}
	if diff := cmp.Diff([]string{"DELETE id-b"}, sent); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	var blocked *BlockedError
	if len(sum.Results) != 3 || sum.Results[0].Name != "a" || !errors.As(sum.Results[0].Err, &blocked) {
		t.Errorf("results not in plan order, or a not blocked: %+v", sum.Results)
	}

	// Nothing at risk: no lookup at all, and the impact is still known to be checked.
	none := &fakeDependents{}
	imp, err = LookupImpact(context.Background(), none, nil)
	if err != nil || !imp.Checked || len(none.calls) != 0 {
		t.Errorf("no ids: %+v, %v, calls %q", imp, err, none.calls)
	}
}

// recordingClient records the mutating calls it is sent and answers them with success.
type recordingClient struct{ sent *[]string }

func (c recordingClient) Create(_ context.Context, nc flowapi.NewConnection) (flowapi.Ref, error) {
	*c.sent = append(*c.sent, "POST "+nc.Name)
	return flowapi.Ref{ID: "new-" + nc.Name, ETag: `"n"`}, nil
}
func (c recordingClient) Get(context.Context, string) (*flowapi.Connection, error) {
	return nil, errors.New("unexpected GET")
}
func (c recordingClient) Patch(_ context.Context, id, _ string, _ []flowapi.PatchOp) (flowapi.Ref, error) {
	*c.sent = append(*c.sent, "PATCH "+id)
	return flowapi.Ref{ID: id, ETag: `"p"`}, nil
}
func (c recordingClient) Delete(_ context.Context, id string) error {
	*c.sent = append(*c.sent, "DELETE "+id)
	return nil
}
func (c recordingClient) FindByName(context.Context, string, flowapi.Spec) ([]flowapi.Connection, error) {
	return nil, nil
}

// Forget drops only what it is asked, refuses manifest names (entries and former names) and
// unknown ones all at once, and then changes nothing.
func TestForget(t *testing.T) {
	a, b := want("a", "", "ba", "t"), want("b", "", "bb", "t")
	b.FormerNames = []string{"old-b"}
	lock := lockOf(map[string]*lockfile.Entry{
		"a": applied(a, "id-a", `"1"`), "old-b": applied(b, "id-b", `"1"`), "gone": applied(a, "id-g", `"1"`),
	})
	_, err := Forget(lock, []Desired{a, b}, []string{"a", "old-b", "nope", "gone"})
	var fe *ForgetError
	if !errors.As(err, &fe) || len(fe.InManifest) != 2 || !slices.Equal(fe.Unknown, []string{"nope"}) || len(lock.Connections) != 3 {
		t.Fatalf("refusal: %v (%+v), %d entries left", err, fe, len(lock.Connections))
	}
	got, err := Forget(lock, []Desired{a, b}, []string{"gone", "gone"})
	if err != nil || len(got) != 1 || got[0].ID != "id-g" || lock.Connections["gone"] != nil || len(lock.Connections) != 2 {
		t.Fatalf("forget gone: %+v, %v", got, err)
	}
}
