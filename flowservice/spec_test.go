package flowservice

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

const specJSON = `{"id":"ecadc60c-7455-4d87-84dc-2a0e293d997b","name":"amazon-s3","version":"1.0","providerId":"p",
"authSpec":[{"name":"Access Key","type":"Access Key","spec":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
"properties":{"s3AccessKey":{"type":"string"},"s3SecretKey":{"type":"string","format":"password"}},"required":["s3AccessKey","s3SecretKey"]}}]}`

func TestGetConnectionSpec(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    string
		notFound   bool
	}{
		{name: "items", body: `{"items":[` + specJSON + `]}`},
		{name: "bare object", body: specJSON},
		{name: "items without it", body: `{"items":[]}`, wantErr: "is not in the 200 answer", notFound: true},
		{name: "another spec", body: `{"id":"other","authSpec":[]}`, wantErr: "describes connection spec other"},
		{name: "neither", body: `{"foo":1}`, wantErr: "holds neither items nor a connection spec"},
		{name: "not JSON", body: `<html>`, wantErr: "decode answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != prefix+"/connectionSpecs/"+s3source.SpecID {
					t.Errorf("%s %s", r.Method, r.URL.Path)
				}
				if r.Header.Get("x-sandbox-name") != "prod" || r.Header.Get("Authorization") != "Bearer "+canaryToken {
					t.Errorf("headers %v", r.Header)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			cs, err := c.GetConnectionSpec(context.Background(), s3source.SpecID)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, reconcile.ErrGone) != tc.notFound {
					t.Errorf("IsNotFound = %v", errors.Is(err, reconcile.ErrGone))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, ok := cs.Auth("Access Key")
			if !ok || cs.Name != "amazon-s3" || cs.Version != "1.0" {
				t.Fatalf("spec %+v", cs)
			}
			ps, err := a.Params()
			if err != nil {
				t.Fatal(err)
			}
			if !ps.Properties["s3SecretKey"].Secret() || ps.Properties["s3AccessKey"].Secret() || !ps.IsRequired("s3SecretKey") || ps.IsRequired("s3SessionToken") {
				t.Errorf("params %+v", ps)
			}
		})
	}
	// A 404 is a *Error.
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"type": "https://ns.adobe.com/aep/errors/FLOW-1101-404", "title": "Resource not found", "status": 404})
	}))
	if _, err := c.GetConnectionSpec(context.Background(), s3source.SpecID); !errors.Is(err, reconcile.ErrGone) {
		t.Errorf("404: %v", err)
	}
}

func TestAuthSpecParamsShapes(t *testing.T) {
	for _, spec := range []string{``, `null`, `"x"`, `{"properties":[1]}`} {
		if _, err := (AuthSpec{Name: "A", Spec: []byte(spec)}).Params(); err == nil {
			t.Errorf("spec %q: no error", spec)
		}
	}
}

func TestTestConnection(t *testing.T) {
	var fail atomic.Int32
	fail.Store(2)
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix+"/connections/"), "/test")
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/test") {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		switch id {
		case "good":
			writeJSON(w, 200, map[string]bool{"result": true})
		case "bad":
			writeJSON(w, 200, map[string]bool{"result": false})
		case "flaky": // 500 twice, then an answer: retried like every GET
			if fail.Add(-1) >= 0 {
				writeJSON(w, 500, map[string]string{"error_code": "500", "message": "boom"})
				return
			}
			writeJSON(w, 200, map[string]bool{"result": true})
		case "empty":
			writeJSON(w, 200, map[string]any{})
		default:
			writeJSON(w, 404, map[string]any{"type": "https://ns.adobe.com/aep/errors/FLOW-1101-404", "status": 404})
		}
	}))
	ctx := context.Background()
	for id, want := range map[string]bool{"good": true, "bad": false, "flaky": true} {
		got, err := c.TestConnection(ctx, id)
		if err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", id, got, err, want)
		}
	}
	if _, err := c.TestConnection(ctx, "empty"); err == nil || !strings.Contains(err.Error(), "holds no result") {
		t.Errorf("empty answer: %v", err)
	}
	if _, err := c.TestConnection(ctx, "gone"); !errors.Is(err, reconcile.ErrGone) {
		t.Errorf("gone: %v", err)
	}
	if _, err := c.TestConnection(ctx, ""); err == nil {
		t.Error("empty id: no error")
	}
}
