package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/s3source"
)

const salt = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

var s3 = s3source.ConnectionSpec()

func want(name, desc, bucket, token string) Desired {
	return Desired{
		Name: name, Description: desc, Spec: s3, SpecName: "Access Key",
		Params: map[string]Param{
			"s3AccessKey":    {Value: "AKIAEXAMPLEEXAMPLE00", Known: true},
			"s3SecretKey":    {Value: "secret-" + name, Sensitive: true, Known: true},
			"s3SessionToken": {Value: token, Sensitive: true, Known: true},
			"bucketName":     {Value: bucket, Known: true},
		},
	}
}

// applied is the lockfile entry of d applied as id at etag.
func applied(d Desired, id, etag string) *lockfile.Entry {
	e := &lockfile.Entry{ID: id, ETag: etag, Description: d.Description, SpecName: d.SpecName,
		ConnectionSpec: d.Spec,
		Params:         map[string]string{}, SecretDigests: map[string]string{},
		CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC()}
	for k, p := range d.Params {
		if p.Sensitive {
			e.SecretDigests[k] = lockfile.Digest(salt, p.Value)
		} else {
			e.Params[k] = p.Value
		}
	}
	return e
}

func lockOf(entries map[string]*lockfile.Entry) *lockfile.File {
	return &lockfile.File{Version: 1, Salt: salt, Connections: entries}
}

// live is how the service shows d applied as id at etag: secrets masked.
func live(d Desired, id, etag string) flowapi.Connection {
	c := flowapi.Connection{ID: id, Name: d.Name, Description: d.Description, ConnectionSpec: d.Spec, ETag: etag,
		Auth: flowapi.Auth{SpecName: d.SpecName, Params: map[string]string{}}}
	for k, p := range d.Params {
		c.Auth.Params[k] = p.Value
		if s3source.Secret(k) {
			c.Auth.Params[k] = "<redacted>"
		}
	}
	return c
}

func withoutSecrets(c flowapi.Connection) flowapi.Connection {
	params := map[string]string{}
	for k, v := range c.Auth.Params {
		if !s3source.Secret(k) {
			params[k] = v
		}
	}
	c.Auth.Params = params
	return c
}

type row struct {
	Name   string
	Action Action
	Reason Reason
	Fields []FieldChange
}

func rows(cs *Changeset) []row {
	var out []row
	for _, c := range cs.Changes {
		out = append(out, row{c.Name, c.Action, c.Reason, c.Fields})
	}
	return out
}

