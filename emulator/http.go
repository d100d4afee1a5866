package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody is the largest request body read; a larger one is answered 413.
const maxBody = 1 << 20

// Stats counts what the emulator saw and did.
type Stats struct {
	Total        int64                    // API calls (IMS calls excluded)
	Requests     map[string]map[int]int64 // API calls by method, then status; status 0 = left unanswered
	Faults       map[string]int64         // injected faults by kind: "fail", "throttle", "rate-limit", "drop"
	IMSRequests  int64                    // calls of the IMS token endpoint
	TokensIssued int64                    // IMS tokens issued
}

// Fault kinds counted in Stats.Faults.
const (
	FaultFail      = "fail"
	FaultThrottle  = "throttle"
	FaultRateLimit = "rate-limit"
	FaultDrop      = "drop"
	FaultNoID      = "no-id" // a create answered 201 without an id (Options.CreateWithoutID)
)

func newStats() Stats {
	return Stats{Requests: map[string]map[int]int64{}, Faults: map[string]int64{}}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = make(map[string]map[int]int64, len(s.stats.Requests))
	for m, byStatus := range s.stats.Requests {
		st.Requests[m] = maps.Clone(byStatus)
	}
	st.Faults = maps.Clone(s.stats.Faults)
	return st
}

func (s *Server) countFault(kind string) {
	s.mu.Lock()
	s.stats.Faults[kind]++
	s.mu.Unlock()
}

// recorder counts an API call in Stats when its answer's status is written, before any byte
// of the answer can reach the client: whoever has seen an answer finds it counted.
type recorder struct {
	http.ResponseWriter
	s       *Server
	method  string
	status  int  // 0 = left unanswered
	counted bool // the call is in Stats
}

func (w *recorder) WriteHeader(code int) {
	if !w.counted {
		w.status = code
		w.s.countCall(w)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.counted {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// countCall adds one API call, with w.status, to Stats; once per call.
func (s *Server) countCall(w *recorder) {
	w.counted = true
	s.mu.Lock()
	s.stats.Total++
	m := s.stats.Requests[w.method]
	if m == nil {
		m = map[int]int64{}
		s.stats.Requests[w.method] = m
	}
	m[w.status]++
	s.mu.Unlock()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) routes() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) newRequestID() string {
	// "emu-<reqBase>-%08d", without fmt.
	var b [64]byte
	out := append(b[:0], "emu-"...)
	out = append(out, s.reqBase...)
	out = append(out, '-')
	n := s.reqID.Add(1)
	var d [20]byte
	digits := strconv.AppendUint(d[:0], n, 10)
	for i := len(digits); i < 8; i++ {
		out = append(out, '0')
	}
	return string(append(out, digits...))
}

// call is one API request being served.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	id   string // x-request-id
	body []byte
	sc   scope
	user string // x-api-key, recorded as createdClient
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rid := s.newRequestID()
	w.Header()["X-Request-Id"] = []string{rid}
	if r.URL.Path == IMSPath {
		s.serveIMS(w, r)
		return
	}
	if s.opts.Control && s.controlHandler(w, r) {
		return
	}
	rec := &recorder{ResponseWriter: w, s: s, method: r.Method}
	defer func() {
		if !rec.counted { // nothing written: the client went away, or the handler panicked
			s.countCall(rec)
		}
	}()
	c := &call{w: rec, r: r, id: rid}
	s.serveAPI(c)
}

// route names the operation of an API request: "list", "create", "get", "patch", "delete",
// "test" (GET /connections/{id}/test), "spec" (GET /connectionSpecs/{id}),
// "sourceConnections" and "flows" (their lists),
// or "" with the status (404, 405) to answer.
func route(method, path string) (op, id string, status int) {
	if rest, ok := strings.CutPrefix(path, APIPrefix+"/connectionSpecs/"); ok {
		return routeSpec(method, rest)
	}
	switch strings.TrimSuffix(path, "/") {
	case APIPrefix + "/sourceConnections", APIPrefix + "/flows":
		if method != http.MethodGet {
			return "", "", http.StatusMethodNotAllowed
		}
		return strings.TrimPrefix(strings.TrimSuffix(path, "/"), APIPrefix+"/"), "", 0
	}
	rest, ok := strings.CutPrefix(path, APIPrefix+"/connections")
	if !ok {
		return "", "", http.StatusNotFound
	}
	if rest == "" {
		switch method {
		case http.MethodGet:
			return "list", "", 0
		case http.MethodPost:
			return "create", "", 0
		}
		return "", "", http.StatusMethodNotAllowed
	}
	rest, ok = strings.CutPrefix(rest, "/")
	if !ok {
		return "", "", http.StatusNotFound
	}
	rest = strings.TrimSuffix(rest, "/") // Adobe's spec writes PATCH and DELETE with a trailing slash
	if cid, ok := strings.CutSuffix(rest, "/test"); ok && cid != "" && !strings.Contains(cid, "/") {
		if method != http.MethodGet {
			return "", "", http.StatusMethodNotAllowed
		}
		return "test", cid, 0
	}
	if rest == "" || strings.Contains(rest, "/") {
		return "", "", http.StatusNotFound
	}
	switch method {
	case http.MethodGet:
		return "get", rest, 0
	case http.MethodPatch:
		return "patch", rest, 0
	case http.MethodDelete:
		return "delete", rest, 0
	}
	return "", "", http.StatusMethodNotAllowed
}

func (s *Server) serveAPI(c *call) {
	r := c.r
	op, id, status := route(r.Method, r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxBody {
		c.serviceError(http.StatusRequestEntityTooLarge, "1100-413", "Request too large", fmt.Sprintf("the request body exceeds %d bytes", maxBody))
		return
	}
	c.body = body
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r, body)
	}
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		routeError(c, status)
		return
	}
	if !s.wait(r) || !s.checkHeaders(c) || s.fault(c) {
		return
	}
	if (op == "create" || op == "patch") && !c.jsonContent() {
		return
	}
	switch op {
	case "list":
		s.list(c)
	case "sourceConnections":
		s.listSources(c)
	case "flows":
		s.listFlows(c)
	case "create":
		s.create(c)
	case "get":
		s.get(c, id)
	case "patch":
		s.patch(c, id)
	case "delete":
		s.delete(c, id)
	case "spec":
		s.connectionSpec(c, id)
	case "test":
		s.test(c, id)
	}
}

