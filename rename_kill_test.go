package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/lockfile"
)

// Issue 18: a rename whose PATCH reached the service, killed (SIGKILL) before it recorded the
// answer, heals on the next apply without a second PATCH or a create: the service commits the
// PATCH and drops the connection, the next request flowsync sends is held while the process
// is killed, and a fresh apply (no faults) only records the rename.
func TestKilledRenameHealsWithoutASecondPatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it mid-apply")
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "flowsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "emulator-state.json")
	run := func(endpoint string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "FLOWSYNC_ENDPOINT="+endpoint, "FLOWSYNC_ACCESS_TOKEN=t", "FLOWSYNC_API_KEY=k", "NO_COLOR=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd, &out
	}
	manifest := func(name, former string) {
		m := "version: 1\ntarget: {orgId: " + testOrg + ", sandbox: prod}\nconnections:\n" +
			"  - name: " + name + "\n" + former + "    auth: {specName: IAMRole Based, params: {bucketName: acme-eu-events}}\n"
		if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := func(o emulator.Options) *emulator.Running {
		o.StatePath = state
		r, err := emulator.Start(o, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// 1. acme-eu is applied.
	emu := start(emulator.Options{})
	manifest("acme-eu", "")
	if cmd, out := run(emu.Endpoint, "apply", "-f", "m.yaml", "--yes"); cmd.Run() != nil {
		t.Fatalf("first apply: %s", out)
	}
	id := emu.Server.Connections(testOrg, "prod")[0].ID
	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}

	// 2. Renamed: the PATCH is committed and its answer dropped; the request after it is held
	// until the process is killed.
	var patched atomic.Bool
	after := make(chan struct{}, 1)
	release := make(chan struct{})
	emu = start(emulator.Options{DropAfterCommit: 1, OnRequest: func(r *http.Request, _ []byte) {
		if r.URL.Path == emulator.IMSPath {
			return
		}
		if patched.Load() {
			select {
			case after <- struct{}{}:
			default:
			}
			<-release
			return
		}
		if r.Method == http.MethodPatch {
			patched.Store(true)
		}
	}})
	manifest("acme-marketing-eu", "    formerNames: [acme-eu]\n")
	cmd, out := run(emu.Endpoint, "apply", "-f", "m.yaml", "--yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-after:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no request after the PATCH:\n%s", out)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(release)
	if c := emu.Server.Connections(testOrg, "prod"); len(c) != 1 || c[0].ID != id || c[0].Name != "acme-marketing-eu" {
		t.Fatalf("after the killed run the service holds %+v, want %s renamed", c, id)
	}
	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}

	// 3. The next apply records the rename: no PATCH, no POST, no DELETE.
	emu = start(emulator.Options{})
	defer emu.Close()
	if cmd, out := run(emu.Endpoint, "apply", "-f", "m.yaml", "--yes"); cmd.Run() != nil {
		t.Fatalf("healing apply: %s", out)
	}
	for _, m := range []string{http.MethodPatch, http.MethodPost, http.MethodDelete} {
		if n := len(emu.Server.Stats().Requests[m]); n != 0 {
			t.Errorf("healing apply sent %s requests: %v", m, emu.Server.Stats().Requests[m])
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "m.lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock lockfile.File
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	if e := lock.Connections["acme-marketing-eu"]; e == nil || e.ID != id || lock.Connections["acme-eu"] != nil {
		t.Fatalf("lockfile after healing:\n%s", data)
	}
	if cmd, out := run(emu.Endpoint, "plan", "-f", "m.yaml", "--refresh", "--detailed-exitcode"); cmd.Run() != nil {
		t.Fatalf("plan after healing is not empty:\n%s", out)
	}
}
