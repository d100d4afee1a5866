//go:build unix

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpecialFilesAreRefusedAtOnce: a FIFO given as the manifest, the lockfile, its journal
// or a plan file is an error naming it, exit 1, instead of a read that waits for a writer
// forever. The guard below only catches a command that never returns; it measures nothing.
func TestSpecialFilesAreRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.yaml")
	data, err := os.ReadFile("../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"FLOWSYNC_ACCESS_TOKEN": "t", "FLOWSYNC_API_KEY": "k"}
	tests := []struct {
		name string
		args []string
	}{
		{"manifest, validate", []string{"validate", "-f", fifo("fifo.yaml")}},
		{"manifest, plan", []string{"plan", "-f", filepath.Join(dir, "fifo.yaml"), "--no-secrets"}},
		{"manifest, apply", []string{"apply", "-f", filepath.Join(dir, "fifo.yaml"), "--yes", "--endpoint", "emulator"}},
		{"lockfile", []string{"plan", "-f", manifest, "--no-secrets", "--lockfile", fifo("fifo.lock.json")}},
		{"journal", []string{"plan", "-f", manifest, "--no-secrets", "--lockfile", filepath.Join(dir, "j.lock.json")}},
		{"plan file", []string{"apply", "--plan", fifo("fifo.plan.json"), "--yes"}},
	}
	fifo("j.lock.json.journal")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- Main(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut,
					Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			}()
			select {
			case code := <-done:
				if code != ExitError || !strings.Contains(errOut.String(), "named pipe (FIFO)") {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming the FIFO", code, errOut.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("%v never returned: it waits on the FIFO", tt.args)
			}
		})
	}
}
