// Command bench measures flowsync end to end: it builds the flowsync binary, generates a
// manifest of N entries, starts the emulator in its own process with a given latency and rate
// limit, runs the real binary against it, and prints one markdown table row per scenario.
//
//	go run ./bench -scenario all -n 10000 -latency 20ms -concurrency 64
//	go run ./bench -scenario plan -plan-n 10000,100000
//	go run ./bench -scenario ratelimit -rate-n 2000 -rate-limit 200
//	go run ./bench -scenario tutorial -tutorial-n 1000
//
// Scenarios:
//
//	plan       flowsync validate, then flowsync plan (offline, no lockfile), of each -plan-n
//	apply      flowsync apply of N creates, --concurrency C; ideal = N × latency / C
//	apply-shm  the same with the manifest, lockfile and journal on /dev/shm (fsync ~free):
//	           the difference to apply is what lockfile and journal writes cost
//	ratelimit  flowsync apply of -rate-n creates against an emulator limited to -rate-limit
//	           calls/s; ideal = N / limit
//	refresh    flowsync plan --refresh after the apply of N: requests counted by the emulator
//	tutorial   -tutorial-n creates the way Adobe's guide does them: one curl after another,
//	           then flowsync apply of the same number on a fresh emulator; the ratio is reported
//
// The emulator is the emulator package served by this program re-executed as a child
// process ("bench _emulator --listen … --latency … --rate-limit …"), with
// emulator.(*Server).HandlerWithStats so that its counters can be read from outside
// (GET /_emulator/stats). Its code is that of `flowsync emulator`; only the stats route is
// added.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/spf13/pflag"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/s3source"
)

const (
	orgID   = "5C1328435BF324E90A49402A@AdobeOrg"
	sandbox = "prod"
	apiKey  = "flowsync-bench"
)

