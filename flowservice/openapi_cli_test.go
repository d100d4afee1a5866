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

// TestOpenAPIConformanceCheck runs the real `flowsync check` command (cli.Main, as the binary
// does) against the emulator and validates every request it sends against Adobe's spec, like
// TestOpenAPIConformance does for the client's other calls: the preflight's list page and
// connection spec, and a connection test per recorded connection.
func TestOpenAPIConformanceCheck(t *testing.T) {
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
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"check", "-f", manifestPath}, cli.IO{
		In: strings.NewReader(""), Out: &stdout, Err: &stderr,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if code != 0 {
		t.Fatalf("check exited %d:\n%s%s", code, stdout.String(), stderr.String())
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
			t.Errorf("check sent %s: it must only read", r)
		}
	}
	t.Logf("validated %d requests of check against the spec: %v", len(all), ops)
	want := map[string]int{"listConnections": 1, "retrieveConnectionSpec": 1, "testConnection": 3}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%s: %d requests, want %d", op, ops[op], n)
		}
	}
	if len(all) != 5 {
		t.Errorf("check sent %d requests, want 5", len(all))
	}
}
