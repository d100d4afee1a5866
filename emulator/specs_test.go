package emulator

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/s3source"
)

func TestConnectionSpecServed(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.do("GET", "/connectionSpecs/"+s3source.SpecID, nil, nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET connection spec: %d %s", a.status, a.raw)
	}
	var answer struct{ Items []flowapi.ConnectionSpec }
	if err := json.Unmarshal(a.raw, &answer); err != nil || len(answer.Items) != 1 {
		t.Fatalf("answer %s: %v, %d items; want {\"items\":[spec]}", a.raw, err, len(answer.Items))
	}
	cs := answer.Items[0]
	if cs.ID != s3source.SpecID || cs.Version != s3source.SpecVersion {
		t.Errorf("spec %s %s", cs.ID, cs.Version)
	}
	// Each auth spec's schema says exactly what the emulator validates (s3source).
	for _, rules := range s3source.AuthSpecs() {
		name := rules.Name
		as, ok := cs.Auth(name)
		if !ok {
			t.Errorf("auth spec %q not served", name)
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal(as.Spec, &raw); err != nil || raw["$schema"] != "http://json-schema.org/draft-07/schema#" || raw["type"] != "object" {
			t.Errorf("auth spec %q: spec is not a draft-07 object schema: %s", name, as.Spec)
		}
		ps, err := as.Params()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		secret := map[string]bool{}
		for _, p := range rules.Params {
			want = append(want, p.Name)
			secret[p.Name] = p.Secret
		}
		slices.Sort(want)
		if got := ps.ParamNames(); !slices.Equal(got, want) {
			t.Errorf("auth spec %q params %v, want %v", name, got, want)
		}
		req := slices.Sorted(slices.Values(ps.Required))
		wantReq := slices.Sorted(slices.Values(rules.Required()))
		if !slices.Equal(req, wantReq) {
			t.Errorf("auth spec %q required %v, want %v", name, req, wantReq)
		}
		for p, s := range ps.Properties {
			if s.Secret() != secret[p] {
				t.Errorf("auth spec %q param %s: format %q, secret %v", name, p, s.Format, secret[p])
			}
		}
	}
	if len(cs.AuthSpec) != len(s3source.AuthSpecs()) {
		t.Errorf("%d auth specs served, want %d", len(cs.AuthSpec), len(s3source.AuthSpecs()))
	}

	if a := h.do("GET", "/connectionSpecs/00000000-0000-4000-8000-000000000000", nil, nil); a.status != http.StatusNotFound || a.code() != "1101-404" {
		t.Errorf("unknown spec: %d %s", a.status, a.raw)
	}
	if a := h.do("PUT", "/connectionSpecs/"+s3source.SpecID, "{}", nil); a.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT spec: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/connectionSpecs/"+s3source.SpecID, nil, func(hd http.Header) { hd.Del("Authorization") }); a.status != http.StatusUnauthorized {
		t.Errorf("spec without a token: %d %s", a.status, a.raw)
	}

	// A test can make the service describe itself differently.
	if err := h.s.SetConnectionSpecAnswer([]byte(`{"id":"` + s3source.SpecID + `","authSpec":[]}`)); err != nil {
		t.Fatal(err)
	}
	if a := h.do("GET", "/connectionSpecs/"+s3source.SpecID, nil, nil); a.body["id"] != s3source.SpecID || a.body["items"] != nil {
		t.Errorf("changed answer: %s", a.raw)
	}
	if err := h.s.SetConnectionSpecAnswer([]byte(`[1]`)); err == nil {
		t.Error("SetConnectionSpecAnswer accepted a JSON array")
	}
	_ = h.s.SetConnectionSpecAnswer(nil)
	if a := h.do("GET", "/connectionSpecs/"+s3source.SpecID, nil, nil); a.body["items"] == nil {
		t.Errorf("reset answer: %s", a.raw)
	}
}

