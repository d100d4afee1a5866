package flowservice

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowsync/flowsync/reconcile"
)

// Error is a non-2xx answer of the service or of its gateway.
type Error struct {
	Method     string        // HTTP method
	Status     int           // HTTP status
	Code       string        // Adobe code: "FLOW-1404-412" → "1404-412"; gateway: "401013"
	Title      string        // service title
	Message    string        // detailed message (service) or message (gateway)
	RequestID  string        // report.request-id or x-request-id
	RetryAfter time.Duration // from Retry-After, 0 when absent
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = e.Title
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request-id %s]", e.RequestID)
	}
	return b.String()
}

// Is matches reconcile's vocabulary: ErrStale for 412, ErrGone for 404, ErrAuth for 401/403.
func (e *Error) Is(target error) bool {
	switch target {
	case reconcile.ErrStale:
		return e.Status == http.StatusPreconditionFailed
	case reconcile.ErrGone:
		return e.Status == http.StatusNotFound
	case reconcile.ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// StatusOf returns the HTTP status of err's *Error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// UnknownOutcomeError wraps the failure of a non-idempotent request (POST) whose outcome is
// unknown: the request may have been applied (timeout, reset connection, 5xx after sending).
// It also wraps the 412 a PATCH met on a retry after an attempt that may have been carried
// out (sent, no answer or a 5xx): the etag may have moved by that attempt itself, its answer
// lost. Such an error matches reconcile.ErrStale as well (it unwraps to the 412 *Error).
type UnknownOutcomeError struct {
	Err error
	// Status is the 2xx status of an answer that did not say what was done (a create answered
	// without a connection id); 0 when no usable answer came.
	Status int
}

func (e *UnknownOutcomeError) Error() string { return "outcome unknown: " + e.Err.Error() }
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Is matches reconcile.ErrUnknownOutcome, and reconcile.ErrNoID for an answer without an id.
func (e *UnknownOutcomeError) Is(target error) bool {
	return target == reconcile.ErrUnknownOutcome ||
		target == reconcile.ErrNoID && e.Status >= 200 && e.Status < 300
}

// TokenError is a failure to get an access token from Adobe IMS: a refused or failed
// request, or an answer without a bearer token. It never holds the client secret.
type TokenError struct {
	URL string // the IMS token endpoint
	Err error
}

func (e *TokenError) Error() string { return "get access token from " + e.URL + ": " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// URLError is an endpoint or IMS URL the client refuses: it is not an absolute http(s) URL,
// has a query, fragment or credentials, or is plain http off loopback (a token would travel
// in clear).
type URLError struct {
	What    string     // "endpoint", "IMS URL"
	URL     string     // with any password redacted
	Reason  string     // "is plain http off loopback (127.0.0.1, ::1, localhost)"
	Problem URLProblem // what is wrong, for the caller's advice
}

// URLProblem is what a *URLError found wrong with a URL.
type URLProblem int

const (
	URLNotAbsolute URLProblem = iota + 1 // does not parse, has no host, or a scheme other than http(s)
	URLQuery                             // has a query or fragment
	URLCredentials                       // holds user[:password]@
	URLPlainHTTP                         // plain http off loopback
)

func (e *URLError) Error() string { return fmt.Sprintf("%s %q %s", e.What, e.URL, e.Reason) }