type config struct {
	scenario    string
	n           int
	planN       []int
	rateN       int
	tutorialN   int
	latency     time.Duration
	concurrency int
	rateLimit   float64
	benchRate   float64
	maxRPS      float64
	repeat      int
	workdir     string
	keep        bool
	verbose     bool
	wrap        string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "_emulator" {
		os.Exit(emulatorChild(os.Args[2:]))
	}
	var c config
	var planN string
	flag.StringVar(&c.scenario, "scenario", "all", "all, or a comma list of: plan, apply, apply-shm, ratelimit, refresh, tutorial")
	flag.IntVar(&c.n, "n", 10000, "entries of the apply and refresh scenarios")
	flag.StringVar(&planN, "plan-n", "10000,100000", "entries of the plan scenario (comma list)")
	flag.IntVar(&c.rateN, "rate-n", 2000, "entries of the ratelimit scenario")
	flag.IntVar(&c.tutorialN, "tutorial-n", 1000, "entries of the tutorial scenario")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency the emulator adds to every API call")
	flag.IntVar(&c.concurrency, "concurrency", 64, "flowsync apply --concurrency")
	flag.Float64Var(&c.rateLimit, "rate-limit", 0, "emulator --rate-limit of the apply, refresh and tutorial scenarios (0: none)")
	flag.Float64Var(&c.benchRate, "ratelimit-rps", 200, "emulator --rate-limit of the ratelimit scenario")
	flag.Float64Var(&c.maxRPS, "max-rps", 0, "flowsync apply --max-rps (0: not passed)")
	flag.IntVar(&c.repeat, "repeat", 3, "runs of each plan measurement (the fastest is shown)")
	flag.StringVar(&c.workdir, "workdir", "", "directory for the temp dirs (default: os.TempDir())")
	flag.BoolVar(&c.keep, "keep", false, "keep the temp dir")
	flag.BoolVar(&c.verbose, "v", false, "show flowsync's stderr")
	flag.StringVar(&c.wrap, "wrap", "", "command prefixed to flowsync apply and plan runs, for profiling (e.g. \"perf record -g -o /tmp/perf.data --\"); RSS and bytes are then the wrapper's")
	flag.Parse()
	for _, s := range strings.Split(planN, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 {
			fatalf("-plan-n %q: want a comma list of positive numbers", planN)
		}
		c.planN = append(c.planN, v)
	}
	if err := run(&c); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(1)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

// row is one line of the results table.
type row struct {
	scenario  string
	n         int
	conc      string
	wall      time.Duration
	ideal     time.Duration // 0: none
	requests  string
	throttled string
	rss       int64 // KiB
	written   string
	notes     string
}

func (r row) markdown() string {
	ideal, eff := "–", "–"
	if r.ideal > 0 {
		ideal = fmtDur(r.ideal)
		eff = fmt.Sprintf("%.1f%%", 100*r.ideal.Seconds()/r.wall.Seconds())
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s | %s | %.1f MiB | %s | %s |",
		r.scenario, r.n, r.conc, fmtDur(r.wall), ideal, eff, r.requests, r.throttled, float64(r.rss)/1024, r.written, r.notes)
}

const tableHead = "| scenario | N | conc. | wall | ideal | efficiency | requests by status (emulator) | throttled | peak RSS | lockfile+journal bytes | notes |\n|---|---|---|---|---|---|---|---|---|---|---|"

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func run(c *config) error {
	want := map[string]bool{}
	for _, s := range strings.Split(c.scenario, ",") {
		want[strings.TrimSpace(s)] = true
	}
	if want["all"] {
		for _, s := range []string{"plan", "apply", "apply-shm", "ratelimit", "refresh", "tutorial"} {
			want[s] = true
		}
	}
	root, err := os.MkdirTemp(c.workdir, "flowsync-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		logf("keeping %s", root)
	} else {
		defer os.RemoveAll(root)
	}
	b := &bench{c: c, root: root, secret: randomHex(20), access: "AKIA" + strings.ToUpper(randomHex(8))}
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

	var rows []row
	emit := func(r ...row) {
		for _, x := range r {
			fmt.Fprintln(os.Stderr, x.markdown())
		}
		rows = append(rows, r...)
	}
	if want["plan"] {
		for _, n := range c.planN {
			rs, err := b.planScenario(n)
			if err != nil {
				return err
			}
			emit(rs...)
		}
	}
	if want["apply"] || want["refresh"] {
		r, emu, dir, err := b.applyScenario("apply", c.n, root, c.latency, c.rateLimit, c.maxRPS)
		if err != nil {
			return err
		}
		var rr row
		if want["refresh"] {
			if rr, err = b.refreshScenario(emu, dir, c.n); err != nil {
				emu.close()
				return err
			}
		}
		emu.close()
		if want["apply"] {
			r.notes += fmt.Sprintf("; emulator CPU (apply+refresh) %s", fmtDur(emu.cpu))
			emit(r)
		}
		if want["refresh"] {
			emit(rr)
		}
	}
	if want["apply-shm"] {
		shm, err := os.MkdirTemp("/dev/shm", "flowsync-bench-")
		if err != nil {
			return err
		}
		r, emu, _, err := b.applyScenario("apply-shm", c.n, shm, c.latency, c.rateLimit, c.maxRPS)
		os.RemoveAll(shm)
		if err != nil {
			return err
		}
		emu.close()
		r.notes += fmt.Sprintf("; emulator CPU %s", fmtDur(emu.cpu))
		emit(r)
	}
	if want["ratelimit"] {
		r, emu, _, err := b.applyScenario("ratelimit", c.rateN, root, c.latency, c.benchRate, c.maxRPS)
		if err != nil {
			return err
		}
		emu.close()
		r.notes += fmt.Sprintf("; emulator CPU %s", fmtDur(emu.cpu))
		emit(r)
	}
	if want["tutorial"] {
		rs, err := b.tutorialScenario(c.tutorialN)
		if err != nil {
			return err
		}
		emit(rs...)
	}

	var self syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	fmt.Println(machine())
	fmt.Printf("Peak RSS of this bench process: %.1f MiB (a floor for the children's peak RSS, which Linux never reports below the parent's at exec)\n", float64(self.Maxrss)/1024)
	fmt.Println()
	fmt.Printf("Command: go run ./bench %s\n\n", strings.Join(os.Args[1:], " "))
	fmt.Println(tableHead)
	for _, r := range rows {
		fmt.Println(r.markdown())
	}
	return nil
}

type bench struct {
	c               *config
	root, bin, self string
	secret, access  string
	seq             int
}

func (b *bench) newDir(parent, name string) (string, error) {
	b.seq++
	dir := filepath.Join(parent, fmt.Sprintf("%02d-%s", b.seq, name))
	return dir, os.MkdirAll(dir, 0o755)
}

// env is flowsync's environment: credentials and secrets come from variables, as in CI.
func (b *bench) env(endpoint string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"NO_COLOR=1",
		"BENCH_S3_ACCESS_KEY=" + b.access,
		"BENCH_S3_SECRET_KEY=" + b.secret,
		"FLOWSYNC_ACCESS_TOKEN=bench-token-" + randomHex(8),
		"FLOWSYNC_API_KEY=" + apiKey,
	}
	if endpoint != "" {
		env = append(env, "FLOWSYNC_ENDPOINT="+endpoint)
	}
	return env
}

