package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowsync/flowsync/cli"
	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/s3source"
)

// The org and sandbox of every manifest the scripts use; the emu commands look there.
const (
	testOrg     = "5C1328435BF324E90A49402A@AdobeOrg"
	testSandbox = "prod"
)

// Keys of testscript.Env.Values.
type (
	emuKey    struct{}
	revokeKey struct{}
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flowsync": func() { os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Std())) },
	})
}

// TestScript runs testdata/script/*.txtar, each against a fresh emulator listening on
// loopback whose endpoint, IMS URL and credentials are in the script's environment.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"badsvc":   cmdBadService,
			"emu":      cmdEmu,
			"gen":      cmdGen,
			"holdlock": cmdHoldLock,
			"jsonfile": cmdJSONFile,
			"mkfifo":   cmdMkfifo,
			"nocanary": cmdNoCanary,
			"size":     cmdSize,
			"status":   cmdStatus,
		},
	})
}

func setupScript(env *testscript.Env) error {
	// revokeAfter counts down API requests; at zero the emulator revokes every token (emu revoke-after).
	revokeAfter := new(atomic.Int64)
	var srv atomic.Pointer[emulator.Server]
	run, err := emulator.Start(emulator.Options{
		Seed:      1,
		StatePath: filepath.Join(env.WorkDir, "emulator-state.json"),
		OnRequest: func(r *http.Request, _ []byte) {
			if r.URL.Path == emulator.IMSPath {
				return // IMS calls are seen too; count API calls only
			}
			if revokeAfter.Load() > 0 && revokeAfter.Add(-1) == 0 {
				if s := srv.Load(); s != nil {
					s.RevokeTokens()
				}
			}
		},
	}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv.Store(run.Server)
	env.Defer(func() {
		if err := run.Close(); err != nil {
			env.T().Log("close emulator: ", err)
		}
	})
	env.Values[emuKey{}] = run
	env.Values[revokeKey{}] = revokeAfter
	env.Setenv("FLOWSYNC_ENDPOINT", run.Endpoint)
	env.Setenv("FLOWSYNC_IMS_URL", run.IMSURL)
	env.Setenv("FLOWSYNC_ACCESS_TOKEN", "test-token")
	env.Setenv("FLOWSYNC_API_KEY", "test-key")
	env.Setenv("NO_COLOR", "1")
	return copyDir("examples", filepath.Join(env.WorkDir, "examples"))
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}

func emu(ts *testscript.TestScript) *emulator.Running {
	return ts.Value(emuKey{}).(*emulator.Running)
}

// live returns the live connections named name (a path.Match glob; "" for all).
func live(ts *testscript.TestScript, glob string) []flowservice.Connection {
	var out []flowservice.Connection
	for _, c := range emu(ts).Server.Connections(testOrg, testSandbox) {
		if glob != "" {
			ok, err := path.Match(glob, c.Name)
			ts.Check(err)
			if !ok {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// one returns the only live connection named name.
func one(ts *testscript.TestScript, name string) flowservice.Connection {
	cs := live(ts, name)
	if len(cs) != 1 {
		ts.Fatalf("%d live connections named %q, want 1", len(cs), name)
	}
	return cs[0]
}

func wantInt(ts *testscript.TestScript, neg bool, what string, got int64, wantS string) {
	want, err := strconv.ParseInt(wantS, 10, 64)
	ts.Check(err)
	ts.Logf("%s: %d", what, got)
	if (got == want) == neg {
		if neg {
			ts.Fatalf("%s: got %d, want anything but %d", what, got, want)
		}
		ts.Fatalf("%s: got %d, want %d", what, got, want)
	}
}

// cmdEmu reaches the script's emulator:
//
//	emu count N [GLOB]          N live connections (whose name matches GLOB)
//	emu requests [METHOD] N     the emulator answered N API calls (of METHOD)
//	emu tokens N                the emulator's IMS issued N tokens
//	emu edit NAME FIELD VALUE   out-of-band edit: description, name, specName or auth.params.P
//	emu delete NAME             out-of-band delete
//	emu create NAME BUCKET      out-of-band create of an IAMRole Based connection
//	emu inuse NAME              a dataflow uses NAME: DELETE answers 400 1418-400
//	emu free ID                 no dataflow uses connection ID any more
//	emu secret NAME PARAM VALUE the secret PARAM of NAME was set to VALUE
//	emu id NAME VAR             set $VAR to the id of NAME
//	emu exists ID               connection ID is live
//	emu revoke                  revoke every token issued or seen so far
//	emu revoke-after N          revoke every token when the N-th next API call arrives
func cmdEmu(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: emu SUBCOMMAND ...")
	}
	s := emu(ts).Server
	sub, args := args[0], args[1:]
	need := func(n int) {
		if len(args) != n {
			ts.Fatalf("emu %s: want %d arguments, got %q", sub, n, args)
		}
	}
	assert := func(ok bool, format string, a ...any) {
		if ok == neg {
			if neg {
				ts.Fatalf("unexpectedly true: "+format, a...)
			}
			ts.Fatalf(format, a...)
		}
	}
	switch sub {
	case "count":
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: emu count N [GLOB]")
		}
		glob := ""
		if len(args) == 2 {
			glob = args[1]
		}
		wantInt(ts, neg, "live connections "+glob, int64(len(live(ts, glob))), args[0])
	case "requests":
		st := s.Stats()
		switch len(args) {
		case 1:
			wantInt(ts, neg, "API requests", st.Total, args[0])
		case 2:
			var n int64
			for _, c := range st.Requests[strings.ToUpper(args[0])] {
				n += c
			}
			wantInt(ts, neg, args[0]+" requests", n, args[1])
		default:
			ts.Fatalf("usage: emu requests [METHOD] N")
		}
	case "tokens":
		need(1)
		wantInt(ts, neg, "IMS tokens issued", s.Stats().TokensIssued, args[0])
	case "edit":
		need(3)
		c := one(ts, args[0])
		field, value := args[1], args[2]
		ok := s.Mutate(c.ID, func(c *flowservice.Connection) {
			switch {
			case field == "description":
				c.Description = value
			case field == "name":
				c.Name = value
			case field == "specName":
				c.Auth.SpecName = value
			case strings.HasPrefix(field, "auth.params."):
				c.Auth.Params[strings.TrimPrefix(field, "auth.params.")] = value
			default:
				ts.Fatalf("emu edit: unknown field %q", field)
			}
		})
		assert(ok, "emu edit %s: connection %s vanished", args[0], c.ID)
	case "delete":
		need(1)
		c := one(ts, args[0])
		assert(s.DeleteOutOfBand(c.ID), "emu delete %s: connection %s vanished", args[0], c.ID)
	case "create":
		need(2)
		id := s.CreateOutOfBand(testOrg, testSandbox, flowservice.NewConnection{
			Name:           args[0],
			Description:    "created outside flowsync",
			Auth:           flowservice.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": args[1]}},
			ConnectionSpec: s3source.ConnectionSpec(),
		})
		fmt.Fprintln(ts.Stdout(), id)
	case "inuse":
		need(1)
		c := one(ts, args[0])
		assert(s.SetInUse(c.ID, true), "emu inuse %s: connection %s vanished", args[0], c.ID)
	case "free":
		need(1)
		assert(s.SetInUse(args[0], false), "emu free: connection %s is not live", args[0])
	case "secret":
		need(3)
		c := one(ts, args[0])
		assert(s.SecretMatches(c.ID, args[1], args[2]), "emu secret: %s's %s does not match", args[0], args[1])
	case "id":
		need(2)
		ts.Setenv(args[1], one(ts, args[0]).ID)
	case "exists":
		need(1)
		found := false
		for _, c := range live(ts, "") {
			found = found || c.ID == args[0]
		}
		assert(found, "connection %s is not live", args[0])
	case "revoke":
		need(0)
		s.RevokeTokens()
	case "revoke-after":
		need(1)
		n, err := strconv.ParseInt(args[0], 10, 64)
		ts.Check(err)
		ts.Value(revokeKey{}).(*atomic.Int64).Store(n)
	default:
		ts.Fatalf("emu: unknown subcommand %q", sub)
	}
}

// cmdGen writes a manifest of N generated Access Key entries name-1 … name-N whose secrets
// come from $S3_SECRET_KEY and $S3_SESSION_TOKEN:
//
//	gen [-desc DESCRIPTION] [-iam NAME] N FILE
//
// -iam makes entry NAME an IAMRole Based one.
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! gen")
	}
	desc, iam := "generated entry", ""
	for len(args) > 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-desc":
			desc = args[1]
		case "-iam":
			iam = args[1]
		default:
			ts.Fatalf("gen: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: gen [-desc D] [-iam NAME] N FILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\ntarget:\n  orgId: %s\n  sandbox: %s\n", testOrg, testSandbox)
	fmt.Fprintf(&b, "defaults:\n  description: %q\n  auth:\n    specName: Access Key\n    params:\n", desc)
	b.WriteString("      s3AccessKey: AKIAIOSFODNN7EXAMPLE\n      s3SecretKey: {env: S3_SECRET_KEY}\n")
	b.WriteString("connections:\n")
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("name-%d", i)
		fmt.Fprintf(&b, "  - name: %s\n    auth:\n", name)
		if name == iam {
			fmt.Fprintf(&b, "      specName: IAMRole Based\n      params:\n        bucketName: bucket-%d\n", i)
			continue
		}
		fmt.Fprintf(&b, "      params:\n        serviceUrl: https://s3.eu-west-1.amazonaws.com/\n        bucketName: bucket-%d\n        s3SessionToken: {env: S3_SESSION_TOKEN}\n", i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o644))
}

