package flowservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/reconcile"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newDebugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// script answers the i-th request (0-based) with steps[i], and the last step afterwards.
type script struct {
	n     atomic.Int64
	steps []func(w http.ResponseWriter, r *http.Request)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.steps[min(i, len(s.steps)-1)](w, r)
}

func status(code int, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		writeJSON(w, code, map[string]any{"error_code": fmt.Sprint(code), "message": "scripted"})
	}
}

func okConn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		writeJSON(w, http.StatusCreated, Ref{ID: "new", ETag: `"e"`})
		return
	}
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn(id, "acme")}})
}

// hangUp takes the connection over and closes it without an answer, after reading the request.
func hangUp(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func TestGetRetriesOn5xxAnd429(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){
		status(500), status(502), status(503), status(504), status(429), okConn,
	}}
	c := newTestClient(t, s)
	if _, err := c.Get(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Requests != 6 || st.Retries != 5 || st.Throttled != 2 || st.ByStatus[500] != 1 || st.ByStatus[200] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestGetHonoursRetryAfter(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "1"), okConn}}
	c := newTestClient(t, s)
	start := time.Now()
	if _, err := c.Get(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, before Retry-After: 1", d)
	}
}

// TestRetryAfterDateInTheServiceClock: a Retry-After given as an HTTP-date is measured from the
// answer's own Date header, so a service clock an hour off the client's (either way) asks for
// the 2 s it means: not an hour (refused as a wait over MaxWait) and not nothing.
func TestRetryAfterDateInTheServiceClock(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			service := time.Now().Add(skew).UTC()
			s := &script{steps: []func(http.ResponseWriter, *http.Request){status(429,
				"Date", service.Format(http.TimeFormat),
				"Retry-After", service.Add(2*time.Second).Format(http.TimeFormat)), okConn}}
			c := newTestClient(t, s)
			start := time.Now()
			if _, err := c.Get(context.Background(), "c1"); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < time.Second {
				t.Errorf("retried after %v, before the 2 s the service asked for", d)
			}
			if n := s.n.Load(); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

func TestGetGivesUpAfterMaxAttempts(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(500)}}
	c := newTestClient(t, s)
	_, err := c.Get(context.Background(), "c1")
	if StatusOf(err) != 500 || !strings.Contains(err.Error(), "after 8 requests") {
		t.Fatalf("err = %v", err)
	}
	if n := s.n.Load(); n != 8 {
		t.Errorf("%d attempts, want 8", n)
	}
}

func TestRunRetryBudget(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(503)}}
	c := newTestClient(t, s)
	c.retry.runBase, c.retry.runPerCall = 3, 0
	_, err := c.Get(context.Background(), "a")
	if !strings.Contains(err.Error(), "retry budget") || s.n.Load() != 4 {
		t.Fatalf("first call: %v after %d requests", err, s.n.Load())
	}
	_, err = c.Get(context.Background(), "b")
	if !strings.Contains(err.Error(), "retry budget") || s.n.Load() != 5 {
		t.Fatalf("second call: %v after %d requests, want no retry", err, s.n.Load())
	}
}

func TestPatchRetriesAfterDroppedConnection(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){hangUp, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Ref{ID: "c1", ETag: `"e2"`})
	}}}
	c := newTestClient(t, s)
	ref, err := c.Patch(context.Background(), "c1", `"e1"`, nil)
	if err != nil || ref.ETag != `"e2"` {
		t.Fatalf("Patch = %+v, %v", ref, err)
	}
}

func TestPostNotRetriedAfterServerError(t *testing.T) {
	for _, code := range []int{500, 502, 503, 504} {
		s := &script{steps: []func(http.ResponseWriter, *http.Request){status(code), okConn}}
		c := newTestClient(t, s)
		_, err := c.Create(context.Background(), NewConnection{Name: "acme"})
		var u *UnknownOutcomeError
		if !errors.As(err, &u) || StatusOf(err) != code {
			t.Errorf("%d: err = %v, want an UnknownOutcomeError wrapping the *Error", code, err)
		}
		if n := s.n.Load(); n != 1 {
			t.Errorf("%d: POST sent %d times", code, n)
		}
		if c.Stats().UnknownOutcomes != 1 {
			t.Errorf("%d: stats = %+v", code, c.Stats())
		}
	}
}

