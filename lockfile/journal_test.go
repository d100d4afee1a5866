package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func entry(id string) *Entry {
	return &Entry{
		ID:             id,
		ETag:           `"` + id + `-etag"`,
		SpecName:       "Access Key",
		ConnectionSpec: Spec{ID: "ecadc60c-7455-4d87-84dc-2a0e293d997b", Version: "1.0"},
		Params:         map[string]string{"bucketName": id},
		SecretDigests:  map[string]string{"s3SecretKey": Digest(testSalt, "secret-"+id)},
		CreatedAt:      time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		UpdatedAt:      time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
	}
}

func openJournal(t testing.TB, lockPath string) *Journal {
	t.Helper()
	j, err := OpenJournal(lockPath, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	j.now = func() time.Time { return testNow }
	return j
}

var (
	testHeader = Header{Target: testTarget, Salt: testSalt}
	testNow    = time.Date(2026, 5, 6, 7, 8, 9, 10_000_000, time.UTC)
)

func TestJournalGroupCommit(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	const workers, perWorker = 64, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("conn-%02d-%d", w, i)
				if err := j.Begin(name, "create", "", nil); err != nil {
					errs <- err
					return
				}
				if err := j.Commit(name, entry("id-"+name)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := j.syncs
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	ops := int64(workers * perWorker * 2)
	t.Logf("%d records, %d fsyncs", ops, syncs)
	if syncs >= ops {
		t.Errorf("%d fsyncs for %d records: no group commit", syncs, ops)
	}

	f := sampleFile()
	changed, err := Fold(f, lockPath)
	if err != nil || !changed {
		t.Fatalf("Fold = %v, %v", changed, err)
	}
	for w := range workers {
		for i := range perWorker {
			name := fmt.Sprintf("conn-%02d-%d", w, i)
			if d := cmp.Diff(entry("id-"+name), f.Connections[name]); d != "" {
				t.Errorf("%s (-want +got):\n%s", name, d)
			}
		}
	}
	if len(f.Connections) != workers*perWorker+2 {
		t.Errorf("%d entries after fold", len(f.Connections))
	}
	if err := RemoveJournal(lockPath); err != nil {
		t.Fatal(err)
	}
	if changed, err := Fold(f, lockPath); changed || err != nil {
		t.Errorf("Fold without a journal = %v, %v", changed, err)
	}
	if err := RemoveJournal(lockPath); err != nil {
		t.Errorf("RemoveJournal of an absent journal: %v", err)
	}
}

func TestFold(t *testing.T) {
	type step struct {
		begin  bool
		name   string
		op, id string
		e      *Entry
	}
	begin := func(name, op, id string) step { return step{begin: true, name: name, op: op, id: id} }
	intent := func(name string, e *Entry) step { return step{begin: true, name: name, op: "create", e: e} }
	commit := func(name string, e *Entry) step { return step{name: name, e: e} }
	with := func(e *Entry, f func(*Entry)) *Entry { f(e); return e }
	base := func() map[string]*Entry {
		return map[string]*Entry{"kept": entry("k"), "old": entry("o"), "replaced": entry("r")}
	}
	tests := []struct {
		name        string
		steps       []step
		want        map[string]*Entry
		wantChanged bool
	}{
		{"empty journal", nil, base(), false},
		{"create committed", []step{begin("new", "create", ""), commit("new", entry("n"))},
			with2(base(), "new", entry("n")), true},
		{"create in flight", []step{begin("new", "create", "")},
			with2(base(), "new", &Entry{Pending: PendingCreate, PendingAt: testNow.Truncate(time.Millisecond)}), true},
		{"create in flight keeps its intent", []step{intent("new", with(entry(""), func(e *Entry) { e.Description = "intended" }))},
			with2(base(), "new", with(entry(""), func(e *Entry) {
				e.Description, e.ETag = "intended", ""
				e.Pending, e.PendingAt = PendingCreate, testNow.Truncate(time.Millisecond)
			})), true},
		{"replace in flight keeps id and retired", []step{begin("replaced", "create", "")},
			with2(base(), "replaced", with(entry("r"), func(e *Entry) {
				e.Pending, e.PendingAt = PendingCreate, testNow.Truncate(time.Millisecond)
			})), true},
		{"replace in flight with intent keeps id, etag and retired", []step{intent("replaced", with(entry("new"), func(e *Entry) { e.SpecName = "IAMRole Based" }))},
			with2(base(), "replaced", with(entry("new"), func(e *Entry) {
				e.ID, e.ETag, e.SpecName = "r", `"r-etag"`, "IAMRole Based"
				e.Pending, e.PendingAt = PendingCreate, testNow.Truncate(time.Millisecond)
			})), true},
		{"replace done", []step{
			begin("replaced", "create", ""),
			commit("replaced", with(entry("r2"), func(e *Entry) { e.Retired = []string{"r"} })),
			begin("replaced", "delete", "r"),
			commit("replaced", entry("r2")),
		}, with2(base(), "replaced", entry("r2")), true},
		{"update in flight changes nothing", []step{begin("kept", "update", "k")}, base(), false},
		{"delete in flight changes nothing", []step{begin("old", "delete", "o")}, base(), false},
		{"delete committed", []step{begin("old", "delete", "o"), commit("old", nil)},
			with2(base(), "old", nil), true},
		{"same entry committed again", []step{begin("kept", "update", "k"), commit("kept", entry("k"))}, base(), false},
		{"later commit wins", []step{commit("kept", entry("k2")), commit("kept", entry("k3"))},
			with2(base(), "kept", entry("k3")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lockPath := filepath.Join(t.TempDir(), "m.lock.json")
			j := openJournal(t, lockPath)
			for _, s := range tt.steps {
				var err error
				if s.begin {
					err = j.Begin(s.name, s.op, s.id, s.e)
				} else {
					err = j.Commit(s.name, s.e)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			f := sampleFile()
			f.Connections = base()
			changed, err := Fold(f, lockPath)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if d := cmp.Diff(tt.want, f.Connections); d != "" {
				t.Errorf("connections after Fold (-want +got):\n%s", d)
			}
			// The folded file saves and loads.
			path := lockPath
			if err := f.Save(path); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path, testTarget); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func with2(m map[string]*Entry, name string, e *Entry) map[string]*Entry {
	if e == nil {
		delete(m, name)
	} else {
		m[name] = e
	}
	return m
}

// journalBytes writes a journal of n committed entries and returns its bytes.
func journalBytes(t testing.TB, n int) []byte {
	t.Helper()
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	for i := range n {
		if err := j.Commit(fmt.Sprintf("c%d", i), entry(fmt.Sprintf("id%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(lockPath + journalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestJournalDamage(t *testing.T) {
	good := journalBytes(t, 3)
	all := bytes.SplitAfter(good, []byte("\n"))
	hdr, lines := all[0], all[1:4]
	join := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{hdr}, parts...), nil) }
	hdr2, err := appendRecord(nil, &record{Seq: 3, Type: recHeader, Target: &testTarget, Salt: testSalt})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(l []byte) []byte {
		c := bytes.Clone(l)
		i := bytes.Index(c, []byte("id1"))
		c[i+2] = '9'
		return c
	}
	tests := []struct {
		name      string
		data      []byte
		wantNames []string // entries folded in
		wantErr   string   // a *FormatError containing it
	}{
		{"whole", good, []string{"c0", "c1", "c2"}, ""},
		{"torn last line", join(lines[0], lines[1], lines[2][:len(lines[2])/2]), []string{"c0", "c1"}, ""},
		{"last line without newline", join(lines[0], lines[1], lines[2][:len(lines[2])-1]), []string{"c0", "c1"}, ""},
		{"zeros at the end", join(lines[0], make([]byte, 100)), []string{"c0"}, ""},
		{"corrupt last line", join(lines[0], flip(lines[1])), []string{"c0"}, ""},
		{"torn header", hdr[:len(hdr)/2], nil, ""},
		{"zero-filled", make([]byte, 4096), nil, "no readable record"},
		{"zero-filled, one line", append(make([]byte, 100), '\n'), nil, "no readable record"},
		{"utf-16", utf16LE(good), nil, "no readable record"},
		{"overwritten by a plan file", []byte("{\n  \"format_version\": \"1.0\",\n  \"changes\": []\n}\n"), nil, "no readable record"},
		{"overwritten, one line", []byte("hello\n"), nil, "no readable record"},
		{"header with a bad checksum", append([]byte(`{"crc":"00000000"`), hdr[len(`{"crc":"00000000"`):]...), nil, "no readable record"},
		{"corrupt middle line", join(lines[0], flip(lines[1]), lines[2]), nil, "line 3: checksum mismatch"},
		{"garbage middle line", join(lines[0], []byte("{oops\n"), lines[2]), nil, "line 3: bad record"},
		{"data after a record", join(lines[0], bytes.Replace(lines[1], []byte("}\n"), []byte("}}\n"), 1), lines[2]), nil, "line 3: bad record"},
		{"missing record", join(lines[0], lines[2]), nil, "line 3: sequence 4, want 3"},
		{"duplicated record", join(lines[0], lines[0], lines[1]), nil, "line 3: sequence 2, want 3"},
		{"no header", bytes.Join(lines, nil), nil, "line 1: sequence 2, want 1"},
		{"second header", join(lines[0], hdr2, lines[2]), nil, "line 3: a second header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lockPath := filepath.Join(t.TempDir(), "m.lock.json")
			writeFile(t, lockPath+journalSuffix, tt.data)
			f := sampleFile()
			f.Connections = map[string]*Entry{}
			_, err := Fold(f, lockPath)
			if tt.wantErr != "" {
				var fe *FormatError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) || !fe.Journal() {
					t.Fatalf("Fold = %v, want a journal's *FormatError containing %q", err, tt.wantErr)
				}
				if len(f.Connections) != 0 {
					t.Errorf("a refused journal changed the file: %v", f.Connections)
				}
				if _, err := OpenJournal(lockPath, testHeader); !errors.As(err, &fe) {
					t.Errorf("OpenJournal of a corrupt journal = %v, want *FormatError", err)
				}
				after, _ := os.ReadFile(lockPath + journalSuffix)
				if !bytes.Equal(after, tt.data) {
					t.Error("a refused journal was modified")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name := range f.Connections {
				names = append(names, name)
			}
			if d := cmp.Diff(tt.wantNames, names, sortStrings); d != "" {
				t.Errorf("folded (-want +got):\n%s", d)
			}

			// Reopening cuts the torn tail off and continues the numbering.
			j := openJournal(t, lockPath)
			if err := j.Commit("after", entry("after")); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			f.Connections = map[string]*Entry{}
			if _, err := Fold(f, lockPath); err != nil {
				t.Fatalf("Fold after reopening: %v", err)
			}
			if f.Connections["after"] == nil || len(f.Connections) != len(tt.wantNames)+1 {
				t.Errorf("after reopening, folded %v", f.Connections)
			}
		})
	}
}

// utf16LE is b re-encoded as UTF-16 with a byte-order mark, as an editor may save it.
func utf16LE(b []byte) []byte {
	out := []byte{0xff, 0xfe}
	for _, c := range string(b) {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestJournalRejects(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	if err := j.Begin("x", "replace", "", nil); err == nil {
		t.Error("Begin with an unknown op succeeded")
	}
	if err := j.Begin("", "create", "", nil); err == nil {
		t.Error("Begin with no name succeeded")
	}
	if err := j.Commit("x", &Entry{}); err == nil {
		t.Error("Commit of an entry without id or pending succeeded")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := j.Begin("x", "create", "", nil); err == nil {
		t.Error("Begin after Close succeeded")
	}
	data, _ := os.ReadFile(lockPath + journalSuffix)
	if bytes.Count(data, []byte("\n")) != 1 || !bytes.Contains(data, []byte(`"type":"header"`)) {
		t.Errorf("rejected records were written: %q", data)
	}
}

// After a failed write or fsync nothing is known about the file's tail: the journal refuses
// every later record rather than append after a possible hole.
func TestJournalFailureIsSticky(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	if err := j.Begin("a", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	j.f.Close() // make the next write fail
	if err := j.Begin("b", "create", "", nil); err == nil {
		t.Fatal("Begin on a failed file succeeded")
	}
	if err := j.Commit("a", entry("a")); err == nil || !strings.Contains(err.Error(), "file already closed") {
		t.Errorf("Commit after a failure = %v, want the first failure", err)
	}
	if err := j.Close(); err == nil {
		t.Error("Close after a failure succeeded")
	}
}

func TestJournalHoldsNoSecret(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	e := entry("x")
	e.SecretDigests["s3SessionToken"] = Digest(testSalt, "canary-session-token-4711")
	if err := j.Begin("x", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit("x", e); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, _ := os.ReadFile(lockPath + journalSuffix)
	if bytes.Contains(data, []byte("canary-session-token-4711")) || bytes.Contains(data, []byte("secret-x")) {
		t.Errorf("journal holds a secret:\n%s", data)
	}
	if fi, err := os.Stat(lockPath + journalSuffix); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode: %v %v", fi.Mode(), err)
	}
}

func BenchmarkJournal64(b *testing.B) {
	for _, workers := range []int{1, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			lockPath := filepath.Join(b.TempDir(), "m.lock.json")
			j := openJournal(b, lockPath)
			e := entry("bench")
			work := make(chan int, b.N)
			for i := range b.N {
				work <- i
			}
			close(work)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := range work {
						name := fmt.Sprintf("c%d", i)
						if err := j.Begin(name, "create", "", nil); err != nil {
							b.Error(err)
							return
						}
						if err := j.Commit(name, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(j.syncs)/float64(b.N), "fsyncs/op")
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// A Commit waits for no fsync of its own: it becomes durable with the next Begin (or Close),
// so an operation costs one fsync, and a crash before then loses only an outcome whose intent
// is durable.
func TestCommitRidesOnTheNextBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, path)
	opened := j.syncs
	if err := j.Begin("a", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit("a", &Entry{ID: "id-a", ConnectionSpec: Spec{ID: "s", Version: "1.0"}}); err != nil {
		t.Fatal(err)
	}
	if j.syncs-opened != 1 {
		t.Fatalf("%d fsyncs after Begin and Commit, want 1", j.syncs-opened)
	}
	if err := j.Begin("b", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	// Crash here: the journal on disk holds a's outcome and b's intent.
	f, err := New(testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fold(f, path); err != nil {
		t.Fatal(err)
	}
	if a, b := f.Connections["a"], f.Connections["b"]; a == nil || a.ID != "id-a" || a.Pending != "" || b == nil || b.Pending != PendingCreate {
		t.Fatalf("after the crash: a %+v, b %+v", a, b)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// An outcome reaches the journal file as soon as Commit returns, with no fsync of its own and
// no later Begin: a process killed right after a run's last creates returned (the intents of
// all of them written ahead) must not lose what they created. The fold of the file as it
// stands, without Close, sees it.
func TestCommitReachesTheFileAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, path)
	for _, name := range []string{"a", "b"} {
		if err := j.Intend(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	syncs := j.syncs
	for _, name := range []string{"a", "b"} {
		if err := j.Commit(name, &Entry{ID: "id-" + name, ConnectionSpec: Spec{ID: "s", Version: "1.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	if j.syncs != syncs {
		t.Fatalf("%d fsyncs for two Commits, want none", j.syncs-syncs)
	}
	// Killed here: what the kernel holds is what the next run folds.
	f, err := New(testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fold(f, path); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if e := f.Connections[name]; e == nil || e.ID != "id-"+name || e.Pending != "" {
			t.Errorf("after the kill: %s is %+v, want its id recorded", name, e)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// A journal is folded only into the lockfile it was written for; a new lockfile of its
// target takes its salt, so that the digests it holds still compare.
func TestJournalBelongsToItsLockfile(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	j := openJournal(t, lockPath)
	if err := j.Begin("a", "create", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit("a", entry("a")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(lockPath + journalSuffix)

	other := Target{OrgID: testTarget.OrgID, Sandbox: "dev"}
	fresh, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	var me *JournalMismatchError
	if _, err := Fold(fresh, lockPath); !errors.As(err, &me) || me.SameTarget() || !me.NoLockfile ||
		!strings.Contains(err.Error(), "sandbox prod") || !strings.Contains(err.Error(), "the manifest targets org "+testTarget.OrgID+" sandbox dev (there is no lockfile)") {
		t.Errorf("Fold into a new lockfile of another target = %v, want a *JournalMismatchError naming both, without a lockfile", err)
	}
	lockDev := sampleFile()
	lockDev.Target = other
	if _, err := Fold(lockDev, lockPath); !errors.As(err, &me) || me.NoLockfile || !strings.Contains(err.Error(), "the lockfile is for org "+testTarget.OrgID+" sandbox dev") {
		t.Errorf("Fold into a saved lockfile of another target = %v, want a *JournalMismatchError naming the lockfile's", err)
	}
	if len(fresh.Connections) != 0 {
		t.Errorf("a refused journal was folded: %v", fresh.Connections)
	}
	if _, err := OpenJournal(lockPath, HeaderOf(fresh)); !errors.As(err, &me) {
		t.Errorf("OpenJournal for another target = %v, want *JournalMismatchError", err)
	}

	saved := sampleFile()
	saved.Salt = strings.Repeat("ab", 32)
	if _, err := Fold(saved, lockPath); !errors.As(err, &me) || !me.SameTarget() || !strings.Contains(err.Error(), "abababab") {
		t.Errorf("Fold into a saved lockfile with another salt = %v, want *JournalMismatchError", err)
	}

	fresh, err = New(testTarget)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Fold(fresh, lockPath)
	if err != nil || !changed {
		t.Fatalf("Fold into a new lockfile of the target = %v, %v", changed, err)
	}
	if fresh.Salt != testSalt || fresh.Connections["a"] == nil {
		t.Errorf("new lockfile after Fold: salt %s, connections %v", fresh.Salt, fresh.Connections)
	}
	after, _ := os.ReadFile(lockPath + journalSuffix)
	if !bytes.Equal(before, after) {
		t.Error("Fold changed the journal")
	}
}

// A create begun again in a later run keeps the time of the earliest begin: the connection
// may come from the first attempt.
func TestPendingKeepsTheEarliestBegin(t *testing.T) {
	lockPath := filepath.Join(t.TempDir(), "m.lock.json")
	f := sampleFile()
	f.Connections = map[string]*Entry{}
	for i, at := range []time.Time{testNow, testNow.Add(time.Hour)} {
		j := openJournal(t, lockPath)
		j.now = func() time.Time { return at }
		if err := j.Begin("a", "create", "", &Entry{Description: fmt.Sprint("try ", i)}); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := Fold(f, lockPath); err != nil {
			t.Fatal(err)
		}
		if err := RemoveJournal(lockPath); err != nil {
			t.Fatal(err)
		}
	}
	e := f.Connections["a"]
	if e == nil || e.Pending != PendingCreate || !e.PendingAt.Equal(testNow.Truncate(time.Millisecond)) || e.Description != "try 1" {
		t.Errorf("pending entry after two runs: %+v", e)
	}
}

// FoldInto, from memory, leaves the lockfile of the run that wrote the journal as Fold does
// from the file: begun creates without a commit pending, withdrawn and committed ones not.
func TestFoldIntoMatchesFold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lock.json")
	f, err := New(Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	f.Connections["kept"] = &Entry{ID: "id-kept", ETag: `"1"`, SpecName: "Access Key", ConnectionSpec: Spec{ID: "s", Version: "1.0"}}
	j, err := OpenJournal(path, HeaderOf(f))
	if err != nil {
		t.Fatal(err)
	}
	out := f.Clone()
	intent := func(name string) *Entry {
		return &Entry{SpecName: "Access Key", ConnectionSpec: Spec{ID: "s", Version: "1.0"}, Params: map[string]string{"bucketName": name}}
	}
	commit := func(name string, e *Entry) {
		t.Helper()
		if err := j.Commit(name, e); err != nil {
			t.Fatal(err)
		}
		if e == nil {
			delete(out.Connections, name)
		} else {
			out.Connections[name] = e
		}
	}
	for _, name := range []string{"done", "lost", "withdrawn", "twice"} {
		if err := j.Intend(name, intent(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	done := intent("done")
	done.ID, done.ETag = "id-done", `"2"`
	commit("done", done)
	commit("withdrawn", nil)
	commit("twice", done)
	if err := j.Begin("twice", "create", "", intent("twice")); err != nil { // a second create of it
		t.Fatal(err)
	}
	if err := j.Begin("kept", "update", "id-kept", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	fromFile, fromMemory := out.Clone(), out.Clone()
	if _, err := Fold(fromFile, path); err != nil {
		t.Fatal(err)
	}
	if _, err := j.FoldInto(fromMemory); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromFile, fromMemory); diff != "" {
		t.Errorf("FoldInto differs from Fold (-file +memory):\n%s", diff)
	}
	for name, want := range map[string]string{"lost": PendingCreate, "twice": PendingCreate, "done": "", "kept": ""} {
		if e := fromMemory.Connections[name]; e == nil || e.Pending != want {
			t.Errorf("%s: %+v, want pending %q", name, e, want)
		}
	}
	if _, ok := fromMemory.Connections["withdrawn"]; ok {
		t.Error("a withdrawn intent left an entry")
	}
}
