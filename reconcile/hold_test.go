package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
)

// Promotion holds back a create, update or replace whose digest the previous environment has
// not recorded, unless this environment's lockfile records it already (the change is its own).
func TestPlanHolds(t *testing.T) {
	withDigest := func(d Desired, digest string) Desired { d.Promotion = digest; return d }
	recorded := func(e *lockfile.Entry, digest string) *lockfile.Entry { e.Promotion = digest; return e }
	old := want("acme-eu", "old", "acme-eu", "tok")
	for _, tt := range []struct {
		name  string
		d     Desired
		prior *lockfile.Entry
		gate  *Gate
		want  Action
	}{
		{"create, dev has not applied it", withDigest(old, "D2"), nil, &Gate{Env: "dev"}, Hold},
		{"create, dev has it", withDigest(old, "D2"), nil, &Gate{Env: "dev", Applied: "D2"}, Create},
		{"update, dev has the older one", withDigest(want("acme-eu", "new", "acme-eu", "tok"), "D2"),
			recorded(applied(old, "id-1", `"e1"`), "D1"), &Gate{Env: "dev", Applied: "D1"}, Hold},
		{"update, dev has it", withDigest(want("acme-eu", "new", "acme-eu", "tok"), "D2"),
			recorded(applied(old, "id-1", `"e1"`), "D1"), &Gate{Env: "dev", Applied: "D2"}, Update},
		{"update only this environment makes (a rotated token, an override)", withDigest(want("acme-eu", "old", "acme-eu", "tok2"), "D1"),
			recorded(applied(old, "id-1", `"e1"`), "D1"), &Gate{Env: "dev", Applied: "D0"}, Update},
		{"no gate: first in the order, or no promotion", withDigest(want("acme-eu", "new", "acme-eu", "tok"), "D2"),
			recorded(applied(old, "id-1", `"e1"`), "D1"), nil, Update},
		{"unchanged is never held", withDigest(old, "D2"), recorded(applied(old, "id-1", `"e1"`), "D1"), &Gate{Env: "dev"}, NoOp},
	} {
		t.Run(tt.name, func(t *testing.T) {
			entries := map[string]*lockfile.Entry{}
			if tt.prior != nil {
				entries["acme-eu"] = tt.prior
			}
			opts := Options{}
			if tt.gate != nil {
				opts.Gates = map[string]Gate{"acme-eu": *tt.gate}
			}
			cs := Plan([]Desired{tt.d}, lockOf(entries), nil, opts)
			ch := cs.Changes[0]
			if ch.Action != tt.want {
				t.Fatalf("action %v (held %v), want %v", ch.Action, ch.Held, tt.want)
			}
			if ch.Action == Hold && (ch.HeldFor != "dev" || cs.Held() != 1 || cs.HasChanges()) {
				t.Errorf("held for %q, Held() %d, HasChanges %v", ch.HeldFor, cs.Held(), cs.HasChanges())
			}
		})
	}
}

// Apply sends nothing for a held change, records the digest of what it applies, and records
// the digest of an unchanged entry whose lockfile entry lacks it, without a request.
func TestApplyHoldsAndRecordsPromotion(t *testing.T) {
	held := want("acme-eu", "new", "acme-eu", "tok")
	held.Promotion = "D2"
	same := want("acme-us", "us", "acme-us", "tok")
	same.Promotion = "U1"
	created := want("acme-za", "za", "acme-za", "tok")
	created.Promotion = "Z1"
	lock := lockOf(map[string]*lockfile.Entry{
		"acme-eu": applied(want("acme-eu", "old", "acme-eu", "tok"), "id-eu", `"e1"`),
		"acme-us": applied(same, "id-us", `"e2"`),
	})
	gates := map[string]Gate{"acme-eu": {Env: "dev"}, "acme-za": {Env: "dev", Applied: "Z1"}}
	cs := Plan([]Desired{held, same, created}, lock, nil, Options{Gates: gates})
	c := &fakeClient{}
	out, sum, err := Apply(context.Background(), c, cs, lock, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.creates != 1 || c.patches != 0 || len(sum.Results) != 1 {
		t.Errorf("creates %d, patches %d, results %d: want only the create sent", c.creates, c.patches, len(sum.Results))
	}
	if got := out.Connections["acme-za"].Promotion; got != "Z1" {
		t.Errorf("created entry records %q", got)
	}
	if got := out.Connections["acme-us"].Promotion; got != "U1" {
		t.Errorf("unchanged entry records %q, want its digest", got)
	}
	if got := out.Connections["acme-eu"]; got.Promotion != "" || got.Description != "old" {
		t.Errorf("held entry changed in the lockfile: %+v", got)
	}
}

// fakeClient counts what Apply sends and answers every request with success.
type fakeClient struct {
	mu               sync.Mutex
	creates, patches int
}

func (f *fakeClient) Create(context.Context, flowapi.NewConnection) (flowapi.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	return flowapi.Ref{ID: fmt.Sprintf("new-%d", f.creates), ETag: `"n"`}, nil
}

func (f *fakeClient) Get(context.Context, string) (*flowapi.Connection, error) {
	return nil, errors.New("fakeClient: no Get")
}

func (f *fakeClient) Patch(_ context.Context, id, _ string, _ []flowapi.PatchOp) (flowapi.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patches++
	return flowapi.Ref{ID: id, ETag: `"p"`}, nil
}

func (f *fakeClient) Delete(context.Context, string) error {
	return errors.New("fakeClient: no Delete")
}

func (f *fakeClient) FindByName(context.Context, string, flowapi.Spec) ([]flowapi.Connection, error) {
	return nil, nil
}
