package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
)

// describe is the one place that chooses advice and exit codes: each kind of error gets its
// own next step, once, and an explicit hint replaces the advice of the error it wraps.
func TestDescribe(t *testing.T) {
	newer := &lockfile.FormatError{Path: "m.lock.json", Err: fmt.Errorf("format version 2: %w", lockfile.ErrNewerVersion)}
	journal := &lockfile.FormatError{Path: "m.lock.json.journal", Err: errors.New("line 2: bad record")}
	corrupt := &lockfile.FormatError{Path: "m.lock.json", Err: errors.New("does not parse")}
	unauthorized := &flowservice.Error{Status: 401}
	failing := &flowservice.Error{Status: 503}
	tests := []struct {
		name  string
		err   error
		hints string // hint lines joined by "|"
		code  int
	}{
		{"plain", errors.New("boom"), "", ExitError},
		{"usage", &usageError{errors.New("unknown flag: --x")}, `run "flowsync --help" for usage`, ExitError},
		{"locked", fmt.Errorf("open: %w", &lockfile.LockedError{Path: "m.lock.json", Holder: "pid 1"}), "wait for the other run", ExitLocked},
		{"target", &lockfile.TargetError{Path: "m.lock.json"}, "point --lockfile", ExitError},
		{"newer lockfile", newer, "the file was left untouched: upgrade flowsync to use it", ExitError},
		{"corrupt journal", fmt.Errorf("journal of m.lock.json: %w", journal), "it records an interrupted apply", ExitError},
		{"corrupt lockfile", corrupt, "rebuild it with flowsync import --by-name --mine", ExitError},
		{"manifest", fmt.Errorf("m.yaml: 1 problem(s):\n%w", manifest.Diagnostics{{File: "m.yaml", Message: "x"}}), "fix the manifest", ExitError},
		{"endpoint", &flowservice.URLError{What: "endpoint", URL: "http://x", Reason: "is plain http off loopback", Problem: flowservice.URLPlainHTTP},
			"set --endpoint (or FLOWSYNC_ENDPOINT) to an https:// URL, or http:// only on a loopback address", ExitError},
		{"ims url", &flowservice.URLError{What: "IMS URL", URL: "http://x", Reason: "is plain http off loopback", Problem: flowservice.URLPlainHTTP},
			"set FLOWSYNC_IMS_URL to an https:// URL, or http:// only on a loopback address", ExitError},
		{"endpoint query", &flowservice.URLError{What: "endpoint", URL: "http://127.0.0.1/x?y=1", Reason: "has a query or fragment", Problem: flowservice.URLQuery},
			"remove the ?… query and #… fragment from --endpoint (or FLOWSYNC_ENDPOINT)", ExitError},
		{"endpoint credentials", &flowservice.URLError{What: "endpoint", URL: "http://u:xxxxx@127.0.0.1/x", Reason: "holds credentials", Problem: flowservice.URLCredentials},
			"remove the user:password@ part from --endpoint (or FLOWSYNC_ENDPOINT)", ExitError},
		{"ims url credentials", &flowservice.URLError{What: "IMS URL", URL: "https://u:xxxxx@ims/x", Reason: "holds credentials", Problem: flowservice.URLCredentials},
			"remove the user:password@ part from FLOWSYNC_IMS_URL: credentials are read from FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET", ExitError},
		{"ims url not absolute", &flowservice.URLError{What: "IMS URL", URL: "ims/x", Reason: "is not an absolute https:// URL", Problem: flowservice.URLNotAbsolute},
			"set FLOWSYNC_IMS_URL to an absolute https:// URL, such as " + flowservice.DefaultIMSURL, ExitError},
		{"token", fmt.Errorf("sign in: %w", &flowservice.TokenError{URL: "https://ims", Err: unauthorized}), "check FLOWSYNC_CLIENT_ID", ExitError},
		{"token renewal during apply", serviceErr("apply", &flowservice.TokenError{URL: "https://ims", Err: unauthorized}), "check FLOWSYNC_CLIENT_ID", ExitError},
		{"401", serviceErr("read live connections", unauthorized), "check FLOWSYNC_ACCESS_TOKEN", ExitError},
		{"5xx", serviceErr("import a", failing), "try again later", ExitError},
		{"network", serviceErr("import a", errors.New("connection refused")), "check --endpoint", ExitError},
		{"cancelled call", serviceErr("apply", context.Canceled), "", ExitInterrupted},
		{"interrupted", &interruptedError{LockPath: "m.lock.json"}, "run the same apply again", ExitInterrupted},
		{"partial", &reconcile.PartialError{Failed: 1, Total: 2}, "every success is saved", ExitApplyFailed},
		{"changes", errExitChanges, "", ExitChanges},
		{"explicit hint wins", hint(fmt.Errorf("x: %w", corrupt), "do this"), "do this", ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hints, code := describe(tt.err)
			if code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			got := strings.Join(hints, "|")
			if tt.hints == "" && got != "" || !strings.Contains(got, tt.hints) {
				t.Errorf("hints = %q, want %q", got, tt.hints)
			}
			if len(hints) > 0 && strings.Contains(tt.err.Error(), hints[0]) {
				t.Errorf("the message %q already gives the hint %q", tt.err, hints[0])
			}
		})
	}
}

// Library errors state facts; advice naming the CLI's flags and variables is cli's alone.
func TestLibraryErrorsGiveNoAdvice(t *testing.T) {
	_, err := flowservice.New(flowservice.Config{Endpoint: "http://example.com"})
	var ue *flowservice.URLError
	if !errors.As(err, &ue) {
		t.Fatalf("New = %v, want *URLError", err)
	}
	for _, e := range []error{
		err,
		&lockfile.TargetError{Path: "m.lock.json"},
		&lockfile.FormatError{Path: "m.lock.json", Err: lockfile.ErrNewerVersion},
	} {
		for _, advice := range []string{"FLOWSYNC_", "--lockfile", "--endpoint", "flowsync import", "upgrade", "use https"} {
			if strings.Contains(e.Error(), advice) {
				t.Errorf("%T %q gives advice (%q)", e, e, advice)
			}
		}
	}
}
