package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/testmanifest"
	"github.com/flowsync/flowsync/s3source"
)

// bareChild is the floor flowsync is measured against: the same POSTs flowsync sends for the
// bench manifest (same bodies, same headers), at the same concurrency, with a plain
// http.Client and nothing else: no manifest to parse, no plan, no journal, no lockfile, no
// limiter, no retries. Credentials come from the same environment as flowsync's.
//
//	bench _bare --endpoint URL --sandbox S --prefix P --n N --concurrency C
func bareChild(args []string) int {
	var (
		endpoint, sandbox, prefix string
		n, conc                   int
	)
	fs := pflag.NewFlagSet("_bare", pflag.ContinueOnError)
	fs.StringVar(&endpoint, "endpoint", "", "Flow Service base URL")
	fs.StringVar(&sandbox, "sandbox", "prod", "sandbox")
	fs.StringVar(&prefix, "prefix", "bench", "name prefix of the bench manifest")
	fs.IntVar(&n, "n", 1000, "creates")
	fs.IntVar(&conc, "concurrency", 32, "requests in flight")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m := testmanifest.Bench(orgID, sandbox, prefix, n)
	hdr := http.Header{
		"Authorization":   {"Bearer " + os.Getenv("FLOWSYNC_ACCESS_TOKEN")},
		"X-Api-Key":       {os.Getenv("FLOWSYNC_API_KEY")},
		"X-Gw-Ims-Org-Id": {orgID},
		"X-Sandbox-Name":  {sandbox},
		"Accept":          {"application/json"},
		"Content-Type":    {"application/json"},
	}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * conc,
		MaxIdleConnsPerHost: conc,
		IdleConnTimeout:     90 * time.Second,
	}}
	var (
		next   atomic.Int64
		failed atomic.Int64
		first  sync.Once
		wg     sync.WaitGroup
	)
	next.Store(int64(m.From))
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= m.From+m.N {
					return
				}
				if err := barePost(client, endpoint, hdr, body(m, i)); err != nil {
					failed.Add(1)
					first.Do(func() { fmt.Fprintln(os.Stderr, "bare:", err) })
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "bare: %d of %d creates failed\n", f, n)
		return 1
	}
	return 0
}

// body is the create flowsync sends for entry i of m: the defaults' params merged with the
// entry's, references read from the environment.
func body(m *testmanifest.Manifest, i int) []byte {
	e := m.Entry(i)
	params := map[string]string{}
	for _, p := range append(append([]testmanifest.Param(nil), m.Params...), e.Params...) {
		v := p.Value
		if ref, ok := strings.CutPrefix(v, "{env: "); ok {
			v = os.Getenv(strings.TrimSuffix(ref, "}"))
		}
		params[p.Key] = v
	}
	description := m.Description
	if e.Description != "" {
		description = e.Description
	}
	b, _ := json.Marshal(flowservice.NewConnection{
		Name: e.Name, Description: description,
		Auth:           flowservice.Auth{SpecName: "Access Key", Params: params},
		ConnectionSpec: s3source.ConnectionSpec(),
	})
	return b
}

func barePost(client *http.Client, endpoint string, hdr http.Header, b []byte) error {
	req, err := http.NewRequest(http.MethodPost, endpoint+"/connections", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header = hdr.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /connections: %s", resp.Status)
	}
	return nil
}