// cmdStatus runs a command and checks its exit code: status N COMMAND [ARGS...].
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdHoldLock holds the run lock of a lockfile until the script ends: holdlock LOCKFILE.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock LOCKFILE")
	}
	l, err := lockfile.Acquire(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Defer(func() { _ = l.Release() })
}

// cmdJSONFile checks that a file (stdout, stderr or a path) is one JSON value, or with -lines
// a JSON value per line: jsonfile [-lines] FILE.
func cmdJSONFile(ts *testscript.TestScript, neg bool, args []string) {
	lines := len(args) == 2 && args[0] == "-lines"
	if lines {
		args = args[1:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: jsonfile [-lines] FILE")
	}
	data := ts.ReadFile(args[0])
	var err error
	if lines {
		for i, l := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
			if !json.Valid([]byte(l)) {
				err = fmt.Errorf("%s line %d is not JSON: %q", args[0], i+1, l)
				break
			}
		}
	} else {
		var v any
		if e := json.Unmarshal([]byte(data), &v); e != nil {
			err = fmt.Errorf("%s is not JSON: %v", args[0], e)
		}
	}
	if (err == nil) == neg {
		if neg {
			ts.Fatalf("%s is JSON", args[0])
		}
		ts.Fatalf("%v", err)
	}
}