func TestPostRetriedOn429(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(429), status(429), okConn}}
	c := newTestClient(t, s)
	ref, err := c.Create(context.Background(), NewConnection{Name: "acme"})
	if err != nil || ref.ID != "new" {
		t.Fatalf("Create = %+v, %v", ref, err)
	}
	if n := s.n.Load(); n != 3 {
		t.Errorf("POST sent %d times, want 3", n)
	}
}

func TestPostConnectionDroppedIsUnknownOutcome(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){hangUp, okConn}}
	c := newTestClient(t, s)
	_, err := c.Create(context.Background(), NewConnection{Name: "acme"})
	if !errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want an unknown outcome", err)
	}
	if n := s.n.Load(); n != 1 {
		t.Errorf("POST sent %d times", n)
	}
}

func TestPostTimeoutIsUnknownOutcome(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Create(ctx, NewConnection{Name: "acme"})
	if !errors.Is(err, reconcile.ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want an unknown outcome from the deadline", err)
	}
}

func TestPostRefusedConnectionIsRetriedAndKnown(t *testing.T) {
	c, err := New(Config{Endpoint: "http://" + closedAddr(t) + prefix, OrgID: testOrg, Sandbox: "prod", APIKey: testAPIKey, Tokens: StaticToken(canaryToken)})
	if err != nil {
		t.Fatal(err)
	}
	fastRetries(c)
	_, err = c.Create(context.Background(), NewConnection{Name: "acme"})
	if err == nil || errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want a known failure (nothing was sent)", err)
	}
	if st := c.Stats(); st.Requests != 8 || st.NetworkErrors != 8 {
		t.Errorf("stats = %+v, want 8 attempts", st)
	}
}

// imsServer issues tok-1, tok-2, … and counts its calls; it checks the form.
func imsServer(t *testing.T, secret string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if r.PostForm.Get("client_secret") != secret || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("scope") != DefaultScopes {
			// Echo the form as a careless server would.
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "bad form " + r.PostForm.Encode()})
			return
		}
		i := n.Add(1)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("tok-%d", i), "token_type": "bearer", "expires_in": 86399})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestUnauthorizedRenewsTokenOnce(t *testing.T) {
	ims, fetches := imsServer(t, "canary-client-secret")
	var seen []string
	var mu sync.Mutex
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok-2" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error_code": "401013", "message": "Oauth token is not valid"})
			return
		}
		okConn(w, r)
	})
	tokens := NewIMSTokenSource(IMSConfig{URL: ims.URL + "/ims/token/v3", ClientID: "cid", ClientSecret: "canary-client-secret"})
	c := newTestClient(t, api, func(cfg *Config) { cfg.Tokens = tokens })
	// A POST too: a 401 means the gateway refused it before the service acted.
	if _, err := c.Create(context.Background(), NewConnection{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer tok-1", "Bearer tok-2", "Bearer tok-2"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("tokens sent %q, want %q", seen, want)
	}
	if st := c.Stats(); st.TokenFetches != 2 || st.TokenRenewals != 1 || fetches.Load() != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSecondUnauthorizedIsFinal(t *testing.T) {
	ims, _ := imsServer(t, "canary-client-secret")
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(401)}}
	tokens := NewIMSTokenSource(IMSConfig{URL: ims.URL, ClientID: "cid", ClientSecret: "canary-client-secret"})
	c := newTestClient(t, s, func(cfg *Config) { cfg.Tokens = tokens })
	_, err := c.Get(context.Background(), "c1")
	if !errors.Is(err, reconcile.ErrAuth) || StatusOf(err) != 401 {
		t.Fatalf("err = %v", err)
	}
	if n := s.n.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (one renewal)", n)
	}
}

