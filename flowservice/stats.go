package flowservice

import (
	"sync/atomic"
	"time"
)

// Stats are a Client's counters since New.
type Stats struct {
	Calls           int64         // client calls: Create, Get, Patch, Delete, each page of a List
	Requests        int64         // HTTP requests sent, retries and renewals included
	ByStatus        map[int]int64 // answers by HTTP status
	NetworkErrors   int64         // requests that got no (complete) answer
	Throttled       int64         // 429 and 503 answers
	Retries         int64         // attempts after the first of a call
	UnknownOutcomes int64         // creates that may or may not have been applied
	TokenFetches    int64         // access tokens fetched from IMS
	TokenRenewals   int64         // calls retried with a fresh token after a 401
	First, Last     time.Time     // when the first and the last request was sent
	Window          float64       // current AIMD concurrency window
	RateLimit       float64       // current rate cap (requests/s), 0 without MaxRPS
}

// RateAchieved is the rate of requests between the first and the last, per second.
func (s Stats) RateAchieved() float64 {
	d := s.Last.Sub(s.First).Seconds()
	if s.Requests < 2 || d <= 0 {
		return 0
	}
	return float64(s.Requests-1) / d
}

type counters struct {
	calls, requests, networkErrors, throttled atomic.Int64
	retries, unknownOutcomes, tokenRenewals   atomic.Int64
	byStatus                                  [600]atomic.Int64
	first, last                               atomic.Int64 // unix nanoseconds
}

func (c *counters) request(t time.Time) {
	c.requests.Add(1)
	n := t.UnixNano()
	c.first.CompareAndSwap(0, n)
	for {
		last := c.last.Load()
		if n <= last || c.last.CompareAndSwap(last, n) {
			return
		}
	}
}

func (c *counters) status(code int) {
	if code >= 0 && code < len(c.byStatus) {
		c.byStatus[code].Add(1)
	}
}

// tokenFetcher is a TokenSource that counts its fetches (the IMS source).
type tokenFetcher interface{ fetches() int64 }

// Stats returns a snapshot of the counters; safe to call while requests run.
func (c *Client) Stats() Stats {
	s := Stats{
		Calls:           c.stats.calls.Load(),
		Requests:        c.stats.requests.Load(),
		ByStatus:        map[int]int64{},
		NetworkErrors:   c.stats.networkErrors.Load(),
		Throttled:       c.stats.throttled.Load(),
		Retries:         c.stats.retries.Load(),
		UnknownOutcomes: c.stats.unknownOutcomes.Load(),
		TokenRenewals:   c.stats.tokenRenewals.Load(),
	}
	for code := range c.stats.byStatus {
		if n := c.stats.byStatus[code].Load(); n > 0 {
			s.ByStatus[code] = n
		}
	}
	if f, ok := c.tokens.(tokenFetcher); ok {
		s.TokenFetches = f.fetches()
	}
	if n := c.stats.first.Load(); n != 0 {
		s.First = time.Unix(0, n)
	}
	if n := c.stats.last.Load(); n != 0 {
		s.Last = time.Unix(0, n)
	}
	s.Window, s.RateLimit = c.lim.state()
	return s
}
