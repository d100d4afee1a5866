// Package emulator is an in-memory Adobe Experience Platform Flow Service: the
// /connections API, the read-only lists of what uses a connection (/sourceConnections,
// /flows) and Adobe IMS's token call, served over HTTP.
//
// It is strict about what it accepts, like the real service: every call needs the Adobe
// headers, bodies may hold only known fields, connections are validated as the Amazon S3
// source, PATCH needs the current quoted etag in If-Match. Faults (latency, 500s, 429s, a rate
// limit, connections dropped after a commit) are injected on demand for API calls only.
//
// What it answers, beyond Adobe's Flow Service API reference (codes are those of Adobe's Flow
// Service error catalogue where one exists):
//   - 401 gateway 401013 for a missing, malformed, revoked or expired bearer token; 403
//     gateway 403000 without x-api-key (403003 for a key other than Options.ClientID);
//     400 gateway 400003 without x-gw-ims-org-id; 400 2105-400 without, or with a non
//     lower-case, x-sandbox-name; 415 without Content-Type: application/json on POST/PATCH.
//   - 400 1100-400 for every validation error, its detailed message naming the field;
//     1403-400 If-Match missing; 1414-400 patch of the connection or auth spec; 1455-400
//     other patch paths; 1418-400 delete of a connection a flow reads (through one of its
//     source connections); 1401-400 count with limit;
//     404 1101-404 unknown connection (or one of another org or sandbox); 412 1404-412
//     stale etag; 500 1102-500 injected failure; 429 gateway 429001 throttled; with
//     Options.CreateWithoutID, a create that is committed and answered 201 {} (no id, no
//     Location).
//   - createdClient and updatedClient are the x-api-key of the creating and of the last
//     changing request; createdAt and updatedAt are set then (epoch ms). PATCH /name renames.
//   - Secret params come back as Mask. Lists default to DefaultListLimit items a page,
//     ordered by createdAt (creation order breaking ties); a continuationToken carries the
//     filters and order of the first page. In property filters a comma means OR for id,
//     connectionSpec.id, connectionSpec.version and state, but not for name, description
//     and auth.specName (a name may hold a comma).
//   - PATCH "replace" of an absent member adds it; "remove" of an absent one is a 400.
//   - GET /sourceConnections filters on id, name, baseConnectionId, connectionSpec.id; GET
//     /flows on id, name, state, sourceConnectionIds[] and targetConnectionIds[] (a property
//     inside an array needs [] after the array's name). Same paging, headers and errors as
//     /connections; orderby name or createdAt. Dataflows are attached through DataflowsPath
//     (Options.Control) or AttachDataflow, and kept in the state file.
//   - GET /connectionSpecs/{S3 id} answers {"items":[spec]}: the S3 spec with its auth specs as
//     draft-07 JSON Schemas of auth.params (secrets format: password), built from the rules it
//     validates with (SetConnectionSpecAnswer serves another body); any other id is a 404.
//   - GET /connections/{id}/test answers {"result": false} when the connection's session token
//     was set longer than Options.SessionTokenTTL ago (0: never), {"result": true} otherwise.
//
// Invariants: a secret auth param (s3source.Secret) is never kept in clear, in memory
// or in the state file: only an HMAC-SHA256 of it, keyed by a random key stored beside the
// connections. A secret is never logged. Every answer carries an x-request-id header. All
// state lives behind one mutex; every operation but a list is O(1) in the number of connections.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/time/rate"
)

// Paths of the two services on the emulator's listener.
const (
	APIPrefix = "/data/foundation/flowservice"
	IMSPath   = "/ims/token/v3"
)

// Mask is what GET answers for the value of every secret auth param (s3SecretKey,
// s3SessionToken) present on a connection.
const Mask = "<redacted>"

// DefaultListLimit is the page size of GET /connections without a limit; MaxListLimit is the
// largest limit accepted (a larger one is a 400).
const (
	DefaultListLimit = 100
	MaxListLimit     = 100
)

// DefaultTokenTTL is the lifetime of an IMS token when Options.TokenTTL is zero.
const DefaultTokenTTL = 86399 * time.Second

