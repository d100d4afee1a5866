package reconcile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/internal/testmanifest"
)

// buildFlowsync builds the real binary once per test binary run.
func buildFlowsync(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowsync")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/flowsync/flowsync")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeManifest writes the manifest of entries(n, token): secrets come from the environment.
func writeManifest(t *testing.T, path string, n int) {
	t.Helper()
	m := testmanifest.Manifest{
		OrgID: org, Sandbox: sandbox, From: 0, N: n, Name: "bucket-%04d",
		Params: []testmanifest.Param{
			{Key: "s3AccessKey", Value: "AKIAIOSFODNN7EXAMPLE"},
			{Key: "s3SecretKey", Value: testmanifest.Env("S3_SECRET_KEY")},
			{Key: "s3SessionToken", Value: testmanifest.Env("S3_SESSION_TOKEN")},
		},
		EntryDescription: "entry bucket-%04d",
		EntryParams:      []testmanifest.Param{{Key: "bucketName", Value: "bucket-%04d"}},
	}
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// TestKilledMidApply: a real flowsync process killed with SIGKILL in the middle of 1,000
// creates; the next apply heals from the journal and leaves exactly 1,000 connections.
func TestKilledMidApply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 1,000 creates")
	}
	bin := buildFlowsync(t)
	emu := start(t, emulator.Options{Latency: 50 * time.Millisecond})
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.yaml")
	const n = 1000
	writeManifest(t, manifest, n)
	env := append(os.Environ(),
		"FLOWSYNC_ENDPOINT="+emu.Endpoint, "FLOWSYNC_ACCESS_TOKEN=test-token", "FLOWSYNC_API_KEY=test-key",
		"S3_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "S3_SESSION_TOKEN=token-1")
	apply := func() *exec.Cmd {
		cmd := exec.Command(bin, "apply", "-f", manifest, "--yes", "--concurrency", "32")
		cmd.Env = env
		return cmd
	}

	first := apply()
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(emu.Server.Connections(org, sandbox)) < n/3 {
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatalf("no progress before the kill:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killedAt := len(emu.Server.Connections(org, sandbox))
	if killedAt >= n {
		t.Fatalf("the run finished (%d connections) before it was killed", killedAt)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.lock.json.journal")); err != nil {
		t.Fatalf("no journal left by the killed run: %v", err)
	}

	second := apply()
	if b, err := second.CombinedOutput(); err != nil {
		t.Fatalf("apply after the kill: %v\n%s", err, b)
	}
	t.Logf("killed with %d of %d connections created", killedAt, n)
	want := entries(n, "token-1")
	for i := range want {
		want[i].Description = "entry " + want[i].Name
	}
	checkExact(t, emu, want, filepath.Join(dir, "m.lock.json"))
}
