package reconcile_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// An apply stopped early writes intents only a little ahead of its creates, withdraws those of
// the creates it never sent (no pending entry is left for them), and the creates it sent are
// recorded: a second apply creates exactly the rest.
func TestStoppedApplyWithdrawsUnsentIntents(t *testing.T) {
	emu := start(t, emulator.Options{Latency: 5 * time.Millisecond})
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	want := entries(600, "token-1")
	lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	j, err := lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var done atomic.Int64
	out, sum, err := reconcile.Apply(context.Background(), client(t, emu, 4), cs, lock, reconcile.ApplyOptions{
		Concurrency: 4, Journal: j, Stop: stop,
		OnResult: func(reconcile.Result) {
			if done.Add(1) == 50 {
				close(stop)
			}
		},
	})
	if !errors.Is(err, context.Canceled) || sum.NotStarted < 400 {
		t.Fatalf("err %v, %d not started: want the run stopped early", err, sum.NotStarted)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.FoldInto(out); err != nil {
		t.Fatal(err)
	}
	for name, e := range out.Connections {
		if e.Pending != "" {
			t.Errorf("%s is pending after a clean stop", name)
		}
	}
	if got, live := len(out.Connections), len(emu.Server.Connections(org, sandbox)); got != live || got < 50 {
		t.Fatalf("%d recorded, %d live: want every sent create recorded", got, live)
	}
	if err := out.Save(lockPath); err != nil {
		t.Fatal(err)
	}
	if err := lockfile.RemoveJournal(lockPath); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, client(t, emu, 8), want, lockPath, 8); err != nil {
		t.Fatal(err)
	}
	checkExact(t, emu, want, lockPath)
}