func TestPlan(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	b := want("b", "B", "bucket-b", "tok1")
	a2 := a
	a2.Description = "A changed"
	aTok := want("a", "A", "bucket-a", "tok2")
	aIAM := a
	aIAM.SpecName = "IAMRole Based"
	aIAM.Params = map[string]Param{"bucketName": {Value: "bucket-a", Known: true}}
	aNoSecrets := a
	aNoSecrets.Params = map[string]Param{}
	for k, p := range a.Params {
		if p.Sensitive {
			p = Param{Sensitive: true}
		}
		aNoSecrets.Params[k] = p
	}
	aBucket := want("a", "A", "bucket-a2", "tok1")

	drifted := live(a, "id-a", `"e2"`)
	drifted.Description = "edited in the UI"
	hidden := live(a, "id-a", `"e2"`)

	tests := []struct {
		name     string
		desired  []Desired
		lock     map[string]*lockfile.Entry
		observed *Observed
		opts     Options
		want     []row
	}{
		{
			name:    "new entries are created, sorted by name",
			desired: []Desired{b, a},
			want: []row{
				{"a", Create, ReasonManifest, createFields(&a)},
				{"b", Create, ReasonManifest, createFields(&b)},
			},
		},
		{
			name:    "applied and unchanged is a no-op",
			desired: []Desired{a},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want:    []row{{"a", NoOp, ReasonManifest, nil}},
		},
		{
			name:    "description change",
			desired: []Desired{a2},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want:    []row{{"a", Update, ReasonManifest, []FieldChange{{Path: "description", Before: "A", After: "A changed"}}}},
		},
		{
			name:    "rotated session token shows as a sensitive change only",
			desired: []Desired{aTok},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want:    []row{{"a", Update, ReasonManifest, []FieldChange{{Path: "auth.params.s3SessionToken", Sensitive: true}}}},
		},
		{
			name:    "no-secrets hides secret changes",
			desired: []Desired{aNoSecrets},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			opts:    Options{NoSecrets: true},
			want:    []row{{"a", NoOp, ReasonManifest, nil}},
		},
		{
			name:    "bucket change",
			desired: []Desired{aBucket},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want:    []row{{"a", Update, ReasonManifest, []FieldChange{{Path: "auth.params.bucketName", Before: "bucket-a", After: "bucket-a2"}}}},
		},
		{
			name:    "specName change is a replace",
			desired: []Desired{aIAM},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want: []row{{"a", Replace, ReasonManifest, []FieldChange{
				{Path: "auth.specName", Before: "Access Key", After: "IAMRole Based"},
				{Path: "auth.params.s3AccessKey", Before: "AKIAEXAMPLEEXAMPLE00", Removed: true},
				{Path: "auth.params.s3SecretKey", Sensitive: true, Removed: true},
				{Path: "auth.params.s3SessionToken", Sensitive: true, Removed: true},
			}}},
		},
		{
			name:    "orphans are kept without prune",
			desired: []Desired{},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			want:    []row{{"a", Orphan, ReasonOrphan, nil}},
		},
		{
			name:    "orphans are deleted with prune",
			desired: []Desired{},
			lock:    map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			opts:    Options{Prune: true},
			want:    []row{{"a", Delete, ReasonOrphan, nil}},
		},
		{
			name:    "only selects by glob",
			desired: []Desired{a, b},
			opts:    Options{Only: []string{"b*"}},
			want:    []row{{"b", Create, ReasonManifest, createFields(&b)}},
		},
		{
			name:     "refresh: deleted out of band is created again",
			desired:  []Desired{a},
			lock:     map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			observed: &Observed{},
			want:     []row{{"a", Create, ReasonMissing, createFields(&a)}},
		},
		{
			name:     "refresh: edited out of band is drift",
			desired:  []Desired{a},
			lock:     map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			observed: &Observed{Connections: []flowapi.Connection{drifted}},
			want:     []row{{"a", Update, ReasonDrift, []FieldChange{{Path: "description", Before: "edited in the UI", After: "A", Drift: true}}}},
		},
		{
			// No field is blamed: which hidden value changed is not known (TestHiddenChange).
			name:     "refresh: etag moved with nothing visible resends secrets",
			desired:  []Desired{a},
			lock:     map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			observed: &Observed{Connections: []flowapi.Connection{hidden}},
			want:     []row{{"a", Update, ReasonDrift, nil}},
		},
		{
			name:     "refresh: unchanged live state is a no-op",
			desired:  []Desired{a},
			lock:     map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			observed: &Observed{Connections: []flowapi.Connection{live(a, "id-a", `"e1"`)}},
			want:     []row{{"a", NoOp, ReasonManifest, nil}},
		},
		{
			name:     "refresh: a service that leaves secrets out of GET is not drift",
			desired:  []Desired{a},
			lock:     map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)},
			observed: &Observed{Connections: []flowapi.Connection{withoutSecrets(live(a, "id-a", `"e1"`))}},
			want:     []row{{"a", NoOp, ReasonManifest, nil}},
		},
		{
			name:    "pending create heals",
			desired: []Desired{a},
			lock:    map[string]*lockfile.Entry{"a": {Pending: lockfile.PendingCreate}},
			want:    []row{{"a", Create, ReasonMissing, createFields(&a)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := 0; round < 2; round++ { // twice: the plan is deterministic
				cs := Plan(tt.desired, lockOf(tt.lock), tt.observed, tt.opts)
				if diff := cmp.Diff(tt.want, rows(cs), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("round %d: plan (-want +got):\n%s", round, diff)
				}
			}
		})
	}
}

