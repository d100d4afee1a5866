package flowservice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answers serves the i-th request (0-based) with answer(i, w), counting them.
func answers(t *testing.T, answer func(i int, w http.ResponseWriter)) (http.Handler, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(int(n.Add(1)-1), w)
	}), &n
}

func throttle(w http.ResponseWriter, status int, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	writeJSON(w, status, map[string]string{"error_code": "x", "message": "slow down"})
}

// An error says how many requests the call sent, exactly: none of "after N" for a single one,
// and a resend after a token renewal counts.
func TestErrorsCountTheRequestsSent(t *testing.T) {
	t.Run("refused at once", func(t *testing.T) {
		h, n := answers(t, func(_ int, w http.ResponseWriter) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad"})
		})
		c := newTestClient(t, h)
		_, err := c.List(context.Background(), ListOptions{})
		if n.Load() != 1 || err == nil || strings.Contains(err.Error(), "after") {
			t.Errorf("%d requests, err %v: want 1 request and no count", n.Load(), err)
		}
	})

	// Two throttled answers, then one asking for more than MaxWait: three requests, two
	// retries, and the third answer is not retried.
	t.Run("a wait over the limit after retries", func(t *testing.T) {
		h, n := answers(t, func(i int, w http.ResponseWriter) {
			if i < 2 {
				throttle(w, http.StatusServiceUnavailable, "0")
				return
			}
			throttle(w, http.StatusTooManyRequests, "1000000000")
		})
		c := newTestClient(t, h)
		_, err := c.List(context.Background(), ListOptions{})
		var wt *WaitTooLongError
		if !errors.As(err, &wt) || !strings.Contains(err.Error(), "after 3 requests: 429") {
			t.Errorf("err = %v, want a *WaitTooLongError after 3 requests", err)
		}
		if n.Load() != 3 || c.Stats().Retries != 2 {
			t.Errorf("%d requests, %d retries; want 3 and 2", n.Load(), c.Stats().Retries)
		}
	})

	t.Run("a wait over the limit at once", func(t *testing.T) {
		h, n := answers(t, func(_ int, w http.ResponseWriter) {
			throttle(w, http.StatusTooManyRequests, "301")
		})
		c := newTestClient(t, h)
		_, err := c.List(context.Background(), ListOptions{})
		var wt *WaitTooLongError
		if !errors.As(err, &wt) || strings.Contains(err.Error(), "after") {
			t.Errorf("err = %v, want a *WaitTooLongError with no count", err)
		}
		if n.Load() != 1 || c.Stats().Retries != 0 {
			t.Errorf("%d requests, %d retries; want 1 and 0 (a retry that is not sent is not counted)", n.Load(), c.Stats().Retries)
		}
	})

	// 401, a fresh token, then 403: two requests, although one attempt.
	t.Run("a resend after a token renewal", func(t *testing.T) {
		ims, _ := imsServer(t, "s")
		h, n := answers(t, func(i int, w http.ResponseWriter) {
			if i == 0 {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error_code": "401013", "message": "expired"})
				return
			}
			writeJSON(w, http.StatusForbidden, map[string]string{"error_code": "403", "message": "no"})
		})
		c := newTestClient(t, h, func(cfg *Config) {
			cfg.Tokens = NewIMSTokenSource(IMSConfig{URL: ims.URL, ClientID: "cid", ClientSecret: "s"})
		})
		_, err := c.List(context.Background(), ListOptions{})
		if n.Load() != 2 || StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), "after 2 requests: ") {
			t.Errorf("%d requests, err %v: want 2 requests, a 403, and the count", n.Load(), err)
		}
	})
}

// The token request too: an error after several requests says how many; a Retry-After over
// MaxWait is not waited for nor retried; a shorter one is waited for.
func TestTokenErrorsCountTheRequestsSent(t *testing.T) {
	fetch := func(t *testing.T, answer func(i int, w http.ResponseWriter)) (int64, error) {
		h, n := answers(t, answer)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		src := NewIMSTokenSource(IMSConfig{URL: srv.URL, ClientID: "cid", ClientSecret: "canary-client-secret-3f1a"}).(*imsSource)
		src.retryBase = time.Millisecond
		_, err := src.Token(context.Background())
		return n.Load(), err
	}
	t.Run("failing", func(t *testing.T) {
		n, err := fetch(t, func(_ int, w http.ResponseWriter) { throttle(w, http.StatusServiceUnavailable, "") })
		var te *TokenError
		if n != imsAttempts || !errors.As(err, &te) || !strings.Contains(err.Error(), fmt.Sprintf(": after %d requests: 503", imsAttempts)) {
			t.Errorf("%d requests, err %v: want %d and the count", n, err, imsAttempts)
		}
	})
	t.Run("a wait over the limit", func(t *testing.T) {
		n, err := fetch(t, func(_ int, w http.ResponseWriter) { throttle(w, http.StatusTooManyRequests, "1000000000") })
		var te *TokenError
		var wt *WaitTooLongError
		if n != 1 || !errors.As(err, &te) || !errors.As(err, &wt) || strings.Contains(err.Error(), "after") {
			t.Errorf("%d requests, err %v: want 1, a *WaitTooLongError in a *TokenError, no count", n, err)
		}
	})
	t.Run("a wait under the limit", func(t *testing.T) {
		start := time.Now()
		n, err := fetch(t, func(i int, w http.ResponseWriter) {
			if i == 0 {
				throttle(w, http.StatusTooManyRequests, "1")
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 86399})
		})
		if err != nil || n != 2 {
			t.Fatalf("%d requests, err %v: want a token at the second", n, err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, before the Retry-After of 1s", waited)
		}
	})
}
