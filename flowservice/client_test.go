package flowservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

const (
	prefix      = "/data/foundation/flowservice"
	canaryToken = "canary-token-7f3e9b1c"
	testOrg     = "5C1328435BF324E90A49402A@AdobeOrg"
	testAPIKey  = "test-api-key"
)

// newTestClient starts handler under httptest and returns a Client of it with fast retries.
func newTestClient(t *testing.T, handler http.Handler, mods ...func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cfg := Config{
		Endpoint: srv.URL + prefix,
		OrgID:    testOrg,
		Sandbox:  "prod",
		APIKey:   testAPIKey,
		Tokens:   StaticToken(canaryToken),
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fastRetries(c)
	return c
}

func fastRetries(c *Client) {
	c.retry.base = time.Millisecond
	c.retry.cap = 5 * time.Millisecond
	c.lim.pace.pauseBase = time.Millisecond
	c.lim.pace.pauseCap = 5 * time.Millisecond
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func s3Conn(id, name string) Connection {
	return Connection{ID: id, Name: name, ConnectionSpec: s3source.ConnectionSpec(), ETag: `"e-` + id + `"`,
		Auth: Auth{SpecName: "Access Key", Params: map[string]string{"bucketName": "b"}}}
}

type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func TestHeadersOnEveryCall(t *testing.T) {
	var mu sync.Mutex
	var got []recorded
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost:
			w.Header().Set("Location", prefix+"/connections/c1")
			writeJSON(w, http.StatusCreated, Ref{ID: "c1", ETag: `"e1"`})
		case r.Method == http.MethodGet && r.URL.Path == prefix+"/connections":
			writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("c1", "acme")}})
		case r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("c1", "acme")}})
		case r.Method == http.MethodPatch:
			writeJSON(w, http.StatusOK, Ref{ID: "c1", ETag: `"e2"`})
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	c := newTestClient(t, h)
	ctx := context.Background()

	ref, err := c.Create(ctx, NewConnection{Name: "acme", Auth: Auth{SpecName: "Access Key", Params: map[string]string{"s3SecretKey": "s"}}, ConnectionSpec: s3source.ConnectionSpec()})
	if err != nil || ref != (Ref{ID: "c1", ETag: `"e1"`}) {
		t.Fatalf("Create = %+v, %v", ref, err)
	}
	conn, err := c.Get(ctx, "c1")
	if err != nil || conn.ID != "c1" || conn.ETag != `"e-c1"` {
		t.Fatalf("Get = %+v, %v", conn, err)
	}
	ref, err = c.Patch(ctx, "c1", `"e1"`, []PatchOp{{Op: "replace", Path: "/description", Value: json.RawMessage(`"d"`)}})
	if err != nil || ref.ETag != `"e2"` {
		t.Fatalf("Patch = %+v, %v", ref, err)
	}
	if err := c.Delete(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, ListOptions{Filters: []string{"connectionSpec.id==" + s3source.SpecID}}); err != nil {
		t.Fatal(err)
	}

	wantPaths := []string{
		"POST " + prefix + "/connections",
		"GET " + prefix + "/connections/c1",
		"PATCH " + prefix + "/connections/c1",
		"DELETE " + prefix + "/connections/c1",
		"GET " + prefix + "/connections",
	}
	var paths []string
	for _, r := range got {
		paths = append(paths, r.Method+" "+r.Path)
	}
	if d := cmp.Diff(wantPaths, paths); d != "" {
		t.Fatalf("requests (-want +got):\n%s", d)
	}
	for _, r := range got {
		for k, want := range map[string]string{
			"Authorization":   "Bearer " + canaryToken,
			"X-Api-Key":       testAPIKey,
			"X-Gw-Ims-Org-Id": testOrg,
			"X-Sandbox-Name":  "prod",
			"Accept":          "application/json",
		} {
			if v := r.Header.Get(k); v != want {
				t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, k, v, want)
			}
		}
		hasBody := r.Method == http.MethodPost || r.Method == http.MethodPatch
		if ct := r.Header.Get("Content-Type"); (ct == "application/json") != hasBody {
			t.Errorf("%s: Content-Type = %q", r.Method, ct)
		}
		if im := r.Header.Get("If-Match"); (r.Method == http.MethodPatch) != (im != "") {
			t.Errorf("%s: If-Match = %q", r.Method, im)
		}
	}
	if im := got[2].Header.Get("If-Match"); im != `"e1"` {
		t.Errorf("If-Match = %s, want the etag with its quotes", im)
	}
	if want := `[{"op":"replace","path":"/description","value":"d"}]`; got[2].Body != want {
		t.Errorf("PATCH body = %s, want %s", got[2].Body, want)
	}
	if !strings.Contains(got[4].RawQuery, "limit=100") || !strings.Contains(got[4].RawQuery, "property=connectionSpec.id%3D%3D"+s3source.SpecID) {
		t.Errorf("list query = %s", got[4].RawQuery)
	}
}

