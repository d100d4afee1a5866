package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

func clientWithKey(t *testing.T, emu *emulator.Running, key string) *flowservice.Client {
	t.Helper()
	c, err := flowservice.New(flowservice.Config{
		Endpoint: emu.Endpoint, OrgID: org, Sandbox: sandbox, APIKey: key,
		Tokens: flowservice.StaticToken("token-of-" + key),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pendingLock is a lockfile whose entries for desired are pending creates begun at since.
func pendingLock(t *testing.T, desired []reconcile.Desired, since time.Time) *lockfile.File {
	t.Helper()
	lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range desired {
		e := &lockfile.Entry{Pending: lockfile.PendingCreate, PendingAt: since,
			Description: d.Description, SpecName: d.SpecName, ConnectionSpec: d.Spec,
			Params: map[string]string{}, SecretDigests: map[string]string{}}
		for k, p := range d.Params {
			if p.Sensitive {
				e.SecretDigests[k] = lockfile.Digest(lock.Salt, p.Value)
			} else {
				e.Params[k] = p.Value
			}
		}
		lock.Connections[d.Name] = e
	}
	return lock
}

// A pending create heals by adopting its own connection (same key, fields, made after it
// began) and never a colleague's namesake; the colleague's is left exactly as it was.
func TestHealAdoptsOnlyWhatTheRuleProves(t *testing.T) {
	emu := start(t, emulator.Options{})
	ours := clientWithKey(t, emu, "our-key")
	theirs := clientWithKey(t, emu, "colleague-key")
	want := entries(2, "token-1")
	since := time.Now()

	// bucket-0000: ours was created (its answer lost), and a colleague made a namesake.
	mine, err := ours.Create(context.Background(), newConn(want[0]))
	if err != nil {
		t.Fatal(err)
	}
	colleague := newConn(want[0])
	colleague.Description = "theirs"
	theirRef, err := theirs.Create(context.Background(), colleague)
	if err != nil {
		t.Fatal(err)
	}
	// bucket-0001: only a colleague's namesake, identical in every visible field.
	twin, err := theirs.Create(context.Background(), newConn(want[1]))
	if err != nil {
		t.Fatal(err)
	}

	lock := pendingLock(t, want, since)
	live, err := ours.List(context.Background(), flowservice.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, &reconcile.Observed{Connections: live}, reconcile.Options{APIKey: "our-key"})
	if len(cs.Unmanaged) != 1 || cs.Changes[1].Action != reconcile.Conflict {
		t.Fatalf("unmanaged %+v, bucket-0001 %+v: want the colleague's namesake of bucket-0000 reported, bucket-0001 a conflict", cs.Unmanaged, cs.Changes[1])
	}
	out, sum, err := reconcile.Apply(context.Background(), ours, cs, lock, reconcile.ApplyOptions{APIKey: "our-key"})
	var partial *reconcile.PartialError
	if !errors.As(err, &partial) || partial.Failed != 1 {
		t.Fatalf("apply: %v (%+v), want bucket-0001 failed as a conflict", err, sum)
	}
	r0, r1 := sum.Results[0], sum.Results[1]
	if !r0.Adopted || r0.ID != mine.ID || out.Connections[want[0].Name].ID != mine.ID {
		t.Errorf("bucket-0000: %+v, want its own %s adopted", r0, mine.ID)
	}
	if r0.Unmanaged[theirRef.ID] != "created by another API key" {
		t.Errorf("bucket-0000 unmanaged %v, want %s refused for its key", r0.Unmanaged, theirRef.ID)
	}
	var conflict *reconcile.ConflictError
	if r1.Adopted || !errors.As(r1.Err, &conflict) || conflict.Live[0].ID != twin.ID || out.Connections[want[1].Name].ID != "" {
		t.Errorf("bucket-0001: %+v, want a name conflict with %s, nothing created", r1, twin.ID)
	}
	if n := len(emu.Server.Connections(org, sandbox)); n != 3 {
		t.Errorf("%d live connections, want 3 (nothing created)", n)
	}
	for _, id := range []string{theirRef.ID, twin.ID} {
		c := emu.Server.Connections(org, sandbox)
		for _, x := range c {
			if x.ID == id && x.UpdatedClient != "colleague-key" {
				t.Errorf("colleague's %s was changed by %s", id, x.UpdatedClient)
			}
		}
	}
}

func newConn(d reconcile.Desired) flowservice.NewConnection {
	params := map[string]string{}
	for k, p := range d.Params {
		params[k] = p.Value
	}
	return flowservice.NewConnection{Name: d.Name, Description: d.Description,
		Auth: flowservice.Auth{SpecName: d.SpecName, Params: params}, ConnectionSpec: d.Spec}
}

// --prune of a pending entry deletes the connection its create made, named in the plan, and
// never a colleague's namesake; offline (the name looked up at apply time) likewise.
func TestPrunePendingDeletesOnlyItsOwn(t *testing.T) {
	for _, refreshed := range []bool{true, false} {
		t.Run(fmt.Sprint("refreshed=", refreshed), func(t *testing.T) {
			emu := start(t, emulator.Options{})
			ours := clientWithKey(t, emu, "our-key")
			theirs := clientWithKey(t, emu, "colleague-key")
			want := entries(1, "token-1")
			lock := pendingLock(t, want, time.Now())
			mine, err := ours.Create(context.Background(), newConn(want[0]))
			if err != nil {
				t.Fatal(err)
			}
			theirRef, err := theirs.Create(context.Background(), newConn(want[0]))
			if err != nil {
				t.Fatal(err)
			}
			var observed *reconcile.Observed
			if refreshed {
				live, err := ours.List(context.Background(), flowservice.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				observed = &reconcile.Observed{Connections: live}
			}
			cs := reconcile.Plan(nil, lock, observed, reconcile.Options{Prune: true, APIKey: "our-key"})
			if refreshed && cs.Changes[0].ID != mine.ID {
				t.Errorf("planned delete of %q, want %s", cs.Changes[0].ID, mine.ID)
			}
			out, sum, err := reconcile.Apply(context.Background(), ours, cs, lock, reconcile.ApplyOptions{APIKey: "our-key"})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if r := sum.Results[0]; r.ID != mine.ID || len(out.Connections) != 0 {
				t.Errorf("result %+v, lockfile %v", r, out.Connections)
			}
			left := emu.Server.Connections(org, sandbox)
			if len(left) != 1 || left[0].ID != theirRef.ID {
				t.Errorf("left %+v, want only the colleague's %s", left, theirRef.ID)
			}
		})
	}
}

// Without the live read (apply --refresh=false), a create whose earlier outcome is unknown
// still looks its name up first: a namesake the ownership rule does not adopt is a name
// conflict at apply time too, and nothing is POSTed for it; the pending record stays.
func TestHealMeetsNameConflict(t *testing.T) {
	emu := start(t, emulator.Options{})
	ours := clientWithKey(t, emu, "our-key")
	theirs := clientWithKey(t, emu, "colleague-key")
	want := entries(1, "token-1")
	lock := pendingLock(t, want, time.Now())
	ref, err := theirs.Create(context.Background(), newConn(want[0]))
	if err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	postsBefore := postCount(emu)
	out, sum, err := reconcile.Apply(context.Background(), ours, cs, lock, reconcile.ApplyOptions{APIKey: "our-key"})
	var conflict *reconcile.ConflictError
	if err == nil || !errors.As(sum.Results[0].Err, &conflict) || conflict.Live[0].ID != ref.ID || conflict.Live[0].Client != "colleague-key" {
		t.Fatalf("apply: %v, result %+v: want a name conflict with %s", err, sum.Results[0], ref.ID)
	}
	if posts := postCount(emu); posts != postsBefore || len(emu.Server.Connections(org, sandbox)) != 1 {
		t.Errorf("%d POSTs sent, %d live connections: want none sent, only the colleague's", posts-postsBefore, len(emu.Server.Connections(org, sandbox)))
	}
	if e := out.Connections[want[0].Name]; e == nil || e.Pending == "" || e.ID != "" {
		t.Errorf("entry %+v: want the pending create kept", e)
	}
}

func postCount(emu *emulator.Running) int64 {
	var n int64
	for _, c := range emu.Server.Stats().Requests["POST"] {
		n += c
	}
	return n
}
