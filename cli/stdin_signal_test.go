package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// blockingReader is standard input with a writer that never writes: Read says it started,
// then waits until the test ends.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
}

func (r *blockingReader) Read([]byte) (int, error) {
	select {
	case r.started <- struct{}{}:
	default:
	}
	<-r.release
	return 0, os.ErrClosed
}

// TestSignalEndsAReadOfStdin: the first SIGINT or SIGTERM (the cancellation of Main's context)
// ends a wait on standard input, a manifest piped by a writer that never closes or an apply
// prompt nobody answers: exit 130, nothing written. A read is not interrupted by a signal, so
// it kept the process waiting forever. The guard only catches a command that never returns.
func TestSignalEndsAReadOfStdin(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(m, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "quickstart-secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"s3-secret-key", "eu-session-token"} {
		if err := os.WriteFile(filepath.Join(dir, "quickstart-secrets", f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"manifest on stdin", []string{"plan", "-f", "-", "--lockfile", filepath.Join(dir, "stdin.lock.json")}},
		{"apply prompt", []string{"apply", "-f", m, "--endpoint", "emulator"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &blockingReader{started: make(chan struct{}, 1), release: make(chan struct{})}
			defer close(in.release)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errOut bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- Main(ctx, tt.args, IO{In: in, InTTY: true, Out: &out, Err: &errOut,
					Env: func(string) (string, bool) { return "", false }})
			}()
			select {
			case <-in.started:
			case code := <-done:
				t.Fatalf("exit %d before reading stdin:\n%s", code, errOut.String())
			}
			cancel() // what the first SIGINT or SIGTERM does
			select {
			case code := <-done:
				if code != ExitInterrupted || !strings.Contains(errOut.String(), "interrupted: nothing was changed") {
					t.Errorf("exit %d, stderr:\n%s\nwant 130, nothing changed", code, errOut.String())
				}
			case <-time.After(time.Minute):
				t.Fatal("still waiting on stdin after the signal")
			}
			if _, err := os.Stat(filepath.Join(dir, "m.lock.json")); err == nil {
				t.Error("a lockfile was written")
			}
		})
	}
}
