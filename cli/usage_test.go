package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/view"
)

// run runs flowsync in-process with env as its whole environment.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, IO{
		In: strings.NewReader(""), Out: &out, Err: &errOut,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	return out.String(), errOut.String(), code
}

// TestVersionAgreesEverywhere: a release's stamped version is what version and --version
// print and what the User-Agent says.
func TestVersionAgreesEverywhere(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	Version = "v9.8.7"

	v1, _, code := run(t, nil, "version")
	if code != 0 {
		t.Fatalf("version exited %d", code)
	}
	v2, _, _ := run(t, nil, "--version")
	if v1 != v2 || !strings.HasPrefix(v1, "flowsync v9.8.7 (go") {
		t.Errorf("version = %q, --version = %q; want the same line, with v9.8.7", v1, v2)
	}

	// Every request, to Flow Service and to IMS, with the User-Agent it carried.
	var mu sync.Mutex
	agents := map[string]string{}
	emu, err := emulator.Start(emulator.Options{OnRequest: func(r *http.Request, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		agents[r.URL.Path] += r.UserAgent() + ";"
	}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	dir := t.TempDir()
	data, err := os.ReadFile("../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "quickstart-secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"s3-secret-key", "eu-session-token"} {
		if err := os.WriteFile(filepath.Join(dir, "quickstart-secrets", f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(m, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// With a static token, and with a token fetched from IMS.
	for _, env := range []map[string]string{
		{"FLOWSYNC_ACCESS_TOKEN": "any", "FLOWSYNC_API_KEY": "any"},
		{"FLOWSYNC_CLIENT_ID": "any", "FLOWSYNC_CLIENT_SECRET": "any-secret", "FLOWSYNC_IMS_URL": emu.IMSURL},
	} {
		if _, stderr, code := run(t, env, "plan", "-f", m, "--refresh", "--endpoint", emu.Endpoint); code != 0 {
			t.Fatalf("plan --refresh exited %d: %s", code, stderr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if _, ok := agents[emulator.IMSPath]; !ok || len(agents) < 2 {
		t.Fatalf("requests seen: %v, want IMS's and Flow Service's", agents)
	}
	for path, got := range agents {
		if strings.Trim(strings.ReplaceAll(got, "flowsync/v9.8.7;", ""), ";") != "" {
			t.Errorf("%s: User-Agents %q, want flowsync/v9.8.7 on every request", path, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"--refesh", []string{"--refresh", "--prune", "--lockfile"}, "--refresh"},
		{"emualtor", []string{"emulator"}, "emulator"},
		{"jsn", []string{"text", "json", "markdown"}, "json"},
		{"pln", []string{"apply", "import", "plan", "validate"}, "plan"},
		{"--conc", []string{"--concurrency", "--yes"}, "--concurrency"},
		{"yaml", []string{"text", "json", "markdown"}, ""},
		{"x", []string{"text", "json"}, ""},
		{"https://example.com", []string{"emulator"}, ""},
	}
	for _, tt := range tests {
		if got := view.Suggest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("view.Suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

// TestMissingVariablesOnce: two unset variables used by 500 entries are two lines, each
// with the number of entries and the first place; nothing per entry.
func TestMissingVariablesOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ntarget: {orgId: 5C1328435BF324E90A49402A@AdobeOrg, sandbox: prod}\n")
	b.WriteString("defaults:\n  auth:\n    specName: Access Key\n    params:\n      s3AccessKey: AKIAIOSFODNN7EXAMPLE\n      s3SecretKey: {env: FS_TEST_SECRET}\n")
	b.WriteString("connections:\n")
	for i := range 500 {
		fmt.Fprintf(&b, "  - name: n-%d\n    auth: {params: {bucketName: b-%d, s3SessionToken: {env: FS_TEST_TOKEN}}}\n", i, i)
	}
	// One entry uses a file that does not exist: its own line.
	b.WriteString("  - name: odd\n    auth: {params: {bucketName: odd, s3SessionToken: {file: missing-token}}}\n")
	m, err := manifest.Parse(filepath.Join(t.TempDir(), "m.yaml"), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = resolveDesired(m, "", func(string) (string, bool) { return "", false }, false)
	if err == nil {
		t.Fatal("no error for unset variables")
	}
	var out bytes.Buffer
	hints, _ := describe(err)
	view.PrintError(&out, err, hints...)
	got := out.String()
	t.Log(got)
	if n := strings.Count(got, "\n"); n != 5 { // the error, 3 problems, 1 hint
		t.Errorf("%d lines, want 5:\n%s", n, got)
	}
	for _, want := range []string{
		"environment variable FS_TEST_SECRET is not set: used by 501 entries, the first connections[0] (n-0): auth.params.s3SecretKey",
		"environment variable FS_TEST_TOKEN is not set: used by 500 entries, the first connections[0] (n-0): auth.params.s3SessionToken",
		"connections[500] (odd): auth.params.s3SessionToken: ",
	} {
		if strings.Count(got, want) != 1 {
			t.Errorf("want %q once in:\n%s", want, got)
		}
	}
}

// TestEveryHelpPage: every command's --help has examples, exit codes and the environment.
func TestEveryHelpPage(t *testing.T) {
	root := newRoot(context.Background(), &globals{})
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			out, stderr, code := run(t, nil, c.Name(), "--help")
			if code != 0 {
				t.Fatalf("--help exited %d: %s", code, stderr)
			}
			for _, want := range []string{"\nExamples:\n", "\nExit codes:\n  0    "} {
				if !strings.Contains(out, want) {
					t.Errorf("%s --help lacks %q:\n%s", c.Name(), want, out)
				}
			}
		})
	}
	out, _, _ := run(t, nil, "--help")
	for _, want := range []string{"\nExamples:\n", "\nExit codes:\n", "\nEnvironment:\n", "FORCE_COLOR", "FLOWSYNC_ACCESS_TOKEN"} {
		if !strings.Contains(out, want) {
			t.Errorf("flowsync --help lacks %q", want)
		}
	}
}
