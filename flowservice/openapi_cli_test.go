package flowservice_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/cli"
	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// TestOpenAPIConformanceCheckGenerate runs the real `flowsync check` and `flowsync generate`
// commands (cli.Main, as the binary does) against the emulator and validates every request
// they send against Adobe's spec, like TestOpenAPIConformance does for the client's other
// calls: check's preflight list page and connection spec, a connection test per recorded
// connection and the list that says who created each (issue 17); generate's connection spec
// and list pages.
func TestOpenAPIConformanceCheckGenerate(t *testing.T) {
	doc, router := loadSpec(t)
	var mu sync.Mutex
	var reqs []captured
	emu, err := emulator.Start(emulator.Options{
		Seed: 1,
		OnRequest: func(r *http.Request, body []byte) {
			c := captured{Method: r.Method, URL: *r.URL, Header: r.Header.Clone(), Body: bytes.Clone(body)}
			mu.Lock()
			reqs = append(reqs, c)
			mu.Unlock()
		},
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	client, err := flowservice.New(flowservice.Config{
		Endpoint: emu.Endpoint, OrgID: oaOrg, Sandbox: oaSandbox, APIKey: oaAPIKey,
		Tokens: flowservice.StaticToken(oaToken),
	})
	if err != nil {
		t.Fatal(err)
	}

	// Three recorded connections, applied through the client.
	dir := t.TempDir()
	manifestPath := filepath.Join(dir, "m.yaml")
	lockPath := lockfile.DefaultPath(manifestPath)
	lock, err := lockfile.New(lockfile.Target{OrgID: oaOrg, Sandbox: oaSandbox})
	if err != nil {
		t.Fatal(err)
	}
	applyOnce(t, client, []reconcile.Desired{
		accessKey("ak-1", "one", "session-token-1"), accessKey("ak-2", "two", ""), iamRole("iam-1", ""),
	}, lock, lockPath, nil, false)
	manifest := `version: 1
target: {orgId: "` + oaOrg + `", sandbox: ` + oaSandbox + `}
connections:
  - name: ak-1
    description: one
    auth: {specName: Access Key, params: {s3AccessKey: ASIAIOSFODNN7EXAMPLE, s3SecretKey: {env: K}, s3SessionToken: {env: T}, serviceUrl: "https://s3.eu-west-1.amazonaws.com/", bucketName: ak-1, folderPath: exports/daily}}
  - name: ak-2
    description: two
    auth: {specName: Access Key, params: {s3AccessKey: ASIAIOSFODNN7EXAMPLE, s3SecretKey: {env: K}, serviceUrl: "https://s3.eu-west-1.amazonaws.com/", bucketName: ak-2, folderPath: exports/daily}}
  - name: iam-1
    auth: {specName: IAMRole Based, params: {bucketName: iam-1}}
`
	if err := os.WriteFile(manifestPath, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	reqs = nil // only what check sends
	mu.Unlock()

	env := map[string]string{"FLOWSYNC_ENDPOINT": emu.Endpoint, "FLOWSYNC_ACCESS_TOKEN": oaToken, "FLOWSYNC_API_KEY": oaAPIKey}
	// run runs one flowsync command and validates every request it sent against the spec.
	run := func(want map[string]int, args ...string) {
		t.Helper()
		mu.Lock()
		reqs = nil
		mu.Unlock()
		var stdout, stderr bytes.Buffer
		code := cli.Main(context.Background(), args, cli.IO{
			In: strings.NewReader(""), Out: &stdout, Err: &stderr,
			Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		})
		if code != 0 {
			t.Fatalf("%s exited %d:\n%s%s", args[0], code, stdout.String(), stderr.String())
		}
		mu.Lock()
		all := append([]captured(nil), reqs...)
		mu.Unlock()
		ops := map[string]int{}
		for _, r := range all {
			var pr problems
			checkAPIFacts(&pr, r)
			ops[validateAgainstSpec(&pr, doc, router, r)]++
			for _, p := range pr {
				t.Error(p)
			}
			if r.Method != http.MethodGet {
				t.Errorf("%s sent %s: it must only read", args[0], r)
			}
		}
		t.Logf("validated %d requests of %s against the spec: %v", len(all), args[0], ops)
		n := 0
		for op, w := range want {
			n += w
			if ops[op] != w {
				t.Errorf("%s: %s: %d requests, want %d", args[0], op, ops[op], w)
			}
		}
		if len(all) != n {
			t.Errorf("%s sent %d requests, want %d", args[0], len(all), n)
		}
	}

	run(map[string]int{"listConnections": 2, "retrieveConnectionSpec": 1, "testConnection": 3}, "check", "-f", manifestPath)
	run(map[string]int{"listConnections": 1, "retrieveConnectionSpec": 1}, "generate", "--org", oaOrg, "--sandbox", oaSandbox, "-o", filepath.Join(dir, "generated.yaml"))
	if _, err := os.Stat(filepath.Join(dir, "generated.lock.json")); err != nil {
		t.Errorf("generate wrote no lockfile: %v", err)
	}
}
