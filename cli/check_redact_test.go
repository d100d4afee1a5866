package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/lockfile"
)

// TestCheckRedactsEchoedSecrets: a service whose test answer echoes a secret the connection
// holds never gets it onto the screen; every readable reference of the manifest is redacted.
func TestCheckRedactsEchoedSecrets(t *testing.T) {
	const secret = "CANARY-echoed-secret-7d1f"
	spec, _ := json.Marshal(map[string]any{"items": []any{emulator.S3ConnectionSpec()}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/test"):
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"type":"https://ns.adobe.com/aep/errors/FLOW-1100-400","title":"Invalid","status":400,"report":{"detailed-message":"the key ` + secret + ` was refused"}}`))
		case strings.Contains(r.URL.Path, "/connectionSpecs/"):
			_, _ = w.Write(spec)
		default:
			_, _ = w.Write([]byte(`{"items":[]}`))
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	m := filepath.Join(dir, "m.yaml")
	const org = "5C1328435BF324E90A49402A@AdobeOrg"
	if err := os.WriteFile(m, []byte(`version: 1
target: {orgId: `+org+`, sandbox: prod}
connections:
  - name: a
    auth: {specName: Access Key, params: {s3AccessKey: AKIAIOSFODNN7EXAMPLE, s3SecretKey: {env: SECRET}, s3SessionToken: {env: UNSET_TOKEN}}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	lock, _ := lockfile.New(lockfile.Target{OrgID: org, Sandbox: "prod"})
	lock.Connections["a"] = &lockfile.Entry{ID: "id-a", ETag: `"e"`, SpecName: "Access Key"}
	if err := lock.Save(lockfile.DefaultPath(m)); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FLOWSYNC_ENDPOINT": srv.URL + "/data/foundation/flowservice", "FLOWSYNC_ACCESS_TOKEN": "tok", "FLOWSYNC_API_KEY": "key", "SECRET": secret}
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"check", "-f", m}, IO{In: strings.NewReader(""), Out: &out, Err: &errOut,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if code != ExitError {
		t.Errorf("exit %d, want 1 (a connection could not be tested)", code)
	}
	all := out.String() + errOut.String()
	if strings.Contains(all, secret) {
		t.Fatalf("the echoed secret was shown:\n%s", all)
	}
	if !strings.Contains(out.String(), "the key (sensitive) was refused") {
		t.Errorf("the service's answer is not shown, redacted:\n%s", all)
	}
}