// canaryForms are the ways a secret might leak: in clear, base64 (standard and URL, every
// alignment), hex, and an unkeyed SHA-256 (which would let anyone confirm a guess).
func canaryForms(secret string) []string {
	sum := sha256.Sum256([]byte(secret))
	forms := []string{
		secret,
		hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret))),
		hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for pad := 0; pad < 3; pad++ {
			// The characters that depend only on the secret, whatever precedes it.
			s := enc.EncodeToString([]byte(strings.Repeat("\x00", pad) + secret))
			skip := (pad*8 + 5) / 6
			s = strings.TrimRight(s, "=")
			forms = append(forms, s[skip:len(s)-2])
		}
	}
	return forms
}

// cmdNoCanary fails when a secret leaked into any file under the work dir (the saved outputs,
// the lockfile, any journal, the emulator's state) other than those under secrets/ and those
// skipped, or into the last command's stdout and stderr: nocanary [-skip FILE]... SECRET...
func cmdNoCanary(ts *testscript.TestScript, neg bool, args []string) {
	skip := map[string]bool{}
	for len(args) > 1 && args[0] == "-skip" {
		skip[filepath.FromSlash(args[1])] = true
		args = args[2:]
	}
	if neg || len(args) == 0 {
		ts.Fatalf("usage: nocanary [-skip FILE]... SECRET...")
	}
	root := ts.MkAbs(".")
	var leaks []string
	files := 0
	ts.Check(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "secrets"+string(filepath.Separator)) || skip[rel] {
			return nil // where the secrets are meant to be
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, secret := range args {
			for _, f := range canaryForms(secret) {
				if bytes.Contains(data, []byte(f)) {
					leaks = append(leaks, fmt.Sprintf("%s holds %q", rel, f))
				}
			}
		}
		return nil
	}))
	// The last command's outputs too.
	for _, name := range []string{"stdout", "stderr"} {
		data := ts.ReadFile(name)
		for _, secret := range args {
			for _, f := range canaryForms(secret) {
				if strings.Contains(data, f) {
					leaks = append(leaks, fmt.Sprintf("%s holds %q", name, f))
				}
			}
		}
	}
	ts.Logf("searched %d files for %d secrets", files, len(args))
	if len(leaks) > 0 {
		ts.Fatalf("secrets leaked:\n%s", strings.Join(leaks, "\n"))
	}
}

// cmdSize checks that a file is at most MAX bytes: size FILE MAX.
func cmdSize(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: size FILE MAX")
	}
	max, err := strconv.Atoi(args[1])
	ts.Check(err)
	n := len(ts.ReadFile(args[0]))
	if (n <= max) == neg {
		ts.Fatalf("%s is %d bytes (limit %d, negated %v)", args[0], n, max, neg)
	}
	ts.Logf("%s: %d bytes", args[0], n)
}
