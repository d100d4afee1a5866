package flowservice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/badservice"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

const canarySecret = "canary-secret-key-5d1e0c9a"

// hostileClient is a Client of endpoint (a badservice server's) with fast retries and a log.
func hostileClient(t *testing.T, endpoint string, hc *http.Client) (*Client, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	c, err := New(Config{
		Endpoint:   endpoint,
		OrgID:      testOrg,
		Sandbox:    "prod",
		APIKey:     testAPIKey,
		Tokens:     StaticToken(canaryToken),
		HTTPClient: hc,
		Logger:     newDebugLogger(log),
	})
	if err != nil {
		t.Fatal(err)
	}
	fastRetries(c)
	return c, log
}

// calls are the client's calls that carry credentials, and a body for some.
var calls = map[string]func(ctx context.Context, c *Client) error{
	"create": func(ctx context.Context, c *Client) error {
		_, err := c.Create(ctx, NewConnection{Name: "acme", Auth: Auth{SpecName: "Access Key", Params: map[string]string{"s3AccessKey": "AKIAEXAMPLE", "s3SecretKey": canarySecret}}, ConnectionSpec: Spec{ID: s3source.SpecID, Version: s3source.SpecVersion}})
		return err
	},
	"list": func(ctx context.Context, c *Client) error {
		_, err := c.List(ctx, ListOptions{})
		return err
	},
	"get": func(ctx context.Context, c *Client) error { _, err := c.Get(ctx, "c1"); return err },
	"patch": func(ctx context.Context, c *Client) error {
		_, err := c.Patch(ctx, "c1", `"e1"`, []PatchOp{{Op: "replace", Path: "/auth/params/s3SecretKey", Value: []byte(`"` + canarySecret + `"`)}})
		return err
	},
	"delete": func(ctx context.Context, c *Client) error { return c.Delete(ctx, "c1") },
}

// noCredentials fails the test when sink received the token, the API key or the secret.
func noCredentials(t *testing.T, sink *badservice.Server) {
	t.Helper()
	for _, s := range []string{canaryToken, testAPIKey, canarySecret} {
		if sink.Received(s) {
			t.Errorf("the other server received %q", s)
		}
	}
	if n := len(sink.Requests()); n != 0 {
		t.Errorf("the other server received %d requests, want none", n)
	}
}

// A redirect to another port of loopback, or to another host name, is refused for every
// call and every redirect status: the other side receives nothing at all.
func TestRedirectToAnotherOriginSendsNothing(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		for name, call := range calls {
			for _, other := range []string{"port", "host"} {
				t.Run(fmt.Sprintf("%d/%s/%s", status, name, other), func(t *testing.T) {
					sink := badservice.New(t, nil)
					target := sink.URL
					if other == "host" {
						u, _ := url.Parse(sink.URL)
						target = "http://localhost:" + u.Port()
					}
					srv := badservice.New(t, badservice.Redirect(status, target))
					c, _ := hostileClient(t, srv.Endpoint(), nil)
					err := call(context.Background(), c)
					var re *RedirectError
					if !errors.As(err, &re) {
						t.Fatalf("err = %v, want a *RedirectError", err)
					}
					if errors.Is(err, reconcile.ErrUnknownOutcome) {
						t.Errorf("a redirect answer is not an unknown outcome: %v", err)
					}
					if n := len(srv.Requests()); n != 1 {
						t.Errorf("the endpoint got %d requests, want 1 (a refused redirect is not retried)", n)
					}
					noCredentials(t, sink)
					for _, s := range []string{canaryToken, canarySecret} {
						if strings.Contains(err.Error(), s) {
							t.Errorf("error holds %q: %v", s, err)
						}
					}
				})
			}
		}
	}
}

// An https endpoint that redirects to plain http, even on the same host, is refused.
func TestRedirectToPlainHTTPRefused(t *testing.T) {
	sink := badservice.New(t, nil)
	srv := badservice.NewTLS(t, badservice.Redirect(http.StatusTemporaryRedirect, sink.URL))
	c, _ := hostileClient(t, srv.Endpoint(), srv.Client())
	err := calls["create"](context.Background(), c)
	var re *RedirectError
	if !errors.As(err, &re) || !strings.HasPrefix(re.To, "http://") || !strings.HasPrefix(re.From, "https://") {
		t.Fatalf("err = %v, want a *RedirectError from https to http", err)
	}
	noCredentials(t, sink)
}

