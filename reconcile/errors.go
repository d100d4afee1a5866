package reconcile

import "errors"

// reconcile's vocabulary for what the service answered. The service's client (flowservice)
// returns errors that match these with errors.Is, so that reconcile decides without knowing
// HTTP statuses.
var (
	// ErrStale: the connection changed since its etag was read (412 on If-Match).
	ErrStale = errors.New("stale etag")
	// ErrGone: the connection does not exist (404): deleted outside flowsync.
	ErrGone = errors.New("connection gone")
	// ErrAuth: the credentials were refused (401, 403); every other call would fail alike.
	ErrAuth = errors.New("credentials refused")
	// ErrUnknownOutcome: a request that is not idempotent (a create) may or may not have
	// been carried out (timeout, reset connection, 5xx after sending). An update's error
	// matching both ErrStale and ErrUnknownOutcome is a 412 met on a retry after an attempt
	// that may have been carried out: the etag may have moved by flowsync's own PATCH.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrNoID: the service accepted a create (2xx) but its answer names no connection; its
	// outcome is unknown too.
	ErrNoID = errors.New("accepted without an id")
	// ErrNotSent: the request was never sent (the run was stopped while it waited).
	ErrNotSent = errors.New("request not sent")
)

func isGone(err error) bool           { return errors.Is(err, ErrGone) }
func isStale(err error) bool          { return errors.Is(err, ErrStale) }
func isAuth(err error) bool           { return errors.Is(err, ErrAuth) }
func isUnknownOutcome(err error) bool { return errors.Is(err, ErrUnknownOutcome) }

// isLostAnswer reports whether an update's err is a 412 that its own earlier attempt, carried
// out with its answer lost, may have caused.
func isLostAnswer(err error) bool { return isStale(err) && isUnknownOutcome(err) }
