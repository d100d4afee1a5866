package flowservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/flowsync/flowsync/reconcile"
)

// The HTTP policy: one set of rules for every outgoing call of this package (the service's
// calls, each page of a list, Adobe IMS). What a hostile or broken server can make flowsync do
// is bounded here and nowhere else:
//
//   - where credentials go: a redirect is followed only to the same scheme, host and port as
//     the URL that was configured, so Authorization, x-api-key, an IMS client secret and a
//     request body never reach another host or travel over plain http (*RedirectError);
//   - how much is read: answers are cut at a size limit (readBody);
//   - how long an answer may take: a connection, the headers, the whole answer (per attempt),
//     and at most maxTimeoutAttempts attempts of a call may end by a timeout;
//   - how long flowsync waits of its own accord: never more than MaxWait for a Retry-After
//     (*WaitTooLongError), every wait over LogWaitsOver logged, and every wait (to retry, for
//     the run-wide throttle) ends at once when the context of StopWaitsOn is done.

// Bounds of the policy.
const (
	// MaxWait is the longest Retry-After flowsync honours: a longer one fails the request.
	MaxWait = 5 * time.Minute
	// LogWaitsOver: a wait longer than this is logged on stderr (Config.Logger).
	LogWaitsOver = 5 * time.Second

	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 30 * time.Second // from the end of the request to the answer's headers
	requestTimeout        = 60 * time.Second // one attempt, the whole answer included
	imsTimeout            = 30 * time.Second
	maxTimeoutAttempts    = 2 // attempts of one call that may end by a timeout
	maxAnswerBytes        = 32 << 20
	maxErrorBytes         = 1 << 20
	maxRedirects          = 5
)

// RedirectError is a redirect flowsync refused to follow: to another host or port, or from
// https to plain http. Nothing was sent to To.
type RedirectError struct {
	From, To string // scheme://host[:port] of each side; never a path or query
	Status   int
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the server answered %d redirecting to %s: refused, flowsync sends credentials and bodies only to %s", e.Status, e.To, e.From)
}

// WaitTooLongError is a throttled answer whose Retry-After asks for more than MaxWait.
type WaitTooLongError struct {
	Op   string
	Wait time.Duration
	Err  error // the answer (a *Error)
}

func (e *WaitTooLongError) Error() string {
	return fmt.Sprintf("%s: the service asked to wait %s before trying again (Retry-After); flowsync waits at most %s: %v", e.Op, roundWait(e.Wait), MaxWait, e.Err)
}
func (e *WaitTooLongError) Unwrap() error { return e.Err }

// roundWait renders a wait for a person: whole seconds, or days and hours for absurd ones.
func roundWait(d time.Duration) string {
	if d >= 48*time.Hour {
		days := int64(d / (24 * time.Hour))
		return fmt.Sprintf("%dd%dh", days, int64((d%(24*time.Hour))/time.Hour))
	}
	return d.Round(time.Second).String()
}

// origin is scheme://host:port of u, with the default port made explicit, lower-cased.
func origin(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme + "://" + net.JoinHostPort(host, port))
}

// displayOrigin is scheme://host[:port] as written, for messages.
func displayOrigin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// checkRedirect allows a redirect only to the origin (scheme, host, port) of allowed.
func checkRedirect(allowed *url.URL) func(req *http.Request, via []*http.Request) error {
	want := origin(allowed)
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		if origin(req.URL) != want {
			return &RedirectError{From: displayOrigin(allowed), To: displayOrigin(req.URL), Status: status}
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", len(via))
		}
		return nil
	}
}

// withPolicy returns a copy of hc (or a new client) that follows redirects only within the
// origin of allowed, with timeout as its per-attempt limit when hc has none.
func withPolicy(hc *http.Client, allowed *url.URL, timeout time.Duration, transport func() http.RoundTripper) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Transport = transport()
	}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	c.CheckRedirect = checkRedirect(allowed)
	return &c
}

// readBody reads at most limit bytes of an answer; tooBig says there was more.
func readBody(r io.Reader, limit int64) (body []byte, tooBig bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], true, err
	}
	return body, false, err
}

// isTimeout reports whether err is an attempt that ran out of time (not a caller's cancel).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stopKey is the context key of StopWaitsOn.
type stopKey struct{}

