package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowsync/flowsync/internal/testmanifest"
)

type bench struct {
	c              *config
	root, bin      string
	self           string // this program, re-executed for its children
	secret, access string
	token          string
	seq            int
	tables         []*table
}

func run(c *config) error {
	root, err := os.MkdirTemp(c.workdir, "flowsync-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		logf("keeping %s", root)
	} else {
		defer os.RemoveAll(root)
	}
	b := &bench{c: c, root: root, secret: randomHex(20), access: "AKIA" + strings.ToUpper(randomHex(8)), token: "bench-token-" + randomHex(8)}
	b.bin = filepath.Join(root, "flowsync")
	logf("building flowsync into %s", b.bin)
	build := exec.Command("go", "build", "-o", b.bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	loadBefore := loadavg()
	for _, s := range []struct {
		name string
		run  func() error
	}{
		{"plan", b.planScenario},
		{"apply", b.applyScenario},
		{"ratelimit", b.rateScenario},
		{"ratestep", b.rateStepScenario},
		{"tutorial", b.tutorialScenario},
	} {
		if c.scenarios[s.name] {
			if err := s.run(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	fmt.Println(machine())
	fmt.Printf("Load average (1 min): %s before, %s after\n", loadBefore, loadavg())
	fmt.Printf("Command: go run ./bench %s\n\n", strings.Join(os.Args[1:], " "))
	for _, t := range b.tables {
		t.print(os.Stdout)
	}
	return nil
}

func (b *bench) newDir(name string) (string, error) {
	b.seq++
	dir := filepath.Join(b.root, fmt.Sprintf("%02d-%s", b.seq, name))
	return dir, os.MkdirAll(dir, 0o755)
}

// env is the children's environment: credentials and secrets come from variables, as in CI.
func (b *bench) env(endpoint string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"NO_COLOR=1",
		"BENCH_S3_ACCESS_KEY=" + b.access,
		"BENCH_S3_SECRET_KEY=" + b.secret,
		"FLOWSYNC_ACCESS_TOKEN=" + b.token,
		"FLOWSYNC_API_KEY=" + apiKey,
	}
	if endpoint != "" {
		env = append(env, "FLOWSYNC_ENDPOINT="+endpoint)
	}
	return env
}

func (b *bench) planScenario() error {
	t := &table{title: "plan (offline)", head: []string{"command", "N", "wall min / median", "CPU min / median", "peak RSS"}}
	b.tables = append(b.tables, t)
	for _, n := range b.c.planN {
		dir, err := b.newDir(fmt.Sprintf("plan-%d", n))
		if err != nil {
			return err
		}
		if err := testmanifest.Bench(orgID, "prod", "bench", n).WriteFile(filepath.Join(dir, "m.yaml")); err != nil {
			return err
		}
		for _, cmd := range []string{"validate", "plan"} {
			var wall, cpu, rss stat
			for range b.c.repeat {
				r, err := b.runChild(dir, b.env(""), nil, b.bin, cmd, "-f", "m.yaml")
				if err != nil {
					return err
				}
				wall, cpu, rss = append(wall, r.wall.Seconds()), append(cpu, r.cpu.Seconds()), append(rss, float64(r.rss))
			}
			t.add("`"+cmd+"`", strconv.Itoa(n), wall.minMed(secs), cpu.minMed(secs), mib(rss.median()))
		}
	}
	return nil
}

// applyStats is the stats object of `flowsync apply -o json`.
type applyStats struct {
	Stats struct {
		Duration    float64 `json:"duration_seconds"`
		Requests    int64   `json:"requests"`
		Throttled   int64   `json:"throttled"`
		JournalWait float64 `json:"journal_wait_seconds"`
		Save        float64 `json:"save_seconds"`
	} `json:"stats"`
}

// flowsyncApply runs flowsync apply of the bench manifest of n entries into sandbox at
// concurrency c, in a new directory, and returns its cost, its own stats and that directory.
func (b *bench) flowsyncApply(e *emu, sandbox string, n, c int) (result, applyStats, string, error) {
	var st applyStats
	dir, err := b.newDir("apply-" + sandbox)
	if err != nil {
		return result{}, st, "", err
	}
	if err := testmanifest.Bench(orgID, sandbox, "bench", n).WriteFile(filepath.Join(dir, "m.yaml")); err != nil {
		return result{}, st, "", err
	}
	r, err := b.runChild(dir, b.env(e.endpoint), nil, b.bin, "apply", "-f", "m.yaml", "--yes", "--concurrency", strconv.Itoa(c), "--output", "json")
	if err != nil {
		return r, st, dir, err
	}
	out, err := os.ReadFile(r.stdout)
	if err != nil {
		return r, st, dir, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return r, st, dir, fmt.Errorf("flowsync apply --output json: %w", err)
	}
	return r, st, dir, nil
}

// durability is the share of the wall time flowsync spent making its progress durable: the
// journal calls' time on the workers (summed, spread over the c of them) and the final save.
func durability(st applyStats, c int, wall time.Duration) float64 {
	return (st.Stats.JournalWait/float64(c) + st.Stats.Save) / wall.Seconds()
}

func (b *bench) applyScenario() error {
	t := &table{title: fmt.Sprintf("apply: flowsync vs a bare Go client, same POSTs, %v latency", b.c.latency),
		head: []string{"N × C", "ideal", "bare wall", "flowsync wall", "ratio", "flowsync CPU/create", "bare CPU/create", "durability share", "flowsync RSS", "bare RSS", "emulator CPU/create"}}
	t.notes = []string{"Cells are min / median of the runs; ratio is flowsync wall ÷ bare wall of each pair of runs (bare and flowsync alternate, each in a fresh sandbox of one emulator process). ideal = N × latency ÷ C. durability share = (journal_wait_seconds ÷ C + save_seconds) ÷ wall, from flowsync's own `--output json` stats."}
	b.tables = append(b.tables, t)
	var rt *table
	if b.c.scenarios["refresh"] {
		rt = &table{title: "plan --refresh", head: []string{"connections", "wall min / median", "requests", "CPU min / median", "peak RSS"}}
		b.tables = append(b.tables, rt)
	}
	for _, sh := range b.c.apply {
		dir, err := b.newDir("emulator-" + sh.String())
		if err != nil {
			return err
		}
		e, err := b.startEmulator(dir, b.c.latency, 0)
		if err != nil {
			return err
		}
		err = b.applyShape(t, rt, e, sh)
		e.close()
		if err != nil {
			return err
		}
		t.rows[len(t.rows)-1][10] = micros(e.cpu.Seconds() / float64(2*sh.n*b.c.repeat))
	}
	return nil
}

func (b *bench) applyShape(t, rt *table, e *emu, sh shape) error {
	var bareWall, fsWall, ratios, fsCPU, bareCPU, share, fsRSS, bareRSS stat
	var lastDir string
	for k := 1; k <= b.c.repeat; k++ {
		bare := func() error {
			before, err := e.stats()
			if err != nil {
				return err
			}
			r, err := b.runChild(b.root, b.env(e.endpoint), nil, b.self, "_bare", "--endpoint", e.endpoint,
				"--sandbox", fmt.Sprintf("bare%d", k), "--prefix", "bench", "--n", strconv.Itoa(sh.n), "--concurrency", strconv.Itoa(sh.c))
			if err != nil {
				return err
			}
			after, err := e.stats()
			if err != nil {
				return err
			}
			if got := minus(after, before).status(201); got != int64(sh.n) {
				return fmt.Errorf("bare client: %d created, want %d", got, sh.n)
			}
			bareWall, bareCPU, bareRSS = append(bareWall, r.wall.Seconds()), append(bareCPU, r.cpu.Seconds()/float64(sh.n)), append(bareRSS, float64(r.rss))
			return nil
		}
		flowsync := func() error {
			r, st, dir, err := b.flowsyncApply(e, fmt.Sprintf("run%d", k), sh.n, sh.c)
			if err != nil {
				return err
			}
			lastDir = dir
			fsWall, fsCPU, fsRSS = append(fsWall, r.wall.Seconds()), append(fsCPU, r.cpu.Seconds()/float64(sh.n)), append(fsRSS, float64(r.rss))
			share = append(share, durability(st, sh.c, r.wall))
			return nil
		}
		first, second := bare, flowsync
		if k%2 == 0 {
			first, second = flowsync, bare
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		ratios = append(ratios, fsWall[k-1]/bareWall[k-1])
	}
	ideal := time.Duration(float64(sh.n) * float64(b.c.latency) / float64(sh.c))
	t.add(fmt.Sprintf("%d × %d", sh.n, sh.c), fmtDur(ideal), bareWall.minMed(secs), fsWall.minMed(secs), ratios.minMed(ratio),
		fsCPU.minMed(micros), bareCPU.minMed(micros), share.minMed(pct), mib(fsRSS.median()), mib(bareRSS.median()), "")
	if rt != nil {
		return b.refresh(rt, e, lastDir, sh.n)
	}
	return nil
}

func (b *bench) refresh(t *table, e *emu, dir string, n int) error {
	var wall, cpu, rss stat
	var requests int64
	for range b.c.repeat {
		before, err := e.stats()
		if err != nil {
			return err
		}
		r, err := b.runChild(dir, b.env(e.endpoint), nil, b.bin, "plan", "-f", "m.yaml", "--refresh", "--detailed-exitcode")
		if err != nil {
			return err
		}
		after, err := e.stats()
		if err != nil {
			return err
		}
		requests = minus(after, before).Total
		wall, cpu, rss = append(wall, r.wall.Seconds()), append(cpu, r.cpu.Seconds()), append(rss, float64(r.rss))
	}
	t.add(strconv.Itoa(n), wall.minMed(secs), strconv.FormatInt(requests, 10), cpu.minMed(secs), mib(rss.median()))
	return nil
}

// rateRun is one flowsync apply against a rate-limited emulator; schedule, when not nil, is
// started with it (it changes the limit while flowsync runs) and returns the capacity: the
// calls the limit allowed over a wall time.
func (b *bench) rateRun(e *emu, k int, limit float64, schedule func() (stop func(), capacity func(time.Duration) float64)) (eff, throttled, cpu float64, err error) {
	time.Sleep(1500 * time.Millisecond) // the service's bucket refills between runs
	before, err := e.stats()
	if err != nil {
		return 0, 0, 0, err
	}
	capacity := func(w time.Duration) float64 { return limit * w.Seconds() }
	if schedule != nil {
		var stop func()
		stop, capacity = schedule()
		defer stop()
	}
	r, _, _, err := b.flowsyncApply(e, fmt.Sprintf("rate%d", k), b.c.rateN, b.c.rateConc)
	if err != nil {
		return 0, 0, 0, err
	}
	after, err := e.stats()
	if err != nil {
		return 0, 0, 0, err
	}
	d := minus(after, before)
	return float64(d.Total-d.status(429)-d.status(503)) / capacity(r.wall), d.throttled(), r.cpu.Seconds() / float64(b.c.rateN), nil
}

func (b *bench) rateTable(title string) *table {
	t := &table{title: title, head: []string{"limit", "N", "C", "achieved (of the limit)", "throttled calls", "flowsync CPU/create"}}
	t.notes = []string{"Cells are min / median of the runs. achieved = calls answered without a throttle ÷ the calls the limit allowed over flowsync's whole wall time (start-up and the first list page included); throttled = 429 and 503 answers ÷ all calls, counted by the emulator."}
	b.tables = append(b.tables, t)
	return t
}

func (b *bench) rateScenario() error {
	t := b.rateTable(fmt.Sprintf("rate-limited: flowsync against a fixed limit, %v latency", b.c.latency))
	return b.rates(t, false)
}

func (b *bench) rateStepScenario() error {
	t := b.rateTable(fmt.Sprintf("rate-limited: the limit halves for the middle third of the run and comes back, %v latency", b.c.latency))
	return b.rates(t, true)
}

func (b *bench) rates(t *table, step bool) error {
	for _, limit := range b.c.rates {
		dir, err := b.newDir(fmt.Sprintf("rate-%g", limit))
		if err != nil {
			return err
		}
		e, err := b.startEmulator(dir, b.c.latency, limit)
		if err != nil {
			return err
		}
		var schedule func() (func(), func(time.Duration) float64)
		if step {
			schedule = b.halving(e, limit)
		}
		var eff, thr, cpu stat
		for k := 1; k <= b.c.repeat; k++ {
			x, y, z, err := b.rateRun(e, k, limit, schedule)
			if err != nil {
				e.close()
				return err
			}
			eff, thr, cpu = append(eff, x), append(thr, y), append(cpu, z)
		}
		e.close()
		name := fmt.Sprintf("%g/s", limit)
		if step {
			name = fmt.Sprintf("%g → %g → %g /s", limit, limit/2, limit)
		}
		t.add(name, strconv.Itoa(b.c.rateN), strconv.Itoa(b.c.rateConc), eff.minMed(pct), thr.minMed(pct), cpu.minMed(micros))
	}
	return nil
}

// halving is a schedule: the limit halves after a third of the ideal time and comes back
// after two thirds (the ideal time of N calls at limit, limit/2, limit in equal phases).
func (b *bench) halving(e *emu, limit float64) func() (func(), func(time.Duration) float64) {
	phase := time.Duration(float64(b.c.rateN) / (2.5 * limit) * float64(time.Second))
	return func() (func(), func(time.Duration) float64) {
		down := time.AfterFunc(phase, func() { logErr(e.setRateLimit(limit / 2)) })
		up := time.AfterFunc(2*phase, func() { logErr(e.setRateLimit(limit)) })
		stop := func() { down.Stop(); up.Stop(); logErr(e.setRateLimit(limit)) }
		capacity := func(w time.Duration) float64 {
			p := phase.Seconds()
			s := w.Seconds()
			switch {
			case s <= p:
				return limit * s
			case s <= 2*p:
				return limit*p + limit/2*(s-p)
			}
			return limit*p + limit/2*p + limit*(s-2*p)
		}
		return stop, capacity
	}
}

func logErr(err error) {
	if err != nil {
		logf("%v", err)
	}
}

// tutorialScenario creates connections the way Adobe's guide does (one curl after another),
// then the same number with flowsync at its default concurrency.
func (b *bench) tutorialScenario() error {
	n := b.c.tutorialN
	t := &table{title: "Adobe's tutorial (one curl per connection, sequential) vs flowsync apply (default concurrency 8)", head: []string{"N", "curl loop", "flowsync", "speed-up"}}
	b.tables = append(b.tables, t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		return fmt.Errorf("the tutorial scenario needs curl: %w", err)
	}
	dir, err := b.newDir("tutorial")
	if err != nil {
		return err
	}
	e, err := b.startEmulator(dir, b.c.latency, 0)
	if err != nil {
		return err
	}
	defer e.close()
	m := testmanifest.Bench(orgID, "tutorial", "bench", n)
	t0 := time.Now()
	for i := m.From; i < m.From+n; i++ {
		// The body goes on stdin (-d @-), so that the secret key is not on a command line.
		cmd := exec.Command(curl, "-sS", "-f", "-o", "/dev/null", "-X", "POST", e.endpoint+"/connections",
			"-H", "Authorization: Bearer "+b.token, "-H", "x-api-key: "+apiKey, "-H", "x-gw-ims-org-id: "+orgID,
			"-H", "x-sandbox-name: tutorial", "-H", "Content-Type: application/json", "-d", "@-")
		cmd.Stdin = bytes.NewReader(body(m, i))
		cmd.Env = b.env("")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("curl #%d: %v: %s", i, err, out)
		}
	}
	tut := time.Since(t0)
	r, _, _, err := b.flowsyncApply(e, "run1", n, 8)
	if err != nil {
		return err
	}
	t.add(strconv.Itoa(n), fmtDur(tut), fmtDur(r.wall), fmt.Sprintf("%.0f×", tut.Seconds()/r.wall.Seconds()))
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