// Options configure a Server. The zero value is a fault-free, in-memory emulator.
type Options struct {
	Latency         time.Duration // added to every API call
	FailRate        float64       // fraction of API calls answered 500 before doing anything
	ThrottleRate    float64       // fraction of API calls answered 429 with Retry-After: 1
	DropAfterCommit float64       // fraction of successful mutating calls whose connection is closed, unanswered, after the commit
	CreateWithoutID float64       // fraction of successful creates answered 201 with neither an id nor a Location
	RateLimit       float64       // API calls per second (token bucket, burst RateLimit/10, min 1); 0 = unlimited
	Seed            int64         // seed of the fault dice; 0 = time-based
	StatePath       string        // JSON state file: loaded by New, written by Save; "" = memory only
	TokenTTL        time.Duration // lifetime of IMS tokens; 0 = DefaultTokenTTL
	// SessionTokenTTL is how long a connection's s3SessionToken stays valid after it was set:
	// GET /connections/{id}/test answers {"result": false} once it is older. 0 = forever.
	SessionTokenTTL time.Duration

	// ClientID and ClientSecret, when set, are the only IMS credentials accepted, and
	// ClientID is then the only x-api-key accepted.
	ClientID, ClientSecret string

	// RequireIssuedTokens refuses bearer tokens the emulator's IMS did not issue. By default
	// any non-empty bearer token is accepted (except revoked or expired ones).
	RequireIssuedTokens bool

	// Control serves the control routes (StatsPath, RateLimitPath, DataflowsPath) beside the API, for a
	// benchmark or test that watches or steers the emulator from another process.
	Control bool

	// OnRequest, when set, is called with every request and its body before it is handled
	// (tests use it to watch the traffic). The body may hold secrets: never log it.
	OnRequest func(r *http.Request, body []byte)
}

// RegisterFlags registers the options as flags of fs, with o's current values as defaults.
func (o *Options) RegisterFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Latency, "latency", o.Latency, "latency added to every API call")
	fs.Float64Var(&o.FailRate, "fail-rate", o.FailRate, "fraction (0..1) of API calls answered 500 before doing anything")
	fs.Float64Var(&o.ThrottleRate, "throttle-rate", o.ThrottleRate, "fraction (0..1) of API calls answered 429 with Retry-After: 1")
	fs.Float64Var(&o.RateLimit, "rate-limit", o.RateLimit, "API calls per second beyond which calls are answered 429 (0 = unlimited)")
	fs.Float64Var(&o.DropAfterCommit, "drop-after-commit", o.DropAfterCommit, "fraction (0..1) of mutating calls committed and then left unanswered (connection closed)")
	fs.Float64Var(&o.CreateWithoutID, "create-without-id", o.CreateWithoutID, "fraction (0..1) of creates committed and answered 201 without an id or Location")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the random faults (0 = time-based)")
	fs.StringVar(&o.StatePath, "state", o.StatePath, "file holding the emulator's connections across restarts (never a secret)")
	fs.DurationVar(&o.TokenTTL, "token-ttl", o.TokenTTL, "lifetime of IMS access tokens (0 = 86399s)")
	fs.DurationVar(&o.SessionTokenTTL, "session-token-ttl", o.SessionTokenTTL, "a connection's s3SessionToken expires this long after it was set: its connection test then fails (0 = never)")
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "the only IMS client id (and x-api-key) accepted (default: any)")
	fs.StringVar(&o.ClientSecret, "client-secret", o.ClientSecret, "the only IMS client secret accepted (default: any)")
	fs.BoolVar(&o.Control, "control", o.Control, "also serve GET "+StatsPath+" (counters), GET/PUT "+RateLimitPath+" (change --rate-limit while serving) and POST "+DataflowsPath+" (attach a dataflow to a connection), without auth")
}

func (o *Options) check() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"fail-rate", o.FailRate}, {"throttle-rate", o.ThrottleRate}, {"drop-after-commit", o.DropAfterCommit}, {"create-without-id", o.CreateWithoutID}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			return fmt.Errorf("%s %v: want a fraction between 0 and 1", f.name, f.v)
		}
	}
	if math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0) || o.RateLimit < 0 || o.RateLimit > 0 && o.RateLimit < 0.01 {
		return fmt.Errorf("rate-limit %v: want 0 (unlimited) or at least 0.01 calls per second", o.RateLimit)
	}
	if o.Latency < 0 {
		return fmt.Errorf("latency %v: must not be negative", o.Latency)
	}
	if o.TokenTTL < 0 {
		return fmt.Errorf("token-ttl %v: must not be negative", o.TokenTTL)
	}
	if o.SessionTokenTTL < 0 {
		return fmt.Errorf("session-token-ttl %v: must not be negative", o.SessionTokenTTL)
	}
	return nil
}

// Server is the emulator. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	ttl     time.Duration
	limiter atomic.Pointer[rate.Limiter] // nil: unlimited; SetRateLimit changes it
	reqID   atomic.Uint64
	reqBase string

	rngMu sync.Mutex
	rng   *mrand.Rand

	saveMu sync.Mutex // serializes Save

	noID      atomic.Uint64                   // math.Float64bits of the create-without-id fraction (SetCreateWithoutID)
	failArmed atomic.Bool                     // FailNext was called: look at failNext
	onDrop    atomic.Pointer[func(id string)] // OnDrop's hook

	sandboxIDs sync.Map // scope -> sandboxID(scope)

	sessionTTL atomic.Int64           // Options.SessionTokenTTL, changed by SetSessionTokenTTL
	specAnswer atomic.Pointer[[]byte] // answer of GET /connectionSpecs/{S3}, see specs.go

	mu       sync.Mutex // guards everything below
	store    store
	tokens   map[string]*token
	stats    Stats
	failNext map[string]int // fault kind + " " + method -> API calls still to answer so (FailNext, ThrottleNext, DropNext)
	handler  http.Handler
}

