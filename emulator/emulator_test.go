package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/s3source"
)

const (
	testOrg     = "5C1328435BF324E90A49402A@AdobeOrg"
	testSandbox = "prod"
	testToken   = "test-token"
	testAPIKey  = "test-client"
)

// harness is an emulator served over loopback HTTP.
type harness struct {
	t   *testing.T
	s   *Server
	url string // the API endpoint
	srv *httptest.Server
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, s: s, url: srv.URL + APIPrefix, srv: srv}
}

// answer is a decoded answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// code returns the Adobe code of an error answer: "1404-412" or the gateway's "401013".
func (a answer) code() string {
	if c, ok := a.body["error_code"].(string); ok {
		return c
	}
	if t, ok := a.body["type"].(string); ok {
		_, c, _ := strings.Cut(t, "FLOW-")
		return c
	}
	return ""
}

func (a answer) detail() string {
	if r, ok := a.body["report"].(map[string]any); ok {
		s, _ := r["detailed-message"].(string)
		return s
	}
	s, _ := a.body["message"].(string)
	return s
}

func stdHeaders() http.Header {
	return http.Header{
		"Authorization":   {"Bearer " + testToken},
		"X-Api-Key":       {testAPIKey},
		"X-Gw-Ims-Org-Id": {testOrg},
		"X-Sandbox-Name":  {testSandbox},
		"Content-Type":    {"application/json"},
	}
}

