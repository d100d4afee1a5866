package health_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/s3source"
)

// TestTestThroughTheClient runs the connection tests through the real client (the pipeline
// apply uses: limiter, throttling, retries) against an emulator that throttles and fails a
// share of the calls: every connection is tested once, and exactly the expired ones fail. The
// faults are certain and few, not drawn: the first two GETs answer 429 and the next two 500
// (random rates, or a rate limit, either missed a fault or spent a call's 8 attempts now and then
// under load; four faults cannot).
func TestTestThroughTheClient(t *testing.T) {
	emu, err := emulator.Start(emulator.Options{Seed: 7, SessionTokenTTL: time.Hour}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	const org, sandbox = "5C1328435BF324E90A49402A@AdobeOrg", "prod"
	c, err := flowservice.New(flowservice.Config{Endpoint: emu.Endpoint, OrgID: org, Sandbox: sandbox, APIKey: "k",
		Tokens: flowservice.StaticToken("t"), Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	var targets []health.Target
	expired := map[string]bool{}
	for i := range 24 {
		name := fmt.Sprintf("conn-%02d", i)
		id := emu.Server.CreateOutOfBand(org, sandbox, flowservice.NewConnection{Name: name,
			Auth: flowservice.Auth{SpecName: s3source.AccessKey, Params: map[string]string{
				"s3AccessKey": "ASIAIOSFODNN7EXAMPLE", "s3SecretKey": "secret", "s3SessionToken": "token"}},
			ConnectionSpec: s3source.ConnectionSpec()})
		if i%5 == 0 {
			emu.Server.AgeSessionToken(id, 2*time.Hour)
			expired[id] = true
		}
		targets = append(targets, health.Target{Name: name, ID: id})
	}
	emu.Server.ThrottleNext("GET", 2)
	emu.Server.FailNext("GET", 2)
	results, err := health.Test(context.Background(), c, targets, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(targets) {
		t.Fatalf("%d results for %d targets", len(results), len(targets))
	}
	for i, r := range results {
		want := health.Healthy
		if expired[r.ID] {
			want = health.Failing
		}
		if r.ID != targets[i].ID || r.Status != want {
			t.Errorf("%s (%s): %s %s, want %s", r.Name, r.ID, r.Status, r.Message, want)
		}
	}
	st := c.Stats()
	faults := emu.Server.Stats().Faults
	t.Logf("client: %d requests, %d throttled, %d retries; emulator faults %v", st.Requests, st.Throttled, st.Retries, faults)
	if faults[emulator.FaultThrottle] != 2 || faults[emulator.FaultFail] != 2 || st.Throttled == 0 || st.Retries == 0 {
		t.Errorf("the faults were not exercised: %v, %d retries", faults, st.Retries)
	}
}
