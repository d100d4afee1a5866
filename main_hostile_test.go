package main

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowsync/flowsync/internal/badservice"
)

// sinks holds, per script, the server that must receive nothing.
var sinks sync.Map // *testscript.TestScript → *badservice.Server

// cmdBadService points the script's flowsync at a misbehaving service (internal/badservice):
//
//	badsvc redirect STATUS       the endpoint redirects everything to another loopback port
//	badsvc ims-redirect STATUS   the IMS URL does (and client credentials replace the token)
//	badsvc retry-after VALUE     every call answers 429 with Retry-After VALUE
//	badsvc repeating-pages N     list pages repeat the same N connections under new tokens
//	badsvc same-token            list pages repeat their continuation token
//	badsvc nothing-sent          the redirect target received no request and no credential
func cmdBadService(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: badsvc MODE [ARG]")
	}
	arg := func() string {
		if len(args) < 2 {
			ts.Fatalf("badsvc %s needs an argument", args[0])
		}
		return args[1]
	}
	start := func(h http.Handler) *badservice.Server {
		s := badservice.Start(h)
		ts.Defer(func() { s.Close(); sinks.Delete(ts) })
		return s
	}
	status := func() int {
		n, err := strconv.Atoi(arg())
		ts.Check(err)
		return n
	}
	switch args[0] {
	case "redirect":
		sink := start(nil)
		sinks.Store(ts, sink)
		ts.Setenv("FLOWSYNC_ENDPOINT", start(badservice.Redirect(status(), sink.URL)).Endpoint())
	case "ims-redirect":
		sink := start(nil)
		sinks.Store(ts, sink)
		ts.Setenv("FLOWSYNC_IMS_URL", start(badservice.Redirect(status(), sink.URL)).URL+"/ims/token/v3")
		ts.Setenv("FLOWSYNC_ACCESS_TOKEN", "")
		ts.Setenv("FLOWSYNC_CLIENT_ID", "test-client-id")
		ts.Setenv("FLOWSYNC_CLIENT_SECRET", "CANARY-client-secret-9d3c")
	case "retry-after":
		ts.Setenv("FLOWSYNC_ENDPOINT", start(badservice.RetryAfter(arg())).Endpoint())
	case "repeating-pages":
		n, err := strconv.Atoi(arg())
		ts.Check(err)
		ts.Setenv("FLOWSYNC_ENDPOINT", start(badservice.RepeatingPages(n)).Endpoint())
	case "same-token":
		ts.Setenv("FLOWSYNC_ENDPOINT", start(badservice.SameToken()).Endpoint())
	case "nothing-sent":
		v, _ := sinks.Load(ts)
		sink, _ := v.(*badservice.Server)
		if sink == nil {
			ts.Fatalf("badsvc nothing-sent: no redirect target started")
		}
		var got []string
		for _, r := range sink.Requests() {
			got = append(got, r.Method+" "+r.Path+" Authorization="+strconv.Quote(r.Header.Get("Authorization"))+" x-api-key="+strconv.Quote(r.Header.Get("x-api-key"))+" body="+strconv.Itoa(len(r.Body))+"B")
		}
		if (len(got) == 0) == neg {
			ts.Fatalf("the redirect target received %d requests:\n%s", len(got), strings.Join(got, "\n"))
		}
	default:
		ts.Fatalf("badsvc: unknown mode %q", args[0])
	}
}

// cmdMkfifo makes a named pipe with no writer: mkfifo PATH.
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mkfifo PATH")
	}
	if err := syscall.Mkfifo(ts.MkAbs(args[0]), 0o600); err != nil {
		ts.Fatalf("mkfifo: %v", err)
	}
}
