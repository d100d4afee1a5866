package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/testmanifest"
	"github.com/flowsync/flowsync/lockfile"
)

// Issue 8's cases that need a real flowsync process killed with SIGKILL in the middle of an
// apply: a first run killed before its lockfile existed, a journal left for another sandbox,
// and the advice printed for a damaged journal, followed literally.

const killN = 120

// killFixture is a built flowsync, an emulator with some latency, and a work directory.
type killFixture struct {
	t   *testing.T
	bin string
	emu *emulator.Running
	dir string
	env []string
}

func newKillFixture(t *testing.T) *killFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and kills it mid-apply")
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "flowsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	emu, err := emulator.Start(emulator.Options{Latency: 15 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	env := append(os.Environ(),
		"FLOWSYNC_ENDPOINT="+emu.Endpoint, "FLOWSYNC_ACCESS_TOKEN=test-token", "FLOWSYNC_API_KEY=test-key",
		"S3_SECRET_KEY=kill-test-secret-key", "NO_COLOR=1",
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	return &killFixture{t: t, bin: bin, emu: emu, dir: dir, env: env}
}

// manifest writes m.yaml: killN entries in sandbox.
func (f *killFixture) manifest(sandbox string, n int) {
	f.t.Helper()
	m := testmanifest.Manifest{
		OrgID: testOrg, Sandbox: sandbox, N: n, Name: "conn-%03d",
		Params: []testmanifest.Param{
			{Key: "s3AccessKey", Value: "AKIAIOSFODNN7EXAMPLE"},
			{Key: "s3SecretKey", Value: testmanifest.Env("S3_SECRET_KEY")},
		},
		EntryParams: []testmanifest.Param{{Key: "bucketName", Value: "bucket-%03d"}},
	}
	if err := m.WriteFile(filepath.Join(f.dir, "m.yaml")); err != nil {
		f.t.Fatal(err)
	}
}

// run runs flowsync in the work directory and returns its exit code, stdout and stderr.
func (f *killFixture) run(args ...string) (int, string, string) {
	f.t.Helper()
	return f.shell(f.bin, args...)
}

