package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowsync/flowsync/internal/atomicfile"
	"github.com/flowsync/flowsync/internal/regular"
)

const journalSuffix = ".journal"

// The journal is a write-ahead log beside the lockfile (PATH+".journal"), so that a killed
// apply loses at most its in-flight requests without rewriting the lockfile per operation.
// Each line is one record:
//
//	{"crc":"5e0c7a21","rec":{"seq":1,"type":"header","name":"","at":"…","target":{…},"salt":"…"}}
//	{"crc":"1c291ca3","rec":{"seq":2,"type":"begin","name":"acme-eu","op":"create","at":"…","entry":{...}}}
//	{"crc":"8a0b2d4e","rec":{"seq":3,"type":"commit","name":"acme-eu","entry":{...}}}
//
// The first record is the header: the target and the salt of the lockfile the journal
// belongs to. A journal is folded only into that lockfile (same target, same salt), or into
// a new one of the same target, which then takes the journal's salt: the digests the journal
// holds were keyed with it. A begin records when it was begun and, for a create, the entry
// being created (its non-secret fields and digests), so that a create whose outcome is lost
// can later be matched against live connections by the ownership rule.
//
// crc is the CRC-32C (Castagnoli) of the bytes of rec exactly as written, in 8 hex digits;
// seq starts at 1 and grows by one per record. A final run of lines that fail to parse or
// to match their checksum is a write torn by a crash (never acknowledged, since the fsync
// that would have covered it did not return) and is ignored; an invalid line followed by a
// valid one, a sequence gap, or bytes without any readable record (zero-filled, re-encoded,
// overwritten; only the start of a header cut short is a torn write) is a *FormatError. Records hold names, ids and Entries,
// which hold digests, never a secret.
type record struct {
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`         // recHeader, recBegin or recCommit
	Name string    `json:"name"`         // empty in the header
	Op   string    `json:"op,omitempty"` // begin: create, update or delete
	ID   string    `json:"id,omitempty"` // begin: the connection's id (none for a create)
	At   time.Time `json:"at,omitzero"`  // header and begin: when it was written
	// commit: the entry after the operation (nil: removed); begin of a create: the entry
	// being created (optional).
	Entry  *Entry  `json:"entry,omitempty"`
	Target *Target `json:"target,omitempty"` // header: the lockfile's target
	Salt   string  `json:"salt,omitempty"`   // header: the lockfile's salt
}

const (
	recHeader = "header"
	recBegin  = "begin"
	recCommit = "commit"
)

// Header is what a journal records about the lockfile it belongs to.
type Header struct {
	Target Target
	Salt   string
}

// HeaderOf is f's journal header.
func HeaderOf(f *File) Header { return Header{Target: f.Target, Salt: f.Salt} }

type line struct {
	CRC string          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Journal appends records durably. It is safe for concurrent use, and commits in groups:
// records of concurrent callers collect in a buffer (one batch), and one write and fsync, by
// a leader, makes all of them durable at once. Only the callers of a flushed batch are woken
// (each batch has its own channel), and when records arrived during a flush, leadership is
// handed to exactly one of their callers, so that the leader of a batch never waits for the
// next one.
type Journal struct {
	path string
	now  func() time.Time // clock of begin records

	mu       sync.Mutex
	f        *os.File
	buf      []byte // records not yet taken by a flush, seq up to seq
	spare    []byte // the other buffer, reused
	cur      *batch // the batch of buf; nil when buf is empty
	seq      uint64 // last record appended to buf
	flushing bool   // a leader is writing, or leadership is being handed over
	inflight *batch // the batch being written, nil between flushes
	err      error  // sticky: after a failed write or fsync the journal accepts nothing
	closed   bool
	syncs    int64 // fsyncs done, for tests and benchmarks

	// What FoldInto needs, kept as records are appended: the creates begun and not committed,
	// and whether the journal held records of an earlier run when it was opened.
	open     map[string]*intent
	leftover bool
}

// batch is the records of one write and fsync, and their callers' wait.
type batch struct {
	done    chan struct{} // closed once the batch is durable (or failed: err)
	lead    chan struct{} // one token: the receiver flushes this batch
	err     error
	waiters int // callers waiting for it; a batch of Commits alone waits for the next Begin or Close
}

func newBatch() *batch {
	return &batch{done: make(chan struct{}), lead: make(chan struct{}, 1)}
}

// OpenJournal opens the journal of the lockfile at lockfilePath for appending, creating it if
// absent (mode 0600) with a header recording h, durably. If a journal is left over, it must
// belong to h (else a *JournalMismatchError); its records are kept and numbering continues
// after them; a torn final line is cut off first. A corrupt journal gives a *FormatError and
// is left as it was. Callers normally Fold and RemoveJournal before opening a new one.
func OpenJournal(lockfilePath string, h Header) (*Journal, error) {
	if h.Salt == "" {
		return nil, errors.New("open journal: no salt")
	}
	path := RealPath(lockfilePath) + journalSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := regular.Check(f, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	data, err := regular.ReadFile(path, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	recs, valid, err := parseJournal(data)
	if err != nil {
		f.Close()
		return nil, &FormatError{Path: path, Err: err}
	}
	if len(recs) > 0 {
		if have := recs[0].header(); have != h {
			f.Close()
			return nil, &JournalMismatchError{Path: path, Journal: have, Lockfile: h, NoLockfile: noLockfile(lockfilePath)}
		}
	}
	if valid < len(data) {
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, fmt.Errorf("open journal: cut torn record: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("open journal: %w", err)
		}
	}
	j := &Journal{path: path, f: f, now: time.Now, open: map[string]*intent{}}
	if n := len(recs); n > 0 {
		j.seq = recs[n-1].Seq
		j.leftover = n > 1
		return j, nil
	}
	// A new journal: its header first, durable with the journal's creation.
	t := h.Target
	if err := j.append(&record{Type: recHeader, At: j.now().UTC().Truncate(time.Millisecond), Target: &t, Salt: h.Salt}, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return j, nil
}

// UseClock makes now the clock of the begin records appended from here on (by default the
// local clock). An apply gives the service's clock (flowservice.Client.Now): a begin's time
// is compared with the createdAt the service stamps on a connection, so both must come from
// one clock, whatever the local clock says. Call it before the journal is shared.
func (j *Journal) UseClock(now func() time.Time) { j.now = now }

func (r *record) header() Header {
	h := Header{Salt: r.Salt}
	if r.Target != nil {
		h.Target = *r.Target
	}
	return h
}

// Begin records, durably before it returns, that op ("create", "update" or "delete") is about
// to be sent for the entry name (id: the connection's, empty for a create), and when. For a
// create, intent is the entry being created (nil: not known); it must not change during the
// call.
func (j *Journal) Begin(name, op, id string, intent *Entry) error {
	switch op {
	case "create", "update", "delete":
	default:
		return fmt.Errorf("journal begin %s: unknown op %q", name, op)
	}
	if name == "" {
		return errors.New("journal begin: empty name")
	}
	if intent != nil && op != "create" {
		return fmt.Errorf("journal begin %s: an intent is recorded for a create only", name)
	}
	if intent != nil {
		c := *intent
		normalise(&c)
		intent = &c
	}
	return j.append(&record{Type: recBegin, Name: name, Op: op, ID: id, At: j.now().UTC().Truncate(time.Millisecond), Entry: intent}, true)
}

// Commit records the entry name after a successful operation (nil: the entry is gone). It
// does not wait for an fsync of its own: the record becomes durable with the next Begin's
// group commit, or at Close. A crash before then loses only outcomes whose intent is
// durable, which the next run heals (a create is looked up by name before it is sent again;
// a lost update meets a 412; a lost delete meets a 404), and it saves one fsync per
// operation. e is not kept; its times are written normalised as in the lockfile. e must not
// change during the call.
func (j *Journal) Commit(name string, e *Entry) error {
	if name == "" {
		return errors.New("journal commit: empty name")
	}
	if e != nil {
		// normalise without cloning the maps: only the times change (empty maps are
		// omitted either way), and the record is encoded before Commit returns.
		c := *e
		c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond)
		c.UpdatedAt = c.UpdatedAt.UTC().Truncate(time.Millisecond)
		if !c.PendingAt.IsZero() {
			c.PendingAt = c.PendingAt.UTC().Truncate(time.Millisecond)
		}
		if err := checkEntry(name, &c); err != nil {
			return fmt.Errorf("journal commit: %w", err)
		}
		e = &c
	}
	return j.append(&record{Type: recCommit, Name: name, Entry: e}, false)
}

// unusable is why nothing more can be appended or synced (closed, or an earlier write
// failed), or nil. j.mu is held.
func (j *Journal) unusable() error {
	if j.closed {
		return fmt.Errorf("journal %s: closed", j.path)
	}
	return j.err
}

// append adds r to the current batch; with wait, it returns once the batch is durable.
func (j *Journal) append(r *record, wait bool) error {
	j.mu.Lock()
	if err := j.unusable(); err != nil {
		j.mu.Unlock()
		return err
	}
	r.Seq = j.seq + 1
	var err error
	j.buf, err = appendRecord(j.buf, r)
	if err != nil {
		j.mu.Unlock()
		return fmt.Errorf("journal %s %s: %w", r.Type, r.Name, err)
	}
	j.seq = r.Seq
	track(j.open, r)
	b := j.cur
	if b == nil {
		b = newBatch()
		j.cur = b
	}
	if !wait {
		if !j.flushing {
			j.writeOut()
		}
		j.mu.Unlock()
		return nil
	}
	return j.waitDurable(b)
}

// writeOut writes the buffered records to the journal file without an fsync, so that a
// record no caller waits for (a Commit, an Intend) survives the process being killed: the
// kernel holds it. Power loss may still lose it until the next fsync, which covers it; an
// outcome lost that way is healed like a request in flight. j.mu is held and no flush is in
// progress, so records reach the file in order.
func (j *Journal) writeOut() {
	if len(j.buf) == 0 || j.err != nil {
		return
	}
	if _, err := j.f.Write(j.buf); err != nil {
		j.err = fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.buf = j.buf[:0]
}

// waitDurable returns once batch b is durable, taking the lead when no one flushes. j.mu is
// held; it returns with j.mu unlocked.
func (j *Journal) waitDurable(b *batch) error {
	b.waiters++
	if !j.flushing {
		j.flushing = true
		j.flush() // unlocks j.mu
	} else {
		j.mu.Unlock()
	}
	for {
		select {
		case <-b.done:
			return b.err
		case <-b.lead:
			j.mu.Lock()
			j.flush()
		}
	}
}

// Intend records, without waiting for it to be durable, that a create of the entry name will
// be sent (intent: the entry being created), as Begin does; Sync makes it durable. An apply
// writes the intents of its next creates ahead this way, one fsync for many, so that a create
// never waits for the disk before it is sent: the guarantee is Begin's (nothing is sent before
// its intent is on disk), at a cost of an intent that may never be sent, which the next run
// finds no connection for and creates.
func (j *Journal) Intend(name string, intent *Entry) error {
	if name == "" {
		return errors.New("journal intent: empty name")
	}
	if intent != nil {
		c := *intent
		normalise(&c)
		intent = &c
	}
	return j.append(&record{Type: recBegin, Name: name, Op: "create", At: j.now().UTC().Truncate(time.Millisecond), Entry: intent}, false)
}

// Sync returns once every record appended so far is durable.
func (j *Journal) Sync() error {
	j.mu.Lock()
	if err := j.unusable(); err != nil {
		j.mu.Unlock()
		return err
	}
	if b := j.cur; b != nil {
		return j.waitDurable(b)
	}
	b := j.inflight
	j.mu.Unlock()
	if b != nil {
		<-b.done
		return b.err
	}
	return nil
}

// flush writes and syncs the current batch, as its leader: j.mu is held and j.flushing set;
// it returns with j.mu unlocked. If records arrived meanwhile, it hands the leadership to
// one of their callers; otherwise it clears j.flushing.
func (j *Journal) flush() {
	b, buf := j.cur, j.buf
	j.cur, j.buf = nil, j.spare[:0]
	if b == nil { // nothing to write (cannot happen: a lead token comes with a batch)
		j.flushing = false
		j.mu.Unlock()
		return
	}
	err := j.err
	if err == nil {
		j.inflight = b
		j.mu.Unlock()
		_, err = j.f.Write(buf)
		if err == nil {
			err = j.f.Sync()
		}
		j.mu.Lock()
		j.syncs++
		j.inflight = nil
		if err != nil {
			err = fmt.Errorf("journal %s: %w", j.path, err)
			j.err = err
		}
	}
	j.spare = buf[:0]
	b.err = err
	if j.cur != nil && j.cur.waiters > 0 {
		j.cur.lead <- struct{}{} // capacity 1, sent once per batch
	} else {
		// Records that arrived meanwhile without waiters reach the file now; their fsync
		// comes with the next Begin, Sync or Close.
		j.flushing = false
		j.writeOut()
	}
	j.mu.Unlock()
	close(b.done)
}

// appendRecord appends r's line to buf: the record's JSON exactly as encoding/json writes
// it, preceded by its CRC-32C, computed in place.
func appendRecord(buf []byte, r *record) ([]byte, error) {
	start := len(buf)
	buf = append(buf, `{"crc":"00000000","rec":`...)
	recStart := len(buf)
	buf, err := appendRecordJSON(buf, r)
	if err != nil {
		return buf[:start], err
	}
	const hexDigits = "0123456789abcdef"
	sum := crc32.Checksum(buf[recStart:], castagnoli)
	crc := buf[start+len(`{"crc":"`):]
	for i := 7; i >= 0; i-- {
		crc[i] = hexDigits[sum&0xf]
		sum >>= 4
	}
	return append(buf, "}\n"...), nil
}

// Close waits for buffered records to be durable and closes the journal file. The journal
// stays on disk for Fold.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	for j.inflight != nil || j.cur != nil {
		if b := j.inflight; b != nil {
			j.mu.Unlock()
			<-b.done
			j.mu.Lock()
			continue
		}
		b := j.cur
		if !j.flushing {
			j.flushing = true
			j.flush()
		} else {
			j.mu.Unlock() // a caller of b is taking the lead
		}
		<-b.done
		j.mu.Lock()
	}
	err := j.err
	j.closed = true
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close journal: %w", cerr)
	}
	j.mu.Unlock()
	return err
}

