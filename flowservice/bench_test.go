package flowservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughputUnthrottled: with nothing throttled, the stages above send should not
// cost throughput. 64 callers of a service answering in 20ms can make at most 3200
// requests/s; the stages run over a send that waits 20ms instead of doing I/O, so the result
// does not depend on loopback speed. It reports the rate through the pipeline, the rate of
// the same callers sleeping without it (what this machine's timers allow), and their ratio
// (1.0: the pipeline costs nothing). A benchmark, not a test: rates on a shared machine are
// measurements, never pass/fail.
func BenchmarkThroughputUnthrottled(b *testing.B) {
	const callers, latency = 64, 20 * time.Millisecond
	c, err := New(Config{Endpoint: "http://127.0.0.1:1" + prefix, OrgID: testOrg, Sandbox: "prod", APIKey: testAPIKey, Tokens: StaticToken(canaryToken), Concurrency: callers})
	if err != nil {
		b.Fatal(err)
	}
	ok := &response{status: http.StatusOK}
	pipeline := c.retrying(c.authenticated(c.throttled(func(ctx context.Context, r *request) (*response, error) {
		c.stats.request(time.Now())
		time.Sleep(latency)
		c.stats.status(http.StatusOK)
		return ok, nil
	})))
	var rate, bare float64
	for b.Loop() {
		rate = measure(b, callers, time.Second, func() error {
			_, err := pipeline(context.Background(), &request{method: http.MethodGet, path: "/connections/c1"})
			return err
		})
		bare = measure(b, callers, time.Second, func() error { time.Sleep(latency); return nil })
	}
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(bare, "bare-req/s")
	b.ReportMetric(rate/bare, "ratio")
}

// BenchmarkThroughputOverHTTP compares the Client over loopback HTTP with a bare http.Client
// doing the same exchange (headers, body read, JSON decode), both with 64 callers and 20ms
// latency, and reports both rates and their ratio.
func BenchmarkThroughputOverHTTP(b *testing.B) {
	const callers, latency = 64, 20 * time.Millisecond
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		okConn(w, r)
	})
	c := newTestClient(&testing.T{}, handler, func(cfg *Config) { cfg.Concurrency = callers })
	srv := httptest.NewServer(handler)
	defer srv.Close()
	bare := &http.Client{Timeout: time.Minute, Transport: newTransport(callers)}
	ctx := context.Background()
	bareGet := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+prefix+"/connections/c1", nil)
		if err != nil {
			return err
		}
		for k, v := range map[string]string{"Authorization": "Bearer " + canaryToken, "x-api-key": testAPIKey, "x-gw-ims-org-id": testOrg, "x-sandbox-name": "prod", "Accept": "application/json"} {
			req.Header.Set(k, v)
		}
		resp, err := bare.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var page listPage[Connection]
		return json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&page)
	}
	clientGet := func() error { _, err := c.Get(ctx, "c1"); return err }
	measure(b, callers, 200*time.Millisecond, bareGet) // warm both pools
	measure(b, callers, 200*time.Millisecond, clientGet)
	var bareRate, clientRate float64
	for b.Loop() {
		bareRate = measure(b, callers, time.Second, bareGet)
		clientRate = measure(b, callers, time.Second, clientGet)
	}
	b.ReportMetric(clientRate, "req/s")
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(clientRate/bareRate, "ratio")
}

// measure runs call from callers goroutines for d and returns the achieved rate.
func measure(t testing.TB, callers int, d time.Duration, call func() error) float64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := call(); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// BenchmarkPipeline measures a GET through the whole pipeline (retry, auth, limiter, stats,
// send) against an httptest server that answers at once.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct {
		name   string
		maxRPS float64
	}{{"no-cap", 0}, {"maxrps-1e9", 1e9}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newTestClient(&testing.T{}, http.HandlerFunc(okConn), func(cfg *Config) {
				cfg.Concurrency = 64
				cfg.MaxRPS = bc.maxRPS
			})
			ctx := context.Background()
			b.SetParallelism(8) // 8×GOMAXPROCS callers
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Get(ctx, "c1"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPipelineOverhead isolates the stages above send: they wrap a stage that answers
// without any I/O.
func BenchmarkPipelineOverhead(b *testing.B) {
	c, err := New(Config{Endpoint: "http://127.0.0.1:1" + prefix, OrgID: testOrg, Sandbox: "prod", APIKey: testAPIKey, Tokens: StaticToken(canaryToken), Concurrency: 64})
	if err != nil {
		b.Fatal(err)
	}
	ok := &response{status: 200}
	pipeline := c.retrying(c.authenticated(c.throttled(func(ctx context.Context, r *request) (*response, error) {
		c.stats.request(time.Now())
		c.stats.status(200)
		return ok, nil
	})))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pipeline(ctx, &request{method: http.MethodGet, path: "/connections/c1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
