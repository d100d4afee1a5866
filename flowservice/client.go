package flowservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
)

// Defaults of the production service.
const (
	DefaultEndpoint = "https://platform.adobe.io/data/foundation/flowservice"
	DefaultIMSURL   = "https://ims-na1.adobelogin.com/ims/token/v3"
	DefaultScopes   = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
)

const (
	defaultConcurrency = 8
	maxPageLimit       = 100
	defaultUserAgent   = "flowsync" // of Config and IMSConfig: one User-Agent for every call
)

// Config configures a Client. Endpoint, OrgID, Sandbox, APIKey and Tokens are required
// (Endpoint defaults to DefaultEndpoint).
type Config struct {
	Endpoint, OrgID, Sandbox, APIKey string
	Tokens                           TokenSource
	HTTPClient                       *http.Client // optional; by default one tuned for Concurrency callers
	MaxRPS                           float64      // hard cap on requests per second, 0 = none
	Concurrency                      int          // expected parallel callers (transport pool, AIMD ceiling); default 8
	Logger                           *slog.Logger // optional; debug line per request, never a secret
	UserAgent                        string       // default "flowsync"; give IMSConfig the same
	// Now is the local clock (default time.Now). The client corrects it by the offset of the
	// service's clock that the Date header of its answers shows: see Client.Now.
	Now func() time.Time
	// Sensitive are values the caller took from secret references (an s3AccessKey from
	// {env: …}, say), which the client cannot know: they are redacted from any answer text
	// copied into an error or a log line, besides the access token and the secret param values
	// a request carries. Not copied: do not change it.
	Sensitive []string
}

// Client calls Flow Service's /connections API. It is safe for concurrent use; every request
// of a Client goes through one retry policy, one token source and one run-wide throttle
// (see pipeline.go).
type Client struct {
	endpoint  string // scheme://host/prefix, escaped, no trailing slash
	orgID     string
	sandbox   string
	apiKey    string
	userAgent string
	tokens    TokenSource
	http      *http.Client
	logger    *slog.Logger
	lim       *limiter
	waits     *waitLog
	stats     counters
	retry     retryPolicy
	do        stage // the request pipeline: retry → auth → throttle → send
	hdr       headers
	auth      atomic.Pointer[authValue]
	redact    []string // Config.Sensitive
	clock     *serviceClock
}

// New checks cfg and returns a Client. It refuses a plain-HTTP endpoint unless it is on
// loopback, and an endpoint with a query or fragment.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	base, err := checkURL("endpoint", cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	var missing []string
	if cfg.OrgID == "" {
		missing = append(missing, "OrgID")
	}
	if cfg.Sandbox == "" {
		missing = append(missing, "Sandbox")
	}
	if cfg.APIKey == "" {
		missing = append(missing, "APIKey")
	}
	if cfg.Tokens == nil {
		missing = append(missing, "Tokens")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("flowservice client: missing %s", strings.Join(missing, ", "))
	}
	if err := CheckMaxRPS(cfg.MaxRPS); err != nil {
		return nil, fmt.Errorf("flowservice client: %w", err)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaultUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := withPolicy(cfg.HTTPClient, base, requestTimeout, func() http.RoundTripper { return newTransport(cfg.Concurrency) })
	c := &Client{
		endpoint:  base.String(),
		orgID:     cfg.OrgID,
		sandbox:   cfg.Sandbox,
		apiKey:    cfg.APIKey,
		userAgent: cfg.UserAgent,
		tokens:    cfg.Tokens,
		http:      hc,
		logger:    cfg.Logger,
		lim:       newLimiter(cfg.Concurrency, cfg.MaxRPS),
		waits:     newWaitLog(cfg.Logger),
		retry:     defaultRetryPolicy(),
		redact:    cfg.Sensitive,
		clock:     &serviceClock{local: cfg.Now},
	}
	c.hdr = headers{apiKey: []string{cfg.APIKey}, orgID: []string{cfg.OrgID}, sandbox: []string{cfg.Sandbox}, userAgent: []string{cfg.UserAgent}}
	c.do = c.sensitive(c.retrying(c.authenticated(c.throttled(c.send))))
	return c, nil
}