func (f *killFixture) shell(name string, args ...string) (int, string, string) {
	f.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = f.dir, f.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// killedApply starts apply and SIGKILLs it once the sandbox holds at least `at` connections.
func (f *killFixture) killedApply(sandbox string, at int) {
	f.t.Helper()
	cmd := exec.Command(f.bin, "apply", "-f", "m.yaml", "--yes", "--concurrency", "4")
	cmd.Dir, cmd.Env = f.dir, f.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for f.count(sandbox) < at {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			f.t.Fatalf("no progress before the kill:\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		f.t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := f.count(sandbox); n >= killN {
		f.t.Fatalf("the run finished (%d connections) before it was killed", n)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "m.lock.json.journal")); err != nil {
		f.t.Fatalf("no journal left by the killed run: %v", err)
	}
}

func (f *killFixture) count(sandbox string) int {
	return len(f.emu.Server.Connections(testOrg, sandbox))
}

// exactlyOnce fails unless sandbox holds one connection per entry, none twice.
func (f *killFixture) exactlyOnce(sandbox string) {
	f.t.Helper()
	f.exactlyOnceBesides(sandbox)
}

// exactlyOnceBesides is exactlyOnce not counting the connections with the ids given.
func (f *killFixture) exactlyOnceBesides(sandbox string, ignore ...string) {
	f.t.Helper()
	seen := map[string]int{}
	for _, c := range f.emu.Server.Connections(testOrg, sandbox) {
		if !slices.Contains(ignore, c.ID) {
			seen[c.Name]++
		}
	}
	for i := range killN {
		if name := fmt.Sprintf("conn-%03d", i); seen[name] != 1 {
			f.t.Errorf("sandbox %s: %d connections named %s, want 1", sandbox, seen[name], name)
		}
	}
	if len(seen) != killN {
		f.t.Errorf("sandbox %s: %d names, want %d", sandbox, len(seen), killN)
	}
}

func (f *killFixture) requests(method string) int64 {
	var n int64
	for _, c := range f.emu.Server.Stats().Requests[method] {
		n += c
	}
	return n
}

// A first run killed before any lockfile existed: the journal keeps the salt its digests were
// keyed with, so the next plan shows no secret as changed and apply PATCHes nothing.
func TestKilledFirstRunKeepsItsSalt(t *testing.T) {
	f := newKillFixture(t)
	f.manifest("prod", killN)
	f.killedApply("prod", killN/3)
	if _, err := os.Stat(filepath.Join(f.dir, "m.lock.json")); err == nil {
		t.Fatal("the killed first run left a lockfile: this test needs one that did not")
	}
	code, out, errOut := f.run("plan", "-f", "m.yaml")
	if code != 0 || strings.Contains(out, "sensitive value changed") || !strings.Contains(out, " 0 to update") {
		t.Fatalf("plan after the kill: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes"); code != 0 {
		t.Fatalf("apply after the kill: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := f.requests("PATCH"); n != 0 {
		t.Errorf("%d PATCHes after the kill, want 0 (no secret changed)", n)
	}
	f.exactlyOnce("prod")
	if code, out, _ := f.run("plan", "-f", "m.yaml", "--refresh", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan --refresh after healing: exit %d\n%s", code, out)
	}
}

// A journal left by an apply killed against prod is refused, never merged, when the manifest
// now targets dev and the lockfile is gone; both hints, followed as printed, finish each
// sandbox with exactly one connection per entry.
func TestJournalOfAnotherSandboxIsRefused(t *testing.T) {
	f := newKillFixture(t)
	f.manifest("prod", killN)
	f.killedApply("prod", killN/3)
	journal := filepath.Join(f.dir, "m.lock.json.journal")
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}

	f.manifest("dev", killN)
	_ = os.Remove(filepath.Join(f.dir, "m.lock.json"))
	var hints string
	for range 2 {
		code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes")
		if code != 1 || !strings.Contains(errOut, "sandbox prod") || !strings.Contains(errOut, "sandbox dev") {
			t.Fatalf("apply to dev with prod's journal: exit %d, want 1 naming both sandboxes\n%s\n%s", code, out, errOut)
		}
		hints = errOut
	}
	if n := f.count("dev"); n != 0 {
		t.Fatalf("%d connections in dev: the refused run sent something", n)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Fatal("the refused journal was changed")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "m.lock.json")); err == nil {
		t.Fatal("a lockfile was written for dev")
	}

	// The first hint, as printed: the journal is moved aside, kept, and this manifest's run
	// goes on with nothing of prod's in it.
	m := regexp.MustCompile(`hint: it records a run against org "` + testOrg + `" sandbox "prod": move it aside, kept, then run this command again: (mv -- .*)`).FindStringSubmatch(hints)
	if m == nil {
		t.Fatalf("no hint moving the journal aside:\n%s", hints)
	}
	if code, out, errOut := f.shell("sh", "-c", m[1]); code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", m[1], code, out, errOut)
	}
	aside := filepath.Join(f.dir, "m.lock.json.journal.other-prod")
	if after, _ := os.ReadFile(aside); !bytes.Equal(before, after) {
		t.Fatalf("the journal moved aside is not the journal:\n%s", hints)
	}
	if code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes"); code != 0 {
		t.Fatalf("apply to dev after moving the journal aside: exit %d\n%s\n%s", code, out, errOut)
	}
	f.exactlyOnce("dev")

	// The second, in words: prod's manifest, its own lockfile (dev's is m.lock.json now), the
	// journal moved beside it.
	if !strings.Contains(hints, `hint: to finish that run, with the manifest of org "`+testOrg+`" sandbox "prod": move m.lock.json.journal.other-prod to that manifest's lockfile path followed by .journal`) {
		t.Fatalf("no hint to finish prod's run:\n%s", hints)
	}
	f.manifest("prod", killN)
	if err := os.Rename(aside, filepath.Join(f.dir, "prod.lock.json.journal")); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := f.run("apply", "-f", "m.yaml", "--lockfile", "prod.lock.json", "--yes"); code != 0 {
		t.Fatalf("finishing prod: exit %d\n%s\n%s", code, out, errOut)
	}
	f.exactlyOnce("prod")
	f.exactlyOnce("dev")
}

