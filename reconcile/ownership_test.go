package reconcile

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
)

// Each test of the ownership rule, alone, keeps a connection from being adopted.
func TestOwnershipRule(t *testing.T) {
	d := want("a", "A", "bucket-a", "tok1")
	since := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ours := func() *flowapi.Connection {
		c := live(d, "id-a", `"e"`)
		c.CreatedAt = since.Add(time.Second).UnixMilli()
		c.CreatedClient = "our-key"
		return &c
	}
	tests := []struct {
		name     string
		edit     func(c *flowapi.Connection)
		recorded bool
		apiKey   string
		since    time.Time
		want     string // "" adopts
	}{
		{name: "everything matches", want: ""},
		{name: "created within the slack before the begin", edit: func(c *flowapi.Connection) {
			c.CreatedAt = since.Add(-lockfile.AdoptionSlack).UnixMilli()
		}},
		{name: "no createdClient reported", edit: func(c *flowapi.Connection) { c.CreatedClient = "" }},
		{name: "api key unknown", apiKey: "-", edit: func(c *flowapi.Connection) { c.CreatedClient = "anyone" }},
		{name: "recorded under another name", recorded: true, want: "recorded under another name"},
		{name: "another name", edit: func(c *flowapi.Connection) { c.Name = "b" }, want: "another name"},
		{name: "another spec version", edit: func(c *flowapi.Connection) { c.ConnectionSpec.Version = "2.0" }, want: "another connection spec"},
		{name: "created too early", edit: func(c *flowapi.Connection) {
			c.CreatedAt = since.Add(-lockfile.AdoptionSlack - time.Millisecond).UnixMilli()
		}, want: "created before flowsync's create (at 2026-06-01T11:54:59Z)"},
		{name: "no createdAt", edit: func(c *flowapi.Connection) { c.CreatedAt = 0 }, want: "the service does not say when it was created"},
		{name: "begin time unknown", since: time.Time{}, want: "the time of the interrupted create is not known"},
		{name: "another API key", edit: func(c *flowapi.Connection) { c.CreatedClient = "colleague" }, want: "created by another API key"},
		{name: "another specName", edit: func(c *flowapi.Connection) { c.Auth.SpecName = "IAMRole Based" }, want: "another auth specName"},
		{name: "another description", edit: func(c *flowapi.Connection) { c.Description = "theirs" }, want: "another description"},
		{name: "another bucket", edit: func(c *flowapi.Connection) { c.Auth.Params["bucketName"] = "other" }, want: "another auth.params.bucketName"},
		{name: "another access key", edit: func(c *flowapi.Connection) { c.Auth.Params["s3AccessKey"] = "AKIAOTHER" }, want: "another auth.params.s3AccessKey"},
		{name: "a param the create did not set", edit: func(c *flowapi.Connection) { c.Auth.Params["folderPath"] = "x" }, want: "auth.params.folderPath is set"},
		{name: "a param the create set is missing", edit: func(c *flowapi.Connection) { delete(c.Auth.Params, "bucketName") }, want: "auth.params.bucketName is not set"},
		{name: "secrets are never compared", edit: func(c *flowapi.Connection) { c.Auth.Params["s3SecretKey"] = "whatever" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ours()
			if tt.edit != nil {
				tt.edit(c)
			}
			key := "our-key"
			if tt.apiKey == "-" {
				key = ""
			}
			at := since
			if tt.name == "begin time unknown" {
				at = tt.since
			}
			recorded := map[string]bool{}
			if tt.recorded {
				recorded[c.ID] = true
			}
			if got := claimOfDesired(&d, at, key, salt).refuse(c, recorded); got != tt.want {
				t.Errorf("refuse = %q, want %q", got, tt.want)
			}
		})
	}
}

// A pending entry's claim compares a param the manifest took from a reference (recorded as a
// digest) with the live value through the digest.
func TestOwnershipRuleOfAPendingEntry(t *testing.T) {
	d := want("a", "A", "bucket-a", "tok1")
	d.Params["s3AccessKey"] = Param{Value: "AKIAFROMENV", Sensitive: true, Known: true}
	e := applied(d, "", "")
	e.Pending, e.PendingAt = lockfile.PendingCreate, time.Unix(1000, 0)
	c := live(d, "id-a", `"e"`)
	c.CreatedAt = time.Unix(1001, 0).UnixMilli()
	cl := claimOfEntry("a", e, "", salt)
	if why := cl.refuse(&c, nil); why != "" {
		t.Fatalf("own connection refused: %s", why)
	}
	c.Auth.Params["s3AccessKey"] = "AKIASOMEONEELSE"
	if why := cl.refuse(&c, nil); why != "another auth.params.s3AccessKey" {
		t.Fatalf("refuse = %q", why)
	}
}