func TestDeleteAcceptsEvery2xxTheServiceUses(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent} {
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		if err := c.Delete(context.Background(), "x"); err != nil {
			t.Errorf("%d: %v", status, err)
		}
	}
}

func TestGetKeepsEscapedID(t *testing.T) {
	var path string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("a/b c", "x")}})
	}))
	if _, err := c.Get(context.Background(), "a/b c"); err != nil {
		t.Fatal(err)
	}
	if want := prefix + "/connections/a%2Fb%20c"; path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
}

func TestErrorShapes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   Error
	}{
		{
			name:   "service",
			status: 412,
			body:   `{"type":"https://ns.adobe.com/aep/errors/FLOW-1404-412","title":"Precondition failed","status":412,"report":{"detailed-message":"The etag does not match","request-id":"req-1"},"errorMessage":"etag mismatch"}`,
			want:   Error{Method: "GET", Status: 412, Code: "1404-412", Title: "Precondition failed", Message: "The etag does not match", RequestID: "req-1"},
		},
		{
			name:   "service without report",
			status: 400,
			body:   `{"type":"https://ns.adobe.com/aep/errors/FLOW-1414-400","title":"Bad request","status":400,"errorMessage":"spec cannot change","errorDetails":"connectionSpec.id"}`,
			header: map[string]string{"x-request-id": "hdr-1"},
			want:   Error{Method: "GET", Status: 400, Code: "1414-400", Title: "Bad request", Message: "spec cannot change (connectionSpec.id)", RequestID: "hdr-1"},
		},
		{
			name:   "gateway",
			status: 401,
			body:   `{"error_code":"401013","message":"Oauth token is not valid"}`,
			header: map[string]string{"x-request-id": "gw-9"},
			want:   Error{Method: "GET", Status: 401, Code: "401013", Message: "Oauth token is not valid", RequestID: "gw-9"},
		},
		{
			name:   "numeric code and retry-after",
			status: 429,
			body:   `{"error_code":429050,"message":"Too many requests"}`,
			header: map[string]string{"Retry-After": "120"},
			want:   Error{Method: "GET", Status: 429, Code: "429050", Message: "Too many requests", RetryAfter: 2 * time.Minute},
		},
		{
			name:   "plain text",
			status: 404,
			header: map[string]string{"Content-Type": "text/plain"},
			body:   "no such\nconnection",
			want:   Error{Method: "GET", Status: 404, Message: "no such connection"},
		},
		{
			name:   "html",
			status: 404,
			header: map[string]string{"Content-Type": "text/html"},
			body:   "<html>gone</html>",
			want:   Error{Method: "GET", Status: 404},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			c.retry.maxAttempts = 1
			_, err := c.Get(context.Background(), "c1")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if d := cmp.Diff(&tt.want, e); d != "" {
				t.Errorf("*Error (-want +got):\n%s", d)
			}
		})
	}
}

func TestErrorPredicates(t *testing.T) {
	for _, tt := range []struct {
		status                     int
		notFound, precondition, au bool
	}{
		{404, true, false, false},
		{412, false, true, false},
		{401, false, false, true},
		{403, false, false, true},
		{400, false, false, false},
		{409, false, false, false},
	} {
		var n int
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			writeJSON(w, tt.status, map[string]string{"error_code": fmt.Sprint(tt.status), "message": "no"})
		}))
		err := c.Delete(context.Background(), "c1")
		if errors.Is(err, reconcile.ErrGone) != tt.notFound || errors.Is(err, reconcile.ErrStale) != tt.precondition || errors.Is(err, reconcile.ErrAuth) != tt.au {
			t.Errorf("%d: IsNotFound=%v IsPreconditionFailed=%v IsAuth=%v", tt.status, errors.Is(err, reconcile.ErrGone), errors.Is(err, reconcile.ErrStale), errors.Is(err, reconcile.ErrAuth))
		}
		if StatusOf(fmt.Errorf("delete acme: %w", err)) != tt.status {
			t.Errorf("%d: StatusOf through a wrap = %d", tt.status, StatusOf(err))
		}
		if n != 1 {
			t.Errorf("%d is final but was sent %d times", tt.status, n)
		}
	}
}

