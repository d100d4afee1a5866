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
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/flowsync/flowsync/cli"
	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/testmanifest"
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
	emuKey       struct{}
	revokeKey    struct{}
	patchesKey   struct{}
	userAgentKey struct{}
	pathsKey     struct{}
)

// pathCounts counts API requests by method and path below the endpoint ("GET /flows"); an
// id in the path is kept, so "GET /connections" counts lists only.
type pathCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (p *pathCounts) add(method, urlPath string) {
	p.mu.Lock()
	p.n[method+" "+strings.TrimPrefix(urlPath, emulator.APIPrefix)]++
	p.mu.Unlock()
}

func (p *pathCounts) get(key string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[key]
}

// patchLog keeps the operations (op and path, never a value) of every PATCH the emulator
// received, one line per request: "ID: replace /auth/params/s3SecretKey, add /description".
type patchLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *patchLog) record(urlPath string, body []byte) {
	var ops []struct{ Op, Path string }
	line := path.Base(urlPath) + ":"
	if err := json.Unmarshal(body, &ops); err != nil {
		line += " (not a JSON Patch array)"
	}
	for i, op := range ops {
		if i > 0 {
			line += ","
		}
		line += " " + op.Op + " " + op.Path
	}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

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
			"badsvc":     cmdBadService,
			"emu":        cmdEmu,
			"gen":        cmdGen,
			"gencsv":     cmdGenCSV,
			"hint":       cmdHint,
			"holdlock":   cmdHoldLock,
			"jsonfile":   cmdJSONFile,
			"jsonschema": cmdJSONSchema,
			"mkfifo":     cmdMkfifo,
			"once":       cmdOnce,
			"nocanary":   cmdNoCanary,
			"planedit":   cmdPlanEdit,
			"planfile":   cmdPlanFile,
			"size":       cmdSize,
			"status":     cmdStatus,
		},
	})
}

