package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowsync/flowsync/emulator"
)

// hello is the one line an emulator child writes on its stdout once it serves.
type hello struct {
	Endpoint string `json:"endpoint"` // http://ADDR/data/foundation/flowservice
	Addr     string `json:"addr"`
}

// emulatorChild serves the emulator package with its control routes until stdin closes (the
// parent is done, or gone).
func emulatorChild(args []string) int {
	var (
		opts   emulator.Options
		listen string
	)
	fs := pflag.NewFlagSet("_emulator", pflag.ContinueOnError)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on")
	opts.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts.Control = true
	r, err := emulator.Start(opts, listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(hello{Endpoint: r.Endpoint, Addr: r.Addr}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := r.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// emu is an emulator child process, seen from the bench.
type emu struct {
	cmd      *exec.Cmd
	stdin    io.Closer
	endpoint string
	base     string // http://ADDR
	cpu      time.Duration
}

func (b *bench) startEmulator(dir string, latency time.Duration, rateLimit float64) (*emu, error) {
	cmd := exec.Command(b.self, "_emulator", "--listen", "127.0.0.1:0", "--latency", latency.String(),
		"--rate-limit", strconv.FormatFloat(rateLimit, 'f', -1, 64), "--seed", "1")
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &emu{cmd: cmd, stdin: stdin}
	got := make(chan error, 1)
	var h hello
	go func() { got <- json.NewDecoder(bufio.NewReader(stdout)).Decode(&h) }()
	select {
	case err = <-got:
	case <-time.After(30 * time.Second):
		err = errors.New("no answer within 30s")
	}
	if err != nil || h.Endpoint == "" {
		e.close()
		return nil, fmt.Errorf("the emulator did not start: %v", err)
	}
	e.endpoint, e.base = h.Endpoint, "http://"+h.Addr
	return e, nil
}

// close stops the emulator and reads its CPU time.
func (e *emu) close() {
	e.stdin.Close()
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
	e.cpu, _ = usage(e.cmd.ProcessState)
}

func (e *emu) stats() (emulator.Stats, error) {
	var s emulator.Stats
	resp, err := http.Get(e.base + emulator.StatsPath)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s: %s", emulator.StatsPath, resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// setRateLimit changes the emulator's rate limit while it serves.
func (e *emu) setRateLimit(limit float64) error {
	body, _ := json.Marshal(emulator.RateLimitBody{RateLimit: limit})
	req, err := http.NewRequest(http.MethodPut, e.base+emulator.RateLimitPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %s: %s", emulator.RateLimitPath, resp.Status, msg)
	}
	return nil
}

// delta is what the emulator counted between two Stats.
type delta struct{ emulator.Stats }

func minus(after, before emulator.Stats) delta {
	d := emulator.Stats{Total: after.Total - before.Total, Requests: map[string]map[int]int64{}, Faults: map[string]int64{}}
	for m, bs := range after.Requests {
		for code, n := range bs {
			if v := n - before.Requests[m][code]; v != 0 {
				if d.Requests[m] == nil {
					d.Requests[m] = map[int]int64{}
				}
				d.Requests[m][code] = v
			}
		}
	}
	for k, n := range after.Faults {
		if v := n - before.Faults[k]; v != 0 {
			d.Faults[k] = v
		}
	}
	return delta{d}
}

func (d delta) status(code int) int64 {
	var n int64
	for _, bs := range d.Requests {
		n += bs[code]
	}
	return n
}

// throttled is the share of API calls answered 429 or 503.
func (d delta) throttled() float64 {
	if d.Total == 0 {
		return 0
	}
	return float64(d.status(429)+d.status(503)) / float64(d.Total)
}