// A pending orphan planned against the live state deletes the one connection its create made
// (named in the plan), and reports a colleague's namesake as unmanaged.
func TestPlanResolvesAPendingOrphan(t *testing.T) {
	d := want("gone", "G", "bucket-g", "tok1")
	e := applied(d, "", "")
	e.Pending, e.PendingAt = lockfile.PendingCreate, time.Unix(1000, 0)
	mine := live(d, "mine", `"m"`)
	mine.CreatedAt, mine.CreatedClient = time.Unix(1001, 0).UnixMilli(), "k"
	theirs := live(d, "theirs", `"t"`)
	theirs.CreatedAt, theirs.CreatedClient = time.Unix(1002, 0).UnixMilli(), "colleague"
	lock := lockOf(map[string]*lockfile.Entry{"gone": e})

	cs := Plan(nil, lock, &Observed{Connections: []flowapi.Connection{theirs, mine}}, Options{Prune: true, APIKey: "k"})
	ch := cs.Changes[0]
	if ch.Action != Delete || ch.ID != "mine" || ch.Resolved != "mine" {
		t.Fatalf("change %+v, want delete of mine", ch)
	}
	want := []Unmanaged{{Name: "gone", IDs: []string{"theirs"}, Reasons: map[string]string{"theirs": "created by another API key"}, Orphan: true}}
	if diff := cmp.Diff(want, cs.Unmanaged); diff != "" {
		t.Errorf("unmanaged (-want +got):\n%s", diff)
	}

	// Only theirs: nothing to delete, the record is dropped.
	cs = Plan(nil, lock, &Observed{Connections: []flowapi.Connection{theirs}}, Options{Prune: true, APIKey: "k"})
	if ch := cs.Changes[0]; ch.Action != Delete || ch.ID != "" || ch.Resolved != "" {
		t.Fatalf("change %+v, want a delete of nothing", ch)
	}
	// Two of ours: ambiguous, kept.
	mine2 := mine
	mine2.ID = "mine2"
	cs = Plan(nil, lock, &Observed{Connections: []flowapi.Connection{mine, mine2}}, Options{Prune: true, APIKey: "k"})
	if ch := cs.Changes[0]; ch.Action != Orphan || ch.ID != "" {
		t.Fatalf("change %+v, want kept", ch)
	}
}

// An etag that moved with nothing visible blames no field; a real visible change does.
func TestHiddenChange(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	lock := lockOf(map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)})
	hidden := live(a, "id-a", `"e2"`)
	cs := Plan([]Desired{a}, lock, &Observed{Connections: []flowapi.Connection{hidden}}, Options{})
	ch := cs.Changes[0]
	if ch.Action != Update || !ch.Resend || len(ch.Fields) != 0 || len(ch.Notes) != 1 || ch.Notes[0] != HiddenChangeNote {
		t.Fatalf("change %+v, want one note and a resend", ch)
	}
	ops, err := patchOps(&a, lock.Connections["a"], ch.Fields, ch.Resend)
	if err != nil || len(ops) != 1 || ops[0].Path != "/auth/params" {
		t.Fatalf("resend ops %+v, %v: want the whole /auth/params", ops, err)
	}

	renamed := live(a, "id-a", `"e2"`)
	renamed.Name = "someone-renamed-it"
	cs = Plan([]Desired{a}, lock, &Observed{Connections: []flowapi.Connection{renamed}}, Options{})
	ch = cs.Changes[0]
	wantFields := []FieldChange{{Path: "name", Before: "someone-renamed-it", After: "a", Drift: true}}
	if diff := cmp.Diff(wantFields, ch.Fields); diff != "" || ch.Resend {
		t.Fatalf("rename (-want +got):\n%s (resend %v)", diff, ch.Resend)
	}
	ops, _ = patchOps(&a, lock.Connections["a"], ch.Fields, false)
	if len(ops) != 1 || ops[0].Path != "/name" || string(ops[0].Value) != `"a"` {
		t.Fatalf("rename ops %+v", ops)
	}
}

// import refuses a name recorded with another id unless forced, and an id recorded under
// another name always.
func TestImport(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	b := want("b", "B", "bucket-b", "tok1")
	lock := lockOf(map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e"`)})
	other := live(a, "id-other", `"o"`)
	var conflict *ImportConflictError
	if _, err := Import(lock, &a, &other, false); !errors.As(err, &conflict) || conflict.Recorded != "id-a" || conflict.ID != "id-other" {
		t.Fatalf("import over a recorded id = %v", err)
	}
	if lock.Connections["a"].ID != "id-a" {
		t.Fatal("a refused import changed the lockfile")
	}
	replaced, err := Import(lock, &a, &other, true)
	if err != nil || replaced != "id-a" || lock.Connections["a"].ID != "id-other" {
		t.Fatalf("forced import: %q, %v, %+v", replaced, err, lock.Connections["a"])
	}
	var elsewhere *RecordedElsewhereError
	if _, err := Import(lock, &b, &other, true); !errors.As(err, &elsewhere) {
		t.Fatalf("import of an id recorded as a: %v", err)
	}
	// Recorded fields: secrets as digests only, the secret params not at all.
	e := lock.Connections["a"]
	if _, ok := e.SecretDigests["s3SecretKey"]; ok || e.Params["bucketName"] != "bucket-a" {
		t.Errorf("imported entry %+v", e)
	}
}

// A recorded etag that was never known (the service's answer carried none) proves nothing
// moved: no hidden-change note, no resend, no drift.
func TestUnknownRecordedETagIsNoDrift(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	lock := lockOf(map[string]*lockfile.Entry{"a": applied(a, "id-a", "")})
	cs := Plan([]Desired{a}, lock, &Observed{Connections: []flowapi.Connection{live(a, "id-a", `"e1"`)}}, Options{})
	if ch := cs.Changes[0]; ch.Action != NoOp || ch.Resend || len(ch.Notes) != 0 || ch.Reason == ReasonDrift {
		t.Fatalf("change %+v, want no change", ch)
	}
}