func TestStaticTokenUnauthorizedNotRetried(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(401)}}
	c := newTestClient(t, s)
	if _, err := c.Get(context.Background(), "c1"); !errors.Is(err, reconcile.ErrAuth) || s.n.Load() != 1 {
		t.Fatalf("err = %v after %d requests", err, s.n.Load())
	}
}

func TestForbiddenIsFinal(t *testing.T) {
	ims, fetches := imsServer(t, "s")
	s := &script{steps: []func(http.ResponseWriter, *http.Request){status(403)}}
	tokens := NewIMSTokenSource(IMSConfig{URL: ims.URL, ClientID: "cid", ClientSecret: "s"})
	c := newTestClient(t, s, func(cfg *Config) { cfg.Tokens = tokens })
	_, err := c.Get(context.Background(), "c1")
	if !errors.Is(err, reconcile.ErrAuth) || StatusOf(err) != 403 || s.n.Load() != 1 || fetches.Load() != 1 {
		t.Fatalf("err = %v after %d requests, %d fetches", err, s.n.Load(), fetches.Load())
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "canary-client-secret-5d1a"
	// Servers that echo everything they got.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg := fmt.Sprintf("%v %s", r.Header, body)
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "x/FLOW-1-400", "title": msg, "report": map[string]string{"detailed-message": msg}, "errorDetails": msg})
	})
	ims := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "echo " + string(body) + " " + form.Get("client_secret")})
	}))
	defer ims.Close()

	var errs []error
	c := newTestClient(t, echo)
	nc := NewConnection{Name: "acme", Auth: Auth{SpecName: "Access Key", Params: map[string]string{"s3SecretKey": secret, "s3SessionToken": secret + "-session"}}}
	_, err := c.Create(context.Background(), nc)
	errs = append(errs, err)
	_, err = c.Get(context.Background(), "c1")
	errs = append(errs, err)
	rotated, _ := json.Marshal(secret + "-rotated")
	_, err = c.Patch(context.Background(), "c1", `"e"`, []PatchOp{{Op: "replace", Path: "/auth/params/s3SessionToken", Value: rotated}})
	errs = append(errs, err)
	params, _ := json.Marshal(map[string]string{"s3SecretKey": secret + "-params", "bucketName": "b"})
	_, err = c.Patch(context.Background(), "c1", `"e"`, []PatchOp{{Op: "replace", Path: "/auth/params", Value: params}})
	errs = append(errs, err)

	tokens := NewIMSTokenSource(IMSConfig{URL: ims.URL, ClientID: "cid", ClientSecret: secret})
	_, err = tokens.Token(context.Background())
	errs = append(errs, err)
	c2 := newTestClient(t, echo, func(cfg *Config) { cfg.Tokens = tokens })
	_, err = c2.Get(context.Background(), "c1")
	errs = append(errs, err)
	if !errors.Is(err, reconcile.ErrAuth) {
		t.Errorf("IMS 401 is not IsAuth: %v", err)
	}
	var te *TokenError
	if !errors.As(err, &te) || te.URL != ims.URL || strings.Contains(err.Error(), "FLOWSYNC_") {
		t.Errorf("IMS error is not a *TokenError naming the IMS URL (and no CLI variable): %v", err)
	}

	refused := NewIMSTokenSource(IMSConfig{URL: "http://" + closedAddr(t), ClientID: "cid", ClientSecret: secret})
	refused.(*imsSource).retryBase = time.Millisecond
	_, err = refused.Token(context.Background())
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		if s := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(s, secret) || strings.Contains(s, canaryToken) {
			t.Errorf("call %d: secret in error: %s", i, err)
		}
	}
}

