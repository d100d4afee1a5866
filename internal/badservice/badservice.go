// Package badservice is a misbehaving Flow Service for tests, never part of the product: it
// redirects elsewhere, repeats list pages, asks for absurd Retry-After waits, trickles its
// answers, and says "created" without an id. Every request it receives is recorded, headers
// and body included, so that a test can prove what reached it and what did not.
package badservice

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Path is where the service's API lives below a server's root, as in production.
const Path = "/data/foundation/flowservice"

// Request is one request a Server received.
type Request struct {
	Method, Host, Path, RawQuery string
	Header                       http.Header
	Body                         []byte
}

// Server is a loopback HTTP(S) server that records every request and answers with a handler.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []Request
	handler atomic.Pointer[http.Handler]
}

// New starts a plain-http server on 127.0.0.1 answering with h (Sink when nil); it is closed
// when the test ends.
func New(t testing.TB, h http.Handler) *Server {
	s := Start(h)
	t.Cleanup(s.Close)
	return s
}

// Start is New for callers without a testing.TB (testscript commands): close it when done.
func Start(h http.Handler) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	s.Handle(h)
	return s
}

// NewTLS is New over https, with the httptest certificate (trust it through s.Client()).
func NewTLS(t testing.TB, h http.Handler) *Server {
	s := &Server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.Handle(h)
	t.Cleanup(s.Close)
	return s
}

// Handle makes h answer from now on (Sink when nil).
func (s *Server) Handle(h http.Handler) {
	if h == nil {
		h = Sink()
	}
	s.handler.Store(&h)
}

// Endpoint is the Flow Service endpoint of s: its URL and Path.
func (s *Server) Endpoint() string { return s.URL + Path }

// Requests returns what s received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Received reports whether any request s received holds text in a header value or its body.
func (s *Server) Received(text string) bool {
	for _, r := range s.Requests() {
		if strings.Contains(string(r.Body), text) || strings.Contains(r.RawQuery, text) {
			return true
		}
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, text) {
					return true
				}
			}
		}
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	(*s.handler.Load()).ServeHTTP(w, r)
}

// Sink answers 200 with an empty list to everything: a server that should never be reached.
func Sink() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": []any{}})
	}
}

// Redirect answers every request with status (301, 302, 303, 307, 308) to base followed by
// the request's path and query.
func Redirect(status int, base string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", strings.TrimRight(base, "/")+r.URL.RequestURI())
		w.WriteHeader(status)
	}
}

// RetryAfter answers every request 429 with the given Retry-After header value.
func RetryAfter(value string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error_code": "429050", "message": "Too many requests"})
	}
}

// Connection is a listed S3 connection with id and name.
func Connection(id, name string) map[string]any {
	return map[string]any{
		"id": id, "name": name, "etag": `"` + id + `-1"`, "version": `"` + id + `-1"`,
		"connectionSpec": map[string]any{"id": "ecadc60c-7455-4d87-84dc-2a0e293d997b", "version": "1.0"},
		"auth":           map[string]any{"specName": "Access Key", "params": map[string]any{"s3AccessKey": "AKIAEXAMPLE", "bucketName": "b-" + id}},
		"state":          "enabled",
	}
}

// Page is one list answer: items and a next link holding token ("" for the last page).
func Page(items []map[string]any, token string) map[string]any {
	page := map[string]any{"items": items, "_links": map[string]any{}}
	if token != "" {
		page["_links"] = map[string]any{"next": map[string]any{"href": Path + "/connections?continuationToken=" + token}}
	}
	return page
}

// RepeatingPages answers GET /connections with the same n connections on every page, each
// under a new continuation token, forever (a service whose cursor does not advance).
func RepeatingPages(n int) http.HandlerFunc {
	var count atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = Connection(fmt.Sprintf("conn-%d", i), fmt.Sprintf("name-%d", i))
		}
		writeJSON(w, http.StatusOK, Page(items, "t"+strconv.FormatInt(count.Add(1), 10)))
	}
}

// SameToken answers GET /connections with new connections on every page, always under the
// same continuation token.
func SameToken() http.HandlerFunc {
	var count atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := count.Add(1)
		items := []map[string]any{Connection(fmt.Sprintf("conn-%d", i), fmt.Sprintf("name-%d", i))}
		writeJSON(w, http.StatusOK, Page(items, "again"))
	}
}

// SlowBody answers 200 and then one byte of a JSON list every interval, never finishing on
// its own (a slow-loris service); it stops when the client goes away.
func SlowBody(interval time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		f, _ := w.(http.Flusher)
		_, _ = w.Write([]byte(`{"items":[`))
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				if f != nil {
					f.Flush()
				}
			}
		}
	}
}

// CreatedWithoutID answers a POST 201 with an empty object (no id, no Location), and any
// other request with an empty list.
func CreatedWithoutID() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeJSON(w, http.StatusCreated, map[string]any{})
			return
		}
		writeJSON(w, http.StatusOK, Page(nil, ""))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