// routeError answers a path the API does not have (404) or a method it does not allow there
// (405, with Allow).
func routeError(c *call, status int) {
	r := c.r
	if status == http.StatusNotFound {
		c.gatewayError(http.StatusNotFound, "404000", "Resource not found: "+r.URL.Path)
		return
	}
	if p := strings.TrimSuffix(r.URL.Path, "/"); strings.HasSuffix(p, "/connections") {
		c.w.Header().Set("Allow", "GET, POST")
	} else if strings.HasSuffix(p, "/test") || strings.Contains(p, "/connectionSpecs/") ||
		strings.HasSuffix(p, "/sourceConnections") || strings.HasSuffix(p, "/flows") {
		c.w.Header().Set("Allow", "GET")
	} else {
		c.w.Header().Set("Allow", "GET, PATCH, DELETE")
	}
	c.serviceError(http.StatusMethodNotAllowed, "1100-405", "Method not allowed", fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
}

// wait sleeps Options.Latency; false when the client went away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	d := s.opts.Latency
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// fault answers an injected fault (rate limit, throttling, failure) and reports whether it did.
func (s *Server) fault(c *call) bool {
	if l := s.limiter.Load(); l != nil {
		res := l.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			s.countFault(FaultRateLimit)
			secs := max(int(math.Ceil(d.Seconds())), 1)
			c.w.Header().Set("Retry-After", strconv.Itoa(secs))
			c.gatewayError(http.StatusTooManyRequests, "429001", "Too many requests: rate limit exceeded")
			return true
		}
	}
	if s.chance(s.opts.ThrottleRate) || s.takeNext(FaultThrottle, c.r.Method) {
		s.countFault(FaultThrottle)
		c.w.Header().Set("Retry-After", "1")
		c.gatewayError(http.StatusTooManyRequests, "429001", "Too many requests")
		return true
	}
	if s.chance(s.opts.FailRate) || s.takeNext(FaultFail, c.r.Method) {
		s.countFault(FaultFail)
		c.serviceError(http.StatusInternalServerError, "1102-500", "Internal Error", "An internal error has occurred. Please try again. If the problem persists, please contact customer support.")
		return true
	}
	return false
}

