package planfile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
)

// BenchmarkBuildMarshal10k: plan --out's own work for 10,000 creates (Plan excluded).
func BenchmarkBuildMarshal10k(b *testing.B) {
	lock, err := lockfile.New(target)
	if err != nil {
		b.Fatal(err)
	}
	want := make([]reconcile.Desired, 10000)
	for i := range want {
		want[i] = desired(fmt.Sprintf("bucket-%05d", i), "generated", token)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	b.ResetTimer()
	for range b.N {
		f, err := planfile.Build(cs, lock, planfile.Meta{ManifestPath: "m.yaml", ManifestSHA256: strings.Repeat("ab", 32), LockfilePath: "m.lock.json"})
		if err != nil {
			b.Fatal(err)
		}
		data, err := f.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkParseCheck10k: apply --plan's own work before sending, for 10,000 creates.
func BenchmarkParseCheck10k(b *testing.B) {
	lock, err := lockfile.New(target)
	if err != nil {
		b.Fatal(err)
	}
	want := make([]reconcile.Desired, 10000)
	for i := range want {
		want[i] = desired(fmt.Sprintf("bucket-%05d", i), "generated", token)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	f, err := planfile.Build(cs, lock, planfile.Meta{ManifestPath: "m.yaml", ManifestSHA256: strings.Repeat("ab", 32), LockfilePath: "m.lock.json"})
	if err != nil {
		b.Fatal(err)
	}
	data, err := f.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		g, err := planfile.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		fresh, stale, err := planfile.Check(g, planfile.Input{Desired: want, Lock: lock})
		if err != nil || len(stale) != 0 || len(fresh.Changes) != len(want) {
			b.Fatalf("check: %v, %d stale", err, len(stale))
		}
	}
}