func setupScript(env *testscript.Env) error {
	// revokeAfter counts down API requests; at zero the emulator revokes every token (emu revoke-after).
	revokeAfter := new(atomic.Int64)
	patches := &patchLog{}
	paths := &pathCounts{n: map[string]int64{}}
	userAgent := new(atomic.Value)
	var srv atomic.Pointer[emulator.Server]
	run, err := emulator.Start(emulator.Options{
		Seed:      1,
		StatePath: filepath.Join(env.WorkDir, "emulator-state.json"),
		OnRequest: func(r *http.Request, body []byte) {
			if r.URL.Path == emulator.IMSPath {
				return // IMS calls are seen too; count API calls only
			}
			if r.Method == http.MethodPatch {
				patches.record(r.URL.Path, body)
			}
			paths.add(r.Method, r.URL.Path)
			userAgent.Store(r.UserAgent())
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
	// Every plan file a script leaves behind must match docs/planfile.schema.json.
	env.Defer(func() {
		n, err := validatePlanFiles(env.WorkDir)
		if err != nil {
			env.T().Fatal(err)
		}
		if n > 0 {
			env.T().Log(fmt.Sprintf("%d plan files match docs/planfile.schema.json", n))
		}
	})
	env.Values[emuKey{}] = run
	env.Values[revokeKey{}] = revokeAfter
	env.Values[patchesKey{}] = patches
	env.Values[pathsKey{}] = paths
	env.Values[userAgentKey{}] = userAgent
	env.Setenv("FLOWSYNC_ENDPOINT", run.Endpoint)
	env.Setenv("EMU_ENDPOINT_HOSTPATH", strings.TrimPrefix(run.Endpoint, "http://")) // to build variants of the endpoint
	env.Setenv("FLOWSYNC_IMS_URL", run.IMSURL)
	env.Setenv("FLOWSYNC_ACCESS_TOKEN", "test-token")
	env.Setenv("FLOWSYNC_API_KEY", "test-key")
	env.Setenv("NO_COLOR", "1")
	return copyTracked("examples", env.WorkDir)
}

// copyTracked copies the files of dir that are part of the source tree into dst (keeping
// their paths), and nothing a user's run left beside them: the README's quickstart writes a
// lockfile and the emulator's state into examples/, and a script must not start from them.
// The files are those git tracks; outside a git checkout (a source archive), every file
// except what flowsync itself writes.
func copyTracked(dir, dst string) error {
	files, err := trackedFiles(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func trackedFiles(dir string) ([]string, error) {
	if out, err := exec.Command("git", "ls-files", "-z", "--", dir).Output(); err == nil && len(out) > 0 {
		var files []string
		for f := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
			files = append(files, filepath.FromSlash(f))
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if generatedFile(d.Name()) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	return files, err
}

// generatedFile reports whether name is a file flowsync writes (and .gitignore lists).
func generatedFile(name string) bool {
	return name == ".flowsync-emulator.json" || strings.HasSuffix(name, ".lock.json") ||
		strings.HasSuffix(name, ".lock.json.lock") || strings.HasSuffix(name, ".lock.json.journal") ||
		strings.HasSuffix(name, ".tmp")
}

func emu(ts *testscript.TestScript) *emulator.Running {
	return ts.Value(emuKey{}).(*emulator.Running)
}

// live returns the live connections named name (a path.Match glob; "" for all).
func live(ts *testscript.TestScript, glob string) []flowservice.Connection {
	var out []flowservice.Connection
	for _, c := range emu(ts).Server.Connections(testOrg, emuSandbox(ts)) {
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

// oneByIDOrName is the live connection whose id is arg, else the one named arg.
func oneByIDOrName(ts *testscript.TestScript, arg string) flowservice.Connection {
	for _, c := range live(ts, "") {
		if c.ID == arg {
			return c
		}
	}
	return one(ts, arg)
}

// httpClient is a Flow Service client of the script's emulator sending x-api-key key: what
// a colleague's tool would use.
func httpClient(ts *testscript.TestScript, key string) *flowservice.Client {
	c, err := flowservice.New(flowservice.Config{
		Endpoint: emu(ts).Endpoint, OrgID: testOrg, Sandbox: testSandbox, APIKey: key,
		Tokens: flowservice.StaticToken("colleague-token"),
	})
	ts.Check(err)
	return c
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

// cmdEmu reaches the script's emulator. The commands that look at connections look at the
// test org's sandbox $EMU_SANDBOX when the script sets it (env EMU_SANDBOX=dev), else prod:
//
//	emu count N [GLOB]          N live connections (whose name matches GLOB)
//	emu requests [METHOD [PATH]] N  the emulator answered N API calls (of METHOD, to PATH
//	                            below the endpoint: "GET /flows")
//	emu tokens N                the emulator's IMS issued N tokens
//	emu edit NAME FIELD VALUE   out-of-band edit: description, name, specName or auth.params.P
//	emu delete NAME             out-of-band delete
//	emu create NAME BUCKET      out-of-band create of an IAMRole Based connection
//	emu inuse NAME              a dataflow (NAME-flow) uses NAME: DELETE answers 400 1418-400
//	emu dataflow NAME FLOW [disabled]  attach dataflow FLOW (last run: success) to NAME (or
//	                            to the connection whose id is NAME)
//	emu free ID                 no dataflow uses connection ID any more
//	emu secret NAME PARAM VALUE the secret PARAM of NAME was set to VALUE
//	emu id NAME VAR             set $VAR to the id of NAME
//	emu exists ID               connection ID is live
//	emu revoke                  revoke every token issued or seen so far
//	emu useragent               print the User-Agent of the last API request
//	emu wait-requests N         wait until N API requests have arrived
//	emu revoke-after N          revoke every token when the N-th next API call arrives
//	emu session-ttl D           session tokens expire D after they were set (0: never)
//	emu age NAME D              NAME's session token looks set D earlier than it was
//	emu spec require AUTH PARAM the served S3 spec's auth spec AUTH requires PARAM too
//	emu spec secret AUTH PARAM  the served spec marks PARAM of AUTH format: password
//	emu spec bare               the served spec is the object itself, not {"items":[spec]}
//	emu spec missing            the service answers {"items":[]}: it does not know the spec
//	emu spec default            the served spec is the emulator's own again
//	emu patches                 print every PATCH received so far, one per line: "ID: op path, …"
//	emu http METHOD PATH [FILE] send a request to the emulator's API (FILE: JSON body) with
//	                            the script's credentials; the answer's body goes to stdout
//	emu post KEY NAME SPEC [P=V]...   POST /connections over HTTP with x-api-key KEY (a
//	                            colleague's create); SPEC is "Access Key" or "IAMRole Based";
//	                            P=V are auth params, or description=D; prints the id
//	emu patch KEY ID PATH VALUE PATCH /connections/ID over HTTP with x-api-key KEY: one
//	                            replace of PATH ("/name", "/auth/params/s3SecretKey", …)
//	emu etag ID VAR             set $VAR to the etag of connection ID
//	emu unchanged ID ETAG       connection ID is live and its etag is still ETAG
//	emu createdby ID KEY        connection ID's createdClient is KEY
//	emu idby KEY NAME VAR [N]   set $VAR to the id of the one connection NAME made by KEY
//	                            (the N-th, oldest first, when there are several)
//	emu no-id P                 answer this fraction of creates 201 without an id
//	emu fail METHOD N           answer the next N API calls of METHOD 500, doing nothing
//	emu answered METHOD STATUS N  N calls of METHOD were answered STATUS (0: left unanswered)
//	emu drop METHOD N           the next N API calls of METHOD that commit go unanswered
//	emu drop-edit NAME FIELD VALUE  when a call on NAME goes unanswered after its commit,
//	                            edit FIELD as emu edit does, before the client can retry (once)
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
		case 3:
			key := strings.ToUpper(args[0]) + " " + args[1]
			wantInt(ts, neg, key+" requests", ts.Value(pathsKey{}).(*pathCounts).get(key), args[2])
		default:
			ts.Fatalf("usage: emu requests [METHOD [PATH]] N")
		}
	case "wait-requests":
		// Polls until the emulator has seen at least N API requests (a minute at most): a
		// background apply is then past its setup, signal handlers included.
		need(1)
		n, err := strconv.ParseInt(args[0], 10, 64)
		ts.Check(err)
		deadline := time.Now().Add(time.Minute)
		for s.Stats().Total < n {
			if time.Now().After(deadline) {
				ts.Fatalf("emu wait-requests %d: only %d after a minute", n, s.Stats().Total)
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "useragent":
		need(0)
		ua, _ := ts.Value(userAgentKey{}).(*atomic.Value).Load().(string)
		fmt.Fprintln(ts.Stdout(), ua)
	case "tokens":
		need(1)
		wantInt(ts, neg, "IMS tokens issued", s.Stats().TokensIssued, args[0])
	case "edit":
		need(3)
		c := one(ts, args[0])
		ok := s.Mutate(c.ID, editField(ts, args[1], args[2]))
		assert(ok, "emu edit %s: connection %s vanished", args[0], c.ID)
	case "answered":
		// answered METHOD STATUS N: N calls of METHOD were answered STATUS (0: unanswered).
		need(3)
		status, err := strconv.Atoi(args[1])
		ts.Check(err)
		n := s.Stats().Requests[strings.ToUpper(args[0])][status]
		wantInt(ts, neg, args[0]+" requests answered "+args[1], n, args[2])
	case "drop":
		// drop METHOD N: the next N committed calls of METHOD go unanswered.
		need(2)
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		s.DropNext(strings.ToUpper(args[0]), n)
	case "drop-edit":
		// drop-edit NAME FIELD VALUE: when a call on NAME's connection goes unanswered after
		// its commit, someone else edits FIELD before the client can retry (once).
		need(3)
		id, edit := one(ts, args[0]).ID, editField(ts, args[1], args[2])
		var done atomic.Bool
		s.OnDrop(func(dropped string) {
			if dropped == id && !done.Swap(true) {
				s.Mutate(id, edit)
			}
		})
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
	case "inuse", "dataflow":
		flow, state := args[0]+"-flow", "enabled"
		switch {
		case sub == "inuse":
			need(1)
		case len(args) == 3 && args[2] == "disabled":
			flow, state = args[1], args[2]
		default:
			need(2)
			flow = args[1]
		}
		c := oneByIDOrName(ts, args[0])
		_, err := s.AttachDataflow(emulator.Dataflow{OrgID: testOrg, Sandbox: testSandbox, BaseConnectionID: c.ID, Name: flow, State: state,
			LastRun: &flowservice.RunDetails{State: "success", StartedAtUTC: 1767225600000, CompletedAtUTC: 1767225900000}})
		ts.Check(err)
	case "free":
		need(1)
		assert(s.DetachAll(args[0]) > 0, "emu free: no dataflow uses connection %s", args[0])
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
	case "session-ttl":
		need(1)
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		s.SetSessionTokenTTL(d)
	case "age":
		need(2)
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		c := one(ts, args[0])
		assert(s.AgeSessionToken(c.ID, d), "emu age %s: connection %s has no session token", args[0], c.ID)
	case "spec":
		if len(args) == 0 {
			ts.Fatalf("usage: emu spec (require|secret AUTH PARAM | bare | missing | default)")
		}
		ts.Check(editSpec(s, args[0], args[1:]))
	case "patches":
		need(0)
		l := ts.Value(patchesKey{}).(*patchLog)
		l.mu.Lock()
		lines := slices.Clone(l.lines)
		l.mu.Unlock()
		slices.Sort(lines)
		for _, line := range lines {
			fmt.Fprintln(ts.Stdout(), line)
		}
	case "http":
		if len(args) < 2 || len(args) > 3 {
			ts.Fatalf("usage: emu http METHOD PATH [FILE]")
		}
		var body []byte
		if len(args) == 3 {
			body = []byte(ts.ReadFile(args[2]))
		}
		status, answer := emuHTTP(ts, args[0], args[1], body)
		fmt.Fprintf(ts.Stdout(), "%s\n", answer)
		assert(status >= 200 && status <= 299, "emu http %s %s: %d %s", args[0], args[1], status, answer)
	case "post":
		if len(args) < 3 {
			ts.Fatalf("usage: emu post KEY NAME SPEC [P=V]...")
		}
		nc := flowservice.NewConnection{Name: args[1],
			Auth:           flowservice.Auth{SpecName: args[2], Params: map[string]string{}},
			ConnectionSpec: s3source.ConnectionSpec()}
		for _, kv := range args[3:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				ts.Fatalf("emu post: %q is not P=V", kv)
			}
			if k == "description" {
				nc.Description = v
			} else {
				nc.Auth.Params[k] = v
			}
		}
		ref, err := httpClient(ts, args[0]).Create(context.Background(), nc)
		ts.Check(err)
		fmt.Fprintln(ts.Stdout(), ref.ID)
	case "patch":
		need(4)
		c := httpClient(ts, args[0])
		cur, err := c.Get(context.Background(), args[1])
		ts.Check(err)
		v, _ := json.Marshal(args[3])
		_, err = c.Patch(context.Background(), args[1], cur.ETag, []flowservice.PatchOp{{Op: "replace", Path: args[2], Value: v}})
		ts.Check(err)
	case "etag":
		need(2)
		for _, c := range live(ts, "") {
			if c.ID == args[0] {
				ts.Setenv(args[1], c.ETag)
				return
			}
		}
		ts.Fatalf("emu etag: connection %s is not live", args[0])
	case "unchanged":
		need(2)
		var etag string
		for _, c := range live(ts, "") {
			if c.ID == args[0] {
				etag = c.ETag
			}
		}
		assert(etag == args[1], "connection %s: etag %q, want %q (missing or changed)", args[0], etag, args[1])
	case "idby":
		if len(args) != 3 && len(args) != 4 {
			ts.Fatalf("usage: emu idby KEY NAME VAR [N]")
		}
		var ids []string
		for _, c := range live(ts, args[1]) {
			if c.CreatedClient == args[0] {
				ids = append(ids, c.ID)
			}
		}
		i := 0
		if len(args) == 4 {
			var err error
			i, err = strconv.Atoi(args[3])
			ts.Check(err)
		} else if len(ids) != 1 {
			ts.Fatalf("emu idby: %d connections named %q made by %s, want 1", len(ids), args[1], args[0])
		}
		if i < 0 || i >= len(ids) {
			ts.Fatalf("emu idby: no connection %d of %d named %q made by %s", i, len(ids), args[1], args[0])
		}
		ts.Setenv(args[2], ids[i])
	case "createdby":
		need(2)
		var client string
		for _, c := range live(ts, "") {
			if c.ID == args[0] {
				client = c.CreatedClient
			}
		}
		assert(client == args[1], "connection %s: createdClient %q, want %q", args[0], client, args[1])
	case "fail":
		need(2)
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		s.FailNext(strings.ToUpper(args[0]), n)
	case "no-id":
		need(1)
		p, err := strconv.ParseFloat(args[0], 64)
		ts.Check(err)
		s.SetCreateWithoutID(p)
	default:
		ts.Fatalf("emu: unknown subcommand %q", sub)
	}
}

// editSpec changes the S3 connection spec the emulator serves (see cmdEmu).
func editSpec(s *emulator.Server, sub string, args []string) error {
	if sub == "default" {
		return s.SetConnectionSpecAnswer(nil)
	}
	var answer struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(s.ConnectionSpecAnswer(), &answer); err != nil || len(answer.Items) != 1 {
		return fmt.Errorf("emu spec: the served answer is not {\"items\":[spec]} (%v)", err)
	}
	item := answer.Items[0]
	switch sub {
	case "missing":
		return s.SetConnectionSpecAnswer([]byte(`{"items":[]}`))
	case "bare":
		b, err := json.Marshal(item)
		if err != nil {
			return err
		}
		return s.SetConnectionSpecAnswer(b)
	case "require", "secret":
		if len(args) != 2 {
			return fmt.Errorf("usage: emu spec %s AUTH PARAM", sub)
		}
		auths, _ := item["authSpec"].([]any)
		found := false
		for _, a := range auths {
			am, _ := a.(map[string]any)
			if am["name"] != args[0] {
				continue
			}
			found = true
			spec, _ := am["spec"].(map[string]any)
			props, _ := spec["properties"].(map[string]any)
			if sub == "require" {
				req, _ := spec["required"].([]any)
				spec["required"] = append(req, args[1])
				if props[args[1]] == nil {
					props[args[1]] = map[string]any{"type": "string"}
				}
			} else {
				p, _ := props[args[1]].(map[string]any)
				if p == nil {
					return fmt.Errorf("emu spec secret: auth spec %q has no param %s", args[0], args[1])
				}
				p["format"] = "password"
			}
		}
		if !found {
			return fmt.Errorf("emu spec %s: no auth spec %q", sub, args[0])
		}
		b, err := json.Marshal(answer)
		if err != nil {
			return err
		}
		return s.SetConnectionSpecAnswer(b)
	}
	return fmt.Errorf("emu spec: unknown %q (want require, secret, bare, missing or default)", sub)
}

// emuHTTP sends one request to the script's emulator with the Adobe headers and returns the
// answer's status and body.
// emuSandbox is the sandbox the emu commands look at: $EMU_SANDBOX when a script sets it (a
// manifest with environments uses several), else the test sandbox.
func emuSandbox(ts *testscript.TestScript) string {
	if s := ts.Getenv("EMU_SANDBOX"); s != "" {
		return s
	}
	return testSandbox
}

func emuHTTP(ts *testscript.TestScript, method, p string, body []byte) (int, string) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, emu(ts).Endpoint+p, rd)
	ts.Check(err)
	req.Header.Set("Authorization", "Bearer "+ts.Getenv("FLOWSYNC_ACCESS_TOKEN"))
	req.Header.Set("x-api-key", "someone-elses-key")
	req.Header.Set("x-gw-ims-org-id", testOrg)
	req.Header.Set("x-sandbox-name", emuSandbox(ts))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// editField is the edit of emu edit: field (description, name, specName or
// auth.params.NAME) set to value.
func editField(ts *testscript.TestScript, field, value string) func(c *flowservice.Connection) {
	switch {
	case field == "description":
		return func(c *flowservice.Connection) { c.Description = value }
	case field == "name":
		return func(c *flowservice.Connection) { c.Name = value }
	case field == "specName":
		return func(c *flowservice.Connection) { c.Auth.SpecName = value }
	case strings.HasPrefix(field, "auth.params."):
		return func(c *flowservice.Connection) { c.Auth.Params[strings.TrimPrefix(field, "auth.params.")] = value }
	}
	ts.Fatalf("emu edit: unknown field %q", field)
	return nil
}

// cmdGen writes a manifest of N generated Access Key entries name-1 … name-N whose secrets
// come from $S3_SECRET_KEY and $S3_SESSION_TOKEN:
//
//	gen [-desc DESCRIPTION] [-iam NAME] [-rename OLD=NEW]... [-describe NAME=D]... N FILE
//
// -iam makes entry NAME an IAMRole Based one; -rename names entry OLD NEW with formerNames
// [OLD]; -describe gives entry NAME (its name after -rename) its own description.
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! gen")
	}
	desc, iam := "generated entry", ""
	var edits [][2]string // old line, new lines
	for len(args) > 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-desc":
			desc = args[1]
		case "-iam":
			iam = args[1]
		case "-rename":
			old, nw, _ := strings.Cut(args[1], "=")
			edits = append(edits, [2]string{"  - name: " + old + "\n", "  - name: " + nw + "\n    formerNames: [" + old + "]\n"})
		case "-describe":
			name, d, _ := strings.Cut(args[1], "=")
			edits = append(edits, [2]string{"  - name: " + name + "\n", "  - name: " + name + "\n    description: " + strconv.Quote(d) + "\n"})
		default:
			ts.Fatalf("gen: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: gen [-desc D] [-iam NAME] [-rename OLD=NEW]... [-describe NAME=D]... N FILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	text := string(genManifest(n, desc, iam).Bytes())
	for _, e := range edits {
		if !strings.Contains(text, e[0]) {
			ts.Fatalf("gen: no entry %q to edit", strings.TrimSpace(e[0]))
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(text), 0o644))
}

// cmdGenCSV writes a table for generate --from-csv of N rows as an onboarding has them, each
// its own bucket, folder, region and description (every seventh row without a folder):
//
//	gencsv N FILE
func cmdGenCSV(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gencsv N FILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	regions := []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "eu-central-1", "ca-central-1", "sa-east-1"}
	var b strings.Builder
	b.WriteString("name,bucketName,region,folderPath,description\n")
	for i := 1; i <= n; i++ {
		folder := fmt.Sprintf("events/team-%03d", i)
		if i%7 == 0 {
			folder = ""
		}
		fmt.Fprintf(&b, "team-%03d,team-%03d-landing,%s,%s,\"Landing bucket of team %d, %s\"\n", i, i, regions[i%len(regions)], folder, i, regions[i%len(regions)])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o644))
}

// genManifest is the manifest of the gen command.
func genManifest(n int, desc, iam string) *testmanifest.Manifest {
	m := &testmanifest.Manifest{
		OrgID: testOrg, Sandbox: testSandbox, From: 1, N: n, Name: "name-%d", Description: desc, IAM: iam,
		Params: []testmanifest.Param{
			{Key: "s3AccessKey", Value: "AKIAIOSFODNN7EXAMPLE"},
			{Key: "s3SecretKey", Value: testmanifest.Env("S3_SECRET_KEY")},
		},
		EntryParams: []testmanifest.Param{
			{Key: "serviceUrl", Value: "https://s3.eu-west-1.amazonaws.com/"},
			{Key: "bucketName", Value: "bucket-%d"},
			{Key: "s3SessionToken", Value: testmanifest.Env("S3_SESSION_TOKEN")},
		},
	}
	return m
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

// cmdHoldLock holds the run lock of a lockfile until the script ends: holdlock [-bare] LOCKFILE.
// With -bare the lock is taken as flock(1) takes it, without describing its holder in the file.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	bare := len(args) == 2 && args[0] == "-bare"
	if bare {
		args = args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock [-bare] LOCKFILE")
	}
	if bare {
		fl := flock.New(ts.MkAbs(args[0]) + ".lock")
		ok, err := fl.TryLock()
		ts.Check(err)
		if !ok {
			ts.Fatalf("%s is locked already", args[0])
		}
		ts.Defer(func() { _ = fl.Close() })
		return
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

// cmdJSONSchema checks that a file (stdout, stderr or a path) is a JSON document valid
// against one of the repository's documented schemas: jsonschema docs/SCHEMA.json[#/$defs/D] FILE.
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonschema docs/SCHEMA.json FILE")
	}
	wd, err := os.Getwd() // the test's working directory: the repository's root
	ts.Check(err)
	file, fragment, _ := strings.Cut(args[0], "#") // docs/plan-json.schema.json#/$defs/apply
	schemaPath := filepath.Join(wd, filepath.FromSlash(file))
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	data, err := os.ReadFile(schemaPath)
	ts.Check(err)
	ts.Check(c.AddResource(schemaPath, bytes.NewReader(data)))
	if fragment != "" {
		fragment = "#" + fragment
	}
	sch, err := c.Compile(schemaPath + fragment)
	ts.Check(err)
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[1])), &v); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[1], err)
	}
	if err := sch.Validate(v); err != nil {
		ts.Fatalf("%s does not match %s: %#v", args[1], args[0], err)
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

// cmdOnce checks the last command's stderr: exactly one "flowsync: error:" line, no hint line
// twice, and each PATTERN (a regexp) found on exactly one line: once PATTERN...
func cmdOnce(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("once does not support !")
	}
	lines := strings.Split(ts.ReadFile("stderr"), "\n")
	errs, hints := 0, map[string]int{}
	for _, l := range lines {
		if strings.HasPrefix(l, "flowsync: error: ") {
			errs++
		}
		if strings.HasPrefix(l, "flowsync: hint: ") {
			hints[l]++
			if hints[l] > 1 {
				ts.Fatalf("hint said twice: %s", l)
			}
		}
	}
	if errs != 1 {
		ts.Fatalf("%d error lines, want 1", errs)
	}
	for _, pat := range args {
		re, err := regexp.Compile(pat)
		ts.Check(err)
		n := 0
		for _, l := range lines {
			if re.MatchString(l) {
				n++
			}
		}
		if n != 1 {
			ts.Fatalf("%q is on %d lines of stderr, want 1", pat, n)
		}
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

// TestScriptsStartFromTrackedFiles: what the README's quickstart leaves in examples/ (its
// lockfile, the emulator's state) never reaches a script's copy, in a checkout or not.
func TestScriptsStartFromTrackedFiles(t *testing.T) {
	files, err := trackedFiles("examples")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, filepath.Join("examples", "quickstart.yaml")) {
		t.Errorf("examples/quickstart.yaml not among %q", files)
	}
	for _, f := range files {
		if generatedFile(filepath.Base(f)) {
			t.Errorf("%s would be copied into every script", f)
		}
	}

	// Outside a git checkout: leftovers beside the manifest are skipped.
	t.Chdir(t.TempDir())
	for _, f := range []string{"examples/quickstart.yaml", "examples/quickstart.lock.json", "examples/.flowsync-emulator.json",
		"examples/quickstart.lock.json.lock", "examples/quickstart.lock.json.journal", "examples/s/key"} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	if err := copyTracked("examples", dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{"examples/quickstart.yaml", "examples/s/key"}
	if !slices.Equal(got, want) {
		t.Errorf("copied %q, want %q", got, want)
	}
}

// planFileSchema compiles docs/planfile.schema.json.
func planFileSchema() (*jsonschema.Schema, error) {
	data, err := os.ReadFile(filepath.Join("docs", "planfile.schema.json"))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("planfile.schema.json", bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return c.Compile("planfile.schema.json")
}

// validatePlanFiles checks every plan file under dir (a JSON object with format_version and
// flowsync_version) against the schema and returns how many it found.
func validatePlanFiles(dir string) (int, error) {
	s, err := planFileSchema()
	if err != nil {
		return 0, err
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() { // a FIFO or a link to a device is no plan file, and never read
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var v map[string]any
		if json.Unmarshal(data, &v) != nil || v["format_version"] == nil || v["flowsync_version"] == nil {
			return nil
		}
		n++
		if err := s.Validate(v); err != nil {
			return fmt.Errorf("%s does not match docs/planfile.schema.json: %#v", p, err)
		}
		return nil
	})
	return n, err
}

// cmdPlanFile checks saved plans against docs/planfile.schema.json: planfile FILE...
// With !, every FILE must fail the schema.
func cmdPlanFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: planfile FILE...")
	}
	s, err := planFileSchema()
	ts.Check(err)
	for _, f := range args {
		var v any
		if err := json.Unmarshal([]byte(ts.ReadFile(f)), &v); err != nil {
			ts.Fatalf("%s is not JSON: %v", f, err)
		}
		err := s.Validate(v)
		switch {
		case err != nil && !neg:
			ts.Fatalf("%s does not match docs/planfile.schema.json: %#v", f, err)
		case err == nil && neg:
			ts.Fatalf("%s matches docs/planfile.schema.json", f)
		}
	}
}

// cmdPlanEdit edits a plan file as a hostile hand would, keeping it a file Parse accepts:
//
//	planedit FILE NAME KEY=JSON...   set keys of the change NAME (added, in name order, when
//	                                 the file has none), each to a raw JSON value; NAME - sets
//	                                 top-level keys ("options.prune=false" reaches one level down)
func cmdPlanEdit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: planedit FILE NAME KEY=JSON...")
	}
	var doc map[string]json.RawMessage
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc))
	set := func(obj map[string]json.RawMessage, kv string) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !json.Valid([]byte(v)) {
			ts.Fatalf("planedit: %q is not KEY=JSON", kv)
		}
		if outer, inner, nested := strings.Cut(k, "."); nested {
			var sub map[string]json.RawMessage
			ts.Check(json.Unmarshal(obj[outer], &sub))
			sub[inner] = json.RawMessage(v)
			b, err := json.Marshal(sub)
			ts.Check(err)
			obj[outer] = b
			return
		}
		obj[k] = json.RawMessage(v)
	}
	if args[1] == "-" {
		for _, kv := range args[2:] {
			set(doc, kv)
		}
	} else {
		var changes []map[string]json.RawMessage
		ts.Check(json.Unmarshal(doc["changes"], &changes))
		name, _ := json.Marshal(args[1])
		i := slices.IndexFunc(changes, func(c map[string]json.RawMessage) bool { return string(c["name"]) == string(name) })
		if i < 0 {
			changes = append(changes, map[string]json.RawMessage{"name": name, "reason": json.RawMessage(`"manifest"`),
				"recorded": json.RawMessage(`null`), "fields": json.RawMessage(`[]`), "notes": json.RawMessage(`[]`),
				"secrets": json.RawMessage(`{}`), "requests": json.RawMessage(`[]`)})
			i = len(changes) - 1
		}
		for _, kv := range args[2:] {
			set(changes[i], kv)
		}
		slices.SortFunc(changes, func(a, b map[string]json.RawMessage) int {
			return strings.Compare(string(a["name"]), string(b["name"]))
		})
		b, err := json.Marshal(changes)
		ts.Check(err)
		doc["changes"] = b
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), append(out, '\n'), 0o600))
}