func TestIMSRefusesPlainHTTPOffLoopback(t *testing.T) {
	_, err := NewIMSTokenSource(IMSConfig{URL: "http://ims.example.com/ims/token/v3", ClientID: "a", ClientSecret: "b"}).Token(context.Background())
	var ue *URLError
	if !errors.As(err, &ue) || ue.What != "IMS URL" || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("err = %v", err)
	}
	_, err = NewIMSTokenSource(IMSConfig{ClientID: "a"}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "client secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestIMSCachesSharesAndInvalidates(t *testing.T) {
	ims, fetches := imsServer(t, "s")
	src := NewIMSTokenSource(IMSConfig{URL: ims.URL, ClientID: "cid", ClientSecret: "s"}).(*imsSource)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	src.now = func() time.Time { return time.Unix(0, clock.Load()) }

	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if tok, err := src.Token(context.Background()); err != nil || tok != "tok-1" {
				t.Errorf("Token = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 32 concurrent callers, want 1", n)
	}
	src.Invalidate("tok-0") // not the cached one: kept
	if tok, _ := src.Token(context.Background()); tok != "tok-1" {
		t.Fatalf("Invalidate of another token dropped the cache: %s", tok)
	}
	src.Invalidate("tok-1")
	if tok, _ := src.Token(context.Background()); tok != "tok-2" {
		t.Fatalf("after Invalidate: %s", tok)
	}
	clock.Store(now.Add(86399*time.Second - 6*time.Minute).UnixNano())
	if tok, _ := src.Token(context.Background()); tok != "tok-2" {
		t.Fatalf("renewed too early: %s", tok)
	}
	clock.Store(now.Add(86399*time.Second - 4*time.Minute).UnixNano())
	if tok, _ := src.Token(context.Background()); tok != "tok-3" {
		t.Fatalf("not renewed 4 minutes before expiry: %s", tok)
	}
}

func TestRenewAfter(t *testing.T) {
	for ttl, want := range map[time.Duration]time.Duration{
		24 * time.Hour:   24*time.Hour - 5*time.Minute,
		10 * time.Minute: 5 * time.Minute,
		4 * time.Minute:  2 * time.Minute,
		0:                time.Minute,
	} {
		if got := renewAfter(ttl); got != want {
			t.Errorf("renewAfter(%v) = %v, want %v", ttl, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999999":                      99999999 * time.Second,
		"99999999999999999999999":       maxRetryAfter,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoffIsFullJitterWithinCap(t *testing.T) {
	p := defaultRetryPolicy()
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(p.cap, p.base<<min(attempt-1, 30))
		for range 50 {
			d := p.delay(attempt, 0)
			if d < 0 || d > ceiling {
				t.Fatalf("delay(%d) = %v outside [0, %v]", attempt, d, ceiling)
			}
		}
	}
	if d := p.delay(1, 5*time.Second); d != 5*time.Second {
		t.Errorf("delay with Retry-After 5s = %v", d)
	}
}

// A 429 with Retry-After seen by one caller holds back every other caller of the Client.
func TestThrottleSlowsTheWholeRun(t *testing.T) {
	throttledAt := make(chan time.Time, 1)
	var first atomic.Bool
	var bArrived atomic.Int64
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/a") && first.CompareAndSwap(false, true):
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error_code": "429", "message": "slow down"})
			throttledAt <- time.Now()
		case strings.HasSuffix(r.URL.Path, "/b"):
			bArrived.Store(time.Now().UnixNano())
			okConn(w, r)
		default:
			okConn(w, r)
		}
	}))
	done := make(chan error, 1)
	go func() { _, err := c.Get(context.Background(), "a"); done <- err }()
	t0 := <-throttledAt
	time.Sleep(50 * time.Millisecond) // let the client read the 429
	if _, err := c.Get(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Unix(0, bArrived.Load()).Sub(t0); d < 900*time.Millisecond {
		t.Errorf("another caller's request went out %v after the 429, before its Retry-After", d)
	}
	if st := c.Stats(); st.Throttled != 1 || st.Window >= 8 {
		t.Errorf("stats = %+v, want one throttle and a smaller window", st)
	}
}