// writeManifest writes a manifest of n Access Key entries named PREFIX-000001…, the keys
// from the environment.
func writeManifest(path, prefix string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// Streamed, so that this process stays small: a child's ru_maxrss is never below its
	// parent's peak RSS at the exec (Linux keeps the pre-exec high-water mark).
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteString(`version: 1
target:
  orgId: ` + orgID + `
  sandbox: ` + sandbox + `
defaults:
  description: Managed by flowsync (benchmark)
  auth:
    specName: Access Key
    params:
      serviceUrl: https://s3.us-east-1.amazonaws.com/
      s3AccessKey: {env: BENCH_S3_ACCESS_KEY}
      s3SecretKey: {env: BENCH_S3_SECRET_KEY}
connections:
`)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "  - name: %s-%06d\n    description: Events of team %d, bucket %d\n    auth:\n      params:\n        bucketName: %s-bucket-%06d\n        folderPath: events/%06d\n",
			prefix, i, i%97, i, prefix, i, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// result is what one run of a child process cost.
type result struct {
	wall       time.Duration
	rss        int64         // KiB, ru_maxrss
	writeBytes int64         // /proc/PID/io write_bytes: bytes the process caused to be written to storage
	wchar      int64         // /proc/PID/io wchar: bytes passed to write(2) and friends (files, pipes, sockets)
	cpu        time.Duration // user + system CPU time of the process
	exit       int
	stdout     string // path
}

// runChild runs the command, stdout to a file, and reads its rusage and /proc/PID/io at exit
// (waitid WNOWAIT leaves the zombie, whose io counters are still readable, before Wait reaps it).
func (b *bench) runChild(dir string, env []string, stdin io.Reader, name string, args ...string) (result, error) {
	out := filepath.Join(dir, fmt.Sprintf("%s.%d.out", filepath.Base(name), b.seq))
	b.seq++
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
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Stdout = struct{ io.Writer }{f} // through a pipe: stdout is not counted in write_bytes
	var errBuf bytes.Buffer
	if b.c.verbose {
		cmd.Stderr = os.Stderr
	} else {
		cmd.Stderr = &errBuf
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	waitNoReap(cmd.Process.Pid)
	wall := time.Since(start)
	io := readProcIO(cmd.Process.Pid)
	werr := cmd.Wait()
	r := result{wall: wall, writeBytes: io["write_bytes"], wchar: io["wchar"], stdout: out}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = ru.Maxrss
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r.exit = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return r, werr
	}
	if r.exit != 0 {
		tail := errBuf.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return r, fmt.Errorf("%s %s: exit %d\n%s", filepath.Base(name), strings.Join(args, " "), r.exit, tail)
	}
	return r, nil
}

func waitNoReap(pid int) {
	const pPID, wNOWAIT = 1, 0x01000000
	var info [128]byte
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

func readProcIO(pid int) map[string]int64 {
	m := map[string]int64{}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			m[k] = n
		}
	}
	return m
}