type token struct {
	expires time.Time // zero: not issued by the emulator's IMS
	revoked bool
}

// New returns a Server configured by o, holding the connections of o.StatePath when that
// file exists.
func New(o Options) (*Server, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	seed := o.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &Server{
		opts:    o,
		ttl:     o.TokenTTL,
		rng:     mrand.New(mrand.NewSource(seed)),
		tokens:  make(map[string]*token),
		reqBase: randomHex(4),
	}
	if s.ttl == 0 {
		s.ttl = DefaultTokenTTL
	}
	_ = s.SetRateLimit(o.RateLimit) // checked above
	s.stats = newStats()
	s.noID.Store(math.Float64bits(o.CreateWithoutID))
	s.sessionTTL.Store(int64(o.SessionTokenTTL))
	s.specAnswer.Store(&defaultSpecAnswer)
	s.store.init()
	if o.StatePath != "" {
		if err := s.load(o.StatePath); err != nil {
			return nil, err
		}
	}
	if s.store.key == nil {
		s.store.key = make([]byte, 32)
		if _, err := rand.Read(s.store.key); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// SetCreateWithoutID changes, while the server runs, the fraction of successful creates
// answered 201 without an id (Options.CreateWithoutID). p is clamped to [0, 1].
func (s *Server) SetCreateWithoutID(p float64) {
	if math.IsNaN(p) || p < 0 {
		p = 0
	}
	s.noID.Store(math.Float64bits(min(p, 1)))
}

// Handler serves the API under APIPrefix and the IMS token call at IMSPath.
// Handler serves the API under APIPrefix and the IMS token call at IMSPath (and, with
// Options.Control, the control routes).
func (s *Server) Handler() http.Handler { return s.handler }

// Running is a Server listening on a TCP address.
type Running struct {
	Server   *Server
	Addr     string // host:port actually listened on
	Endpoint string // http://ADDR/data/foundation/flowservice
	IMSURL   string // http://ADDR/ims/token/v3

	srv      *http.Server
	fresh    freshConns // connections accepted that have not sent a byte yet
	stop     chan struct{}
	flushed  chan struct{}
	closeErr error
	once     sync.Once
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves s in the background.
// While running, a changed state is flushed to o.StatePath at most once a second.
func Start(o Options, addr string) (*Running, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	a := ln.Addr().String()
	r := &Running{
		Server:   s,
		Addr:     a,
		Endpoint: "http://" + a + APIPrefix,
		IMSURL:   "http://" + a + IMSPath,
		srv: &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		stop:    make(chan struct{}),
		flushed: make(chan struct{}),
	}
	r.srv.ConnState = r.fresh.track
	go func() { _ = r.srv.Serve(ln) }()
	go r.flushLoop()
	return r, nil
}

func (r *Running) flushLoop() {
	defer close(r.flushed)
	if r.Server.opts.StatePath == "" {
		<-r.stop
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if r.Server.isDirty() {
				// A failed flush leaves the state dirty; Close reports the final Save's error.
				_ = r.Server.Save()
			}
		}
	}
}

// Close shuts the listener down gracefully (in-flight calls finish, within 5 seconds) and
// saves the state when Options.StatePath is set.
func (r *Running) Close() error {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// http.Server.Shutdown counts a connection that never sent a byte as busy for its
		// first 5 seconds: one a client dialled ahead and never used would hold Close that
		// long. It carries no request: close it now.
		r.srv.SetKeepAlivesEnabled(false)
		r.fresh.closeAll()
		err := r.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = r.srv.Close()
		}
		close(r.stop)
		<-r.flushed
		// Only a changed state is written: a read-only session (plan --refresh) leaves the
		// state file as it was.
		if r.Server.opts.StatePath != "" && r.Server.isDirty() {
			if serr := r.Server.Save(); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		r.closeErr = err
	})
	return r.closeErr
}

// ListenAndServe runs the emulator for the `flowsync emulator` command: it listens on addr,
// prints one line naming the endpoint to stderr, serves until ctx is done, then saves.
func ListenAndServe(ctx context.Context, o Options, addr string, stderr io.Writer) error {
	r, err := Start(o, addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "flowsync emulator: serving %s (IMS token URL %s)\n", r.Endpoint, r.IMSURL)
	<-ctx.Done()
	return r.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// chance rolls the fault dice: true with probability p.
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	v := s.rng.Float64()
	s.rngMu.Unlock()
	return v < p
}

// freshConns are the server's connections in http.StateNew: accepted, nothing read yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *freshConns) track(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == http.StateNew {
		if f.conns == nil {
			f.conns = map[net.Conn]bool{}
		}
		f.conns[c] = true
		return
	}
	delete(f.conns, c)
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
	}
}
