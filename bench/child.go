package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// result is what one run of a child process cost.
type result struct {
	wall       time.Duration
	cpu        time.Duration // user + system CPU time of the process (0 where unknown)
	rss        int64         // peak resident set, bytes (0 where unknown)
	writeBytes int64         // bytes the process caused to be written to storage (Linux; -1 where unknown)
	stdout     string        // path of the captured stdout
}

// runChild runs name with args in dir, stdout to a file, stdin from stdin, and measures it.
func (b *bench) runChild(dir string, env []string, stdin io.Reader, name string, args ...string) (result, error) {
	b.seq++
	out := filepath.Join(dir, fmt.Sprintf("%s.%d.out", filepath.Base(name), b.seq))
	f, err := os.Create(out)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	if name == b.bin && b.c.wrap != "" {
		w := strings.Fields(b.c.wrap)
		name, args = w[0], append(append(w[1:], b.bin), args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, stdin
	cmd.Stdout = struct{ io.Writer }{f} // through a pipe: stdout is not counted as storage writes
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if b.c.verbose {
		cmd.Stderr = io.MultiWriter(&errBuf, os.Stderr)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	// Where the platform allows, wait without reaping, so that the exited process's I/O
	// counters can still be read.
	written := waitExited(cmd.Process.Pid)
	wall := time.Since(start)
	werr := cmd.Wait()
	if !written.known {
		wall = time.Since(start)
	}
	r := result{wall: wall, writeBytes: written.bytes, stdout: out}
	r.cpu, r.rss = usage(cmd.ProcessState)
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return r, werr
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		tail := errBuf.String()
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		return r, fmt.Errorf("%s %s: exit %d\n%s", filepath.Base(name), strings.Join(args, " "), code, tail)
	}
	return r, nil
}

// written is what waitExited learned: the bytes an exited child caused to be written to storage.
type written struct {
	bytes int64
	known bool
}
