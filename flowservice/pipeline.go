package flowservice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// The request pipeline. Every call of the Client goes through the same stack of small
// stages, each wrapping the next:
//
//	retrying      backoff with full jitter, per-call and per-run budgets, POST outcome rules
//	authenticated access token; one renewal on a 401
//	throttled     the run-wide limiter: pause, AIMD concurrency, MaxRPS
//	send          one HTTP exchange: headers, body limits, *Error, stats, debug log
//
// A backoff sleep happens outside the limiter, so a waiting call holds no slot.

// request is one call of the Client; its attempts share it (they run one after another).
type request struct {
	method  string
	path    string // below the endpoint, escaped: "/connections/8b1c…"
	query   string // encoded
	body    []byte // JSON; never copied into an error or a log
	ifMatch string
	secrets []string // values redacted from any answer text copied into an error
	extra   []string // more of them, shared by every request (Config.Sensitive)
	// secretParams are the secret auth params (s3source.Secret), redacted too: looked at
	// only when an error or a log line is built, not on the success path.
	secretParams map[string]string

	token    string // set by authenticated
	attempt  int    // 1-based, set by retrying
	sends    int    // HTTP exchanges begun for this call, a resend after a token renewal included
	timeouts int    // attempts that ended by a timeout
	// mayHaveActed: an earlier attempt was sent and got no answer (or a 5xx), so the service
	// may have carried it out. A PATCH's 412 after it may be that attempt's own doing.
	mayHaveActed bool
}

// label names r in a log line or a policy error: "GET /connections".
func (r *request) label() string { return r.method + " " + r.path }

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

type stage func(ctx context.Context, r *request) (*response, error)

// transportError is a request that got no answer. sent says whether a connection was
// obtained, so that some of the request may have reached the service.
type transportError struct {
	err  error
	sent bool
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// tokenError is a failure of the TokenSource: no request was sent.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// send performs one HTTP exchange, within the HTTP policy (policy.go): a redirect only within
// the endpoint's origin, a bounded answer, a bounded time, and a log line while it is slow.
func (c *Client) send(ctx context.Context, r *request) (*response, error) {
	var sent atomic.Bool // trace hooks may run on the transport's goroutines
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { sent.Store(true) },
	})
	req, err := c.newHTTPRequest(ctx, r, r.token)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r.sends++
	c.stats.request(start)
	slow := c.waits.watch(ctx, "for the service's answer", r.label())
	defer slow()
	resp, err := c.http.Do(req)
	if err != nil {
		c.stats.networkErrors.Add(1)
		c.logRequest(ctx, r, 0, start, err)
		var re *RedirectError
		if errors.As(err, &re) {
			// Nothing reached the other side; the service answered with a redirect.
			return nil, re
		}
		return nil, &transportError{err: err, sent: sent.Load()}
	}
	defer resp.Body.Close()
	c.clock.observe(resp.Header, c.clock.local())
	limit := int64(maxAnswerBytes)
	if resp.StatusCode >= 300 {
		limit = maxErrorBytes
	}
	body, tooBig, err := readBody(resp.Body, limit)
	c.stats.status(resp.StatusCode)
	if err != nil {
		c.stats.networkErrors.Add(1)
		c.logRequest(ctx, r, resp.StatusCode, start, err)
		return nil, &transportError{err: fmt.Errorf("%s %s: %d answer cut short: %w", r.method, req.URL.Path, resp.StatusCode, err), sent: true}
	}
	c.logRequest(ctx, r, resp.StatusCode, start, nil)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, parseError(r, resp.StatusCode, resp.Header, body, start)
	}
	if tooBig {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", r.method, req.URL.Path, limit)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (c *Client) logRequest(ctx context.Context, r *request, status int, start time.Time, err error) {
	if c.logger == nil || !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int("attempt", r.attempt),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redact(err.Error(), r)))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "flowservice request", attrs...)
}

// redact removes the access token and the request's secret values from s.
func redact(s string, r *request) string {
	if r.token != "" {
		s = strings.ReplaceAll(s, r.token, "(sensitive)")
	}
	s = redactAll(s, r.secrets)
	s = redactAll(s, secretValues(r.secretParams))
	return redactAll(s, r.extra)
}

// flexString decodes a JSON string or number (error codes come as either).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexString(n.String())
	}
	return nil // an unexpected shape is ignored, not an error
}

// errorBody holds both error shapes: the service's
// {"type":".../FLOW-1404-412","title","status","report":{"detailed-message","request-id"},"errorMessage","errorDetails"}
// and the gateway's {"error_code":"401013","message":"…"}, plus OAuth's {"error","error_description"}.
type errorBody struct {
	Type   string     `json:"type"`
	Title  flexString `json:"title"`
	Report struct {
		DetailedMessage flexString `json:"detailed-message"`
		RequestID       flexString `json:"request-id"`
	} `json:"report"`
	ErrorMessage     flexString `json:"errorMessage"`
	ErrorDetails     flexString `json:"errorDetails"`
	ErrorCode        flexString `json:"errorCode"`
	GatewayCode      flexString `json:"error_code"`
	Code             flexString `json:"code"`
	Message          flexString `json:"message"`
	Detail           flexString `json:"detail"`
	OAuthError       flexString `json:"error"`
	ErrorDescription flexString `json:"error_description"`
}