// MinMaxRPS is the smallest rate cap that makes sense: one request every 100 seconds.
const MinMaxRPS = 0.01

// CheckMaxRPS refuses a rate cap that makes no sense: NaN, infinite, negative, or above 0 and
// below MinMaxRPS (1e-300 would never send anything). 0 means no cap.
func CheckMaxRPS(v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("max rps %g is not a number of requests per second (0 means no cap)", v)
	case v < 0:
		return fmt.Errorf("max rps %g is negative (0 means no cap)", v)
	case v > 0 && v < MinMaxRPS:
		return fmt.Errorf("max rps %g is below %g (one request every %g seconds); use 0 for no cap", v, MinMaxRPS, 1/MinMaxRPS)
	}
	return nil
}

// checkURL parses raw and refuses what would leak a token: plain HTTP off loopback. what
// names the setting in the *URLError.
func checkURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &URLError{What: what, URL: raw, Reason: "is not a URL", Problem: URLNotAbsolute}
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &URLError{What: what, URL: u.Redacted(), Reason: "is not an absolute https:// URL", Problem: URLNotAbsolute}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, &URLError{What: what, URL: u.Redacted(), Reason: "has a query or fragment", Problem: URLQuery}
	}
	if u.User != nil {
		return nil, &URLError{What: what, URL: u.Redacted(), Reason: "holds credentials", Problem: URLCredentials}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, &URLError{What: what, URL: raw, Reason: "is plain http off loopback (127.0.0.1, ::1, localhost)", Problem: URLPlainHTTP}
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport returns a transport for many concurrent calls to one host: a pool of idle
// connections at least as large as the number of callers, no cap on connections per host,
// keep-alives, and HTTP/2 when TLS offers it.
func newTransport(concurrency int) *http.Transport {
	idle := max(concurrency, 16)
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * idle,
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Close closes the client's idle connections: those it dialled, used or not, and keeps for
// the next request. A request sent after Close dials again. Close does not wait for requests
// in flight.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// APIKey is the x-api-key the client sends: the service records it as a connection's
// createdClient.
func (c *Client) APIKey() string { return c.apiKey }

// Create creates a connection. When its outcome is unknown (timeout, reset connection, 5xx
// after the request was sent) the error is an *UnknownOutcomeError: look the name up before
// creating again.
func (c *Client) Create(ctx context.Context, nc NewConnection) (Ref, error) {
	body, err := json.Marshal(nc)
	if err != nil {
		return Ref{}, fmt.Errorf("create %s: encode: %w", nc.Name, err)
	}
	r := &request{method: http.MethodPost, path: "/connections", body: body, secretParams: nc.Auth.Params}
	resp, err := c.do(ctx, r)
	if err != nil {
		return Ref{}, err
	}
	var ref Ref
	if len(resp.body) > 0 {
		if err := json.Unmarshal(resp.body, &ref); err != nil {
			// The service said it created the connection but we cannot tell which one.
			c.stats.unknownOutcomes.Add(1)
			return Ref{}, &UnknownOutcomeError{Status: resp.status, Err: fmt.Errorf("create %s: %d answer is not a connection reference: %v", nc.Name, resp.status, err)}
		}
	}
	if ref.ID == "" {
		ref.ID = idFromLocation(resp.header.Get("Location"))
	}
	if ref.ID == "" {
		c.stats.unknownOutcomes.Add(1)
		return Ref{}, &UnknownOutcomeError{Status: resp.status, Err: fmt.Errorf("create %s: %d answer holds no connection id", nc.Name, resp.status)}
	}
	c.learnETag(ctx, &ref)
	return ref, nil
}

// learnETag reads the etag of a connection just created or patched when the answer did not
// carry one (only an id in Location, or an empty body): without it the next PATCH could not
// send If-Match, and the next refresh would take the live etag for a change made outside
// flowsync. The write succeeded either way: a failed read leaves the etag unknown.
func (c *Client) learnETag(ctx context.Context, ref *Ref) {
	if ref.ETag != "" {
		return
	}
	if live, err := c.Get(ctx, ref.ID); err == nil {
		ref.ETag = live.ETag
	}
}

// secretValues are the values an answer must never carry into an error.
func secretValues(params map[string]string) []string {
	var v []string
	for k, s := range params {
		if s3source.Secret(k) && s != "" {
			v = append(v, s)
		}
	}
	return v
}

// patchSecrets are the secret values ops carry: /auth/params/<secret> or a whole /auth/params.
func patchSecrets(ops []PatchOp) []string {
	var v []string
	for _, op := range ops {
		if len(op.Value) == 0 {
			continue
		}
		switch name, isParam := strings.CutPrefix(op.Path, "/auth/params/"); {
		case isParam && s3source.Secret(name):
			var s string
			if json.Unmarshal(op.Value, &s) == nil && s != "" {
				v = append(v, s)
			}
		case op.Path == "/auth/params" || op.Path == "/auth":
			var params map[string]string
			var auth Auth
			if json.Unmarshal(op.Value, &params) == nil {
				v = append(v, secretValues(params)...)
			} else if json.Unmarshal(op.Value, &auth) == nil {
				v = append(v, secretValues(auth.Params)...)
			}
		}
	}
	return v
}

func idFromLocation(loc string) string {
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	id := path.Base(u.Path)
	if id == "." || id == "/" || id == "connections" {
		return ""
	}
	return id
}

// Get reads one connection. A connection that does not exist is a *Error with Status 404.
func (c *Client) Get(ctx context.Context, id string) (*Connection, error) {
	if id == "" {
		return nil, errors.New("get connection: empty id")
	}
	r := &request{method: http.MethodGet, path: "/connections/" + url.PathEscape(id)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var page listPage[Connection]
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return nil, fmt.Errorf("get %s: decode answer: %w", id, err)
	}
	for i := range page.Items {
		if page.Items[i].ID == id {
			return &page.Items[i], nil
		}
	}
	return nil, &Error{Method: r.method, Status: http.StatusNotFound, Message: fmt.Sprintf("connection %s is not in the 200 answer (%d items)", id, len(page.Items)), RequestID: resp.header.Get("x-request-id")}
}

// Patch applies ops to the connection id whose current etag is etag (quoted, as the service
// sent it). A stale etag is a *Error with Status 412 (errors.Is(err, reconcile.ErrStale)); a
// 412 on a retry after an attempt that may have been carried out (its answer lost) is an
// *UnknownOutcomeError wrapping it, matching reconcile.ErrUnknownOutcome too.
func (c *Client) Patch(ctx context.Context, id, etag string, ops []PatchOp) (Ref, error) {
	if id == "" {
		return Ref{}, errors.New("patch connection: empty id")
	}
	if etag == "" {
		return Ref{}, fmt.Errorf("patch %s: no etag: read the connection first (the service requires If-Match)", id)
	}
	if ops == nil {
		ops = []PatchOp{}
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return Ref{}, fmt.Errorf("patch %s: encode: %w", id, err)
	}
	r := &request{method: http.MethodPatch, path: "/connections/" + url.PathEscape(id), body: body, ifMatch: etag, secrets: patchSecrets(ops)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return Ref{}, err
	}
	var ref Ref
	if len(bytes.TrimSpace(resp.body)) > 0 {
		if err := json.Unmarshal(resp.body, &ref); err != nil {
			return Ref{}, fmt.Errorf("patch %s: decode answer: %w", id, err)
		}
	}
	if ref.ID == "" {
		ref.ID = id
	}
	c.learnETag(ctx, &ref)
	return ref, nil
}

// Delete deletes a connection. 200, 202 and 204 are success; a connection already gone is a
// *Error with Status 404 (the caller decides what that means).
func (c *Client) Delete(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete connection: empty id")
	}
	r := &request{method: http.MethodDelete, path: "/connections/" + url.PathEscape(id)}
	_, err := c.do(ctx, r)
	return err
}

// ListOptions selects the connections of a List.
type ListOptions struct {
	Filters []string // property filters, ANDed: "name==x", "connectionSpec.id==…"
	Limit   int      // page size, at most 100 (the default)
}

// List returns every connection matching opts, following continuation tokens. Each next
// page is asked with the same filters and limit plus the token, so it works whether or not
// the service encodes the filters in the token. A listing that repeats a connection id or a
// continuation token is an error (listing.go): it would never end.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]Connection, error) {
	limit := opts.Limit
	if limit <= 0 || limit > maxPageLimit {
		limit = maxPageLimit
	}
	q := url.Values{}
	q.Set("limit", fmt.Sprint(limit))
	for _, f := range opts.Filters {
		q.Add("property", f)
	}
	var l listing[Connection]
	for {
		r := &request{method: http.MethodGet, path: "/connections", query: q.Encode()}
		resp, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		token, err := l.add(resp.body)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		if token == "" {
			return l.items, nil
		}
		q.Set("continuationToken", token)
	}
}

