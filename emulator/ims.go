package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"time"
)

// serveIMS answers Adobe IMS's client-credentials token call. Faults and latency do not
// apply to it.
func (s *Server) serveIMS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.IMSRequests++
	s.mu.Unlock()
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body must be form-encoded (Content-Type: application/x-www-form-urlencoded)")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		return
	}
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r, []byte(r.PostForm.Encode()))
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			oauthErr(http.StatusBadRequest, "invalid_request", "missing grant_type parameter")
		} else {
			oauthErr(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported (want client_credentials)", gt))
		}
		return
	}
	for _, p := range []string{"client_id", "client_secret", "scope"} {
		if f.Get(p) == "" {
			oauthErr(http.StatusBadRequest, "invalid_request", "missing "+p+" parameter")
			return
		}
	}
	if (s.opts.ClientID != "" && f.Get("client_id") != s.opts.ClientID) ||
		(s.opts.ClientSecret != "" && f.Get("client_secret") != s.opts.ClientSecret) {
		oauthErr(http.StatusUnauthorized, "invalid_client", "invalid client_id or client_secret")
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := "emu-" + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = &token{expires: time.Now().Add(s.ttl)}
	s.stats.TokensIssued++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int64(s.ttl / time.Second),
	})
}