// parseError turns a non-2xx answer into an *Error. The request body is never looked at.
func parseError(r *request, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{
		Method:     r.method,
		Status:     status,
		RequestID:  h.Get("x-request-id"),
		RetryAfter: parseRetryAfter(h.Get("Retry-After"), answeredAt(h, now)),
	}
	var b errorBody
	if err := json.Unmarshal(body, &b); err != nil {
		e.Message = textSnippet(h.Get("Content-Type"), body)
	} else {
		e.Code = errorCode(b)
		e.Title = string(b.Title)
		e.Message = firstNonEmpty(string(b.Report.DetailedMessage), string(b.ErrorMessage), string(b.Message), string(b.Detail), string(b.ErrorDescription))
		if d := string(b.ErrorDetails); d != "" && d != e.Message {
			if e.Message == "" {
				e.Message = d
			} else {
				e.Message += " (" + d + ")"
			}
		}
		if b.Report.RequestID != "" {
			e.RequestID = string(b.Report.RequestID)
		}
	}
	e.Title = redact(e.Title, r)
	e.Message = redact(e.Message, r)
	return e
}

func errorCode(b errorBody) string {
	if b.Type != "" {
		seg := b.Type[strings.LastIndex(b.Type, "/")+1:]
		if i := strings.LastIndex(seg, "FLOW-"); i >= 0 {
			return seg[i+len("FLOW-"):]
		}
	}
	return firstNonEmpty(string(b.ErrorCode), string(b.GatewayCode), string(b.Code), string(b.OAuthError))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// textSnippet is the start of a plain-text error answer (a proxy's, say), on one line.
func textSnippet(contentType string, body []byte) string {
	if strings.Contains(contentType, "html") || !utf8.Valid(body) {
		return ""
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// maxRetryAfter is where parseRetryAfter stops counting (about 292 years: no overflow);
// anything over MaxWait is refused by the policy anyway.
const maxRetryAfter = time.Duration(math.MaxInt64)

// answeredAt is the time an answer was made in the service's own clock, from its Date header,
// so that a Retry-After given as an HTTP-date is measured in the clock that wrote it (RFC 9110
// §10.2.3): a client clock an hour behind would otherwise wait an hour more than asked, and
// be refused as a wait over MaxWait. Without a valid Date header, local is all there is.
func answeredAt(h http.Header, local time.Time) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil && t.Year() >= 2000 && t.Year() <= 9999 {
		return t
	}
	return local
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date. 0 when absent,
// unparsable or past; at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second // no overflow
	} else if strings.Trim(v, "0123456789") == "" {
		d = maxRetryAfter // digits beyond int64
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// throttled runs each attempt inside the run-wide limiter and tells it what came back.
func (c *Client) throttled(next stage) stage {
	return func(ctx context.Context, r *request) (*response, error) {
		wctx, done := waitContext(ctx)
		slow := c.waits.watch(ctx, "for the run-wide throttle", r.label())
		t, err := c.lim.acquire(wctx)
		slow()
		done()
		if err != nil {
			if cause := context.Cause(wctx); errors.Is(cause, ErrStoppedWaiting) && ctx.Err() == nil {
				return nil, cause
			}
			return nil, err
		}
		resp, err := next(ctx, r)
		var e *Error
		switch {
		case err == nil:
			c.lim.release(t, outcomeOK, 0)
		case errors.As(err, &e) && (e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable):
			c.stats.throttled.Add(1)
			pause := e.RetryAfter
			if pause > MaxWait {
				pause = 0 // refused by retrying; the limiter's own pause applies
			}
			c.lim.release(t, outcomeThrottled, pause)
		default:
			c.lim.release(t, outcomeOther, 0)
		}
		return resp, err
	}
}

// authenticated puts the access token on each attempt. On a 401 it asks the token source
// for a fresh token once and tries again; a source that cannot renew (a static token)
// gives the same token back, and the 401 is returned.
func (c *Client) authenticated(next stage) stage {
	return func(ctx context.Context, r *request) (*response, error) {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, &tokenError{err}
		}
		r.token = tok
		resp, err := next(ctx, r)
		if StatusOf(err) != http.StatusUnauthorized {
			return resp, err
		}
		c.tokens.Invalidate(tok)
		fresh, terr := c.tokens.Token(ctx)
		if terr != nil {
			return nil, fmt.Errorf("%w; renewing the access token failed: %w", err, terr)
		}
		if fresh == tok {
			return nil, err
		}
		c.stats.tokenRenewals.Add(1)
		r.token = fresh
		return next(ctx, r) // a second 401 is final
	}
}

// verdict is what retrying does with a failed attempt.
type verdict int

const (
	final   verdict = iota // return the error
	retry                  // try again after a backoff, budgets permitting
	unknown                // POST that may have been applied: *UnknownOutcomeError
)

// classify decides about err, the failure of one attempt of r.
func classify(ctx context.Context, r *request, err error) verdict {
	idempotent := r.method != http.MethodPost // GET, DELETE, and PATCH (always conditional: If-Match)
	var te *transportError
	isTransport := errors.As(err, &te)
	if ctx.Err() != nil { // the caller gave up
		if !idempotent && isTransport && te.sent {
			return unknown
		}
		return final
	}
	var tokErr *tokenError
	var redirect *RedirectError
	if errors.As(err, &tokErr) || errors.As(err, &redirect) || errors.Is(err, ErrStoppedWaiting) {
		return final // the token source retries on its own; a redirect is an answer
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusTooManyRequests:
			return retry // the service did not act
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if idempotent {
				return retry
			}
			return unknown
		}
		return final
	}
	if isTransport {
		if isCertificateError(err) {
			return final // no retry mends a certificate
		}
		if isTimeout(err) {
			r.timeouts++
			if r.timeouts >= maxTimeoutAttempts && (idempotent || !te.sent) {
				return final // a service this slow is not waited for again and again
			}
		}
		if idempotent || !te.sent {
			return retry
		}
		return unknown
	}
	return final
}

func isCertificateError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalid          x509.CertificateInvalidError
		hostname         x509.HostnameError
		verification     *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verification)
}

