package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func (h *harness) control(method, path, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(h.url, APIPrefix)+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The rate limit changes while serving, through the control route, and the control routes
// are neither counted nor limited.
func TestControlRateLimit(t *testing.T) {
	h := newHarness(t, Options{Control: true})
	if a := h.do("GET", "/connections", nil, nil); a.status != 200 {
		t.Fatalf("unlimited GET: %d", a.status)
	}
	if code, body := h.control("PUT", RateLimitPath, `{"rateLimit": 1}`); code != 200 || !strings.Contains(body, `"rateLimit":1`) {
		t.Fatalf("PUT rate-limit: %d %s", code, body)
	}
	limited := 0
	for range 5 {
		if a := h.do("GET", "/connections", nil, nil); a.status == 429 {
			limited++
		}
	}
	if limited < 3 {
		t.Errorf("%d of 5 calls limited at 1/s, want ≥ 3", limited)
	}
	if code, body := h.control("PUT", RateLimitPath, `{"rateLimit": 0}`); code != 200 || !strings.Contains(body, `"rateLimit":0`) {
		t.Fatalf("PUT rate-limit 0: %d %s", code, body)
	}
	for range 5 {
		if a := h.do("GET", "/connections", nil, nil); a.status != 200 {
			t.Fatalf("after lifting the limit: %d", a.status)
		}
	}
	for _, bad := range []string{`{"rateLimit": -1}`, `{"rate": 5}`, `nope`} {
		if code, _ := h.control("PUT", RateLimitPath, bad); code != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	code, body := h.control("GET", StatsPath, "")
	if code != 200 {
		t.Fatalf("GET stats: %d", code)
	}
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Total != 11 || st.Requests["GET"][429] != int64(limited) || st.Faults[FaultRateLimit] != int64(limited) {
		t.Errorf("stats %+v: want 11 API calls, %d limited", st, limited)
	}
}

// Without Options.Control the control routes do not exist.
func TestControlOff(t *testing.T) {
	h := newHarness(t, Options{})
	for _, p := range []string{StatsPath, RateLimitPath} {
		if code, _ := h.control("GET", p, ""); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}
