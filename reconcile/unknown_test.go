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
