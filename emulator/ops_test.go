package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/flowsync/flowsync/flowservice"
)

func TestPersistence(t *testing.T) {
	const canary = "CANARY-s3cr3t-value-9f8e7d6c"
	const canaryToken = "CANARY-session-token-1a2b3c"
	path := filepath.Join(t.TempDir(), "state.json")

	r, err := Start(Options{StatePath: path}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: r.Server, url: r.Endpoint}
	nc := accessKeyConn("persisted")
	nc.Auth.Params["s3SecretKey"] = canary
	nc.Auth.Params["s3SessionToken"] = canaryToken
	ref := h.create(nc)
	h.create(accessKeyConn("second"))
	if _, err := h.s.AttachDataflow(Dataflow{OrgID: testOrg, Sandbox: testSandbox, BaseConnectionID: ref.ID, Name: "reads persisted"}); err != nil {
		t.Fatal(err)
	}
	before := h.s.Connections(testOrg, testSandbox)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{canary, canaryToken} {
		for _, form := range []string{
			secret,
			base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.RawStdEncoding.EncodeToString([]byte(secret)),
			base64.URLEncoding.EncodeToString([]byte(secret)),
			hex.EncodeToString([]byte(secret)),
			strings.ToUpper(hex.EncodeToString([]byte(secret))),
			"CANARY",
		} {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("state file holds a secret (as %q)", form)
			}
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("state directory holds %d files, want 1 (no temp file left)", len(entries))
	}

	s, err := New(Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, s.Connections(testOrg, testSandbox)); diff != "" {
		t.Errorf("after reload (-before +after):\n%s", diff)
	}
	if !s.SecretMatches(ref.ID, "s3SecretKey", canary) || !s.SecretMatches(ref.ID, "s3SessionToken", canaryToken) {
		t.Error("secrets do not match after reload")
	}
	// The reloaded server keeps answering: the etag still works and in-use is kept.
	h2 := newHarnessFor(t, s)
	if a := h2.do("DELETE", "/connections/"+ref.ID, nil, nil); a.status != 400 || a.code() != "1418-400" {
		t.Errorf("delete in-use after reload: %d %s", a.status, a.raw)
	}
	a := h2.do("PATCH", "/connections/"+ref.ID, `[{"op":"replace","path":"/name","value":"renamed"}]`, func(hd http.Header) { hd.Set("If-Match", ref.ETag) })
	if a.status != 200 {
		t.Fatalf("patch after reload: %d %s", a.status, a.raw)
	}
	if e := a.body["etag"]; e == ref.ETag {
		t.Error("etag reused after reload")
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StatePath: path}); err == nil {
		t.Error("New with a corrupt state file: no error")
	}
	planted := fmt.Sprintf(`{"version":1,"hmacKey":"%s","connections":[{"orgId":"o","sandbox":"s","connection":{"id":"x","auth":{"specName":"Access Key","params":{"s3SecretKey":"clear"}}}}]}`, strings.Repeat("ab", 32))
	if err := os.WriteFile(path, []byte(planted), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StatePath: path}); err == nil {
		t.Error("New with a secret in clear in the state file: no error")
	}
}

func newHarnessFor(t *testing.T, s *Server) *harness {
	t.Helper()
	r := &harness{t: t, s: s}
	srv := newTestServer(t, s)
	r.url = srv + APIPrefix
	return r
}

