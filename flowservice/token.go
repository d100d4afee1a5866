package flowservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TokenSource gives access tokens. Invalidate(token) says the service refused token: a
// source that can renew drops it (only if it is still the one it holds) so that the next
// Token fetches a fresh one.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	Invalidate(token string)
}

// StaticToken is a fixed access token. It cannot be renewed.
func StaticToken(token string) TokenSource { return staticToken(token) }

type staticToken string

func (t staticToken) Token(context.Context) (string, error) {
	if t == "" {
		return "", errors.New("the access token is empty")
	}
	return string(t), nil
}

func (staticToken) Invalidate(string) {}

// String never shows the token.
func (staticToken) String() string { return "StaticToken(sensitive)" }

// IMSConfig configures an Adobe IMS OAuth server-to-server token source. URL defaults to
// DefaultIMSURL, Scopes to DefaultScopes, HTTPClient to one with a 30s timeout. Whatever the
// client, the HTTP policy applies (policy.go): no redirect off the IMS URL's origin, so the
// client secret goes nowhere else.
type IMSConfig struct {
	URL, ClientID, ClientSecret, Scopes string
	HTTPClient                          *http.Client
	Logger                              *slog.Logger // optional: long waits are logged
	// UserAgent is sent with every token request, default "flowsync": the same one as the
	// Flow Service client's (Config.UserAgent), so that every call of a run says who it is.
	UserAgent string
}

// NewIMSTokenSource returns a TokenSource that fetches tokens with the client credentials
// grant and caches each until shortly before it expires (5 minutes before, or at half its
// life when that is shorter than 10 minutes). Concurrent callers share one fetch. A bad
// configuration (plain-HTTP URL off loopback, missing client id or secret) is reported by
// Token.
func NewIMSTokenSource(cfg IMSConfig) TokenSource {
	if cfg.URL == "" {
		cfg.URL = DefaultIMSURL
	}
	if cfg.Scopes == "" {
		cfg.Scopes = DefaultScopes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaultUserAgent
	}
	s := &imsSource{cfg: cfg, now: time.Now, retryBase: 250 * time.Millisecond, waits: newWaitLog(cfg.Logger)}
	u, err := checkURL("IMS URL", cfg.URL)
	if err != nil {
		s.configErr = err
		return s
	}
	s.http = withPolicy(cfg.HTTPClient, u, imsTimeout, func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = responseHeaderTimeout
		return t
	})
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		s.configErr = errors.New("adobe IMS needs a client id and a client secret")
	}
	return s
}

type imsSource struct {
	cfg       IMSConfig
	http      *http.Client
	now       func() time.Time
	configErr error
	retryBase time.Duration
	waits     *waitLog
	count     atomic.Int64

	mu      sync.Mutex
	token   string
	renewAt time.Time
	running *imsFetch // the fetch in progress, shared by every caller
}

type imsFetch struct {
	done           chan struct{}
	token          string
	err            error
	leaderCanceled bool // the fetching caller's context ended: others should try themselves
}

func (s *imsSource) String() string { return "IMSTokenSource(" + s.cfg.URL + ")" }

func (s *imsSource) fetches() int64 { return s.count.Load() }

func (s *imsSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != "" && token == s.token {
		s.token, s.renewAt = "", time.Time{}
	}
}

func (s *imsSource) Token(ctx context.Context) (string, error) {
	if s.configErr != nil {
		return "", s.configErr
	}
	for {
		s.mu.Lock()
		if s.token != "" && s.now().Before(s.renewAt) {
			tok := s.token
			s.mu.Unlock()
			return tok, nil
		}
		if f := s.running; f != nil {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if f.err != nil && f.leaderCanceled && ctx.Err() == nil {
				continue
			}
			return f.token, f.err
		}
		f := &imsFetch{done: make(chan struct{})}
		s.running = f
		s.mu.Unlock()

		tok, ttl, err := s.fetch(ctx)
		s.mu.Lock()
		s.running = nil
		if err == nil {
			s.token, s.renewAt = tok, s.now().Add(renewAfter(ttl))
		}
		f.token, f.err, f.leaderCanceled = tok, err, ctx.Err() != nil
		close(f.done)
		s.mu.Unlock()
		return tok, err
	}
}

// renewAfter is how long a token that lives ttl is used.
func renewAfter(ttl time.Duration) time.Duration {
	switch {
	case ttl <= 0:
		return time.Minute // no expires_in: assume short-lived
	case ttl >= 10*time.Minute:
		return ttl - 5*time.Minute
	default:
		return ttl / 2
	}
}

const imsAttempts = 3

// fetch asks IMS for a token; it tries again on network errors, 429 and 5xx.
func (s *imsSource) fetch(ctx context.Context) (string, time.Duration, error) {
	var err error
	for attempt := 1; attempt <= imsAttempts; attempt++ {
		if attempt > 1 {
			if serr := sleep(ctx, s.retryBase<<(attempt-2)); serr != nil {
				return "", 0, err
			}
		}
		var tok string
		var ttl time.Duration
		var again bool
		tok, ttl, again, err = s.fetchOnce(ctx)
		if err == nil || !again || ctx.Err() != nil {
			return tok, ttl, err
		}
	}
	return "", 0, err
}

func (s *imsSource) fetchOnce(ctx context.Context) (tok string, ttl time.Duration, again bool, err error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.cfg.ClientID},
		"client_secret": {s.cfg.ClientSecret},
		"scope":         {s.cfg.Scopes},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, false, s.fail(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	s.count.Add(1)
	slow := s.waits.watch(ctx, "for Adobe IMS's answer", "get access token")
	defer slow()
	resp, err := s.http.Do(req)
	if err != nil {
		var re *RedirectError
		return "", 0, !isCertificateError(err) && !errors.As(err, &re), s.fail(err)
	}
	defer resp.Body.Close()
	body, tooBig, err := readBody(resp.Body, maxErrorBytes)
	if err != nil {
		return "", 0, true, s.fail(err)
	}
	if tooBig {
		return "", 0, false, s.fail(fmt.Errorf("%d answer larger than %d bytes", resp.StatusCode, maxErrorBytes))
	}
	if resp.StatusCode != http.StatusOK {
		r := &request{method: http.MethodPost, secrets: []string{s.cfg.ClientSecret}}
		e := parseError(r, resp.StatusCode, resp.Header, body, s.now())
		again := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return "", 0, again, s.fail(e)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.AccessToken == "" {
		return "", 0, false, s.fail(errors.New("the answer holds no access_token"))
	}
	if answer.TokenType != "" && !strings.EqualFold(answer.TokenType, "bearer") {
		return "", 0, false, s.fail(fmt.Errorf("token type %q is not bearer", answer.TokenType))
	}
	return answer.AccessToken, time.Duration(answer.ExpiresIn) * time.Second, false, nil
}

// fail returns a *TokenError; the secret is never in it.
func (s *imsSource) fail(err error) error {
	if s.cfg.ClientSecret != "" && strings.Contains(err.Error(), s.cfg.ClientSecret) {
		err = errors.New(strings.ReplaceAll(err.Error(), s.cfg.ClientSecret, "(sensitive)"))
	}
	return &TokenError{URL: s.cfg.URL, Err: err}
}
