package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// resolveOne parses head + one entry with params, resolves it in dir and returns the error.
func resolveOne(t *testing.T, dir string, env map[string]string, params ...string) (map[string]string, error) {
	t.Helper()
	src := head + "  - name: acme\n    auth:\n      params:\n"
	for _, p := range params {
		src += "        " + p + "\n"
	}
	m, err := Parse(filepath.Join(dir, "m.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{}
	}
	env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"] = "AKIAEXAMPLE", "secret-value-5e2f"
	return m.Resolve(m.Connections[0], func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// A FIFO with no writer is refused at once, never waited on; so are devices and directories.
func TestReferenceReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for ref, want := range map[string]string{
		"{file: fifo}":      "file " + fifo + " is a named pipe (FIFO), not a regular file",
		"{file: /dev/null}": "file /dev/null is a character device, not a regular file",
		"{file: /dev/zero}": "file /dev/zero is a character device, not a regular file",
		"{file: .}":         "file " + dir + " is a directory, not a regular file",
	} {
		t.Run(ref, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := resolveOne(t, dir, nil, "s3SessionToken: "+ref)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.HasSuffix(err.Error(), want) {
					t.Fatalf("err = %v, want …%s", err, want)
				}
			case <-time.After(time.Minute): // liveness only: the old reader blocked forever
				t.Fatal("reading the reference hangs")
			}
		})
	}
}

// A symlink to a regular file (how Kubernetes mounts secrets) is read; an absolute path too.
func TestReferenceFollowsSymlinksAndAbsolutePaths(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.WriteFile(real, []byte("token-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"{file: link}", "{file: " + real + "}"} {
		got, err := resolveOne(t, dir, nil, "s3SessionToken: "+ref)
		if err != nil || got["s3SessionToken"] != "token-value" {
			t.Errorf("%s: %q, %v", ref, got["s3SessionToken"], err)
		}
	}
	_, err := resolveOne(t, dir, nil, "s3SessionToken: {file: ~/.aws/credentials}")
	if err == nil || !strings.Contains(err.Error(), "~ is not expanded") {
		t.Errorf("a ~ path: %v, want a hint that ~ is not expanded", err)
	}
}

// A value read from a reference is held to the rules of a literal in its place, and the
// error never shows the value.
func TestReferenceValuesValidatedLikeLiterals(t *testing.T) {
	dir := t.TempDir()
	creds := "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n"
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FOLDER_NL":   "events\n2026",
		"FOLDER_BAD":  "events/../secret",
		"FOLDER_STAR": "events/*",
		"BUCKET_UP":   "Secret Bucket Value",
		"BUCKET_IP":   "10.1.2.3",
		"URL_HTTP":    "http://s3.example.com/",
		"NUL":         "a\x00b",
		"BAD_UTF8":    "a\xffb",
		"GOOD_FOLDER": "events/2026",
	}
	for param, want := range map[string]string{
		"folderPath: {file: credentials}":     "auth.params.folderPath: value read from {file: credentials}: holds a line break (at byte 9): a value is one line",
		"s3SessionToken: {file: credentials}": "auth.params.s3SessionToken: value read from {file: credentials}: holds a line break (at byte 9): a value is one line",
		"folderPath: {env: FOLDER_NL}":        "value read from {env: FOLDER_NL}: holds a line break",
		"folderPath: {env: FOLDER_BAD}":       `value read from {env: FOLDER_BAD}: folder path components must not be ".."`,
		"folderPath: {env: FOLDER_STAR}":      "value read from {env: FOLDER_STAR}: is not a folder path",
		"bucketName: {env: BUCKET_UP}":        "value read from {env: BUCKET_UP}: bucket names hold only lowercase letters, digits, dots and hyphens",
		"bucketName: {env: BUCKET_IP}":        "value read from {env: BUCKET_IP}: bucket names are not shaped like an IP address",
		"serviceUrl: {env: URL_HTTP}":         "value read from {env: URL_HTTP}: is not an https:// URL",
		"s3SessionToken: {env: NUL}":          "value read from {env: NUL}: holds control character U+0000",
		"s3SessionToken: {env: BAD_UTF8}":     "value read from {env: BAD_UTF8}: is not valid UTF-8 text",
		"folderPath: {env: GOOD_FOLDER}":      "",
	} {
		t.Run(param, func(t *testing.T) {
			got, err := resolveOne(t, dir, env, param)
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v (values %v), want …%s", err, got, want)
			}
			for _, v := range []string{"AKIAEXAMPLE", "wJalr", "Secret Bucket", "secret-bucket", "10.1.2.3", "s3.example.com", "2026"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows the value %q: %v", v, err)
				}
			}
		})
	}
}

// A literal folder path with a line break or a control character is refused where written.
func TestLiteralControlCharactersRefused(t *testing.T) {
	_, err := Parse("m.yaml", []byte(head+entry("acme", `folderPath: "events\n2026"`)))
	want := "m.yaml:17:21: connections[0].auth.params.folderPath: holds a line break (at byte 6): a value is one line"
	if got := diagLines(t, err); len(got) != 1 || got[0] != want {
		t.Fatalf("diagnostics %q, want [%s]", got, want)
	}
}