func newTestServer(t *testing.T, s *Server) string {
	t.Helper()
	srv := &http.Server{Handler: s.Handler()}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestBackgroundFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	r, err := Start(Options{StatePath: path}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := &harness{t: t, s: r.Server, url: r.Endpoint}
	ref := h.create(accessKeyConn("flushed"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(ref.ID)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("state not flushed within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestListenAndServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, Options{StatePath: path}, "127.0.0.1:0", &stderr) }()
	var endpoint string
	for range 200 {
		if line := stderr.String(); strings.Contains(line, "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasSuffix(f, APIPrefix) {
					endpoint = f
				}
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if endpoint == "" {
		t.Fatalf("no endpoint printed: %q", stderr.String())
	}
	h := &harness{t: t, url: endpoint}
	h.create(accessKeyConn("served"))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || !bytes.Contains(data, []byte(`"served"`)) {
		t.Errorf("state not saved on exit: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestFaultRates(t *testing.T) {
	n := 1000
	if raceEnabled {
		n = 400
	}
	for _, c := range []struct {
		name       string
		opts       Options
		status     int
		kind       string
		retryAfter string
	}{
		{"fail", Options{FailRate: 0.3, Seed: 42}, 500, FaultFail, ""},
		{"throttle", Options{ThrottleRate: 0.2, Seed: 7}, 429, FaultThrottle, "1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.opts)
			got := 0
			for range n {
				a := h.do("GET", "/connections?limit=1", nil, nil)
				switch a.status {
				case c.status:
					got++
					if a.header.Get("Retry-After") != c.retryAfter {
						t.Fatalf("Retry-After %q, want %q", a.header.Get("Retry-After"), c.retryAfter)
					}
				case 200:
				default:
					t.Fatalf("status %d: %s", a.status, a.raw)
				}
			}
			rate := c.opts.FailRate + c.opts.ThrottleRate
			if want := rate * float64(n); float64(got) < want*0.75 || float64(got) > want*1.25 {
				t.Errorf("%d of %d answered %d, want about %.0f", got, n, c.status, want)
			}
			st := h.s.Stats()
			if st.Faults[c.kind] != int64(got) || st.Requests["GET"][c.status] != int64(got) || st.Total != int64(n) {
				t.Errorf("stats %+v, want %d %s faults", st, got, c.kind)
			}
		})
	}
	t.Run("seed repeats", func(t *testing.T) {
		seq := func() string {
			h := newHarness(t, Options{FailRate: 0.5, Seed: 99})
			var b strings.Builder
			for range 50 {
				b.WriteString(strconv.Itoa(h.do("GET", "/connections", nil, nil).status))
			}
			return b.String()
		}
		if a, b := seq(), seq(); a != b {
			t.Errorf("same seed, different faults:\n%s\n%s", a, b)
		}
	})
	t.Run("no faults on IMS", func(t *testing.T) {
		h := newHarness(t, Options{FailRate: 1, ThrottleRate: 1})
		for range 5 {
			if _, status := h.imsToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {"a"}, "client_secret": {"b"}, "scope": {"openid"}}); status != 200 {
				t.Fatalf("IMS: %d", status)
			}
		}
	})
}

func TestLatency(t *testing.T) {
	h := newHarness(t, Options{Latency: 100 * time.Millisecond})
	start := time.Now()
	h.do("GET", "/connections", nil, nil)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered in %v, want at least 100ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/connections", nil)
	req.Header = stdHeaders()
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want a deadline", err)
	}
}

func TestDropAfterCommit(t *testing.T) {
	h := newHarness(t, Options{DropAfterCommit: 1})
	body, _ := json.Marshal(accessKeyConn("dropped"))
	req, _ := http.NewRequest("POST", h.url+"/connections", bytes.NewReader(body))
	req.Header = stdHeaders()
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST answered %d, want the connection closed", resp.StatusCode)
	}
	conns := h.s.Connections(testOrg, testSandbox)
	if len(conns) != 1 || conns[0].Name != "dropped" {
		t.Fatalf("after a dropped POST: %+v, want the connection committed", conns)
	}
	// GET is not mutating: answered.
	if a := h.do("GET", "/connections/"+conns[0].ID, nil, nil); a.status != 200 {
		t.Errorf("GET: %d", a.status)
	}
	// DELETE is committed too.
	req, _ = http.NewRequest("DELETE", h.url+"/connections/"+conns[0].ID, nil)
	req.Header = stdHeaders()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("DELETE answered %d", resp.StatusCode)
	}
	if n := len(h.s.Connections(testOrg, testSandbox)); n != 0 {
		t.Errorf("%d connections after a dropped DELETE, want 0", n)
	}
	// A rejected mutation is answered.
	if a := h.do("POST", "/connections", "{}", nil); a.status != 400 {
		t.Errorf("bad POST: %d", a.status)
	}
	st := h.s.Stats()
	if st.Faults[FaultDrop] != 2 || st.Requests["POST"][0] != 1 || st.Requests["DELETE"][0] != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Options{RateLimit: 2}) // burst 1
	var limited []answer
	ok := 0
	for range 10 {
		a := h.do("GET", "/connections", nil, nil)
		switch a.status {
		case 200:
			ok++
		case 429:
			limited = append(limited, a)
		default:
			t.Fatalf("status %d", a.status)
		}
	}
	if ok < 1 || ok > 3 || len(limited) == 0 {
		t.Fatalf("%d answered, %d limited", ok, len(limited))
	}
	for _, a := range limited {
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("Retry-After %q, want whole seconds ≥ 1", a.header.Get("Retry-After"))
		}
		if a.code() != "429001" {
			t.Errorf("code %q", a.code())
		}
	}
	if got := h.s.Stats().Faults[FaultRateLimit]; got != int64(len(limited)) {
		t.Errorf("rate-limit faults %d, want %d", got, len(limited))
	}
	time.Sleep(600 * time.Millisecond)
	if a := h.do("GET", "/connections", nil, nil); a.status != 200 {
		t.Errorf("after waiting: %d", a.status)
	}
}

