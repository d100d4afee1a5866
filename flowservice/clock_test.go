package flowservice_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/s3source"
)

// TestClientLearnsTheServiceClock: whatever the local clock says, the client's Now is the
// service's clock once an answer showed it: a connection created just before has a createdAt
// within a second or two of it. The emulator's answers carry a Date header in the clock it
// stamps createdAt with, as the service's do.
func TestClientLearnsTheServiceClock(t *testing.T) {
	run, err := emulator.Start(emulator.Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	resp, err := http.Get(run.Endpoint + "/connections")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Until(d).Abs() > 2*time.Second {
		t.Errorf("emulator's Date header %q (%v): want the time of the answer", resp.Header.Get("Date"), err)
	}
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute, time.Hour, -time.Hour} {
		c, err := flowservice.New(flowservice.Config{Endpoint: run.Endpoint, OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod",
			APIKey: "k", Tokens: flowservice.StaticToken("clock-test-token"), Now: func() time.Time { return time.Now().Add(skew) }})
		if err != nil {
			t.Fatal(err)
		}
		if c.ClockKnown() {
			t.Fatal("clock known before any answer")
		}
		if err := c.LearnClock(context.Background()); err != nil || !c.ClockKnown() {
			t.Fatalf("LearnClock: %v, known %v", err, c.ClockKnown())
		}
		ref, err := c.Create(context.Background(), flowservice.NewConnection{Name: "clock-" + skew.String(), ConnectionSpec: s3source.ConnectionSpec(),
			Auth: flowservice.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "clock-bucket"}}})
		if err != nil {
			t.Fatal(err)
		}
		now := c.Now()
		got, err := c.Get(context.Background(), ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.UnixMilli(got.CreatedAt).Sub(now); d.Abs() > 2*time.Second {
			t.Errorf("local clock %v off: client's Now %v is %v from the service's createdAt %v (offset learned %v)",
				skew, now, d, time.UnixMilli(got.CreatedAt), c.ClockOffset())
		}
	}
}