// pagedService serves items in pages of the requested limit. When filtersInToken is false it
// applies the property filters of each request itself (the client must send them again).
func pagedService(t *testing.T, items []Connection, queries *[]string, mu *sync.Mutex) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		*queries = append(*queries, r.URL.RawQuery)
		mu.Unlock()
		var matching []Connection
		for _, it := range items {
			ok := true
			for _, f := range q["property"] {
				k, v, _ := strings.Cut(f, "==")
				switch k {
				case "name":
					ok = ok && it.Name == v
				case "connectionSpec.id":
					ok = ok && it.ConnectionSpec.ID == v
				}
			}
			if ok {
				matching = append(matching, it)
			}
		}
		start := 0
		if tok := q.Get("continuationToken"); tok != "" {
			fmt.Sscanf(tok, "tok-%d", &start)
		}
		limit := 0
		fmt.Sscan(q.Get("limit"), &limit)
		end := min(start+limit, len(matching))
		answer := map[string]any{"items": matching[start:end]}
		if end < len(matching) {
			answer["_links"] = map[string]any{"next": map[string]string{"href": fmt.Sprintf("/connections?continuationToken=tok-%d", end)}}
		}
		writeJSON(w, http.StatusOK, answer)
	})
}

func TestListFollowsContinuationWithFilters(t *testing.T) {
	var items []Connection
	for i := range 250 {
		conn := s3Conn(fmt.Sprintf("c%03d", i), fmt.Sprintf("n%03d", i))
		if i%5 == 0 {
			conn.ConnectionSpec.ID = "other-spec"
		}
		items = append(items, conn)
	}
	var queries []string
	var mu sync.Mutex
	c := newTestClient(t, pagedService(t, items, &queries, &mu))
	got, err := c.List(context.Background(), ListOptions{Filters: []string{"connectionSpec.id==" + s3source.SpecID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 {
		t.Fatalf("got %d connections, want 200", len(got))
	}
	if len(queries) != 2 {
		t.Fatalf("%d pages asked, want 2: %q", len(queries), queries)
	}
	for i, q := range queries {
		if !strings.Contains(q, "property=connectionSpec.id%3D%3D"+s3source.SpecID) || !strings.Contains(q, "limit=100") {
			t.Errorf("page %d query %s lacks the filter or limit", i+1, q)
		}
	}
	if !strings.Contains(queries[1], "continuationToken=tok-100") {
		t.Errorf("second page query %s lacks the token", queries[1])
	}
}

func TestListStopsOnTokenLoop(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("a", "a")},
			"_links": map[string]any{"next": map[string]string{"href": "/connections?continuationToken=same"}}})
	}))
	_, err := c.List(context.Background(), ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "giving up instead of looping") {
		t.Fatalf("err = %v, want a loop refusal", err)
	}
}

func TestFindByNameFiltersClientSide(t *testing.T) {
	var query string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		other := s3Conn("c3", "acme")
		other.ConnectionSpec.ID = "other-spec"
		// A server that ignores the filters.
		writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("c1", "acme"), s3Conn("c2", "acme-eu"), other, s3Conn("c4", "ACME"), s3Conn("c5", "acme")}})
	}))
	got, err := c.FindByName(context.Background(), "acme", Spec{ID: s3source.SpecID, Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.ID)
	}
	if d := cmp.Diff([]string{"c1", "c5"}, ids); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if !strings.Contains(query, "property=name%3D%3Dacme") || !strings.Contains(query, "property=connectionSpec.id%3D%3D"+s3source.SpecID) {
		t.Errorf("query %s lacks the filters", query)
	}
}

