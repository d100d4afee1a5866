package workspace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
)

// openConns counts the server side's connections that are not closed.
type openConns struct {
	mu   sync.Mutex
	open map[net.Conn]bool
}

func (o *openConns) track(c net.Conn, s http.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch s {
	case http.StateNew:
		o.open[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(o.open, c)
	}
}

func (o *openConns) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.open)
}

// Closing a Service closes the client's idle connections: the server sees every connection
// the client dialled closed, without waiting for an idle timeout.
func TestCloseClosesIdleConnections(t *testing.T) {
	s, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conns := &openConns{open: map[net.Conn]bool{}}
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Config.ConnState = conns.track
	srv.Start()
	defer srv.Close()

	env := map[string]string{"FLOWSYNC_ACCESS_TOKEN": "t", "FLOWSYNC_API_KEY": "k"}
	cfg := &Config{
		Endpoint: srv.URL + emulator.APIPrefix,
		Env:      func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	m := &manifest.Manifest{Target: manifest.Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}}
	svc, err := Connect(context.Background(), cfg, m, t.TempDir()+"/m.lock.json", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Observe(context.Background(), svc.Client); err != nil {
		t.Fatal(err)
	}
	if n := conns.count(); n == 0 {
		t.Fatal("the client kept no connection open: nothing to prove")
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	// The server learns of the close asynchronously: wait for it, bounded. Without Close
	// the connection stays open for the transport's 90 s idle timeout.
	for i := 0; i < 500 && conns.count() > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := conns.count(); n != 0 {
		t.Errorf("%d connection(s) still open after Close", n)
	}
}

// A saved plan's entry refused twice (stale, and a name conflict), or refused and sent, is
// counted once: a failure wins over stale.
func TestWithStaleCountsEachEntryOnce(t *testing.T) {
	conflict := &reconcile.ConflictError{Name: "b"}
	stale := &reconcile.StaleError{Moved: "recorded in the lockfile since the plan"}
	sum := &reconcile.Summary{Results: []reconcile.Result{{Name: "a", Action: reconcile.Update}, {Name: "c", Action: reconcile.Create, Err: conflict}}, Failed: 1}
	got := WithStale(sum, []reconcile.Result{
		{Name: "b", Action: reconcile.Create, Err: stale},
		{Name: "b", Action: reconcile.Create, Err: conflict},
		{Name: "c", Action: reconcile.Create, Err: stale},
		{Name: "d", Action: reconcile.Update, Err: stale},
		{Name: "d", Action: reconcile.Update, Err: stale},
	})
	var names []string
	for _, r := range got.Results {
		names = append(names, r.Name)
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(names, want) {
		t.Fatalf("results %v, want %v", names, want)
	}
	if got.Failed != 2 || got.Stale != 1 {
		t.Errorf("%d failed, %d stale; want 2 failed (b, c), 1 stale (d)", got.Failed, got.Stale)
	}
	if _, ok := errors.AsType[*reconcile.ConflictError](got.Results[1].Err); !ok {
		t.Errorf("b: %v, want the name conflict", got.Results[1].Err)
	}
}
