package view

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/workspace"
)

func staleSummary() *reconcile.Summary {
	moved := &reconcile.StaleError{Moved: `etag moved: planned against "e1", the lockfile now records "e2"`}
	return workspace.WithStale(&reconcile.Summary{
		Results: []reconcile.Result{
			{Name: "acme-eu", Action: reconcile.Update, ID: "id-eu"},
			{Name: "acme-us", Action: reconcile.Update, ID: "id-us",
				Err: &reconcile.StaleError{Moved: `the connection was changed outside flowsync since the plan (412 Precondition Failed for If-Match "e3")`}},
		},
		Stale: 1,
	}, []reconcile.Result{{Name: "acme-jp", Action: reconcile.Update, ID: "id-jp", Err: moved}})
}

func TestApplyViewsShowStale(t *testing.T) {
	s := staleSummary()
	if got := []string{s.Results[0].Name, s.Results[1].Name, s.Results[2].Name}; !cmp.Equal(got, []string{"acme-eu", "acme-jp", "acme-us"}) {
		t.Errorf("results not in plan order: %v", got)
	}
	if s.Stale != 2 || s.Failed != 0 {
		t.Errorf("stale %d failed %d, want 2 and 0", s.Stale, s.Failed)
	}

	var out bytes.Buffer
	v, _ := NewApplyView("text", IO{Out: &out, Err: &bytes.Buffer{}})
	v.Done(s, RunStats{Requests: 2})
	for _, want := range []string{
		`  ! acme-jp: update stale, not applied: etag moved: planned against "e1", the lockfile now records "e2"` + "\n",
		`  ! acme-us: update stale, not applied: the connection was changed outside flowsync since the plan`,
		"Apply finished with stale changes: 0 created, 1 updated, 0 replaced, 0 deleted, 0 failed, 2 stale (not applied)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text result lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	v, _ = NewApplyView("json", IO{Out: &out, Err: &bytes.Buffer{}})
	v.Done(s, RunStats{Requests: 2})
	validateJSON(t, compileSchema(t, "#/$defs/apply"), out.String())
	var doc struct {
		Results []struct{ Name, Status, Error string } `json:"results"`
		Summary map[string]int                         `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Results[1].Status != "stale" || !strings.Contains(doc.Results[1].Error, "etag moved") {
		t.Errorf("acme-jp: %+v, want status stale saying what moved", doc.Results[1])
	}
	if doc.Summary["stale"] != 2 || doc.Summary["failed"] != 0 || doc.Summary["updated"] != 1 {
		t.Errorf("summary %v", doc.Summary)
	}

}