// FindByName returns the live connections of spec whose name is exactly name (of any spec
// when spec.ID is empty). The service's filter only narrows the list: the answer is checked
// here too, since a name may hold characters the filter syntax reads as operators. A name
// with a comma is not filtered on at all: the filter syntax reads a comma as OR
// (property=id==a,b), so a service may answer the connections named "a" or "b" and never
// the one named "a,b", and a create whose outcome was unknown would then be sent again.
func (c *Client) FindByName(ctx context.Context, name string, spec Spec) ([]Connection, error) {
	if name == "" {
		return nil, errors.New("find connection by name: empty name")
	}
	var filters []string
	if !strings.Contains(name, ",") {
		filters = append(filters, "name=="+name)
	}
	if spec.ID != "" {
		filters = append(filters, "connectionSpec.id=="+spec.ID)
	}
	all, err := c.List(ctx, ListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", name, err)
	}
	var found []Connection
	for _, conn := range all {
		if names.Same(conn.Name, name) && (spec.ID == "" || conn.ConnectionSpec.ID == spec.ID) {
			found = append(found, conn)
		}
	}
	return found, nil
}

// newHTTPRequest builds one attempt of r; token is the access token.
func (c *Client) newHTTPRequest(ctx context.Context, r *request, token string) (*http.Request, error) {
	target := c.endpoint + r.path // r.path is already escaped
	if r.query != "" {
		target += "?" + r.query
	}
	var body io.Reader // a nil *bytes.Reader would not be a nil io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	// Canonical keys assigned directly (what Header.Set would store, without canonicalising
	// and allocating per request); the shared value slices are never modified.
	h := req.Header
	h["Authorization"] = c.authorization(token)
	h["X-Api-Key"] = c.hdr.apiKey
	h["X-Gw-Ims-Org-Id"] = c.hdr.orgID
	h["X-Sandbox-Name"] = c.hdr.sandbox
	h["Accept"] = hdrJSON
	h["User-Agent"] = c.hdr.userAgent
	if r.body != nil {
		h["Content-Type"] = hdrJSON
	}
	if r.ifMatch != "" {
		h["If-Match"] = []string{r.ifMatch}
	}
	return req, nil
}

var hdrJSON = []string{"application/json"} // shared; never modified

// headers are the constant header values of a Client's requests, built once.
type headers struct {
	apiKey, orgID, sandbox, userAgent []string
}

// authValue is an Authorization header value for one token.
type authValue struct {
	token string
	value []string
}

// authorization returns the Authorization header value for token, built once per token.
func (c *Client) authorization(token string) []string {
	if a := c.auth.Load(); a != nil && a.token == token {
		return a.value
	}
	a := &authValue{token: token, value: []string{"Bearer " + token}}
	c.auth.Store(a)
	return a.value
}
