package flowservice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// The client against the emulator over real loopback HTTP: the emulator is as strict about
// headers, etags and bodies as the service.

const (
	emuOrg    = "5C1328435BF324E90A49402A@AdobeOrg"
	emuID     = "flowsync-test-client"
	emuSecret = "emulator-client-secret-canary"
)

func startEmulator(t *testing.T, o emulator.Options, concurrency int) (*emulator.Running, *flowservice.Client) {
	t.Helper()
	o.ClientID, o.ClientSecret, o.RequireIssuedTokens = emuID, emuSecret, true
	if o.Seed == 0 {
		o.Seed = 1
	}
	run, err := emulator.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	c, err := flowservice.New(flowservice.Config{
		Endpoint:    run.Endpoint,
		OrgID:       emuOrg,
		Sandbox:     "prod",
		APIKey:      emuID,
		Tokens:      flowservice.NewIMSTokenSource(flowservice.IMSConfig{URL: run.IMSURL, ClientID: emuID, ClientSecret: emuSecret}),
		Concurrency: concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Runs before run.Close: a server's graceful shutdown waits for connections the
	// client dialed but never used.
	return run, c
}

func s3(name string) flowservice.NewConnection {
	return flowservice.NewConnection{
		Name:        name,
		Description: "test connection",
		Auth: flowservice.Auth{SpecName: "Access Key", Params: map[string]string{
			"s3AccessKey": "AKIAIOSFODNN7EXAMPLE",
			"s3SecretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			"bucketName":  "acme-marketing-eu",
		}},
		ConnectionSpec: s3source.ConnectionSpec(),
	}
}

func TestEmulatorLifecycle(t *testing.T) {
	run, c := startEmulator(t, emulator.Options{}, 16)
	ctx := context.Background()

	const n = 230 // three pages
	refs := make([]flowservice.Ref, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ref, err := c.Create(ctx, s3(fmt.Sprintf("conn-%03d", i)))
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
			refs[i] = ref
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	all, err := c.List(ctx, flowservice.ListOptions{Filters: []string{"connectionSpec.id==" + s3source.SpecID}})
	if err != nil || len(all) != n {
		t.Fatalf("List = %d connections, %v; want %d", len(all), err, n)
	}
	found, err := c.FindByName(ctx, "conn-007", flowservice.Spec{ID: s3source.SpecID})
	if err != nil || len(found) != 1 || found[0].ID != refs[7].ID {
		t.Fatalf("FindByName = %+v, %v", found, err)
	}

	conn, err := c.Get(ctx, refs[0].ID)
	if err != nil || conn.Name != "conn-000" || conn.ETag != refs[0].ETag {
		t.Fatalf("Get = %+v, %v", conn, err)
	}
	desc, _ := json.Marshal("changed")
	ref, err := c.Patch(ctx, conn.ID, conn.ETag, []flowservice.PatchOp{{Op: "replace", Path: "/description", Value: desc}})
	if err != nil || ref.ETag == conn.ETag {
		t.Fatalf("Patch = %+v, %v", ref, err)
	}
	_, err = c.Patch(ctx, conn.ID, conn.ETag, []flowservice.PatchOp{{Op: "replace", Path: "/description", Value: desc}})
	if !errors.Is(err, reconcile.ErrStale) {
		t.Fatalf("Patch with a stale etag: %v", err)
	}

	run.Server.RevokeTokens()
	if _, err := c.Get(ctx, conn.ID); err != nil {
		t.Fatalf("Get after the token was revoked: %v", err)
	}
	if st := c.Stats(); st.TokenFetches != 2 || st.TokenRenewals != 1 {
		t.Errorf("stats = %+v, want one renewal", st)
	}

	if err := c.Delete(ctx, conn.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, conn.ID); !errors.Is(err, reconcile.ErrGone) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := c.Get(ctx, conn.ID); !errors.Is(err, reconcile.ErrGone) {
		t.Fatalf("Get of a deleted connection: %v", err)
	}
}

// With 500s and answers dropped after the commit, creating with a lookup on an unknown
// outcome converges to exactly one connection per name.
func TestEmulatorFaultsConverge(t *testing.T) {
	run, c := startEmulator(t, emulator.Options{FailRate: 0.2, DropAfterCommit: 0.2}, 8)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("conn-%02d", i)
			for range 10 {
				_, err := c.Create(ctx, s3(name))
				if err == nil {
					return
				}
				if !errors.Is(err, reconcile.ErrUnknownOutcome) {
					t.Errorf("create %s: %v", name, err)
					return
				}
				found, ferr := c.FindByName(ctx, name, flowservice.Spec{ID: s3source.SpecID})
				if ferr != nil {
					t.Errorf("find %s: %v", name, ferr)
					return
				}
				if len(found) == 1 {
					return // adopted
				}
			}
			t.Errorf("create %s: no outcome after 10 tries", name)
		})
	}
	wg.Wait()
	all, err := c.List(ctx, flowservice.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, conn := range all {
		names[conn.Name]++
	}
	if len(all) != n || len(names) != n {
		t.Errorf("%d connections, %d names, want %d of each", len(all), len(names), n)
	}
	st := c.Stats()
	es := run.Server.Stats()
	t.Logf("client: %d requests, %d retries, %d unknown outcomes; emulator faults %v", st.Requests, st.Retries, st.UnknownOutcomes, es.Faults)
	if st.UnknownOutcomes == 0 || es.Faults[emulator.FaultFail] == 0 {
		t.Errorf("no faults exercised: %+v", st)
	}
}

// A PATCH carried out whose answer is lost is retried with the same If-Match and meets a 412
// of its own making: the error says so (stale and outcome unknown), so that the caller reads
// the connection before calling it a change by someone else. A 412 with no attempt lost
// before it is stale only.
func TestPatchLostAnswerThen412(t *testing.T) {
	run, c := startEmulator(t, emulator.Options{}, 4)
	ctx := context.Background()
	ref, err := c.Create(ctx, s3("lost-answer"))
	if err != nil {
		t.Fatal(err)
	}
	ops := []flowservice.PatchOp{{Op: "replace", Path: "/description", Value: json.RawMessage(`"patched"`)}}

	run.Server.DropNext("PATCH", 1)
	_, err = c.Patch(ctx, ref.ID, ref.ETag, ops)
	if !errors.Is(err, reconcile.ErrStale) || !errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("patch after a lost answer: %v; want a 412 that is stale and of unknown outcome", err)
	}
	live, err := c.Get(ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if live.Description != "patched" || live.ETag == ref.ETag {
		t.Fatalf("the first attempt was not carried out: %+v", live)
	}

	// The etag is stale now, with nothing lost on the way: stale, outcome known.
	_, err = c.Patch(ctx, ref.ID, ref.ETag, ops)
	if !errors.Is(err, reconcile.ErrStale) || errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("plain 412: %v; want stale only", err)
	}
}
