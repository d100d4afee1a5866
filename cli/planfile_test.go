package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/planfile"
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

	err := staleErr(s)
	var se *staleError
	if !errors.As(err, &se) || exitCode(err) != ExitApplyFailed {
		t.Errorf("staleErr = %v (exit %d), want a *staleError exiting %d", err, exitCode(err), ExitApplyFailed)
	}
}

// TestPlanOutShowsTheFileSHA runs plan --out with each output and checks that the SHA-256 it
// shows is the file's, and that with a lockfile the same inputs give the same file.
func TestPlanOutShowsTheFileSHA(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(manifest, []byte(`version: 1
target: {orgId: 5C1328435BF324E90A49402A@AdobeOrg, sandbox: prod}
connections:
  - name: acme-eu
    auth:
      specName: Access Key
      params: {bucketName: acme-eu, s3AccessKey: AKIAIOSFODNN7EXAMPLE, s3SecretKey: {env: S3_SECRET_KEY}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "S3_SECRET_KEY" {
			return "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY00", true
		}
		return "", false
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut, Env: env}); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	sha := regexp.MustCompile(`SHA-256 ` + "`?" + `([0-9a-f]{64})`)
	for _, format := range PlanFormats() {
		path := filepath.Join(dir, format+".plan.json")
		stdout, stderr := run("plan", "-f", manifest, "--out", path, "-o", format)
		m := sha.FindStringSubmatch(stdout + stderr)
		if m == nil {
			t.Fatalf("%s: no SHA-256 shown:\n%s%s", format, stdout, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != planfile.SHA256(data) {
			t.Errorf("%s: shows SHA-256 %s, the file's is %s", format, m[1], planfile.SHA256(data))
		}
		if format == "json" && !json.Valid([]byte(stdout)) {
			t.Errorf("plan -o json --out: stdout is not one JSON document:\n%s", stdout)
		}
	}

	// With a lockfile, the plan file is deterministic.
	lock := filepath.Join(dir, "m.lock.json")
	if err := os.WriteFile(lock, []byte(`{"version": 1, "serial": 3, "target": {"orgId": "5C1328435BF324E90A49402A@AdobeOrg", "sandbox": "prod"},
  "salt": "`+strings.Repeat("0a", 32)+`", "connections": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	run("plan", "-f", manifest, "--out", a)
	run("plan", "-f", manifest, "--out", b)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("the same manifest and lockfile gave different plan files")
	}
	if !bytes.Contains(da, []byte(`"serial": 3`)) || !bytes.Contains(da, []byte(strings.Repeat("0a", 32))) {
		t.Errorf("the plan file does not record the lockfile's serial and salt:\n%s", da)
	}
}