// colleagueCreate makes a connection named name in sandbox prod the way a colleague's tool
// would: over HTTP, with another API key. It returns the connection as the service holds it.
func (f *killFixture) colleagueCreate(name string) flowservice.Connection {
	f.t.Helper()
	c, err := flowservice.New(flowservice.Config{
		Endpoint: f.emu.Endpoint, OrgID: testOrg, Sandbox: "prod", APIKey: "colleague-key",
		Tokens: flowservice.StaticToken("colleague-token"),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ref, err := c.Create(context.Background(), flowservice.NewConnection{
		Name: name, Description: "the colleague's",
		Auth:           flowservice.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "colleague-bucket"}},
		ConnectionSpec: flowservice.Spec{ID: "ecadc60c-7455-4d87-84dc-2a0e293d997b", Version: "1.0"},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	live, err := c.Get(context.Background(), ref.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return *live
}

// untouched fails unless the connection want is still live exactly as it was.
func (f *killFixture) untouched(want flowservice.Connection) {
	f.t.Helper()
	for _, c := range f.emu.Server.Connections(testOrg, "prod") {
		if c.ID == want.ID {
			if c.ETag != want.ETag || c.Name != want.Name || c.Description != want.Description || c.Auth.Params["bucketName"] != want.Auth.Params["bucketName"] {
				f.t.Errorf("the colleague's connection was changed: %+v, was %+v", c, want)
			}
			return
		}
	}
	f.t.Errorf("the colleague's connection %s was deleted", want.ID)
}

// The advice printed for a damaged journal, followed literally, creates no duplicate of the
// connections the killed run made, and leaves a colleague's connection of a managed name alone.
func TestDamagedJournalAdviceMakesNoDuplicates(t *testing.T) {
	f := newKillFixture(t)
	f.manifest("prod", killN/4)
	if code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes"); code != 0 {
		t.Fatalf("first apply: %d\n%s\n%s", code, out, errOut)
	}
	f.manifest("prod", killN)
	// The last entry is created late in the run, after the kill: only the colleague's exists.
	theirs := f.colleagueCreate(fmt.Sprintf("conn-%03d", killN-1))
	f.killedApply("prod", killN/2+1)
	journal := filepath.Join(f.dir, "m.lock.json.journal")
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	// Damage a record in the middle: valid records follow it, so it is not a torn tail.
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) < 6 {
		t.Fatalf("journal of %d lines", len(lines))
	}
	mid := lines[len(lines)/2]
	i := bytes.Index(mid, []byte(`"name":"`))
	mid[i+len(`"name":"`)] ^= 0x01
	if err := os.WriteFile(journal, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes")
	if code != 1 {
		t.Fatalf("apply with a damaged journal: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`hint: without it: (mv .*? && flowsync import -f m\.yaml --by-name --mine), which .*then (flowsync plan -f m\.yaml --refresh) before applying`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no advice for the damaged journal:\n%s", errOut)
	}
	for _, step := range []string{m[1], m[2]} {
		if code, out, errOut := f.shell("sh", "-c", step); code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", step, code, out, errOut)
		}
	}
	// The colleague's connection holds the last entry's name: a name conflict, so that entry
	// alone fails and nothing is created for it (one name, one live connection).
	code, out, errOut = f.shell("sh", "-c", "flowsync apply -f m.yaml --yes")
	if code != 3 || !strings.Contains(out, fmt.Sprintf("x conn-%03d: create failed: name conflict: live connection %s", killN-1, theirs.ID)) || strings.Count(out, "failed:") != 1 {
		t.Fatalf("apply: exit %d, want 3 with the one name conflict\n%s\n%s", code, out, errOut)
	}
	f.untouched(theirs)
	f.exactlyOnceBesides("prod")
}

// A journal of another lockfile of the same target (the lockfile was replaced after the kill)
// is refused naming both salts; the advice to go on without it, followed as printed, creates
// no duplicate.
func TestJournalOfAnotherLockfileIsRefused(t *testing.T) {
	f := newKillFixture(t)
	f.manifest("prod", killN/4)
	if code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes"); code != 0 {
		t.Fatalf("first apply: %d\n%s\n%s", code, out, errOut)
	}
	f.manifest("prod", killN)
	f.killedApply("prod", killN/2)
	// Someone replaces the lockfile with a new one of the same target (a new salt).
	lockPath := filepath.Join(f.dir, "m.lock.json")
	fresh, err := lockfile.New(lockfile.Target{OrgID: testOrg, Sandbox: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Save(lockPath); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := f.run("apply", "-f", "m.yaml", "--yes")
	if code != 1 || !strings.Contains(errOut, "another lockfile") || !strings.Contains(errOut, fresh.Salt[:8]) {
		t.Fatalf("apply with another lockfile's journal: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := f.requests("POST"); n > int64(killN) {
		t.Fatalf("%d POSTs", n)
	}
	m := regexp.MustCompile(`hint: without it: (mv .*? && flowsync import -f m\.yaml --by-name --mine), which .*then (flowsync plan -f m\.yaml --refresh) before applying`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no advice to go on without the journal:\n%s", errOut)
	}
	for _, step := range []string{m[1], m[2], "flowsync apply -f m.yaml --yes"} {
		if code, out, errOut := f.shell("sh", "-c", step); code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", step, code, out, errOut)
		}
	}
	f.exactlyOnce("prod")
}