// parseJournal returns the records of a journal and the length of its valid prefix (what
// remains once a torn tail is cut off).
func parseJournal(data []byte) (recs []record, valid int, err error) {
	var (
		off     int
		badLine int // line number of the first invalid line not yet followed by a valid one
		badErr  error
	)
	for n := 1; off < len(data); n++ {
		end := len(data)
		next := end
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
			next = end + 1
		}
		r, lerr := parseLine(data[off:end], next == len(data) && end == len(data))
		if lerr != nil {
			if badErr == nil {
				badLine, badErr = n, lerr
			}
			off = next
			continue
		}
		if badErr != nil {
			return nil, 0, fmt.Errorf("line %d: %w (and valid records follow it)", badLine, badErr)
		}
		if want := uint64(len(recs)) + 1; r.Seq != want {
			return nil, 0, fmt.Errorf("line %d: sequence %d, want %d", n, r.Seq, want)
		}
		if (r.Type == recHeader) != (len(recs) == 0) {
			if r.Type == recHeader {
				return nil, 0, fmt.Errorf("line %d: a second header", n)
			}
			return nil, 0, fmt.Errorf("line %d: no header (the journal's target and salt are unknown)", n)
		}
		recs = append(recs, *r)
		off = next
		valid = next
	}
	if len(recs) == 0 && len(data) > 0 && !tornHeader(data) {
		// Bytes without one readable record are not a torn write (a header is durable before
		// anything else is written): a zero-filled, re-encoded or overwritten journal, whose
		// records may be exactly what the next run needs. Dropping it silently would create
		// every connection of the interrupted run again.
		return nil, 0, fmt.Errorf("line %d: %w (and no readable record: not a journal flowsync can fold, or one damaged as a whole)", badLine, badErr)
	}
	return recs, valid, nil
}