// testResult returns the answer of GET /connections/{id}/test.
func (h *harness) testResult(id string) (bool, answer) {
	h.t.Helper()
	a := h.do("GET", "/connections/"+id+"/test", nil, nil)
	r, _ := a.body["result"].(bool)
	return r, a
}

func TestConnectionTest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	h := newHarness(t, Options{SessionTokenTTL: time.Hour, StatePath: path})
	withToken := accessKeyConn("with-token")
	withToken.Auth.Params["s3SessionToken"] = "token-1"
	tok := h.create(withToken)
	plain := h.create(accessKeyConn("no-token"))

	for _, id := range []string{tok.ID, plain.ID} {
		if ok, a := h.testResult(id); a.status != http.StatusOK || !ok {
			t.Errorf("fresh %s: %d %s, want 200 true", id, a.status, a.raw)
		}
	}
	// Two hours later the session token has expired; a connection without one is fine.
	if !h.s.AgeSessionToken(tok.ID, 2*time.Hour) {
		t.Fatal("AgeSessionToken: no session token")
	}
	if h.s.AgeSessionToken(plain.ID, 2*time.Hour) {
		t.Error("AgeSessionToken of a connection without a session token reported true")
	}
	if ok, a := h.testResult(tok.ID); a.status != http.StatusOK || ok || a.body["result"] != false {
		t.Errorf("expired: %d %s, want 200 false", a.status, a.raw)
	}
	if ok, _ := h.testResult(plain.ID); !ok {
		t.Error("connection without a session token failed its test")
	}

	// The expiry survives a restart (the state file keeps when the token was set).
	if err := h.s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{SessionTokenTTL: time.Hour, StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarnessFor(t, s2)
	if ok, _ := h2.testResult(tok.ID); ok {
		t.Error("expired token valid again after a reload")
	}

	// Rotation resets the clock; a patch of something else does not.
	a := h2.do("PATCH", "/connections/"+tok.ID, `[{"op":"replace","path":"/description","value":"x"}]`, func(hd http.Header) { hd.Set("If-Match", tok.ETag) })
	if a.status != http.StatusOK {
		t.Fatalf("patch description: %d %s", a.status, a.raw)
	}
	if ok, _ := h2.testResult(tok.ID); ok {
		t.Error("a description patch renewed the session token")
	}
	etag, _ := a.body["etag"].(string)
	a = h2.do("PATCH", "/connections/"+tok.ID, `[{"op":"replace","path":"/auth/params/s3SessionToken","value":"token-2"}]`, func(hd http.Header) { hd.Set("If-Match", etag) })
	if a.status != http.StatusOK {
		t.Fatalf("rotate: %d %s", a.status, a.raw)
	}
	if ok, a := h2.testResult(tok.ID); !ok {
		t.Errorf("after rotation: %s, want true", a.raw)
	}

	// A TTL of 0 means tokens never expire.
	s2.AgeSessionToken(tok.ID, 100*time.Hour)
	s2.SetSessionTokenTTL(0)
	if ok, _ := h2.testResult(tok.ID); !ok {
		t.Error("TTL 0: test failed")
	}

	if _, a := h2.testResult("00000000-0000-4000-8000-000000000000"); a.status != http.StatusNotFound || a.code() != "1101-404" {
		t.Errorf("unknown connection: %d %s", a.status, a.raw)
	}
	if a := h2.do("POST", "/connections/"+tok.ID+"/test", "{}", nil); a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET" {
		t.Errorf("POST test: %d %s (Allow %q)", a.status, a.raw, a.header.Get("Allow"))
	}
	// A connection of another sandbox does not exist for the caller.
	if _, a := h2.testResult(tok.ID + "x"); a.status != http.StatusNotFound {
		t.Errorf("unknown id: %d", a.status)
	}
	other := h2.do("GET", "/connections/"+tok.ID+"/test", nil, func(hd http.Header) { hd.Set("x-sandbox-name", "dev") })
	if other.status != http.StatusNotFound {
		t.Errorf("test from another sandbox: %d %s", other.status, other.raw)
	}
}
