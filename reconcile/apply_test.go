package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

const (
	org     = "5C1328435BF324E90A49402A@AdobeOrg"
	sandbox = "prod"
)

var s3 = s3source.ConnectionSpec()

func start(t *testing.T, o emulator.Options) *emulator.Running {
	t.Helper()
	emu, err := emulator.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	return emu
}

func client(t *testing.T, emu *emulator.Running, concurrency int) *flowservice.Client {
	t.Helper()
	c, err := flowservice.New(flowservice.Config{
		Endpoint: emu.Endpoint, OrgID: org, Sandbox: sandbox, APIKey: "test-key",
		Tokens: flowservice.StaticToken("test-token"), Concurrency: concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func entries(n int, token string) []reconcile.Desired {
	out := make([]reconcile.Desired, n)
	for i := range out {
		name := fmt.Sprintf("bucket-%04d", i)
		out[i] = reconcile.Desired{
			Name: name, Description: "entry " + name, Spec: s3, SpecName: "Access Key",
			Params: map[string]reconcile.Param{
				"s3AccessKey":    {Value: "AKIAIOSFODNN7EXAMPLE", Known: true},
				"s3SecretKey":    {Value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Sensitive: true, Known: true},
				"s3SessionToken": {Value: token, Sensitive: true, Known: true},
				"bucketName":     {Value: name, Known: true},
			},
		}
	}
	return out
}

// run is one apply as the CLI does it: fold a leftover journal, plan offline, apply with a
// journal, save.
func run(t *testing.T, c reconcile.Client, want []reconcile.Desired, lockPath string, concurrency int) (*reconcile.Summary, error) {
	t.Helper()
	target := lockfile.Target{OrgID: org, Sandbox: sandbox}
	lock, err := lockfile.Load(lockPath, target)
	if err != nil {
		if lock, err = lockfile.New(target); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lockfile.Fold(lock, lockPath); err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	j, err := lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock))
	if err != nil {
		t.Fatal(err)
	}
	out, sum, applyErr := reconcile.Apply(context.Background(), c, cs, lock, reconcile.ApplyOptions{Concurrency: concurrency, Journal: j})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Results {
		if r.Err != nil {
			t.Logf("%s %s: %v", r.Action, r.Name, r.Err)
		}
	}
	if err := out.Save(lockPath); err != nil {
		t.Fatal(err)
	}
	if err := lockfile.RemoveJournal(lockPath); err != nil {
		t.Fatal(err)
	}
	return sum, applyErr
}

// checkExact asserts the service holds exactly want, once each, with the lockfile's ids.
func checkExact(t *testing.T, emu *emulator.Running, want []reconcile.Desired, lockPath string) {
	t.Helper()
	live := emu.Server.Connections(org, sandbox)
	byName := map[string][]flowservice.Connection{}
	for _, c := range live {
		byName[c.Name] = append(byName[c.Name], c)
	}
	if len(live) != len(want) {
		t.Errorf("service holds %d connections, want %d", len(live), len(want))
	}
	lock, err := lockfile.Load(lockPath, lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range want {
		got := byName[d.Name]
		if len(got) != 1 {
			t.Errorf("%s: %d live connections, want 1", d.Name, len(got))
			continue
		}
		c := got[0]
		e := lock.Connections[d.Name]
		if e == nil || e.ID != c.ID || e.Pending != "" {
			t.Errorf("%s: lockfile entry %+v, live id %s", d.Name, e, c.ID)
		}
		if c.Description != d.Description || c.Auth.Params["bucketName"] != d.Params["bucketName"].Value {
			t.Errorf("%s: live fields %q %q", d.Name, c.Description, c.Auth.Params["bucketName"])
		}
		for _, k := range []string{"s3SecretKey", "s3SessionToken"} {
			if !emu.Server.SecretMatches(c.ID, k, d.Params[k].Value) {
				t.Errorf("%s: live %s is not the desired one", d.Name, k)
			}
		}
	}
}

func TestApplyUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault run takes seconds")
	}
	emu := start(t, emulator.Options{FailRate: 0.10, ThrottleRate: 0.05, DropAfterCommit: 0.05, Seed: 7})
	want := entries(300, "token-1")
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	c := client(t, emu, 16)
	var runs int
	for runs = 1; runs <= 2; runs++ {
		_, err := run(t, c, want, lockPath, 16)
		if err == nil {
			break
		}
		t.Logf("run %d: %v", runs, err)
	}
	if runs > 2 {
		t.Fatal("two applies did not converge")
	}
	checkExact(t, emu, want, lockPath)
	st := c.Stats()
	es := emu.Server.Stats()
	t.Logf("runs=%d requests=%d throttled=%d retries=%d unknown-outcomes=%d; emulator faults %v", runs, st.Requests, st.Throttled, st.Retries, st.UnknownOutcomes, es.Faults)
	if st.UnknownOutcomes == 0 {
		t.Errorf("no create had an unknown outcome: the drop-after-commit fault was not exercised")
	}
}

// TestApplyStaleETag: connections edited out of band between plan and apply answer 412; the
// run re-reads, re-diffs and patches with the fresh etag.
func TestApplyStaleETag(t *testing.T) {
	emu := start(t, emulator.Options{})
	want := entries(5, "token-1")
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	c := client(t, emu, 4)
	if _, err := run(t, c, want, lockPath, 4); err != nil {
		t.Fatal(err)
	}
	for _, conn := range emu.Server.Connections(org, sandbox)[:2] {
		emu.Server.Mutate(conn.ID, func(c *flowservice.Connection) { c.Description = "edited in the UI" })
	}
	for i := range want {
		want[i].Description = "new description"
	}
	sum, err := run(t, c, want, lockPath, 4)
	if err != nil {
		t.Fatal(err)
	}
	stale := 0
	for _, r := range sum.Results {
		stale += r.Retries412
	}
	if stale != 2 {
		t.Errorf("412 rounds: %d, want 2", stale)
	}
	checkExact(t, emu, want, lockPath)
}

// TestApplyTokenRotation: a new session token is one PATCH of that one path, with If-Match.
func TestApplyTokenRotation(t *testing.T) {
	type patch struct {
		IfMatch string
		Ops     []flowservice.PatchOp
	}
	var mu sync.Mutex
	var patches []patch
	emu := start(t, emulator.Options{OnRequest: func(r *http.Request, body []byte) {
		if r.Method != http.MethodPatch {
			return
		}
		var ops []flowservice.PatchOp
		_ = json.Unmarshal(body, &ops)
		mu.Lock()
		patches = append(patches, patch{r.Header.Get("If-Match"), ops})
		mu.Unlock()
	}})
	want := entries(3, "token-1")
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	c := client(t, emu, 4)
	if _, err := run(t, c, want, lockPath, 4); err != nil {
		t.Fatal(err)
	}
	before, err := lockfile.Load(lockPath, lockfile.Target{OrgID: org, Sandbox: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	rotated := entries(3, "token-2")
	if _, err := run(t, c, rotated, lockPath, 4); err != nil {
		t.Fatal(err)
	}
	if len(patches) != 3 {
		t.Fatalf("%d PATCHes, want 3", len(patches))
	}
	etags := map[string]bool{}
	for _, e := range before.Connections {
		etags[e.ETag] = true
	}
	for _, p := range patches {
		if !etags[p.IfMatch] {
			t.Errorf("If-Match %s is not a recorded etag", p.IfMatch)
		}
		if diff := cmp.Diff([]string{"replace /auth/params/s3SessionToken"}, opStrings(p.Ops)); diff != "" {
			t.Errorf("ops (-want +got):\n%s", diff)
		}
	}
	checkExact(t, emu, rotated, lockPath)
}

func opStrings(ops []flowservice.PatchOp) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.Op+" "+o.Path)
	}
	return out
}
