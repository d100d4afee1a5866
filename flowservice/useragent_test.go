package flowservice

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Every call says who it is with one User-Agent: the token request to IMS as well as the
// calls to Flow Service, by default and when the caller names its version.
func TestOneUserAgentForEveryCall(t *testing.T) {
	for _, ua := range []string{"", "flowsync/v1.2.3"} {
		want := ua
		if want == "" {
			want = "flowsync"
		}
		var mu sync.Mutex
		seen := map[string]string{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Path] = r.UserAgent()
			mu.Unlock()
			if r.URL.Path == "/ims/token/v3" {
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 86399})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"items": []any{}})
		}))
		t.Cleanup(srv.Close)
		tokens := NewIMSTokenSource(IMSConfig{URL: srv.URL + "/ims/token/v3", ClientID: "cid", ClientSecret: "s", UserAgent: ua})
		c, err := New(Config{Endpoint: srv.URL + prefix, OrgID: testOrg, Sandbox: "prod", APIKey: testAPIKey, Tokens: tokens, UserAgent: ua})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.List(context.Background(), ListOptions{}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(seen) != 2 {
			t.Errorf("requests to %v, want IMS and /connections", seen)
		}
		for path, got := range seen {
			if got != want {
				t.Errorf("UserAgent %q: %s was sent User-Agent %q, want %q", ua, path, got, want)
			}
		}
		mu.Unlock()
	}
}