// checkHeaders answers a call that lacks a required header, as the gateway and the service do.
func (s *Server) checkHeaders(c *call) bool {
	h := c.r.Header
	scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") || !s.tokenValid(tok) {
		c.gatewayError(http.StatusUnauthorized, "401013", "Oauth token is not valid")
		return false
	}
	key := h.Get("x-api-key")
	if key == "" {
		c.gatewayError(http.StatusForbidden, "403000", "Api Key is required")
		return false
	}
	if s.opts.ClientID != "" && key != s.opts.ClientID {
		c.gatewayError(http.StatusForbidden, "403003", "Api Key is invalid")
		return false
	}
	org := h.Get("x-gw-ims-org-id")
	if org == "" {
		c.gatewayError(http.StatusBadRequest, "400003", "Missing x-gw-ims-org-id header")
		return false
	}
	sb := h.Get("x-sandbox-name")
	if sb == "" {
		c.serviceError(http.StatusBadRequest, "2105-400", "Sandbox header is missing", "The header 'x-sandbox-name' is missing in the request. Please provide the header and try again.")
		return false
	}
	if sb != strings.ToLower(sb) || strings.ContainsAny(sb, " \t/") {
		c.serviceError(http.StatusBadRequest, "2105-400", "Invalid sandbox name", fmt.Sprintf("The sandbox name %q in header 'x-sandbox-name' is not valid: sandbox names are lower case.", sb))
		return false
	}
	c.sc = scope{org, sb}
	c.user = key
	return true
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[tok]
	if t == nil {
		if s.opts.RequireIssuedTokens {
			return false
		}
		t = &token{}
		s.tokens[tok] = t // remembered so that RevokeTokens can revoke it
	}
	if t.revoked {
		return false
	}
	return t.expires.IsZero() || time.Now().Before(t.expires)
}

func (c *call) jsonContent() bool {
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		c.serviceError(http.StatusUnsupportedMediaType, "1100-415", "Unsupported media type", "The header 'Content-Type' is missing: send 'Content-Type: application/json'.")
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		c.serviceError(http.StatusUnsupportedMediaType, "1100-415", "Unsupported media type", fmt.Sprintf("Content-Type %q is not supported: send 'Content-Type: application/json'.", ct))
		return false
	}
	return true
}

// serviceError answers in Flow Service's shape; code is like "1404-412".
func (c *call) serviceError(status int, code, title, detail string) {
	writeJSON(c.w, status, map[string]any{
		"type":   "https://ns.adobe.com/aep/errors/FLOW-" + code,
		"title":  title,
		"status": status,
		"report": map[string]any{
			"detailed-message": detail,
			"request-id":       c.id,
		},
		"errorMessage": detail,
		"errorDetails": title,
	})
}

// badRequest is a 400 of the service; code "" is the generic "1100-400".
func (c *call) badRequest(code, detail string) {
	if code == "" {
		code = "1100-400"
	}
	c.serviceError(http.StatusBadRequest, code, "Invalid request", detail)
}

// gatewayError answers in the API gateway's shape.
func (c *call) gatewayError(status int, code, message string) {
	writeJSON(c.w, status, map[string]string{"error_code": code, "message": message})
}

var jsonContentType = []string{"application/json"} // never modified

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // show Mask as <redacted>, not \u003credacted\u003e
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(b.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// dropAfterCommit rolls the drop-after-commit dice (or takes a DropNext) for a committed
// change of connection id and, when they say so, closes the client's connection without an
// answer. It reports whether it did.
func (s *Server) dropAfterCommit(c *call, id string) bool {
	if !s.chance(s.opts.DropAfterCommit) && !s.takeNext(FaultDrop, c.r.Method) {
		return false
	}
	conn, _, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		return false // HTTP/2 cannot be hijacked: answer normally
	}
	// Counted (unanswered: status 0) before the close, which the client sees at once.
	s.countFault(FaultDrop)
	if rec, ok := c.w.(*recorder); ok && !rec.counted {
		rec.status = 0
		s.countCall(rec)
	}
	if f := s.onDrop.Load(); f != nil {
		(*f)(id)
	}
	conn.Close()
	return true
}