// tornHeader reports whether data is the start of a header record cut short: one line without
// its newline, in the form every record has. Only a crash while a new journal was written can
// leave it, and then nothing had been recorded yet.
func tornHeader(data []byte) bool {
	return bytes.IndexByte(data, '\n') < 0 && bytes.HasPrefix(data, []byte(`{"crc":"`))
}

// parseLine decodes one journal line (without its newline). unterminated: the line has no
// newline, so it was cut short.
func parseLine(b []byte, unterminated bool) (*record, error) {
	if unterminated {
		return nil, errors.New("unterminated record")
	}
	var l line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("bad record: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("bad record: data after it")
	}
	sum, err := strconv.ParseUint(l.CRC, 16, 32)
	if err != nil || len(l.CRC) != 8 {
		return nil, fmt.Errorf("bad checksum %q", l.CRC)
	}
	if got := crc32.Checksum(l.Rec, castagnoli); got != uint32(sum) {
		return nil, fmt.Errorf("checksum mismatch: have %08x, computed %08x", sum, got)
	}
	var r record
	dec = json.NewDecoder(bytes.NewReader(l.Rec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("bad record: %w", err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("bad record: %w", err)
	}
	return &r, nil
}

func (r *record) check() error {
	if r.Type == recHeader {
		switch {
		case r.Name != "" || r.Op != "" || r.ID != "" || r.Entry != nil:
			return errors.New("header: has a name, op, id or entry")
		case r.Target == nil || r.Salt == "":
			return errors.New("header: no target or salt")
		}
		return nil
	}
	if r.Target != nil || r.Salt != "" {
		return fmt.Errorf("%s %s: has a target or salt", r.Type, r.Name)
	}
	if r.Name == "" {
		return errors.New("empty name")
	}
	switch r.Type {
	case recBegin:
		switch r.Op {
		case "create", "update", "delete":
		default:
			return fmt.Errorf("begin %s: unknown op %q", r.Name, r.Op)
		}
		if r.Entry != nil {
			if r.Op != "create" {
				return fmt.Errorf("begin %s: an entry on a %s", r.Name, r.Op)
			}
			normalise(r.Entry)
		}
		if y := r.At.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("begin %s: time out of range", r.Name)
		}
	case recCommit:
		if r.Op != "" || r.ID != "" || !r.At.IsZero() {
			return fmt.Errorf("commit %s: has an op, id or time", r.Name)
		}
		if r.Entry != nil {
			normalise(r.Entry)
			return checkEntry(r.Name, r.Entry)
		}
	default:
		return fmt.Errorf("unknown type %q", r.Type)
	}
	return nil
}

// Fold applies the journal left beside the lockfile at lockfilePath, if any, to f in order: a
// commit sets the entry (or removes it); a create begun and never committed marks the entry
// PendingCreate with the fields of the create that was sent and the time of its earliest
// begin (keeping the ID, ETag and Retired of an entry being replaced), so that the next apply
// looks the connection up by name and adopts only what the ownership rule proves is that
// create's. A begun update or delete without outcome changes nothing: the next apply
// tolerates a stale etag (412) or a missing connection (404). changed reports whether f
// changed.
//
// The journal must belong to f: same target and salt, else a *JournalMismatchError. A File
// never saved (serial 0, no connections: the lockfile did not exist) of the journal's target
// takes the journal's salt, since the journal's digests were keyed with it. A corrupt journal
// gives a *FormatError. On error f and the journal are left as they were. The caller then
// Saves f and calls RemoveJournal.
func Fold(f *File, lockfilePath string) (changed bool, err error) {
	path := RealPath(lockfilePath) + journalSuffix
	data, err := regular.ReadFile(path, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read journal: %w", err)
	}
	return fold(f, path, data)
}

// noLockfile reports whether there is no lockfile at lockfilePath.
func noLockfile(lockfilePath string) bool {
	_, err := os.Stat(RealPath(lockfilePath))
	return errors.Is(err, os.ErrNotExist)
}

// fold is Fold once the journal at path is read.
func fold(f *File, path string, data []byte) (changed bool, err error) {
	recs, _, err := parseJournal(data)
	if err != nil {
		return false, &FormatError{Path: path, Err: err}
	}
	if len(recs) == 0 {
		return false, nil
	}
	h := recs[0].header()
	if h != HeaderOf(f) {
		fresh := f.Serial == 0 && len(f.Connections) == 0
		if !fresh || h.Target != f.Target {
			return false, &JournalMismatchError{Path: path, Journal: h, Lockfile: HeaderOf(f), NoLockfile: fresh}
		}
		f.Salt = h.Salt
		changed = true
	}
	if f.Connections == nil {
		f.Connections = map[string]*Entry{}
	}
	pending := map[string]*intent{} // creates begun and not committed
	for _, r := range recs[1:] {
		track(pending, &r)
		if r.Type != recCommit {
			continue
		}
		old, ok := f.Connections[r.Name]
		if r.Entry == nil {
			if ok {
				delete(f.Connections, r.Name)
				changed = true
			}
			continue
		}
		if !ok || !sameEntry(old, r.Entry) {
			changed = true
		}
		f.Connections[r.Name] = r.Entry
	}
	if markPending(f, pending) {
		changed = true
	}
	return changed, nil
}

// intent is a create begun and not committed: the time of its earliest begin, and the entry
// it sent (nil: not recorded).
type intent struct {
	at    time.Time
	entry *Entry
}

// track updates the creates begun and not committed with record r.
func track(pending map[string]*intent, r *record) {
	switch {
	case r.Type == recBegin && r.Op == "create":
		p := pending[r.Name]
		if p == nil {
			p = &intent{at: r.At}
			pending[r.Name] = p
		} else if r.At.Before(p.at) {
			p.at = r.At
		}
		if r.Entry != nil {
			p.entry = r.Entry
		}
	case r.Type == recCommit:
		delete(pending, r.Name)
	}
}

// markPending marks the entries of the creates begun and not committed PendingCreate, as Fold
// describes. It reports whether f changed.
func markPending(f *File, pending map[string]*intent) (changed bool) {
	if len(pending) > 0 && f.Connections == nil {
		f.Connections = map[string]*Entry{}
	}
	for name, p := range pending {
		old := f.Connections[name]
		var e *Entry
		switch {
		case p.entry != nil:
			e = p.entry.Clone()
			e.ID, e.ETag, e.Retired = "", "", nil
			if old != nil {
				e.ID, e.ETag, e.Retired = old.ID, old.ETag, slices.Clone(old.Retired)
			}
		case old != nil:
			e = old.Clone()
		default:
			e = &Entry{}
		}
		at := p.at
		if old != nil && old.Pending == PendingCreate && !old.PendingAt.IsZero() && (at.IsZero() || old.PendingAt.Before(at)) {
			at = old.PendingAt
		}
		e.Pending, e.PendingAt = PendingCreate, at
		normalise(e)
		if old == nil || !sameEntry(old, e) {
			changed = true
		}
		f.Connections[name] = e
	}
	return changed
}

// FoldInto is Fold of this journal, once closed, into f, the lockfile of the run that wrote it
// (every entry it committed is in f already): it marks the creates begun and not committed
// PendingCreate, from memory, without reading the journal back. A journal that held records of
// an earlier run when it was opened is read back and folded whole.
func (j *Journal) FoldInto(f *File) (changed bool, err error) {
	j.mu.Lock()
	closed, leftover := j.closed, j.leftover
	j.mu.Unlock()
	if !closed {
		return false, fmt.Errorf("journal %s: fold before close", j.path)
	}
	if leftover {
		return Fold(f, strings.TrimSuffix(j.path, journalSuffix))
	}
	return markPending(f, j.open), nil
}

func sameEntry(a, b *Entry) bool {
	a, b = a.Clone(), b.Clone()
	normalise(a)
	normalise(b)
	x, errx := json.Marshal(a)
	y, erry := json.Marshal(b)
	return errx == nil && erry == nil && bytes.Equal(x, y)
}

// RemoveJournal removes the journal of the lockfile at lockfilePath, durably. An absent
// journal is not an error.
func RemoveJournal(lockfilePath string) error {
	path := RealPath(lockfilePath) + journalSuffix
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove journal: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}
