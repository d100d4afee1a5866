package reconcile_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// lostClient loses every create's answer and cannot look names up: the outcome stays unknown.
type lostClient struct{ reconcile.Client }

func (lostClient) Create(context.Context, flowservice.NewConnection) (flowservice.Ref, error) {
	return flowservice.Ref{}, &flowservice.UnknownOutcomeError{Err: errors.New("connection reset")}
}

func (lostClient) FindByName(context.Context, string, flowservice.Spec) ([]flowservice.Connection, error) {
	return nil, &flowservice.Error{Status: 400, Message: "bad filter"}
}

// A create whose outcome stays unknown is recorded as pending, so that the next run looks the
// name up instead of creating it a second time.
func TestUnknownCreateIsRecordedPending(t *testing.T) {
	want := entries(2, "token-1")
	lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	j, err := lockfile.OpenJournal(filepath.Join(t.TempDir(), "m.lock.json"), lockfile.HeaderOf(lock))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	out, sum, err := reconcile.Apply(context.Background(), lostClient{}, cs, lock, reconcile.ApplyOptions{Journal: j})
	if err == nil || sum.Failed != 2 {
		t.Fatalf("apply: err %v, %d failed; want both failed", err, sum.Failed)
	}
	for _, d := range want {
		e := out.Connections[d.Name]
		if e == nil || e.Pending != lockfile.PendingCreate {
			t.Errorf("%s: entry %+v, want pending create", d.Name, e)
		}
	}
	next := reconcile.Plan(want, out, nil, reconcile.Options{})
	for _, ch := range next.Changes {
		if !ch.Heal {
			t.Errorf("%s: next plan does not look the name up first", ch.Name)
		}
	}
}

// noIDClient answers every create 201 without an id, and its lookups find nothing yet (a
// service whose list lags): the create must not be sent twice in the run.
type noIDClient struct {
	reconcile.Client
	creates int
}

func (c *noIDClient) Create(context.Context, flowservice.NewConnection) (flowservice.Ref, error) {
	c.creates++
	return flowservice.Ref{}, &flowservice.UnknownOutcomeError{Status: 201, Err: errors.New("create x: 201 answer holds no connection id")}
}

func (c *noIDClient) FindByName(context.Context, string, flowservice.Spec) ([]flowservice.Connection, error) {
	return nil, nil
}

func TestCreateWithoutIDIsPendingNotResent(t *testing.T) {
	want := entries(1, "token-1")
	lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	c := &noIDClient{}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	out, sum, err := reconcile.Apply(context.Background(), c, cs, lock, reconcile.ApplyOptions{})
	var noID *reconcile.NoIDError
	if err == nil || !errors.As(sum.Results[0].Err, &noID) {
		t.Fatalf("apply: %v, result %v; want a *NoIDError", err, sum.Results[0].Err)
	}
	if c.creates != 1 {
		t.Errorf("%d POSTs in one run, want 1", c.creates)
	}
	e := out.Connections[want[0].Name]
	if e == nil || e.Pending != lockfile.PendingCreate || e.PendingAt.IsZero() || e.Params["bucketName"] != want[0].Name {
		t.Errorf("entry %+v, want pending with the create's fields and time", e)
	}
}
