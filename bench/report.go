package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// table is one scenario's results, printed as markdown.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
	logf("%s: %s", t.title, strings.Join(cells, " | "))
}

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", t.title)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.head, " | "), strings.Repeat("---|", len(t.head)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	for _, n := range t.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
}

// stat is min and median of repeated measurements.
type stat []float64

func (s stat) min() float64 { return slices.Min(s) }
func (s stat) median() float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// minMed formats min / median with f.
func (s stat) minMed(f func(float64) string) string {
	if len(s) == 0 {
		return "–"
	}
	if len(s) == 1 {
		return f(s[0])
	}
	return f(s.min()) + " / " + f(s.median())
}

func secs(v float64) string { return fmtDur(time.Duration(v * float64(time.Second))) }
func micros(v float64) string {
	return fmt.Sprintf("%.0f µs", v*1e6)
}
func pct(v float64) string   { return fmt.Sprintf("%.1f %%", 100*v) }
func ratio(v float64) string { return fmt.Sprintf("%.2f×", v) }
func mib(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", v/(1<<20))
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
}

// machine describes where the numbers were measured.
func machine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Model name" {
				fmt.Fprintf(&b, ", %s", strings.TrimSpace(v))
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(data), "\n")
		fmt.Fprintf(&b, ", %s", strings.Join(strings.Fields(l), " "))
	}
	return b.String()
}

// loadavg is the 1-minute load average (Linux): a load above the number of CPUs makes wall
// times longer than the programs' own.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