// do sends a request; edit may change the standard headers. body: string, []byte or a value
// marshaled to JSON; nil for none.
func (h *harness) do(method, path string, body any, edit func(http.Header)) answer {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header = stdHeaders()
	if edit != nil {
		edit(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			h.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	if resp.Header.Get("x-request-id") == "" {
		h.t.Errorf("%s %s: answer without x-request-id", method, path)
	}
	return a
}

func accessKeyConn(name string) flowapi.NewConnection {
	return flowapi.NewConnection{
		Name:        name,
		Description: "test connection",
		Auth: flowapi.Auth{SpecName: "Access Key", Params: map[string]string{
			"s3AccessKey": "AKIAIOSFODNN7EXAMPLE",
			"s3SecretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			"bucketName":  "acme-marketing-eu",
			"folderPath":  "events/2026",
			"serviceUrl":  "https://s3.eu-west-1.amazonaws.com/",
		}},
		ConnectionSpec: s3source.ConnectionSpec(),
	}
}

// create creates c and returns its ref, failing the test otherwise.
func (h *harness) create(c flowapi.NewConnection) flowapi.Ref {
	h.t.Helper()
	a := h.do("POST", "/connections", c, nil)
	if a.status != http.StatusCreated {
		h.t.Fatalf("create %s: %d %s", c.Name, a.status, a.raw)
	}
	var ref flowapi.Ref
	if err := json.Unmarshal(a.raw, &ref); err != nil {
		h.t.Fatal(err)
	}
	if want := APIPrefix + "/connections/" + ref.ID; a.header.Get("Location") != want {
		h.t.Errorf("Location = %q, want %q", a.header.Get("Location"), want)
	}
	return ref
}

func (h *harness) getConn(id string) flowapi.Connection {
	h.t.Helper()
	a := h.do("GET", "/connections/"+id, nil, nil)
	if a.status != http.StatusOK {
		h.t.Fatalf("get %s: %d %s", id, a.status, a.raw)
	}
	var out struct{ Items []flowapi.Connection }
	if err := json.Unmarshal(a.raw, &out); err != nil {
		h.t.Fatal(err)
	}
	if len(out.Items) != 1 {
		h.t.Fatalf("get %s: %d items, want 1", id, len(out.Items))
	}
	return out.Items[0]
}

// mutateJSON returns the JSON of v changed by f (applied to its generic form).
func mutateJSON(t *testing.T, v any, f func(m map[string]any)) []byte {
	t.Helper()
	data, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, _ := json.Marshal(m)
	return out
}

func params(m map[string]any) map[string]any {
	return m["auth"].(map[string]any)["params"].(map[string]any)
}

func TestCreateGetMasked(t *testing.T) {
	h := newHarness(t, Options{})
	nc := accessKeyConn("acme-eu")
	nc.Auth.Params["s3SessionToken"] = "FwoGZXIvYXdzEBYaDEXAMPLE"
	ref := h.create(nc)
	if !strings.HasPrefix(ref.ETag, `"`) || !strings.HasSuffix(ref.ETag, `"`) || len(ref.ETag) != 38 {
		t.Errorf("etag %s: want a quoted Adobe-shaped etag", ref.ETag)
	}
	if raw := h.do("GET", "/connections/"+ref.ID, nil, nil).raw; !bytes.Contains(raw, []byte(`"s3SecretKey":"<redacted>"`)) || bytes.Contains(raw, []byte("EXAMPLEKEY")) {
		t.Errorf("GET body does not mask the secret key as it should: %s", raw)
	}
	got := h.getConn(ref.ID)
	want := flowapi.Connection{
		ID:             ref.ID,
		Name:           "acme-eu",
		Description:    "test connection",
		ConnectionSpec: nc.ConnectionSpec,
		State:          "enabled",
		Auth: flowapi.Auth{SpecName: "Access Key", Params: map[string]string{
			"s3AccessKey":    "AKIAIOSFODNN7EXAMPLE",
			"s3SecretKey":    Mask,
			"s3SessionToken": Mask,
			"bucketName":     "acme-marketing-eu",
			"folderPath":     "events/2026",
			"serviceUrl":     "https://s3.eu-west-1.amazonaws.com/",
		}},
		ETag:          ref.ETag,
		Version:       ref.ETag,
		CreatedBy:     testAPIKey + "@AdobeID",
		UpdatedBy:     testAPIKey + "@AdobeID",
		CreatedClient: testAPIKey,
		UpdatedClient: testAPIKey,
		SandboxName:   testSandbox,
		IMSOrgID:      testOrg,
	}
	if got.CreatedAt == 0 || got.UpdatedAt != got.CreatedAt || got.SandboxID == "" {
		t.Errorf("createdAt %d updatedAt %d sandboxId %q", got.CreatedAt, got.UpdatedAt, got.SandboxID)
	}
	got.CreatedAt, got.UpdatedAt, got.SandboxID = 0, 0, ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}
	if !h.s.SecretMatches(ref.ID, "s3SecretKey", nc.Auth.Params["s3SecretKey"]) ||
		!h.s.SecretMatches(ref.ID, "s3SessionToken", "FwoGZXIvYXdzEBYaDEXAMPLE") {
		t.Error("SecretMatches: false for the values sent")
	}
	if h.s.SecretMatches(ref.ID, "s3SecretKey", "other") || h.s.SecretMatches(ref.ID, "s3AccessKey", "AKIAIOSFODNN7EXAMPLE") {
		t.Error("SecretMatches: true for a wrong value or a non-secret param")
	}
	// The trailing slash of Adobe's spec is accepted.
	if a := h.do("GET", "/connections/"+ref.ID+"/", nil, nil); a.status != 200 {
		t.Errorf("GET with trailing slash: %d", a.status)
	}
	// Another sandbox does not see it.
	a := h.do("GET", "/connections/"+ref.ID, nil, func(hd http.Header) { hd.Set("x-sandbox-name", "dev") })
	if a.status != 404 || a.code() != "1101-404" {
		t.Errorf("GET from another sandbox: %d %s", a.status, a.raw)
	}
	if diff := cmp.Diff([]flowapi.Connection{h.getConn(ref.ID)}, h.s.Connections(testOrg, testSandbox)); diff != "" {
		t.Errorf("Connections (-GET +helper):\n%s", diff)
	}
}

func TestRequestStrictness(t *testing.T) {
	h := newHarness(t, Options{})
	ref := h.create(accessKeyConn("existing"))
	good := accessKeyConn("new")
	long := strings.Repeat("x", 257)

	type tc struct {
		name       string
		method     string
		path       string
		body       any
		edit       func(http.Header)
		wantStatus int
		wantCode   string
		wantInMsg  string
	}
	del := func(k string) func(http.Header) { return func(hd http.Header) { hd.Del(k) } }
	set := func(k, v string) func(http.Header) { return func(hd http.Header) { hd.Set(k, v) } }
	body := func(f func(m map[string]any)) []byte { return mutateJSON(t, good, f) }
	cases := []tc{
		{"no authorization", "GET", "/connections", nil, del("Authorization"), 401, "401013", "Oauth token is not valid"},
		{"basic authorization", "GET", "/connections", nil, set("Authorization", "Basic abc"), 401, "401013", ""},
		{"empty bearer", "GET", "/connections", nil, set("Authorization", "Bearer "), 401, "401013", ""},
		{"no api key", "GET", "/connections", nil, del("x-api-key"), 403, "403000", "Api Key is required"},
		{"no org", "GET", "/connections", nil, del("x-gw-ims-org-id"), 400, "400003", ""},
		{"no sandbox", "GET", "/connections", nil, del("x-sandbox-name"), 400, "2105-400", ""},
		{"sandbox upper case", "GET", "/connections", nil, set("x-sandbox-name", "Prod"), 400, "2105-400", ""},
		{"unknown path", "GET", "/targetConnections", nil, nil, 404, "404000", ""},
		{"sub resource", "GET", "/connections/" + ref.ID + "/explore", nil, nil, 404, "", ""},
		{"put one", "PUT", "/connections/" + ref.ID, good, nil, 405, "", ""},
		{"delete collection", "DELETE", "/connections", nil, nil, 405, "", ""},
		{"get unknown", "GET", "/connections/00000000-0000-4000-8000-000000000000", nil, nil, 404, "1101-404", ""},
		{"post no content type", "POST", "/connections", good, del("Content-Type"), 415, "", ""},
		{"post text content type", "POST", "/connections", good, set("Content-Type", "text/plain"), 415, "", ""},
		{"post empty body", "POST", "/connections", "", nil, 400, "1100-400", "empty"},
		{"post array", "POST", "/connections", "[]", nil, 400, "", ""},
		{"post bad json", "POST", "/connections", "{", nil, 400, "", ""},
		{"post trailing data", "POST", "/connections", string(body(func(map[string]any) {})) + "{}", nil, 400, "", "after"},
		{"unknown top field", "POST", "/connections", body(func(m map[string]any) { m["state"] = "enabled" }), nil, 400, "", `"state"`},
		{"unknown auth field", "POST", "/connections", body(func(m map[string]any) { m["auth"].(map[string]any)["x"] = 1 }), nil, 400, "", `"x"`},
		{"no name", "POST", "/connections", body(func(m map[string]any) { delete(m, "name") }), nil, 400, "", "name"},
		{"empty name", "POST", "/connections", body(func(m map[string]any) { m["name"] = "" }), nil, 400, "", "name"},
		{"long name", "POST", "/connections", body(func(m map[string]any) { m["name"] = long }), nil, 400, "", "name"},
		{"control char name", "POST", "/connections", body(func(m map[string]any) { m["name"] = "a\tb" }), nil, 400, "", "name"},
		{"no spec", "POST", "/connections", body(func(m map[string]any) { delete(m, "connectionSpec") }), nil, 400, "", "connectionSpec"},
		{"no spec version", "POST", "/connections", body(func(m map[string]any) { m["connectionSpec"] = map[string]any{"id": s3source.SpecID} }), nil, 400, "", "connectionSpec.version"},
		{"other spec", "POST", "/connections", body(func(m map[string]any) {
			m["connectionSpec"] = map[string]any{"id": "4c10e202-c428-4796-9208-5f1f5732b1cf", "version": "1.0"}
		}), nil, 400, "", "connectionSpec.id"},
		{"other spec version", "POST", "/connections", body(func(m map[string]any) {
			m["connectionSpec"] = map[string]any{"id": s3source.SpecID, "version": "2.0"}
		}), nil, 400, "", "connectionSpec.version"},
		{"no auth", "POST", "/connections", body(func(m map[string]any) { delete(m, "auth") }), nil, 400, "", "auth"},
		{"unknown spec name", "POST", "/connections", body(func(m map[string]any) { m["auth"].(map[string]any)["specName"] = "access key" }), nil, 400, "", "auth.specName"},
		{"missing secret key", "POST", "/connections", body(func(m map[string]any) { delete(params(m), "s3SecretKey") }), nil, 400, "", "auth.params.s3SecretKey"},
		{"missing access key", "POST", "/connections", body(func(m map[string]any) { delete(params(m), "s3AccessKey") }), nil, 400, "", "auth.params.s3AccessKey"},
		{"unknown param", "POST", "/connections", body(func(m map[string]any) { params(m)["region"] = "eu" }), nil, 400, "", "auth.params.region"},
		{"number param", "POST", "/connections", body(func(m map[string]any) { params(m)["folderPath"] = 3 }), nil, 400, "", ""},
		{"empty param", "POST", "/connections", body(func(m map[string]any) { params(m)["s3SessionToken"] = "" }), nil, 400, "", "auth.params.s3SessionToken"},
		{"iam with access key", "POST", "/connections", body(func(m map[string]any) {
			m["auth"] = map[string]any{"specName": "IAMRole Based", "params": map[string]any{"bucketName": "abc", "s3AccessKey": "AKIA"}}
		}), nil, 400, "", "auth.params.s3AccessKey"},
		{"iam without bucket", "POST", "/connections", body(func(m map[string]any) {
			m["auth"] = map[string]any{"specName": "IAMRole Based", "params": map[string]any{"folderPath": "a"}}
		}), nil, 400, "", "auth.params.bucketName"},
		{"bad service url", "POST", "/connections", body(func(m map[string]any) { params(m)["serviceUrl"] = "s3.amazonaws.com" }), nil, 400, "", "serviceUrl"},
	}
	for _, b := range []string{"ab", strings.Repeat("a", 256), "acme..eu", "-acme", "acme-", ".acme", "192.168.5.4", "xn--acme", "sthree-acme", "amzn-s3-demo-acme", "acme-s3alias", "acme--ol-s3", "acme.mrap", "acme--x-s3", "acme--table-s3", "acme eu", "acme/eu"} {
		cases = append(cases, tc{"bucket " + b, "POST", "/connections", body(func(m map[string]any) { params(m)["bucketName"] = b }), nil, 400, "", "auth.params.bucketName"})
	}
	for _, f := range []string{"a/../b", "./a", "a//b", "a/b:c", `a\b`, "a|b", "a<b", "a>b", "a*b", "a?b", `a"b`, strings.Repeat("x", 256), "/"} {
		cases = append(cases, tc{"folder " + f, "POST", "/connections", body(func(m map[string]any) { params(m)["folderPath"] = f }), nil, 400, "", "auth.params.folderPath"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.do(c.method, c.path, c.body, c.edit)
			if a.status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", a.status, c.wantStatus, a.raw)
			}
			if c.wantCode != "" && a.code() != c.wantCode {
				t.Errorf("code %q, want %q: %s", a.code(), c.wantCode, a.raw)
			}
			if a.body["type"] == nil && a.body["error_code"] == nil {
				t.Errorf("error body has neither the service nor the gateway shape: %s", a.raw)
			}
			if !strings.Contains(a.detail(), c.wantInMsg) {
				t.Errorf("message %q does not name %q", a.detail(), c.wantInMsg)
			}
		})
	}
	if n := len(h.s.Connections(testOrg, testSandbox)); n != 1 {
		t.Errorf("%d connections after rejected creates, want 1", n)
	}

	// Accepted shapes.
	for _, c := range []struct {
		name string
		mod  func(m map[string]any)
	}{
		{"iam role", func(m map[string]any) {
			m["auth"] = map[string]any{"specName": "IAMRole Based", "params": map[string]any{"bucketName": "abc", "folderPath": "/a/b/"}}
		}},
		{"no description", func(m map[string]any) { delete(m, "description") }},
		{"name of 256 printable characters", func(m map[string]any) { m["name"] = strings.Repeat("é", 256) }},
		{"duplicate name", func(m map[string]any) { m["name"] = "existing" }},
		{"bucket 63", func(m map[string]any) { params(m)["bucketName"] = strings.Repeat("a", 63) }},
		{"bucket with dots", func(m map[string]any) { params(m)["bucketName"] = "logs.example.com" }},
		{"legacy bucket with capitals", func(m map[string]any) { params(m)["bucketName"] = "Acme" }},
		{"legacy bucket with underscores", func(m map[string]any) { params(m)["bucketName"] = "acme_eu" }},
		{"legacy bucket of 255", func(m map[string]any) { params(m)["bucketName"] = strings.Repeat("a", 255) }},
	} {
		t.Run("accept "+c.name, func(t *testing.T) {
			a := h.do("POST", "/connections", body(c.mod), set("Content-Type", "application/json; charset=utf-8"))
			if a.status != 201 {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
		})
	}
}

func TestPatch(t *testing.T) {
	h := newHarness(t, Options{})
	type tc struct {
		name       string
		body       any
		ifMatch    string // "-" = none; "" = current etag
		wantStatus int
		wantCode   string
		check      func(t *testing.T, before, after flowapi.Connection, id string)
	}
	op := func(o, p string, v any) map[string]any {
		m := map[string]any{"op": o, "path": p}
		if v != nil {
			m["value"] = v
		}
		return m
	}
	ops := func(o ...map[string]any) []map[string]any { return o }
	cases := []tc{
		{"missing if-match", ops(op("replace", "/name", "x")), "-", 400, "1403-400", nil},
		{"unquoted if-match", ops(op("replace", "/name", "x")), "unquoted", 400, "1100-400", nil},
		{"stale if-match", ops(op("replace", "/name", "x")), `"00000000-0000-0200-0000-000000000000"`, 412, "1404-412", nil},
		{"single object", op("replace", "/name", "x"), "", 400, "1100-400", nil},
		{"empty array", ops(), "", 400, "", nil},
		{"upper case op", ops(op("REPLACE", "/name", "x")), "", 400, "", nil},
		{"move op", ops(map[string]any{"op": "move", "from": "/name", "path": "/description"}), "", 400, "", nil},
		{"unknown op field", ops(map[string]any{"op": "replace", "path": "/name", "value": "x", "extra": 1}), "", 400, "", nil},
		{"spec change", ops(op("replace", "/connectionSpec/id", "x")), "", 400, "1414-400", nil},
		{"spec name change", ops(op("replace", "/auth/specName", "IAMRole Based")), "", 400, "1414-400", nil},
		{"state path", ops(op("replace", "/state", "disabled")), "", 400, "1455-400", nil},
		{"unknown param path", ops(op("add", "/auth/params/region", "eu")), "", 400, "1455-400", nil},
		{"auth path", ops(op("replace", "/auth", map[string]any{})), "", 400, "1455-400", nil},
		{"name not a string", ops(op("replace", "/name", 3)), "", 400, "", nil},
		{"no value", ops(op("replace", "/name", nil)), "", 400, "", nil},
		{"remove name", ops(op("remove", "/name", nil)), "", 400, "", nil},
		{"remove secret key", ops(op("remove", "/auth/params/s3SecretKey", nil)), "", 400, "", nil},
		{"remove absent param", ops(op("remove", "/auth/params/s3SessionToken", nil)), "", 400, "", nil},
		{"params without secret", ops(op("replace", "/auth/params", map[string]any{"s3AccessKey": "AKIA", "bucketName": "abc"})), "", 400, "", nil},
		{"bad bucket", ops(op("replace", "/auth/params/bucketName", "bad..bucket")), "", 400, "", nil},
		{"rename", ops(op("replace", "/name", "renamed"), op("add", "/description", "new words")), "", 200, "", func(t *testing.T, b, a flowapi.Connection, id string) {
			if a.Name != "renamed" || a.Description != "new words" {
				t.Errorf("name %q description %q", a.Name, a.Description)
			}
		}},
		{"rotate session token", ops(op("add", "/auth/params/s3SessionToken", "token-2")), "", 200, "", func(t *testing.T, b, a flowapi.Connection, id string) {
			if a.Auth.Params["s3SessionToken"] != Mask {
				t.Errorf("s3SessionToken = %q, want the mask", a.Auth.Params["s3SessionToken"])
			}
		}},
		{"replace every param", ops(op("replace", "/auth/params", map[string]any{"s3AccessKey": "AKIA2", "s3SecretKey": "secret-2", "bucketName": "other-bucket"})), "", 200, "", func(t *testing.T, b, a flowapi.Connection, id string) {
			want := map[string]string{"s3AccessKey": "AKIA2", "s3SecretKey": Mask, "bucketName": "other-bucket"}
			if diff := cmp.Diff(want, a.Auth.Params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		}},
		{"remove folder, keep secret", ops(op("remove", "/auth/params/folderPath", nil), op("remove", "/description", nil)), "", 200, "", func(t *testing.T, b, a flowapi.Connection, id string) {
			if _, ok := a.Auth.Params["folderPath"]; ok || a.Description != "" {
				t.Errorf("folderPath or description still there: %+v", a)
			}
			if a.Auth.Params["s3SecretKey"] != Mask {
				t.Error("s3SecretKey lost")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := h.create(accessKeyConn("patch-" + c.name))
			before := h.getConn(ref.ID)
			a := h.do("PATCH", "/connections/"+ref.ID+"/", c.body, func(hd http.Header) {
				switch c.ifMatch {
				case "-":
				case "":
					hd.Set("If-Match", ref.ETag)
				default:
					hd.Set("If-Match", c.ifMatch)
				}
			})
			if a.status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", a.status, c.wantStatus, a.raw)
			}
			if c.wantCode != "" && a.code() != c.wantCode {
				t.Errorf("code %q, want %q: %s", a.code(), c.wantCode, a.raw)
			}
			after := h.getConn(ref.ID)
			if a.status != 200 {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("rejected PATCH changed the connection (-before +after):\n%s", diff)
				}
				return
			}
			var got flowapi.Ref
			_ = json.Unmarshal(a.raw, &got)
			if got.ID != ref.ID || got.ETag == ref.ETag || after.ETag != got.ETag || after.Version != got.ETag {
				t.Errorf("answer %+v, before %s, after etag %s version %s", got, ref.ETag, after.ETag, after.Version)
			}
			if c.check != nil {
				c.check(t, before, after, ref.ID)
			}
		})
	}

	t.Run("secrets follow patches", func(t *testing.T) {
		ref := h.create(accessKeyConn("secrets"))
		a := h.do("PATCH", "/connections/"+ref.ID, []map[string]any{op("add", "/auth/params/s3SessionToken", "tok-1")}, func(hd http.Header) { hd.Set("If-Match", ref.ETag) })
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		if !h.s.SecretMatches(ref.ID, "s3SessionToken", "tok-1") || !h.s.SecretMatches(ref.ID, "s3SecretKey", accessKeyConn("").Auth.Params["s3SecretKey"]) {
			t.Error("secrets after adding a session token do not match")
		}
		// The old etag is now stale.
		a = h.do("PATCH", "/connections/"+ref.ID, []map[string]any{op("replace", "/name", "y")}, func(hd http.Header) { hd.Set("If-Match", ref.ETag) })
		if a.status != 412 {
			t.Errorf("patch with the old etag: %d", a.status)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		a := h.do("PATCH", "/connections/nope", []map[string]any{op("replace", "/name", "y")}, func(hd http.Header) { hd.Set("If-Match", `"x"`) })
		if a.status != 404 || a.code() != "1101-404" {
			t.Errorf("%d %s", a.status, a.raw)
		}
	})
	t.Run("out of band change makes the etag stale", func(t *testing.T) {
		ref := h.create(accessKeyConn("oob"))
		h.s.Mutate(ref.ID, func(c *flowapi.Connection) { c.Description = "changed elsewhere" })
		if got := h.getConn(ref.ID); got.ETag == ref.ETag || got.Description != "changed elsewhere" {
			t.Errorf("after Mutate: etag %s description %q", got.ETag, got.Description)
		}
		a := h.do("PATCH", "/connections/"+ref.ID, []map[string]any{op("replace", "/name", "y")}, func(hd http.Header) { hd.Set("If-Match", ref.ETag) })
		if a.status != 412 || a.code() != "1404-412" {
			t.Errorf("%d %s", a.status, a.raw)
		}
	})
}

func TestDelete(t *testing.T) {
	h := newHarness(t, Options{})
	ref := h.create(accessKeyConn("d"))
	att, err := h.s.AttachDataflow(Dataflow{OrgID: testOrg, Sandbox: testSandbox, BaseConnectionID: ref.ID, Name: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if a := h.do("DELETE", "/connections/"+ref.ID, nil, nil); a.status != 400 || a.code() != "1418-400" || !strings.Contains(a.detail(), "used in one or more flows") || !strings.Contains(a.detail(), att.FlowID) {
		t.Errorf("delete in use: %d %s", a.status, a.raw)
	}
	if !h.s.DetachDataflow(att.FlowID) {
		t.Fatal("detach: no such flow")
	}
	if a := h.do("DELETE", "/connections/"+ref.ID+"/", nil, nil); a.status != 204 || len(a.raw) != 0 {
		t.Errorf("delete: %d %s", a.status, a.raw)
	}
	if a := h.do("DELETE", "/connections/"+ref.ID, nil, nil); a.status != 404 || a.code() != "1101-404" {
		t.Errorf("delete again: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/connections/"+ref.ID, nil, nil); a.status != 404 {
		t.Errorf("get deleted: %d", a.status)
	}
	ref2 := h.create(accessKeyConn("e"))
	h.s.DeleteOutOfBand(ref2.ID)
	if a := h.do("GET", "/connections/"+ref2.ID, nil, nil); a.status != 404 {
		t.Errorf("get deleted out of band: %d", a.status)
	}
	id := h.s.CreateOutOfBand(testOrg, testSandbox, accessKeyConn("made elsewhere"))
	if got := h.getConn(id); got.Name != "made elsewhere" || got.Auth.Params["s3SecretKey"] != Mask {
		t.Errorf("created out of band: %+v", got)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, Options{})
	h.create(accessKeyConn("a"))
	h.do("GET", "/connections/nope", nil, nil)
	h.do("GET", "/connections", nil, nil)
	want := Stats{
		Total:    3,
		Requests: map[string]map[int]int64{"POST": {201: 1}, "GET": {404: 1, 200: 1}},
		Faults:   map[string]int64{},
	}
	if diff := cmp.Diff(want, h.s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func ExampleStart() {
	r, err := Start(Options{}, "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println(strings.HasSuffix(r.Endpoint, "/data/foundation/flowservice"), strings.HasSuffix(r.IMSURL, "/ims/token/v3"))
	// Output: true true
}