func TestConcurrencyNeverAboveWindow(t *testing.T) {
	var inflight, peak atomic.Int64
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inflight.Add(-1)
		okConn(w, r)
	}), func(cfg *Config) { cfg.Concurrency = 4 })
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 5 {
				if _, err := c.Get(context.Background(), "c1"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 4 {
		t.Errorf("%d requests in flight, Concurrency is 4", p)
	}
}

// fakeClock is a limiter clock that moves only when told to, or when slept on.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (f *fakeClock) clock() clock { return clock{now: f.now, sleep: f.sleep} }

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	f.advance(d)
	return ctx.Err()
}

// successes sends n requests, each answered OK, every ms of the clock.
func successes(t *testing.T, l *limiter, fc *fakeClock, n int, every time.Duration) {
	t.Helper()
	for range n {
		fc.advance(every)
		tk, err := l.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		l.release(tk, outcomeOK, 0)
	}
}

func TestLimiterAIMD(t *testing.T) {
	fc := newFakeClock()
	l := newLimiterWithClock(16, 100_000, fc.clock())
	ctx := context.Background()
	// A burst of throttled answers from one congestion event halves once.
	var tickets []ticket
	for range 5 {
		tk, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	for _, tk := range tickets {
		l.release(tk, outcomeThrottled, time.Millisecond)
	}
	if w, r := l.state(); w != 8 || r != 50_000 {
		t.Fatalf("after one event: window %v rate %v, want 8 and 50000", w, r)
	}
	// A request sent after the decrease may decrease again.
	tk, err := l.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.release(tk, outcomeThrottled, time.Millisecond)
	if w, _ := l.state(); w != 4 {
		t.Fatalf("after a second event: window %v, want 4", w)
	}
	// Successes grow it back over time, never above the ceiling nor MaxRPS.
	successes(t, l, fc, 1000, 10*time.Millisecond)
	if w, r := l.state(); w != 16 || r != 100_000 {
		t.Fatalf("after successes: window %v rate %v, want 16 and 100000", w, r)
	}
}

// A pause holds every caller back for the Retry-After, on the limiter's clock.
func TestPacerPausesEveryCaller(t *testing.T) {
	fc := newFakeClock()
	l := newLimiterWithClock(4, 0, fc.clock())
	tk, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := fc.now()
	l.release(tk, outcomeThrottled, 3*time.Second)
	if _, err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := fc.now().Sub(start); d < 3*time.Second {
		t.Errorf("the next request started %v after a Retry-After of 3s", d)
	}
}

// The learned rate settles just under what the service accepted over a steady second, and
// probes upwards slowly.
func TestLimiterLearnsRate(t *testing.T) {
	fc := newFakeClock()
	l := newLimiterWithClock(64, 0, fc.clock())
	// Two seconds of 200 successes a second, then a throttle.
	successes(t, l, fc, 400, 5*time.Millisecond)
	if _, r := l.state(); r != 0 {
		t.Fatalf("rate %v before any throttle, want unlimited", r)
	}
	tk, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l.release(tk, outcomeThrottled, time.Nanosecond)
	if _, r := l.state(); r < 175 || r > 185 {
		t.Fatalf("learned rate %v, want 90%% of 200/s", r)
	}
	// It probes upwards slowly: after 10 more seconds, within 6% of 200/s.
	successes(t, l, fc, 100, 100*time.Millisecond)
	if _, r := l.state(); r < 185 || r > 200 {
		t.Fatalf("rate after 10 s of successes: %v", r)
	}
}

func TestMaxRPSCaps(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(okConn), func(cfg *Config) { cfg.MaxRPS = 100; cfg.Concurrency = 16 })
	start := time.Now()
	var wg sync.WaitGroup
	for range 51 {
		wg.Go(func() {
			if _, err := c.Get(context.Background(), "c1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("51 requests at MaxRPS 100 took %v", d)
	}
}

func TestCanceledWaiterGivesBackItsSlot(t *testing.T) {
	l := newLimiter(1, 0)
	tk, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire = %v", err)
	}
	l.release(tk, outcomeOK, 0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := l.acquire(ctx2); err != nil {
		t.Fatalf("slot lost: %v", err)
	}
}