// retrying applies the retry policy to every call.
func (c *Client) retrying(next stage) stage {
	return func(ctx context.Context, r *request) (*response, error) {
		c.stats.calls.Add(1)
		for attempt := 1; ; attempt++ {
			r.attempt = attempt
			resp, err := next(ctx, r)
			if err == nil {
				return resp, nil
			}
			// Every error says how many requests the call sent, when more than one: a
			// refusal that is not retried was one request, whatever the budget.
			switch classify(ctx, r, err) {
			case final:
				if r.mayHaveActed && r.method == http.MethodPatch && StatusOf(err) == http.StatusPreconditionFailed {
					// Perhaps the earlier attempt committed and only its answer was lost: the
					// caller decides by reading the connection (it matches ErrStale too).
					c.stats.unknownOutcomes.Add(1)
					return nil, &UnknownOutcomeError{Err: gaveUp(r.sends, err)}
				}
				return nil, gaveUp(r.sends, err)
			case unknown:
				c.stats.unknownOutcomes.Add(1)
				return nil, &UnknownOutcomeError{Err: gaveUp(r.sends, err)}
			}
			r.mayHaveActed = r.mayHaveActed || mayHaveActed(err)
			var e *Error
			var retryAfter time.Duration
			if errors.As(err, &e) {
				retryAfter = e.RetryAfter
			}
			if retryAfter > MaxWait {
				// Not retried at all: the wait asked for is not made, and no retry is spent.
				return nil, &WaitTooLongError{Op: r.label(), Wait: retryAfter, Err: gaveUp(r.sends, err)}
			}
			if attempt >= c.retry.maxAttempts {
				return nil, gaveUp(r.sends, err)
			}
			if !c.takeRetry() {
				return nil, fmt.Errorf("%w (no retry: this run's retry budget is spent)", gaveUp(r.sends, err))
			}
			d := c.retry.delay(attempt, retryAfter)
			c.waits.planned(ctx, "to retry", r.label(), d, retryReason(err, retryAfter))
			if werr := wait(ctx, d); werr != nil {
				return nil, fmt.Errorf("%w (stopped waiting to retry: %w)", gaveUp(r.sends, err), werr)
			}
		}
	}
}

// mayHaveActed reports whether the service may have carried out an attempt that failed with
// err: it was sent and no answer came, or the answer was a 5xx (the same rule that makes a
// POST's outcome unknown).
func mayHaveActed(err error) bool {
	var te *transportError
	if errors.As(err, &te) {
		return te.sent
	}
	switch StatusOf(err) {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryReason says why a retry waits, for the log line of a long wait.
func retryReason(err error, retryAfter time.Duration) string {
	var e *Error
	if errors.As(err, &e) {
		s := fmt.Sprintf("%d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
		if retryAfter > 0 {
			s += fmt.Sprintf(", Retry-After %s", roundWait(retryAfter))
		}
		return s
	}
	return "no answer"
}

// gaveUp is the error of a call that sent requests requests: their count when more than one.
func gaveUp(requests int, err error) error {
	if requests <= 1 {
		return err
	}
	return fmt.Errorf("after %d requests: %w", requests, err)
}

// takeRetry spends one retry of the run's budget, or reports that it is spent.
func (c *Client) takeRetry() bool {
	allowed := c.retry.runBase + int64(c.retry.runPerCall*float64(c.stats.calls.Load()))
	if c.stats.retries.Add(1) > allowed {
		c.stats.retries.Add(-1)
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) error { return wait(ctx, d) }