// StopWaitsOn returns a context for requests whose waits (before a retry, for the run-wide
// throttle, for an access token retry) end as soon as stop is done, while a request already
// sent keeps ctx: the first Ctrl-C ends every wait at once and lets requests in flight finish.
func StopWaitsOn(ctx, stop context.Context) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// ErrStoppedWaiting is the error of a call whose wait (to retry, for the throttle) the
// StopWaitsOn context ended: its next attempt was never sent. It is a context.Canceled and a
// reconcile.ErrNotSent.
var ErrStoppedWaiting error = stoppedWaiting{}

type stoppedWaiting struct{}

func (stoppedWaiting) Error() string { return "stopped waiting: " + context.Canceled.Error() }
func (stoppedWaiting) Is(target error) bool {
	return target == context.Canceled || target == reconcile.ErrNotSent
}

// wait sleeps d, or less when ctx or the StopWaitsOn context ends first.
func wait(ctx context.Context, d time.Duration) error {
	stop, _ := ctx.Value(stopKey{}).(context.Context)
	if stop != nil && stop.Err() != nil {
		return ErrStoppedWaiting
	}
	if d <= 0 {
		return ctx.Err()
	}
	var stopped <-chan struct{}
	if stop != nil {
		stopped = stop.Done()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stopped:
		return ErrStoppedWaiting
	}
}

// waitContext is ctx, also cancelled when the StopWaitsOn context ends; for waits that take a
// context (the limiter's). done must be called.
func waitContext(ctx context.Context) (context.Context, func()) {
	stop, _ := ctx.Value(stopKey{}).(context.Context)
	if stop == nil {
		return ctx, func() {}
	}
	wctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(stop, func() { cancel(ErrStoppedWaiting) })
	return wctx, func() { unhook(); cancel(nil) }
}

// waitLog logs the waits longer than LogWaitsOver, once for a crowd: workers that wait for
// the same moment (a run-wide pause) make one line, not one each.
type waitLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	until  map[string]time.Time // per kind of wait: the end of the last one logged
	now    func() time.Time
	over   time.Duration // LogWaitsOver; shorter in tests
}

func newWaitLog(logger *slog.Logger) *waitLog {
	return &waitLog{logger: logger, until: map[string]time.Time{}, now: time.Now, over: LogWaitsOver}
}

// planned logs a wait of d that is about to start, when it is long enough to be noticed.
func (w *waitLog) planned(ctx context.Context, kind, op string, d time.Duration, reason string) {
	if w == nil || w.logger == nil || d <= w.over {
		return
	}
	end := w.now().Add(d)
	w.mu.Lock()
	if last, ok := w.until[kind]; ok && end.Sub(last) < time.Second && last.Sub(end) < d {
		w.mu.Unlock()
		return // someone already said so
	}
	w.until[kind] = end
	w.mu.Unlock()
	attrs := []slog.Attr{slog.String("op", op), slog.String("wait", roundWait(d))}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	w.logger.LogAttrs(ctx, slog.LevelWarn, "waiting "+kind, attrs...)
}

// watch logs, after LogWaitsOver and then at doubling intervals, that op is still waiting
// (for an answer, for the throttle) until the returned stop is called.
func (w *waitLog) watch(ctx context.Context, kind, op string) (stop func()) {
	if w == nil || w.logger == nil {
		return func() {}
	}
	start := w.now()
	var mu sync.Mutex
	var t *time.Timer
	stopped := false
	next := w.over
	var fire func()
	fire = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if w.recently("watch "+kind, time.Second) {
			next *= 2
			t = time.AfterFunc(next/2, fire)
			return
		}
		w.logger.LogAttrs(ctx, slog.LevelWarn, "still waiting "+kind,
			slog.String("op", op), slog.String("waited", roundWait(w.now().Sub(start))))
		next *= 2
		t = time.AfterFunc(next/2, fire)
	}
	mu.Lock()
	t = time.AfterFunc(next, fire)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// recently reports whether a line of kind was logged within d, and notes one now if not.
func (w *waitLog) recently(kind string, d time.Duration) bool {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.until[kind]; ok && now.Sub(last) < d {
		return true
	}
	w.until[kind] = now
	return false
}