func TestPlanUnmanaged(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	// A namesake beside the connection flowsync records under the name: reported, untouched.
	lock := lockOf(map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`)})
	obs := &Observed{Connections: []flowapi.Connection{live(a, "id-a", `"e1"`), live(a, "someone-elses", `"x"`)}}
	cs := Plan([]Desired{a}, lock, obs, Options{})
	if diff := cmp.Diff([]Unmanaged{{Name: "a", IDs: []string{"someone-elses"}, Reasons: map[string]string{"someone-elses": "not in the lockfile"}, Recorded: "id-a"}}, cs.Unmanaged); diff != "" {
		t.Fatalf("unmanaged (-want +got):\n%s", diff)
	}
}

// A create of a name that is live but recorded under no entry is a name conflict: nothing is
// created, whatever made the lockfile forget it (lost, second lockfile, cancelled job).
func TestPlanNameConflict(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	b := want("b", "B", "bucket-b", "tok1")
	namesake := live(a, "someone-elses", `"x"`)
	namesake.CreatedClient, namesake.CreatedAt = "k1", 1700000000000
	obs := &Observed{Connections: []flowapi.Connection{namesake}}
	for _, tt := range []struct {
		name string
		lock map[string]*lockfile.Entry
	}{
		{"no entry", nil},
		{"pending create the rule does not prove", map[string]*lockfile.Entry{"a": {Pending: lockfile.PendingCreate}}},
		{"deleted outside flowsync", map[string]*lockfile.Entry{"a": applied(a, "gone", `"e"`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := Plan([]Desired{a, b}, lockOf(tt.lock), obs, Options{APIKey: "k2"})
			got := cs.Changes[0]
			if got.Action != Conflict || len(got.Conflicts) != 1 || got.Conflicts[0].ID != "someone-elses" || got.Conflicts[0].Client != "k1" || got.Conflicts[0].CreatedAt != 1700000000000 || got.Conflicts[0].Why == "" {
				t.Fatalf("a: %+v, want a conflict with someone-elses", got)
			}
			if cs.Changes[1].Action != Create || len(cs.Unmanaged) != 0 || !cs.HasChanges() {
				t.Fatalf("b: %+v, unmanaged %+v", cs.Changes[1], cs.Unmanaged)
			}
			if reqs, err := Requests(&got); err != nil || len(reqs) != 0 {
				t.Fatalf("a conflict sends %v (%v)", reqs, err)
			}
		})
	}
	// Offline, names are not checked.
	if cs := Plan([]Desired{a}, lockOf(nil), nil, Options{}); cs.Changes[0].Action != Create {
		t.Fatalf("offline: %+v", cs.Changes[0])
	}
}

// Deletes and replaces planned against the live state say who created the connection.
func TestPlanOwnerOnDeleteAndReplace(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	b := want("b", "B", "bucket-b", "tok1")
	bIAM := b
	bIAM.SpecName = "IAMRole Based"
	la, lb := live(a, "id-a", `"e1"`), live(b, "id-b", `"e2"`)
	la.CreatedClient, la.CreatedAt = "k1", 1
	lb.CreatedClient, lb.CreatedAt = "k2", 2
	lock := lockOf(map[string]*lockfile.Entry{"a": applied(a, "id-a", `"e1"`), "b": applied(b, "id-b", `"e2"`)})
	cs := Plan([]Desired{bIAM}, lock, &Observed{Connections: []flowapi.Connection{la, lb}}, Options{Prune: true})
	if ch := cs.Changes[0]; ch.Action != Delete || ch.Owner == nil || *ch.Owner != (Owner{ID: "id-a", Client: "k1", CreatedAt: 1}) {
		t.Errorf("delete: %+v", ch)
	}
	if ch := cs.Changes[1]; ch.Action != Replace || ch.Owner == nil || *ch.Owner != (Owner{ID: "id-b", Client: "k2", CreatedAt: 2}) {
		t.Errorf("replace: %+v", ch)
	}
	if got := (Owner{ID: "x", Client: "k", CreatedAt: 1700000000000}).Created(); got != "created by API key k at 2023-11-14T22:13:20Z" {
		t.Errorf("Created() = %q", got)
	}
}

func TestPatchOps(t *testing.T) {
	a := want("a", "A", "bucket-a", "tok1")
	prior := applied(a, "id-a", `"e1"`)
	aTok := want("a", "A", "bucket-a", "tok2")
	ops, err := patchOps(&aTok, prior, []FieldChange{{Path: "auth.params.s3SessionToken", Sensitive: true}}, false)
	if err != nil {
		t.Fatal(err)
	}
	wantOps := []flowapi.PatchOp{{Op: "replace", Path: "/auth/params/s3SessionToken", Value: jsonString("tok2")}}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Fatalf("token rotation (-want +got):\n%s", diff)
	}
	ops, err = patchOps(&a, prior, []FieldChange{{Path: "description"}, {Path: "auth.params.bucketName"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Path != "/description" || ops[1].Path != "/auth/params" {
		t.Fatalf("description + bucket: got %+v", ops)
	}

	// Only secrets change: each at its own path, replace where one was set, add where not.
	noToken := prior.Clone()
	delete(noToken.SecretDigests, "s3SessionToken")
	ops, err = patchOps(&aTok, noToken, []FieldChange{{Path: "auth.params.s3SessionToken", Sensitive: true}, {Path: "auth.params.s3SecretKey", Sensitive: true}}, false)
	if err != nil {
		t.Fatal(err)
	}
	wantOps = []flowapi.PatchOp{
		{Op: "replace", Path: "/auth/params/s3SecretKey", Value: jsonString("secret-a")},
		{Op: "add", Path: "/auth/params/s3SessionToken", Value: jsonString("tok2")},
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Fatalf("secrets only (-want +got):\n%s", diff)
	}
	// A secret with a plain param: the whole params, since the service replaces them all.
	ops, err = patchOps(&aTok, prior, []FieldChange{{Path: "auth.params.s3SecretKey", Sensitive: true}, {Path: "auth.params.bucketName"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Path != "/auth/params" {
		t.Fatalf("secret + bucket: got %+v", ops)
	}
	// A resend (etag moved with nothing visible) sends the whole params even when only
	// secrets are named.
	ops, err = patchOps(&aTok, prior, []FieldChange{{Path: "auth.params.s3SecretKey", Sensitive: true}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Path != "/auth/params" {
		t.Fatalf("resend: got %+v", ops)
	}
	// A secret removed is not "only secrets set".
	noSecret := aTok
	noSecret.Params = map[string]Param{"s3AccessKey": aTok.Params["s3AccessKey"], "s3SessionToken": aTok.Params["s3SessionToken"], "bucketName": aTok.Params["bucketName"]}
	ops, err = patchOps(&noSecret, prior, []FieldChange{{Path: "auth.params.s3SecretKey", Sensitive: true}, {Path: "auth.params.s3SessionToken", Sensitive: true}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Path != "/auth/params" {
		t.Fatalf("secret removed: got %+v", ops)
	}
}
