package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// machine describes where the numbers were measured: nproc, lscpu's first lines, Go.
func machine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d CPUs (runtime.NumCPU), GOMAXPROCS %d, %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				switch strings.TrimSpace(k) {
				case "Model name", "CPU(s)", "Thread(s) per core", "BogoMIPS":
					fmt.Fprintf(&b, "  %s: %s\n", strings.TrimSpace(k), strings.TrimSpace(v))
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(data), "\n")
		fmt.Fprintf(&b, "  %s\n", strings.Join(strings.Fields(l), " "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// loadavg is the 1-minute load average: the machine may be shared, and a load above the
// number of CPUs makes wall times longer than flowsync's own.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
