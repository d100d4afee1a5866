package reconcile_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/testmanifest"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
)

// benchManifest is a manifest of n Access Key entries, keys from the environment: the
// manifest of `go run ./bench`.
func benchManifest(n int) []byte {
	return testmanifest.Bench(org, sandbox, "bench", n).Bytes()
}

func benchEnv(name string) (string, bool) {
	switch name {
	case "BENCH_S3_ACCESS_KEY":
		return "AKIABENCHMARK", true
	case "BENCH_S3_SECRET_KEY":
		return "bench-secret-key", true
	}
	return "", false
}

// parseValidatePlan is what `flowsync plan` does offline before rendering: parse and
// validate the manifest, resolve its secret references, and plan against an empty lockfile.
func parseValidatePlan(b *testing.B, data []byte, n int) {
	m, err := manifest.Parse("m.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	desired := make([]reconcile.Desired, 0, len(m.Connections))
	for _, c := range m.Connections {
		values, err := m.Resolve(c, benchEnv)
		if err != nil {
			b.Fatal(err)
		}
		d := reconcile.Desired{
			Name: c.Name, Description: c.Description, SpecName: c.SpecName,
			Spec:   c.ConnectionSpec,
			Params: make(map[string]reconcile.Param, len(c.Params)),
		}
		for k, v := range c.Params {
			d.Params[k] = reconcile.Param{Value: values[k], Sensitive: v.Sensitive(), Known: true}
		}
		desired = append(desired, d)
	}
	lock, err := lockfile.New(lockfile.Target{OrgID: m.Target.OrgID, Sandbox: m.Target.Sandbox})
	if err != nil {
		b.Fatal(err)
	}
	cs := reconcile.Plan(desired, lock, nil, reconcile.Options{})
	if len(cs.Changes) != n {
		b.Fatalf("%d changes, want %d", len(cs.Changes), n)
	}
}

func benchmarkPlan(b *testing.B, n int) {
	data := benchManifest(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		parseValidatePlan(b, data, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

// BenchmarkPlan10k: parse + validate + resolve + offline plan of 10,000 entries (target: the
// whole `flowsync plan` under 0.3 s).
func BenchmarkPlan10k(b *testing.B) { benchmarkPlan(b, 10_000) }

// BenchmarkPlan100k: the same for 100,000 entries (target: under 3 s, linear).
func BenchmarkPlan100k(b *testing.B) { benchmarkPlan(b, 100_000) }

// benchmarkApply is what `flowsync apply` does after the plan, in one process: n creates at
// concurrency c against an in-process emulator with 20 ms latency, with the journal on disk
// (b.TempDir) or without one. The difference is the cost of durability; run it with
// -blockprofile, -mutexprofile or -trace to see where a create waits.
func benchmarkApply(b *testing.B, n, c int, journal bool) {
	want := entries(n, "token-1")
	for range b.N {
		b.StopTimer()
		emu, err := emulator.Start(emulator.Options{Latency: 20 * time.Millisecond}, "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		cl, err := flowservice.New(flowservice.Config{
			Endpoint: emu.Endpoint, OrgID: org, Sandbox: sandbox, APIKey: "test-key",
			Tokens: flowservice.StaticToken("test-token"), Concurrency: c,
		})
		if err != nil {
			b.Fatal(err)
		}
		lockPath := filepath.Join(b.TempDir(), "m.lock.json")
		lock, err := lockfile.New(lockfile.Target{OrgID: org, Sandbox: sandbox})
		if err != nil {
			b.Fatal(err)
		}
		cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
		opts := reconcile.ApplyOptions{Concurrency: c}
		b.StartTimer()
		var j *lockfile.Journal
		if journal {
			if j, err = lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock)); err != nil {
				b.Fatal(err)
			}
			opts.Journal = j
		}
		out, _, err := reconcile.Apply(context.Background(), cl, cs, lock, opts)
		if err != nil {
			b.Fatal(err)
		}
		if journal {
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
			if err := out.Save(lockPath); err != nil {
				b.Fatal(err)
			}
			if err := lockfile.RemoveJournal(lockPath); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = emu.Close()
	}
}

func BenchmarkApply3000c32(b *testing.B) {
	b.Run("journal", func(b *testing.B) { benchmarkApply(b, 3000, 32, true) })
	b.Run("none", func(b *testing.B) { benchmarkApply(b, 3000, 32, false) })
}