func (b *bench) planScenario(n int) ([]row, error) {
	dir, err := b.newDir(b.root, fmt.Sprintf("plan-%d", n))
	if err != nil {
		return nil, err
	}
	m := filepath.Join(dir, "m.yaml")
	if err := writeManifest(m, "bench", n); err != nil {
		return nil, err
	}
	st, _ := os.Stat(m)
	var rows []row
	for _, cmd := range [][]string{{"validate", "-f", "m.yaml"}, {"plan", "-f", "m.yaml"}} {
		var best result
		for i := 0; i < max(1, b.c.repeat); i++ {
			r, err := b.runChild(dir, b.env(""), nil, b.bin, cmd...)
			if err != nil {
				return nil, err
			}
			if i == 0 || r.wall < best.wall {
				best = r
			}
		}
		out, _ := os.Stat(best.stdout)
		rows = append(rows, row{
			scenario: "`" + cmd[0] + "` (offline)", n: n, conc: "–", wall: best.wall, rss: best.rss,
			requests: "–", throttled: "–", written: fmt.Sprint(best.writeBytes),
			notes: fmt.Sprintf("best of %d; CPU %s; manifest %.1f MiB, stdout %.1f MiB; load %s", max(1, b.c.repeat), fmtDur(best.cpu), mib(st.Size()), mib(out.Size()), loadavg()),
		})
	}
	return rows, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// applyScenario runs flowsync apply of n creates against a new emulator; it returns the
// emulator (still running) and the directory for a refresh.
func (b *bench) applyScenario(name string, n int, parent string, latency time.Duration, rateLimit, maxRPS float64) (row, *emu, string, error) {
	dir, err := b.newDir(parent, name)
	if err != nil {
		return row{}, nil, "", err
	}
	if err := writeManifest(filepath.Join(dir, "m.yaml"), "bench", n); err != nil {
		return row{}, nil, "", err
	}
	e, err := b.startEmulator(dir, latency, rateLimit)
	if err != nil {
		return row{}, nil, "", err
	}
	before, err := e.stats()
	if err != nil {
		e.close()
		return row{}, nil, "", err
	}
	args := []string{"apply", "-f", "m.yaml", "--yes", "--concurrency", strconv.Itoa(b.c.concurrency)}
	if maxRPS > 0 {
		args = append(args, "--max-rps", strconv.FormatFloat(maxRPS, 'f', -1, 64))
	}
	r, err := b.runChild(dir, b.env(e.endpoint), nil, b.bin, args...)
	if err != nil {
		e.close()
		return row{}, nil, "", err
	}
	after, err := e.stats()
	if err != nil {
		e.close()
		return row{}, nil, "", err
	}
	d := after.minus(before)
	lock, _ := os.Stat(filepath.Join(dir, "m.lock.json"))
	var lockSize int64
	if lock != nil {
		lockSize = lock.Size()
	}
	ideal := time.Duration(float64(n) * float64(latency) / float64(b.c.concurrency))
	notes := fmt.Sprintf("latency %v", latency)
	if rateLimit > 0 {
		ideal = time.Duration(float64(n) / rateLimit * float64(time.Second))
		ok := d.status(201)
		notes = fmt.Sprintf("limit %g/s, latency %v; achieved %.1f creates/s", rateLimit, latency, float64(ok)/r.wall.Seconds())
	}
	if maxRPS > 0 {
		notes += fmt.Sprintf("; --max-rps %g", maxRPS)
	}
	if strings.HasPrefix(parent, "/dev/shm") {
		notes += "; dir on tmpfs"
	}
	notes += fmt.Sprintf("; CPU %s; final lockfile %.1f MiB; load %s; flowsync: %s", fmtDur(r.cpu), mib(lockSize), loadavg(), summaryLine(r.stdout))
	return row{
		scenario: name, n: n, conc: strconv.Itoa(b.c.concurrency), wall: r.wall, ideal: ideal,
		requests: d.byStatus(), throttled: d.throttled(), rss: r.rss,
		written: fmt.Sprintf("%d (%.0f B/entry)", r.writeBytes, float64(r.writeBytes)/float64(n)),
		notes:   notes,
	}, e, dir, nil
}

// summaryLine is flowsync's own count of requests, from the end of apply's output.
func summaryLine(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-5; i-- {
		if strings.Contains(lines[i], "request") {
			return strings.TrimSpace(lines[i])
		}
	}
	if len(lines) > 0 {
		return strings.TrimSpace(lines[len(lines)-1])
	}
	return ""
}

func (b *bench) refreshScenario(e *emu, dir string, n int) (row, error) {
	before, err := e.stats()
	if err != nil {
		return row{}, err
	}
	r, err := b.runChild(dir, b.env(e.endpoint), nil, b.bin, "plan", "-f", "m.yaml", "--refresh", "--detailed-exitcode")
	if err != nil {
		return row{}, err
	}
	after, err := e.stats()
	if err != nil {
		return row{}, err
	}
	d := after.minus(before)
	pages := (n + emulator.MaxListLimit - 1) / emulator.MaxListLimit
	return row{
		scenario: "`plan --refresh`", n: n, conc: "–", wall: r.wall,
		ideal:    time.Duration(pages) * b.c.latency,
		requests: fmt.Sprintf("%s (total %d; target ≤ %d)", d.byStatus(), d.Total, pages+10), throttled: d.throttled(),
		rss: r.rss, written: fmt.Sprint(r.writeBytes),
		notes: fmt.Sprintf("ideal = %d sequential list pages × latency; exit 0 = no drift; output: %s", pages, summaryLine(r.stdout)),
	}, nil
}

func (b *bench) tutorialScenario(n int) ([]row, error) {
	dir, err := b.newDir(b.root, "tutorial")
	if err != nil {
		return nil, err
	}
	e, err := b.startEmulator(dir, b.c.latency, b.c.rateLimit)
	if err != nil {
		return nil, err
	}
	defer e.close()
	curl, err := exec.LookPath("curl")
	if err != nil {
		return nil, fmt.Errorf("tutorial scenario needs curl: %w", err)
	}
	token := "bench-token-" + randomHex(8)
	before, err := e.stats()
	if err != nil {
		return nil, err
	}
	// Adobe's guide (Create an Amazon S3 base connection using the Flow Service API): one
	// POST /connections per bucket with these headers and this body. The body goes on stdin
	// (-d @-) rather than in argv, so that the secret key is not on a command line.
	start := time.Now()
	for i := 1; i <= n; i++ {
		body, _ := json.Marshal(flowservice.NewConnection{
			Name:        fmt.Sprintf("tutorial-%06d", i),
			Description: fmt.Sprintf("Events of team %d, bucket %d", i%97, i),
			Auth: flowservice.Auth{SpecName: "Access Key", Params: map[string]string{
				"s3AccessKey": b.access, "s3SecretKey": b.secret,
				"serviceUrl": "https://s3.us-east-1.amazonaws.com/",
				"bucketName": fmt.Sprintf("tutorial-bucket-%06d", i), "folderPath": fmt.Sprintf("events/%06d", i),
			}},
			ConnectionSpec: s3source.ConnectionSpec(),
		})
		cmd := exec.Command(curl, "-sS", "-f", "-o", "/dev/null", "-X", "POST", e.endpoint+"/connections",
			"-H", "Authorization: Bearer "+token,
			"-H", "x-api-key: "+apiKey,
			"-H", "x-gw-ims-org-id: "+orgID,
			"-H", "x-sandbox-name: "+sandbox,
			"-H", "Content-Type: application/json",
			"-d", "@-")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("curl #%d: %v: %s", i, err, out)
		}
	}
	tutWall := time.Since(start)
	mid, err := e.stats()
	if err != nil {
		return nil, err
	}
	if err := writeManifest(filepath.Join(dir, "m.yaml"), "bench", n); err != nil {
		return nil, err
	}
	r, err := b.runChild(dir, b.env(e.endpoint), nil, b.bin, "apply", "-f", "m.yaml", "--yes", "--concurrency", strconv.Itoa(b.c.concurrency))
	if err != nil {
		return nil, err
	}
	after, err := e.stats()
	if err != nil {
		return nil, err
	}
	dt, df := mid.minus(before), after.minus(mid)
	ratio := tutWall.Seconds() / r.wall.Seconds()
	return []row{
		{scenario: "tutorial (`curl` × N, sequential)", n: n, conc: "1", wall: tutWall, ideal: time.Duration(n) * b.c.latency,
			requests: dt.byStatus(), throttled: dt.throttled(), rss: 0, written: "–",
			notes: fmt.Sprintf("ideal = N × latency %v; %.1f ms per create", b.c.latency, float64(tutWall.Microseconds())/1000/float64(n))},
		{scenario: "flowsync, same creates", n: n, conc: strconv.Itoa(b.c.concurrency), wall: r.wall,
			ideal:    time.Duration(float64(n) * float64(b.c.latency) / float64(b.c.concurrency)),
			requests: df.byStatus(), throttled: df.throttled(), rss: r.rss, written: fmt.Sprint(r.writeBytes),
			notes: fmt.Sprintf("**%.1f× faster than the tutorial**", ratio)},
	}, nil
}