func (h *harness) imsToken(form url.Values) (map[string]any, int) {
	h.t.Helper()
	resp, err := http.Post(strings.TrimSuffix(h.url, APIPrefix)+IMSPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &m); err != nil {
		h.t.Fatalf("IMS answer: %v: %s", err, data)
	}
	if resp.Header.Get("x-request-id") == "" {
		h.t.Error("IMS answer without x-request-id")
	}
	return m, resp.StatusCode
}

func TestIMS(t *testing.T) {
	h := newHarness(t, Options{ClientID: "cid", ClientSecret: "csecret", TokenTTL: time.Hour})
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"csecret"}, "scope": {flowservice.DefaultScopes}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for k, vs := range good {
			f[k] = vs
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		err    string
	}{
		{"wrong secret", with("client_secret", "nope"), 401, "invalid_client"},
		{"wrong id", with("client_id", "nope"), 401, "invalid_client"},
		{"no scope", with("scope", ""), 400, "invalid_request"},
		{"no secret", with("client_secret", ""), 400, "invalid_request"},
		{"other grant", with("grant_type", "password"), 400, "unsupported_grant_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, status := h.imsToken(c.form)
			if status != c.status || m["error"] != c.err || m["error_description"] == "" {
				t.Errorf("%d %v, want %d %s", status, m, c.status, c.err)
			}
		})
	}
	m, status := h.imsToken(good)
	if status != 200 || m["token_type"] != "bearer" || m["expires_in"] != float64(3600) || m["access_token"] == "" {
		t.Fatalf("token: %d %v", status, m)
	}
	tok := m["access_token"].(string)
	bearer := func(tok string) func(http.Header) {
		return func(hd http.Header) { hd.Set("Authorization", "Bearer "+tok); hd.Set("x-api-key", "cid") }
	}
	if a := h.do("GET", "/connections", nil, bearer(tok)); a.status != 200 {
		t.Errorf("with an issued token: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/connections", nil, bearer("static-token")); a.status != 200 {
		t.Errorf("with another token: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/connections", nil, func(hd http.Header) { hd.Set("Authorization", "Bearer "+tok) }); a.status != 403 || a.code() != "403003" {
		t.Errorf("with an x-api-key other than the client id: %d %s", a.status, a.raw)
	}
	h.s.RevokeTokens()
	for _, tk := range []string{tok, "static-token"} {
		if a := h.do("GET", "/connections", nil, bearer(tk)); a.status != 401 || a.code() != "401013" {
			t.Errorf("revoked token: %d %s", a.status, a.raw)
		}
	}
	m, _ = h.imsToken(good)
	if a := h.do("GET", "/connections", nil, bearer(m["access_token"].(string))); a.status != 200 {
		t.Errorf("with a token issued after the revocation: %d %s", a.status, a.raw)
	}
	if st := h.s.Stats(); st.TokensIssued != 2 || st.IMSRequests != 7 {
		t.Errorf("IMS stats: %+v", st)
	}

	t.Run("expiry", func(t *testing.T) {
		h := newHarness(t, Options{TokenTTL: 50 * time.Millisecond, RequireIssuedTokens: true})
		m, _ := h.imsToken(with("client_id", "any"))
		tok := m["access_token"].(string)
		if a := h.do("GET", "/connections", nil, bearer(tok)); a.status != 200 {
			t.Errorf("fresh token: %d", a.status)
		}
		if a := h.do("GET", "/connections", nil, bearer("never-issued")); a.status != 401 {
			t.Errorf("token not issued, RequireIssuedTokens: %d", a.status)
		}
		time.Sleep(80 * time.Millisecond)
		if a := h.do("GET", "/connections", nil, bearer(tok)); a.status != 401 || a.code() != "401013" {
			t.Errorf("expired token: %d %s", a.status, a.raw)
		}
	})
	t.Run("not a form", func(t *testing.T) {
		resp, err := http.Post(strings.TrimSuffix(h.url, APIPrefix)+IMSPath, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("JSON body: %d", resp.StatusCode)
		}
	})
}

func TestRegisterFlags(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("emulator", pflag.ContinueOnError)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{"--latency=5ms", "--fail-rate=0.1", "--throttle-rate=0.2", "--rate-limit=50",
		"--drop-after-commit=0.05", "--seed=3", "--state=s.json", "--client-id=c", "--client-secret=x", "--token-ttl=1m", "--session-token-ttl=2h"})
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Latency: 5 * time.Millisecond, FailRate: 0.1, ThrottleRate: 0.2, RateLimit: 50, DropAfterCommit: 0.05,
		Seed: 3, StatePath: "s.json", ClientID: "c", ClientSecret: "x", TokenTTL: time.Minute, SessionTokenTTL: 2 * time.Hour}
	if diff := cmp.Diff(want, o, cmp.Comparer(func(a, b func(*http.Request, []byte)) bool { return a == nil && b == nil })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []Options{{FailRate: 1.5}, {ThrottleRate: -0.1}, {RateLimit: -1}, {DropAfterCommit: 2}, {SessionTokenTTL: -time.Second}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v): no error", bad)
		}
	}
}

// TestConcurrentCreates is the load the emulator is built for: many creates at once, then a
// listing by name, with the race detector watching.
func TestConcurrentCreates(t *testing.T) {
	n := 10000
	if testing.Short() || raceEnabled {
		n = 500
	}
	h := newHarness(t, Options{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body, _ := json.Marshal(accessKeyConn("load"))
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	work := make(chan int)
	for range 64 {
		wg.Go(func() {
			for range work {
				req, _ := http.NewRequest("POST", h.url+"/connections", bytes.NewReader(body))
				req.Header = stdHeaders()
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					mu.Lock()
					failures = append(failures, resp.Status)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d creates at concurrency 64 in %v", n, time.Since(start))
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	a := h.do("GET", "/connections?count=true&property=name==load", nil, nil)
	if a.body["count"] != float64(n) {
		t.Errorf("count %v, want %d", a.body["count"], n)
	}
	seen := map[string]bool{}
	for _, c := range h.s.Connections(testOrg, testSandbox) {
		if seen[c.ETag] {
			t.Fatalf("etag %s handed out twice", c.ETag)
		}
		seen[c.ETag] = true
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
