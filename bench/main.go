// Command bench measures flowsync end to end, beside a bare Go client doing the same POSTs
// with the same concurrency against the same emulator process, so that every run shows what
// flowsync costs over the floor:
//
//	go run ./bench                                  # every scenario, defaults below
//	go run ./bench --scenario apply --apply 3000x32,10000x64 --repeat 5
//	go run ./bench --scenario plan --plan-n 10000,100000
//	go run ./bench --scenario ratelimit,ratestep --rates 150,200
//
// Scenarios (each prints min and median of --repeat runs):
//
//	plan       flowsync validate, then flowsync plan (offline), of each --plan-n entries
//	apply      for each NxC of --apply: the bare client and flowsync apply, alternately, N
//	           creates at concurrency C; each run in a fresh sandbox of one emulator process
//	ratelimit  flowsync apply of --rate-n creates against each limit of --rates
//	ratestep   the same against a limit that halves for the middle third of the run
//	refresh    flowsync plan --refresh of the last apply's sandbox
//	tutorial   --tutorial-n creates the way Adobe's guide does them, one curl at a time
//
// The bench re-executes itself for its children: "bench _emulator [emulator flags]" serves the
// emulator package (emulator.Start with Options.Control, which adds the stats and rate-limit
// routes) and "bench _bare …" is the bare client. Each child's CPU time and peak RSS come from
// its rusage; on Linux also the bytes it caused to be written to storage.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

const (
	orgID  = "5C1328435BF324E90A49402A@AdobeOrg"
	apiKey = "flowsync-bench"
)

type config struct {
	scenarios map[string]bool
	apply     []shape
	planN     []int
	rates     []float64
	rateN     int
	rateConc  int
	tutorialN int
	latency   time.Duration
	repeat    int
	workdir   string
	keep      bool
	verbose   bool
	wrap      string
}

// shape is one apply measurement: N creates at concurrency C.
type shape struct{ n, c int }

func (s shape) String() string { return fmt.Sprintf("%dx%d", s.n, s.c) }

var allScenarios = []string{"plan", "apply", "ratelimit", "ratestep", "refresh"}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "_emulator":
			os.Exit(emulatorChild(os.Args[2:]))
		case "_bare":
			os.Exit(bareChild(os.Args[2:]))
		}
	}
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	var (
		c                              config
		scenarios, apply, planN, rates string
	)
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.StringVar(&scenarios, "scenario", "all", "all (= "+strings.Join(allScenarios, ",")+"), or a comma list of those and tutorial")
	fs.StringVar(&apply, "apply", "3000x32,10000x64", "apply measurements, NxC: N creates at concurrency C")
	fs.StringVar(&planN, "plan-n", "10000,100000", "entries of the plan scenario")
	fs.StringVar(&rates, "rates", "150,200", "emulator rate limits (calls/s) of the ratelimit and ratestep scenarios")
	fs.IntVar(&c.rateN, "rate-n", 3000, "creates of the ratelimit and ratestep scenarios")
	fs.IntVar(&c.rateConc, "rate-concurrency", 32, "flowsync --concurrency of the ratelimit and ratestep scenarios")
	fs.IntVar(&c.tutorialN, "tutorial-n", 300, "creates of the tutorial scenario")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency the emulator adds to every API call")
	fs.IntVar(&c.repeat, "repeat", 3, "runs of each measurement (min and median are shown)")
	fs.StringVar(&c.workdir, "workdir", "", "directory for the temp dirs (default: os.TempDir(); the lockfile is written there)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "show the children's stderr")
	fs.StringVar(&c.wrap, "wrap", "", "command prefixed to flowsync runs, for profiling (e.g. \"perf record -g -o /tmp/perf.data --\"); CPU and RSS are then the wrapper's")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.scenarios = map[string]bool{}
	for _, s := range splitList(scenarios) {
		if s == "all" {
			for _, a := range allScenarios {
				c.scenarios[a] = true
			}
			continue
		}
		c.scenarios[s] = true
	}
	for _, s := range splitList(apply) {
		n, conc, ok := strings.Cut(s, "x")
		sh := shape{atoi(n), atoi(conc)}
		if !ok || sh.n < 1 || sh.c < 1 {
			return nil, fmt.Errorf("--apply %q: want a comma list of NxC, like 3000x32", apply)
		}
		c.apply = append(c.apply, sh)
	}
	for _, s := range splitList(planN) {
		if c.planN = append(c.planN, atoi(s)); atoi(s) < 1 {
			return nil, fmt.Errorf("--plan-n %q: want a comma list of positive numbers", planN)
		}
	}
	for _, s := range splitList(rates) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("--rates %q: want a comma list of positive numbers", rates)
		}
		c.rates = append(c.rates, r)
	}
	c.repeat = max(1, c.repeat)
	return &c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}
