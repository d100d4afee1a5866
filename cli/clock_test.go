package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/testmanifest"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/s3source"
)

// TestLostCreateHealsUnderAWrongClock: the ownership rule's time test is in the service's
// clock. With the machine's clock 10 minutes or an hour ahead or behind, a create whose
// answer is lost (every mutating call is committed and then left unanswered) is looked up
// and adopted as flowsync's own: one connection per name, recorded, exit 0. With the local
// clock ahead, comparing its Begin time with the service's createdAt refused flowsync's own
// connection ("created before flowsync's create") and created it again, once per attempt.
func TestLostCreateHealsUnderAWrongClock(t *testing.T) {
	if testing.Short() {
		t.Skip("applies against the emulator")
	}
	const org, sandbox, n = "5C1328435BF324E90A49402A@AdobeOrg", "clock", 3
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute, time.Hour, -time.Hour} {
		for _, refresh := range []string{"--refresh=true", "--refresh=false"} {
			t.Run(skew.String()+refresh, func(t *testing.T) {
				emu, err := emulator.Start(emulator.Options{DropAfterCommit: 1, Seed: 1}, "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer emu.Close()
				dir := t.TempDir()
				m := filepath.Join(dir, "m.yaml")
				tm := testmanifest.Manifest{OrgID: org, Sandbox: sandbox, N: n, Name: "conn-%d",
					Params:      []testmanifest.Param{{Key: "s3AccessKey", Value: "AKIAIOSFODNN7EXAMPLE"}, {Key: "s3SecretKey", Value: testmanifest.Env("K")}},
					EntryParams: []testmanifest.Param{{Key: "bucketName", Value: "bucket-%d"}},
				}
				if err := tm.WriteFile(m); err != nil {
					t.Fatal(err)
				}
				env := map[string]string{"FLOWSYNC_ENDPOINT": emu.Endpoint, "FLOWSYNC_ACCESS_TOKEN": "t", "FLOWSYNC_API_KEY": "k", "K": "secret-value"}
				var out, errOut bytes.Buffer
				code := Main(context.Background(), []string{"apply", "-f", m, "--yes", refresh, "--concurrency", "1"}, IO{
					In: strings.NewReader(""), Out: &out, Err: &errOut,
					Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
					Now: func() time.Time { return time.Now().Add(skew) },
				})
				live := map[string]int{}
				for _, c := range emu.Server.Connections(org, sandbox) {
					live[c.Name]++
				}
				for i := range n {
					name := "conn-" + string(rune('0'+i))
					if live[name] != 1 {
						t.Errorf("%s: %d live connections, want 1", name, live[name])
					}
				}
				if code != 0 {
					t.Fatalf("apply exited %d:\n%s%s", code, out.String(), errOut.String())
				}
				data, err := os.ReadFile(filepath.Join(dir, "m.lock.json"))
				if err != nil {
					t.Fatal(err)
				}
				var lock struct {
					Connections map[string]struct {
						ID      string `json:"id"`
						Pending string `json:"pending"`
					} `json:"connections"`
				}
				if err := json.Unmarshal(data, &lock); err != nil {
					t.Fatal(err)
				}
				for name, e := range lock.Connections {
					if e.ID == "" || e.Pending != "" {
						t.Errorf("%s recorded as %+v, want adopted", name, e)
					}
				}
				if len(lock.Connections) != n {
					t.Errorf("lockfile records %d entries, want %d", len(lock.Connections), n)
				}
			})
		}
	}
}

// TestKilledCreateHealsUnderAWrongClock: the next run of an apply killed right after a create
// was sent (its journal holds the create's Begin, nothing else) adopts the connection that
// create made, with the machine's clock an hour ahead or behind in both runs: the Begin was
// recorded in the service's clock. In the machine's clock, an hour ahead, the connection
// looked made before the create began, was refused, and was created again.
func TestKilledCreateHealsUnderAWrongClock(t *testing.T) {
	const org, sandbox = "5C1328435BF324E90A49402A@AdobeOrg", "clock"
	for _, skew := range []time.Duration{time.Hour, -time.Hour, 10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			emu, err := emulator.Start(emulator.Options{Seed: 1}, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			now := func() time.Time { return time.Now().Add(skew) }
			dir := t.TempDir()
			m := filepath.Join(dir, "m.yaml")
			manifest := "version: 1\ntarget: {orgId: \"" + org + "\", sandbox: " + sandbox + "}\nconnections:\n" +
				"  - name: killed\n    description: d\n    auth: {specName: IAMRole Based, params: {bucketName: killed-bucket}}\n"
			if err := os.WriteFile(m, []byte(manifest), 0o644); err != nil {
				t.Fatal(err)
			}

			// The killed run, as apply runs it: the service's clock learned, the create's
			// Begin in the journal, the create sent; then nothing more.
			client, err := flowservice.New(flowservice.Config{Endpoint: emu.Endpoint, OrgID: org, Sandbox: sandbox,
				APIKey: "k", Tokens: flowservice.StaticToken("clock-token"), Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if err := client.LearnClock(context.Background()); err != nil {
				t.Fatal(err)
			}
			lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
			if err != nil {
				t.Fatal(err)
			}
			lockPath := filepath.Join(dir, "m.lock.json")
			j, err := lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock))
			if err != nil {
				t.Fatal(err)
			}
			j.UseClock(client.Now)
			spec := flowapi.Spec{ID: s3source.SpecID, Version: s3source.SpecVersion}
			intent := &lockfile.Entry{Description: "d", SpecName: "IAMRole Based", ConnectionSpec: lockfile.Spec(spec),
				Params: map[string]string{"bucketName": "killed-bucket"}}
			if err := j.Begin("killed", "create", "", intent); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Create(context.Background(), flowservice.NewConnection{Name: "killed", Description: "d", ConnectionSpec: spec,
				Auth: flowservice.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "killed-bucket"}}}); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			client.Close()

			env := map[string]string{"FLOWSYNC_ENDPOINT": emu.Endpoint, "FLOWSYNC_ACCESS_TOKEN": "clock-token", "FLOWSYNC_API_KEY": "k"}
			var out, errOut bytes.Buffer
			code := Main(context.Background(), []string{"apply", "-f", m, "--yes"}, IO{
				In: strings.NewReader(""), Out: &out, Err: &errOut,
				Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Now: now,
			})
			if n := len(emu.Server.Connections(org, sandbox)); n != 1 || code != 0 {
				t.Fatalf("exit %d, %d live connections named killed, want 0 and 1 (adopted):\n%s%s", code, n, out.String(), errOut.String())
			}
		})
	}
}
