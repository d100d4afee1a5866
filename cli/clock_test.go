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
	"github.com/flowsync/flowsync/internal/testmanifest"
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
