package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/internal/atomicfile"
	"github.com/flowsync/flowsync/s3source"
)

// scope is the (org, sandbox) pair a connection belongs to.
type scope struct{ org, sandbox string }

// record is one stored connection. A record's maps are never mutated once stored: a change
// stores a new record (copy on write), so snapshots may share them.
type record struct {
	scope   scope
	conn    flowapi.Connection // Auth.Params holds the non-secret params only
	digests map[string]string  // secret param -> hex HMAC-SHA256 of its value
	created uint64             // creation order, breaks ties of equal createdAt (same millisecond)
	// tokenSetAt is when the session token was last set (epoch ms), 0 without one: GET
	// /connections/{id}/test answers false once it is older than the session-token TTL.
	tokenSetAt int64
}

type store struct {
	key     []byte    // HMAC key of secret digests
	hmacs   sync.Pool // of hmac.New(sha256.New, key), see digest
	seq     uint64    // etag counter, persisted so an etag is never handed out twice
	byID    map[string]*record
	byScope map[scope]map[string]*record
	byName  map[scope]map[string]map[string]*record // name -> id -> record
	flows   dataflows                               // source connections and flows (dataflows.go)
	dirty   bool
}

func (st *store) init() {
	st.byID = make(map[string]*record)
	st.byScope = make(map[scope]map[string]*record)
	st.byName = make(map[scope]map[string]map[string]*record)
	st.flows.init()
}

func (st *store) put(r *record) {
	if old := st.byID[r.conn.ID]; old != nil {
		st.unindex(old)
	}
	st.byID[r.conn.ID] = r
	m := st.byScope[r.scope]
	if m == nil {
		m = make(map[string]*record)
		st.byScope[r.scope] = m
	}
	m[r.conn.ID] = r
	names := st.byName[r.scope]
	if names == nil {
		names = make(map[string]map[string]*record)
		st.byName[r.scope] = names
	}
	ids := names[r.conn.Name]
	if ids == nil {
		ids = make(map[string]*record)
		names[r.conn.Name] = ids
	}
	ids[r.conn.ID] = r
	st.dirty = true
}

func (st *store) unindex(r *record) {
	delete(st.byScope[r.scope], r.conn.ID)
	if ids := st.byName[r.scope][r.conn.Name]; ids != nil {
		delete(ids, r.conn.ID)
		if len(ids) == 0 {
			delete(st.byName[r.scope], r.conn.Name)
		}
	}
}

func (st *store) remove(id string) bool {
	r := st.byID[id]
	if r == nil {
		return false
	}
	st.unindex(r)
	delete(st.byID, id)
	st.dirty = true
	return true
}

// get returns the record id in scope sc, or nil: a connection of another org or sandbox
// does not exist for the caller.
func (st *store) get(sc scope, id string) *record {
	r := st.byID[id]
	if r == nil || r.scope != sc {
		return nil
	}
	return r
}

// newETag returns a quoted etag shaped like Adobe's ("1700d77b-0000-0200-0000-5e3b41a10000"),
// unique for the life of the state.
func (st *store) newETag(now time.Time) string {
	st.seq++
	var b [48]byte
	out := append(b[:0], '"')
	out = appendHex32(out, uint32(st.seq))
	out = append(out, "-0000-0200-0000-"...)
	out = appendHex32(out, uint32(now.Unix()))
	return string(append(out, `0000"`...))
}

// appendHex32 appends v as 8 lower-case hex digits (fmt's %08x).
func appendHex32(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for i := 28; i >= 0; i -= 4 {
		b = append(b, digits[v>>uint(i)&0xf])
	}
	return b
}

// digest is the hex HMAC-SHA256 of value keyed by st.key. The keyed hashes are pooled: Reset
// restores the keyed state without hashing the key again. st.key does not change once the
// store serves (New sets it, or load before any call).
func (st *store) digest(value string) string {
	h, _ := st.hmacs.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, st.key)
	} else {
		h.Reset()
	}
	h.Write([]byte(value))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(h.Sum(sum[:0]))
	st.hmacs.Put(h)
	return out
}

