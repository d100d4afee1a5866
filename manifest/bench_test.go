package manifest

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user+system CPU time the process has used: on a loaded machine it measures
// the parser's cost better than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchParse parses a generated manifest of n entries and reports, besides ns/op, the CPU
// time per op (all goroutines, the garbage collector included) as cpu-ns/op.
func benchParse(b *testing.B, n int) {
	data := manifestOf(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		m, err := Parse("m.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Connections) != n {
			b.Fatal(len(m.Connections))
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkParse100k(b *testing.B) { benchParse(b, 100000) }

// BenchmarkParse10kCPU is BenchmarkParse10k with the CPU time per op reported.
func BenchmarkParse10kCPU(b *testing.B) { benchParse(b, 10000) }