// A redirect within the endpoint's origin is followed, with the body and credentials.
func TestRedirectWithinOriginFollowed(t *testing.T) {
	var srv *badservice.Server
	srv = badservice.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/moved") {
			badservice.Redirect(http.StatusPermanentRedirect, srv.URL+"/moved")(w, r)
			return
		}
		writeJSON(w, http.StatusCreated, Ref{ID: "c1", ETag: `"e1"`})
	}))
	c, _ := hostileClient(t, srv.Endpoint(), nil)
	if err := calls["create"](context.Background(), c); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || !strings.Contains(string(reqs[1].Body), canarySecret) || reqs[1].Header.Get("Authorization") != "Bearer "+canaryToken {
		t.Fatalf("the redirected request did not carry its body and token: %+v", reqs)
	}
}

// The IMS token call follows the same policy: client_secret goes only to the IMS URL.
func TestIMSRedirectSendsNoSecret(t *testing.T) {
	for _, status := range []int{302, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			sink := badservice.New(t, nil)
			ims := badservice.New(t, badservice.Redirect(status, sink.URL))
			src := NewIMSTokenSource(IMSConfig{URL: ims.URL + "/ims/token/v3", ClientID: "id", ClientSecret: canarySecret})
			_, err := src.Token(context.Background())
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RedirectError", err)
			}
			if n := len(ims.Requests()); n != 1 {
				t.Errorf("IMS got %d requests, want 1", n)
			}
			if len(sink.Requests()) != 0 || sink.Received(canarySecret) {
				t.Errorf("the other server received the token request")
			}
			if strings.Contains(err.Error(), canarySecret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}

func TestCheckRedirectOrigins(t *testing.T) {
	allowed, _ := url.Parse("https://platform.adobe.io/data/foundation/flowservice")
	check := checkRedirect(allowed)
	for to, ok := range map[string]bool{
		"https://platform.adobe.io/other":          true,
		"https://PLATFORM.adobe.io:443/x":          true,
		"http://platform.adobe.io/x":               false,
		"https://platform.adobe.io:8443/x":         false,
		"https://evil.example/x":                   false,
		"https://platform.adobe.io.evil.example/x": false,
	} {
		u, _ := url.Parse(to)
		err := check(&http.Request{URL: u}, []*http.Request{{}})
		if (err == nil) != ok {
			t.Errorf("redirect to %s: err = %v, want allowed=%v", to, err, ok)
		}
	}
}

// A list whose pages repeat the same connections under new continuation tokens stops at the
// second page instead of growing without end; so does one that repeats its token.
func TestListThatDoesNotAdvanceStops(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"repeated ids":   badservice.RepeatingPages(3),
		"repeated token": badservice.SameToken(),
	} {
		t.Run(name, func(t *testing.T) {
			srv := badservice.New(t, h)
			c, _ := hostileClient(t, srv.Endpoint(), nil)
			_, err := c.List(context.Background(), ListOptions{})
			if err == nil || !strings.Contains(err.Error(), "giving up instead of looping") {
				t.Fatalf("err = %v, want a listing that does not advance", err)
			}
			if n := len(srv.Requests()); n > 3 {
				t.Errorf("%d pages asked, want it caught at once", n)
			}
		})
	}
}