// emu is an emulator child process.
type emu struct {
	cmd      *exec.Cmd
	cpu      time.Duration // user + system CPU of the emulator process, known after close
	endpoint string
	base     string // http://ADDR
}

func (b *bench) startEmulator(dir string, latency time.Duration, rateLimit float64) (*emu, error) {
	args := []string{"_emulator", "--listen", "127.0.0.1:0", "--latency", latency.String(),
		"--rate-limit", strconv.FormatFloat(rateLimit, 'f', -1, 64), "--seed", "1"}
	cmd := exec.Command(b.self, args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &emu{cmd: cmd}
	lines := bufio.NewScanner(stderr)
	found := make(chan string, 1)
	go func() {
		sent := false
		for lines.Scan() {
			l := lines.Text()
			if !sent {
				if _, rest, ok := strings.Cut(l, "serving "); ok {
					ep, _, _ := strings.Cut(rest, " ")
					found <- ep
					sent = true
					continue
				}
			}
			fmt.Fprintln(os.Stderr, "emulator:", l)
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case ep, ok := <-found:
		if !ok {
			cmd.Wait()
			return nil, errors.New("the emulator exited before serving")
		}
		e.endpoint = ep
		e.base = strings.TrimSuffix(ep, emulator.APIPrefix)
	case <-time.After(10 * time.Second):
		e.close()
		return nil, errors.New("the emulator did not say where it serves within 10s")
	}
	for i := 0; ; i++ {
		if _, err := e.stats(); err == nil {
			break
		} else if i == 100 {
			e.close()
			return nil, fmt.Errorf("the emulator does not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e, nil
}

func (e *emu) close() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
	if ru, ok := e.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		e.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
}

type stats struct {
	Total    int64
	Requests map[string]map[string]int64
	Faults   map[string]int64
}

func (e *emu) stats() (stats, error) {
	var s stats
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

func (s stats) minus(o stats) stats {
	d := stats{Total: s.Total - o.Total, Requests: map[string]map[string]int64{}, Faults: map[string]int64{}}
	for m, bs := range s.Requests {
		for code, n := range bs {
			if v := n - o.Requests[m][code]; v != 0 {
				if d.Requests[m] == nil {
					d.Requests[m] = map[string]int64{}
				}
				d.Requests[m][code] = v
			}
		}
	}
	for k, n := range s.Faults {
		if v := n - o.Faults[k]; v != 0 {
			d.Faults[k] = v
		}
	}
	return d
}

func (s stats) status(code int) int64 {
	var n int64
	for _, bs := range s.Requests {
		n += bs[strconv.Itoa(code)]
	}
	return n
}

func (s stats) byStatus() string {
	var parts []string
	for m, bs := range s.Requests {
		for code, n := range bs {
			parts = append(parts, fmt.Sprintf("%s %s: %d", m, code, n))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (s stats) throttled() string {
	t := s.status(429) + s.status(503)
	if s.Total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.2f%%)", t, 100*float64(t)/float64(s.Total))
}

// emulatorChild serves the emulator package in this process: the code of `flowsync emulator`
// (emulator.Options and their flags, the same http.Server settings as emulator.Start) plus
// the stats route of HandlerWithStats.
func emulatorChild(args []string) int {
	var (
		opts   emulator.Options
		listen string
	)
	fs := pflag.NewFlagSet("emulator", pflag.ContinueOnError)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on")
	opts.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := emulator.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Addr: listen, Handler: s.HandlerWithStats(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ln, err := netListen(listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a := ln.Addr().String()
	fmt.Fprintf(os.Stderr, "flowsync emulator: serving http://%s%s (IMS token URL http://%s%s)\n", a, emulator.APIPrefix, a, emulator.IMSPath)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { _ = srv.Serve(ln) }()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