// splitSecrets returns params without its secret params, and the digests of those.
func (st *store) splitSecrets(all map[string]string) (params, digests map[string]string) {
	params = make(map[string]string, len(all))
	for p, v := range all {
		if s3source.Secret(p) {
			if digests == nil {
				digests = make(map[string]string)
			}
			digests[p] = st.digest(v)
			continue
		}
		params[p] = v
	}
	return params, digests
}

// view is the connection as GET shows it: secret params masked.
func (r *record) view() flowapi.Connection {
	c := r.conn
	params := make(map[string]string, len(c.Auth.Params)+len(r.digests))
	maps.Copy(params, c.Auth.Params)
	for p := range r.digests {
		params[p] = Mask
	}
	c.Auth.Params = params
	return c
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuidString(&b)
}

// uuidString formats b as fmt's "%x-%x-%x-%x-%x" of its 4, 2, 2, 2 and 6 byte groups.
func uuidString(b *[16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// sandboxID is a stable UUID-shaped id for a sandbox name of an org.
func sandboxID(sc scope) string {
	h := sha256.Sum256([]byte(sc.org + "\x00" + sc.sandbox))
	var b [16]byte
	copy(b[:], h[:16])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return uuidString(&b)
}

// sandboxID is sandboxID(sc), remembered per scope.
func (s *Server) sandboxID(sc scope) string {
	if v, ok := s.sandboxIDs.Load(sc); ok {
		return v.(string)
	}
	id := sandboxID(sc)
	s.sandboxIDs.Store(sc, id)
	return id
}

// ---- persistence ----

const stateVersion = 1

// stateFile is the JSON of Options.StatePath. It holds no secret: only HMACs of secret
// values and the random key they were computed with.
type stateFile struct {
	Version     int           `json:"version"`
	HMACKey     string        `json:"hmacKey"`
	ETagSeq     uint64        `json:"etagSeq"`
	Connections []stateRecord `json:"connections"`
	stateDataflows
}

type stateRecord struct {
	OrgID         string             `json:"orgId"`
	Sandbox       string             `json:"sandbox"`
	Connection    flowapi.Connection `json:"connection"`
	SecretDigests map[string]string  `json:"secretDigests,omitempty"`
	Created       uint64             `json:"created"`
	TokenSetAt    int64              `json:"sessionTokenSetAt,omitempty"` // epoch ms
}

func (s *Server) load(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator: load state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("emulator: load state %s: %w", path, err)
	}
	if f.Version != stateVersion {
		return fmt.Errorf("emulator: load state %s: version %d, want %d", path, f.Version, stateVersion)
	}
	key, err := hex.DecodeString(f.HMACKey)
	if err != nil || len(key) < 16 {
		return fmt.Errorf("emulator: load state %s: bad hmacKey", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store.key = key
	s.store.seq = f.ETagSeq
	for _, sr := range f.Connections {
		c := sr.Connection
		if c.ID == "" || s.store.byID[c.ID] != nil {
			return fmt.Errorf("emulator: load state %s: missing or duplicate connection id %q", path, c.ID)
		}
		if c.Auth.Params == nil {
			c.Auth.Params = map[string]string{}
		}
		for p := range c.Auth.Params {
			if s3source.Secret(p) {
				return fmt.Errorf("emulator: load state %s: connection %s holds secret param %s in clear", path, c.ID, p)
			}
		}
		s.store.put(&record{scope: scope{sr.OrgID, sr.Sandbox}, conn: c, digests: sr.SecretDigests, created: sr.Created, tokenSetAt: sr.TokenSetAt})
	}
	if err := s.store.flows.load(f.stateDataflows); err != nil {
		return fmt.Errorf("emulator: load state %s: %w", path, err)
	}
	s.store.dirty = false
	return nil
}

func (s *Server) isDirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.dirty
}

// Save writes the state to Options.StatePath atomically (temp file, fsync, rename, fsync of
// the directory). It does nothing when StatePath is empty.
func (s *Server) Save() error {
	path := s.opts.StatePath
	if path == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()

	s.mu.Lock()
	f := stateFile{
		Version:     stateVersion,
		HMACKey:     hex.EncodeToString(s.store.key),
		ETagSeq:     s.store.seq,
		Connections: make([]stateRecord, 0, len(s.store.byID)),
	}
	recs := make([]*record, 0, len(s.store.byID))
	for _, r := range s.store.byID {
		recs = append(recs, r)
	}
	f.stateDataflows = s.store.flows.save()
	s.store.dirty = false
	s.mu.Unlock()

	sortRecords(recs, "createdAt")
	for _, r := range recs {
		f.Connections = append(f.Connections, stateRecord{
			OrgID: r.scope.org, Sandbox: r.scope.sandbox,
			Connection: r.conn, SecretDigests: r.digests, Created: r.created, TokenSetAt: r.tokenSetAt,
		})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		data = append(data, '\n')
		err = atomicfile.Write(path, data)
	}
	if err != nil {
		s.mu.Lock()
		s.store.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("emulator: save state: %w", err)
	}
	return nil
}

// ---- test helpers ----

// Connections returns a snapshot of the connections of org and sandbox as GET would show
// them (secrets masked), oldest first. It is a test helper.
func (s *Server) Connections(org, sandbox string) []flowapi.Connection {
	s.mu.Lock()
	m := s.store.byScope[scope{org, sandbox}]
	recs := make([]*record, 0, len(m))
	for _, r := range m {
		recs = append(recs, r)
	}
	s.mu.Unlock()
	sortRecords(recs, "createdAt")
	out := make([]flowapi.Connection, len(recs))
	for i, r := range recs {
		out[i] = r.view()
	}
	return out
}

// SecretMatches reports whether the secret param of connection id was set to value. It is
// a test helper: the emulator keeps only an HMAC of each secret.
func (s *Server) SecretMatches(id, param, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store.byID[id]
	if r == nil {
		return false
	}
	d, ok := r.digests[param]
	if !ok {
		return false
	}
	return hmac.Equal([]byte(d), []byte(s.store.digest(value)))
}

// Mutate edits connection id out of band, as another user of the service would, and gives
// it a new etag and updatedAt. f sees the connection without its secret params (setting one
// stores its HMAC; removing one from Auth.Params leaves it alone). It is a test helper and
// reports whether the connection exists.
func (s *Server) Mutate(id string, f func(c *flowapi.Connection)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store.byID[id]
	if r == nil {
		return false
	}
	c := r.conn
	c.Auth.Params = maps.Clone(c.Auth.Params)
	if c.Auth.Params == nil {
		c.Auth.Params = map[string]string{}
	}
	f(&c)
	digests := maps.Clone(r.digests)
	now := time.Now()
	tokenSetAt := r.tokenSetAt
	for p, v := range c.Auth.Params {
		if s3source.Secret(p) {
			if digests == nil {
				digests = map[string]string{}
			}
			digests[p] = s.store.digest(v)
			delete(c.Auth.Params, p)
			if p == sessionTokenParam {
				tokenSetAt = now.UnixMilli()
			}
		}
	}
	c.ID = id
	c.ETag = s.store.newETag(now)
	c.Version = c.ETag
	c.UpdatedAt = now.UnixMilli()
	c.UpdatedBy = "someone-else@AdobeID"
	s.store.put(&record{scope: r.scope, conn: c, digests: digests, created: r.created, tokenSetAt: tokenSetAt})
	return true
}

// DeleteOutOfBand deletes connection id as another user of the service would. It is a test
// helper and reports whether the connection existed.
func (s *Server) DeleteOutOfBand(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.remove(id)
}

// CreateOutOfBand creates a connection in org and sandbox as another user of the service
// would, without validating it, and returns its id. It is a test helper.
func (s *Server) CreateOutOfBand(org, sandbox string, c flowapi.NewConnection) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.newRecord(scope{org, sandbox}, c, "someone-else@AdobeID", "other-client", time.Now())
	s.store.put(r)
	return r.conn.ID
}

// FailNext makes the next n API calls of method (POST, GET, PATCH, DELETE) answer 500
// 1102-500 before doing anything, like the fail-rate fault. It is a test helper.
func (s *Server) FailNext(method string, n int) { s.armNext(FaultFail+" "+method, n) }

// ThrottleNext makes the next n API calls of method answer 429 with Retry-After: 1, like the
// throttle-rate fault but certain, so that a test can count on it. It is a test helper.
func (s *Server) ThrottleNext(method string, n int) { s.armNext(FaultThrottle+" "+method, n) }

// DropNext makes the next n API calls of method that commit a change (POST, PATCH, DELETE)
// go unanswered after the commit, like the drop-after-commit fault but certain: the client
// cannot tell whether its request was carried out. It is a test helper.
func (s *Server) DropNext(method string, n int) { s.armNext(FaultDrop+" "+method, n) }

// OnDrop makes every call left unanswered after its commit run f with the connection's id
// first, before the client sees the connection close: what someone else does in the window
// before the client's retry. nil removes it. It is a test helper.
func (s *Server) OnDrop(f func(id string)) {
	if f == nil {
		s.onDrop.Store(nil)
		return
	}
	s.onDrop.Store(&f)
}

func (s *Server) armNext(key string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext == nil {
		s.failNext = map[string]int{}
	}
	s.failNext[key] = n
	s.failArmed.Store(true)
}

// takeNext reports whether the call of method is one that FailNext, ThrottleNext or DropNext armed for
// fault kind, and counts it off.
func (s *Server) takeNext(kind, method string) bool {
	if !s.failArmed.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := kind + " " + method
	if s.failNext[key] <= 0 {
		return false
	}
	s.failNext[key]--
	return true
}

// RevokeTokens makes every bearer token issued or seen so far answer 401. It is a test helper.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// newRecord builds the record of a new connection; the caller holds s.mu.
func (s *Server) newRecord(sc scope, nc flowapi.NewConnection, user, client string, now time.Time) *record {
	params, digests := s.store.splitSecrets(nc.Auth.Params)
	return s.buildRecord(sc, creation{nc: nc, params: params, digests: digests, id: newUUID(), sandboxID: s.sandboxID(sc), user: user, client: client}, now)
}

// creation is what a new record is built from: the create's body with its params split from
// their secrets' digests, the new id and sandbox id, and who creates it.
type creation struct {
	nc                  flowapi.NewConnection
	params, digests     map[string]string
	id, sandboxID, user string
	client              string
}

// buildRecord is newRecord with the params already split from their secrets' digests, the id
// and the sandbox id given; the caller holds s.mu (for the etag).
func (s *Server) buildRecord(sc scope, cr creation, now time.Time) *record {
	nc, params, digests, id, sbID, user, client := cr.nc, cr.params, cr.digests, cr.id, cr.sandboxID, cr.user, cr.client
	etag := s.store.newETag(now)
	ms := now.UnixMilli()
	return &record{
		scope: sc,
		conn: flowapi.Connection{
			ID:             id,
			Name:           nc.Name,
			Description:    nc.Description,
			ConnectionSpec: nc.ConnectionSpec,
			State:          "enabled",
			Auth:           flowapi.Auth{SpecName: nc.Auth.SpecName, Params: params},
			ETag:           etag,
			Version:        etag,
			CreatedAt:      ms,
			UpdatedAt:      ms,
			CreatedBy:      user,
			UpdatedBy:      user,
			CreatedClient:  client,
			UpdatedClient:  client,
			SandboxID:      sbID,
			SandboxName:    sc.sandbox,
			IMSOrgID:       sc.org,
		},
		digests:    digests,
		created:    s.store.seq, // newETag just advanced it
		tokenSetAt: tokenSetAt(digests, ms),
	}
}