// A Retry-After over MaxWait is not slept: the call fails at once, naming the wait.
func TestAbsurdRetryAfterFailsNamingTheWait(t *testing.T) {
	for _, v := range []string{"1000000000", "301", "99999999999999999999999", time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run(v, func(t *testing.T) {
			srv := badservice.New(t, badservice.RetryAfter(v))
			c, _ := hostileClient(t, srv.Endpoint(), nil)
			err := calls["list"](context.Background(), c)
			var wt *WaitTooLongError
			if !errors.As(err, &wt) || wt.Wait <= MaxWait {
				t.Fatalf("err = %v, want a *WaitTooLongError", err)
			}
			if !strings.Contains(err.Error(), "Retry-After") || !strings.Contains(err.Error(), "at most 5m0s") {
				t.Errorf("error does not name the wait and the limit: %v", err)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if w, _ := c.lim.state(); c.lim.pace.pausedUntil.Load() != 0 && time.Until(time.Unix(0, c.lim.pace.pausedUntil.Load())) > MaxWait {
				t.Errorf("the run-wide throttle was paused beyond MaxWait (window %v)", w)
			}
		})
	}
}

// A wait over LogWaitsOver is logged with what it waits for, and StopWaitsOn's context ends
// it at once (the first Ctrl-C) without another request.
func TestLongRetryWaitLoggedAndStopped(t *testing.T) {
	srv := badservice.New(t, badservice.RetryAfter("240"))
	c, log := hostileClient(t, srv.Endpoint(), nil)
	stop, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	ctx := StopWaitsOn(context.Background(), stop)
	done := make(chan error, 1)
	go func() { done <- calls["create"](ctx, c) }()
	for !strings.Contains(log.String(), "waiting to retry") {
		select {
		case err := <-done:
			t.Fatalf("the call ended before it waited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, want := range []string{`op="POST /connections"`, "wait=4m0s", "Retry-After 4m0s"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the wait's log line lacks %s:\n%s", want, log.String())
		}
	}
	interrupt()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // liveness only: without the stop it would wait 4 minutes
		t.Fatal("the retry wait did not end when its stop context did")
	}
	if !errors.Is(err, context.Canceled) || errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want a stopped wait (context.Canceled), not an unknown outcome", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// The limiter's waits end on the stop context too: a call queued behind a full window.
func TestThrottleWaitStopped(t *testing.T) {
	srv := badservice.New(t, nil)
	c, _ := hostileClient(t, srv.Endpoint(), nil)
	c.lim.pace.pausedUntil.Store(time.Now().Add(time.Hour).UnixNano())
	stop, interrupt := context.WithCancel(context.Background())
	interrupt()
	err := calls["list"](StopWaitsOn(context.Background(), stop), c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a stopped wait", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// A slow-loris service (answer trickling a byte at a time) is not waited for silently nor
// again and again: the wait is logged while it lasts, and only maxTimeoutAttempts attempts
// may end by a timeout.
func TestSlowLorisLoggedAndBounded(t *testing.T) {
	srv := badservice.New(t, badservice.SlowBody(50*time.Millisecond))
	c, log := hostileClient(t, srv.Endpoint(), &http.Client{Timeout: 600 * time.Millisecond})
	c.waits.over = 200 * time.Millisecond
	_, err := c.List(context.Background(), ListOptions{})
	if err == nil || !isTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if n := len(srv.Requests()); n != maxTimeoutAttempts {
		t.Errorf("%d attempts, want %d", n, maxTimeoutAttempts)
	}
	if !strings.Contains(log.String(), "still waiting for the service's answer") || !strings.Contains(log.String(), `op="GET /connections"`) {
		t.Errorf("the slow answer was not logged:\n%s", log.String())
	}
}

// A create answered 2xx without an id (body or Location) is an unknown outcome: never a
// success, never retried.
func TestCreatedWithoutIDIsUnknown(t *testing.T) {
	srv := badservice.New(t, badservice.CreatedWithoutID())
	c, _ := hostileClient(t, srv.Endpoint(), nil)
	err := calls["create"](context.Background(), c)
	if !errors.Is(err, reconcile.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want an unknown outcome", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// An answer over the size limit is refused, not read whole.
func TestAnswerSizeBounded(t *testing.T) {
	srv := badservice.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for i := 0; i < maxAnswerBytes>>20+2; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	c, _ := hostileClient(t, srv.Endpoint(), nil)
	_, err := c.List(context.Background(), ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "answer larger than") {
		t.Fatalf("err = %v, want an answer too large", err)
	}
}
