package view

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// genDesired is n entries shaped like examples/onboarding.yaml: the same defaults everywhere,
// a bucket of its own each.
func genDesired(n int, description string) []reconcile.Desired {
	out := make([]reconcile.Desired, n)
	for i := range out {
		out[i] = reconcile.Desired{
			Name:        fmt.Sprintf("name-%03d", i+1),
			Description: description,
			Spec:        s3Spec,
			SpecName:    "Access Key",
			Params: map[string]reconcile.Param{
				"s3AccessKey":    {Value: "AKIAIOSFODNN7EXAMPLE", Known: true},
				"s3SecretKey":    {Value: "secret-key", Sensitive: true, Known: true},
				"s3SessionToken": {Value: "session-token", Sensitive: true, Known: true},
				"serviceUrl":     {Value: "https://s3.eu-west-1.amazonaws.com/", Known: true},
				"bucketName":     {Value: fmt.Sprintf("bucket-%03d", i+1), Known: true},
			},
		}
	}
	return out
}

// createPlan is what reconcile plans for n new entries.
func createPlan(t *testing.T, n int) *reconcile.Changeset {
	t.Helper()
	lock, err := lockfile.New(lockfile.Target{OrgID: "org@AdobeOrg", Sandbox: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	return reconcile.Plan(genDesired(n, "Managed by flowsync"), lock, nil, reconcile.Options{})
}

// defaultChangedPlan is n recorded entries whose default description changed, two of which
// also changed their bucket.
func defaultChangedPlan(n int) *reconcile.Changeset {
	cs := &reconcile.Changeset{}
	for i := range n {
		ch := reconcile.Change{
			Name: fmt.Sprintf("name-%03d", i+1), Action: reconcile.Update, Reason: reconcile.ReasonManifest,
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1),
			Fields: []reconcile.FieldChange{
				{Path: "description", Before: "Managed by flowsync", After: "Managed by the platform team"},
			},
		}
		if i == 6 || i == 41 {
			ch.Fields = append(ch.Fields, reconcile.FieldChange{Path: "auth.params.bucketName",
				Before: fmt.Sprintf("bucket-%03d", i+1), After: fmt.Sprintf("bucket-%03d-v2", i+1)})
		}
		cs.Changes = append(cs.Changes, ch)
	}
	return cs
}

func TestPlanTextScales(t *testing.T) {
	tests := []struct {
		golden   string
		cs       func(t *testing.T) *reconcile.Changeset
		maxLines int
	}{
		{"plan_create3_text", func(t *testing.T) *reconcile.Changeset { return createPlan(t, 3) }, 30},
		{"plan_create500_text", func(t *testing.T) *reconcile.Changeset { return createPlan(t, 500) }, 120},
		{"plan_update3_text", func(*testing.T) *reconcile.Changeset { return defaultChangedPlan(3) }, 30},
		{"plan_update500_text", func(*testing.T) *reconcile.Changeset { return defaultChangedPlan(500) }, 40},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := renderPlan(t, "text", false, tt.cs(t))
			if again := renderPlan(t, "text", false, tt.cs(t)); again != got {
				t.Fatal("two renderings of the same plan differ")
			}
			checkGolden(t, tt.golden, got)
			lines := strings.Count(got, "\n")
			t.Logf("%s: %d lines", tt.golden, lines)
			if lines > tt.maxLines {
				t.Errorf("%d lines, want at most %d", lines, tt.maxLines)
			}
			if !strings.HasPrefix(got, "Plan: ") {
				t.Errorf("the count line is not first:\n%s", got)
			}
			if n := strings.Count(got, "connectionSpec:"); n > 1 {
				t.Errorf("connectionSpec shown %d times, want at most once", n)
			}
		})
	}
}

// TestPlanTextGroupsIdenticalChanges: one changed default on 500 entries is one line, and
// every name is still either listed or counted.
func TestPlanTextGroupsIdenticalChanges(t *testing.T) {
	got := renderPlan(t, "text", false, defaultChangedPlan(500))
	if n := strings.Count(got, `description: "Managed by flowsync" → "Managed by the platform team"`); n != 1 {
		t.Errorf("the shared description change is shown %d times, want once:\n%s", n, got)
	}
	if !strings.Contains(got, "~ update 500 connections, each with:\n") {
		t.Errorf("no group header:\n%s", got)
	}
	// The two entries with a change of their own are shown in full.
	for _, want := range []string{
		"~ update name-007 (00000000-0000-4000-8000-000000000007)\n    auth.params.bucketName: \"bucket-007\" → \"bucket-007-v2\"\n",
		"~ update name-042 (00000000-0000-4000-8000-000000000042)\n    auth.params.bucketName: \"bucket-042\" → \"bucket-042-v2\"\n",
		"… and 4",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q:\n%s", want, got)
		}
	}
}

// TestPlanTextCreatesCounted: the first few creates are shown in full, the next ones as rows
// of a table, and past maxDetailed the others are counted, naming what each has of its own
// and where to see them all.
func TestPlanTextCreatesCounted(t *testing.T) {
	got := renderPlan(t, "text", false, createPlan(t, 500))
	if n := strings.Count(got, "+ create name-"); n != fewCreates {
		t.Errorf("%d creates shown in full, want %d", n, fewCreates)
	}
	if !strings.Contains(got, "+ create 27 more, one per line:\n    NAME      BUCKET\n    name-004  bucket-004\n") {
		t.Errorf("no table of creates:\n%s", got)
	}
	want := "… and 470 more to create, each with its own auth.params.bucketName (every change: --output json; fewer: --only GLOB)"
	if !strings.Contains(got, want) {
		t.Errorf("missing %q:\n%s", want, got)
	}
	if !strings.Contains(got, "+ create 500 connections, each with:\n") {
		t.Errorf("no group header:\n%s", got)
	}
}

// TestApplyTextScales: apply's result for 500 plain creates is its headline alone; a failure
// among them is shown in full.
func TestApplyTextScales(t *testing.T) {
	s := &reconcile.Summary{}
	for i := range 500 {
		r := reconcile.Result{Name: fmt.Sprintf("name-%03d", i+1), Action: reconcile.Create, ID: fmt.Sprintf("id-%d", i+1)}
		if i == 99 {
			r.Err = errors.New("400 bad request: auth.params.bucketName: invalid bucket name")
			s.Failed++
		}
		s.Results = append(s.Results, r)
	}
	var out strings.Builder
	v, err := NewApplyView("text", IO{Out: &out, Err: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	v.Started(len(s.Results))
	v.Done(s, RunStats{Requests: 1, Duration: time.Second})
	checkGolden(t, "apply_create500_text", out.String())
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want 2 (the failure and the headline):\n%s", n, out.String())
	}
}
