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

	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
)

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
	for _, format := range view.PlanFormats() {
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

// An apply --plan that refused stale changes exits as an apply with failures.
func TestStaleErrExit(t *testing.T) {
	s := &reconcile.Summary{Stale: 2, Results: make([]reconcile.Result, 3)}
	err := staleErr(s)
	var se *staleError
	if !errors.As(err, &se) || exitCode(err) != ExitApplyFailed {
		t.Errorf("staleErr = %v (exit %d), want a *staleError exiting %d", err, exitCode(err), ExitApplyFailed)
	}
}