// A name holding a comma is looked up without a name filter: a service reading the comma as
// OR (property=name==a,b: named "a" or "b") would never answer the connection named "a,b".
func TestFindByNameWithACommaListsTheSpec(t *testing.T) {
	var queries []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		var items []Connection
		if !strings.Contains(r.URL.RawQuery, "property=name") {
			items = []Connection{s3Conn("c1", "a"), s3Conn("c2", "a,b"), s3Conn("c3", "b")}
		} else {
			items = []Connection{s3Conn("c1", "a"), s3Conn("c3", "b")} // comma = OR
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	}))
	got, err := c.FindByName(context.Background(), "a,b", Spec{ID: s3source.SpecID, Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "c2" {
		t.Errorf("FindByName(\"a,b\") = %+v, want c2 alone", got)
	}
	if len(queries) != 1 || strings.Contains(queries[0], "property=name") || !strings.Contains(queries[0], "property=connectionSpec.id%3D%3D"+s3source.SpecID) {
		t.Errorf("queries %q: want one listing filtered by spec only", queries)
	}
}

func TestNewRefusesUnsafeEndpoints(t *testing.T) {
	base := Config{OrgID: testOrg, Sandbox: "prod", APIKey: testAPIKey, Tokens: StaticToken("t")}
	for _, tt := range []struct {
		endpoint string
		ok       bool
		errHas   string
	}{
		{"https://platform.adobe.io/data/foundation/flowservice", true, ""},
		{"", true, ""},
		{"http://127.0.0.1:8080/data/foundation/flowservice", true, ""},
		{"http://127.1.2.3:8080/x", true, ""},
		{"http://[::1]:8080/x", true, ""},
		{"http://localhost:8080/x", true, ""},
		{"http://platform.adobe.io/data/foundation/flowservice", false, "plain http off loopback"},
		{"http://10.0.0.1/x", false, "plain http off loopback"},
		{"https://platform.adobe.io/x?debug=1", false, "query or fragment"},
		{"https://platform.adobe.io/x#frag", false, "query or fragment"},
		{"ftp://platform.adobe.io/x", false, "https://"},
		{"platform.adobe.io", false, "https://"},
	} {
		cfg := base
		cfg.Endpoint = tt.endpoint
		_, err := New(cfg)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("New(%q) = %v, want ok=%v with %q", tt.endpoint, err, tt.ok, tt.errHas)
		}
	}
	_, err := New(Config{Endpoint: "https://x"})
	for _, want := range []string{"OrgID", "Sandbox", "APIKey", "Tokens"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New without settings: %v lacks %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "FLOWSYNC_") {
		t.Errorf("New without settings: %v names the CLI's variables; advice is the CLI's", err)
	}
}

func TestLoggerNeverSeesSecrets(t *testing.T) {
	var buf syncBuffer
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error_code": "400", "message": "bad: " + r.Header.Get("Authorization") + string(body)})
	}), func(cfg *Config) { cfg.Logger = newDebugLogger(&buf) })
	_, err := c.Create(context.Background(), NewConnection{Name: "n", Auth: Auth{Params: map[string]string{"s3SecretKey": "canary-secret-key"}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{err.Error(), buf.String()} {
		if strings.Contains(s, canaryToken) || strings.Contains(s, "canary-secret-key") {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(buf.String(), "status=400") || !strings.Contains(buf.String(), "attempt=1") {
		t.Errorf("log lacks status/attempt: %s", buf.String())
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A create answered with the id in Location only, or a PATCH answered without an etag, is
// followed by one GET for the etag: the next PATCH needs it for If-Match, and a refresh must
// not take the live etag for a change made outside flowsync.
func TestWriteWithoutETagReadsIt(t *testing.T) {
	var calls []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method)
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/data/foundation/flowservice/connections/c1")
			w.WriteHeader(http.StatusCreated)
		case http.MethodPatch:
			writeJSON(w, http.StatusOK, map[string]string{"id": "c1"})
		case http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{"items": []Connection{s3Conn("c1", "acme")}})
		}
	}))
	ctx := context.Background()
	ref, err := c.Create(ctx, NewConnection{Name: "acme", ConnectionSpec: s3source.ConnectionSpec(),
		Auth: Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "b"}}})
	if err != nil || ref.ID != "c1" || ref.ETag != `"e-c1"` {
		t.Fatalf("Create = %+v, %v; want c1 with the etag a GET shows", ref, err)
	}
	ref, err = c.Patch(ctx, "c1", `"e-c1"`, []PatchOp{{Op: "replace", Path: "/description", Value: json.RawMessage(`"d"`)}})
	if err != nil || ref.ID != "c1" || ref.ETag != `"e-c1"` {
		t.Fatalf("Patch = %+v, %v; want c1 with the etag a GET shows", ref, err)
	}
	if d := cmp.Diff([]string{"POST", "GET", "PATCH", "GET"}, calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}
