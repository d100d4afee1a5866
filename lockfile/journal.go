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
	"strconv"
	"sync"
	"time"
)

const journalSuffix = ".journal"

// The journal is a write-ahead log beside the lockfile (PATH+".journal"), so that a killed
// apply loses at most its in-flight requests without rewriting the lockfile per operation.
// Each line is one record:
//
//	{"crc":"1c291ca3","rec":{"seq":1,"type":"begin","name":"acme-eu","op":"create"}}
//	{"crc":"8a0b2d4e","rec":{"seq":2,"type":"commit","name":"acme-eu","entry":{...}}}
//
// crc is the CRC-32C (Castagnoli) of the bytes of rec exactly as written, in 8 hex digits;
// seq starts at 1 and grows by one per record. A final run of lines that fail to parse or
// to match their checksum is a write torn by a crash (never acknowledged, since the fsync
// that would have covered it did not return) and is ignored; an invalid line followed by a
// valid one, or a sequence gap, is a *FormatError. Records hold names, ids and Entries,
// which hold digests, never a secret.
type record struct {
	Seq   uint64 `json:"seq"`
	Type  string `json:"type"` // recBegin or recCommit
	Name  string `json:"name"`
	Op    string `json:"op,omitempty"`    // begin: create, update or delete
	ID    string `json:"id,omitempty"`    // begin: the connection's id (none for a create)
	Entry *Entry `json:"entry,omitempty"` // commit: the entry after the operation; nil: removed
}

const (
	recBegin  = "begin"
	recCommit = "commit"
)

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
// absent (mode 0600). If a journal is left over, its records are kept and numbering continues
// after them; a torn final line is cut off first. A corrupt journal gives a *FormatError and
// is left as it was. Callers normally Fold and RemoveJournal before opening a new one.
func OpenJournal(lockfilePath string) (*Journal, error) {
	path := lockfilePath + journalSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	recs, valid, err := parseJournal(data)
	if err != nil {
		f.Close()
		return nil, &FormatError{Path: path, Err: err}
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
	} else if len(data) == 0 {
		if err := syncDir(filepath.Dir(path)); err != nil { // the journal's creation
			f.Close()
			return nil, fmt.Errorf("open journal: %w", err)
		}
	}
	j := &Journal{path: path, f: f}
	if n := len(recs); n > 0 {
		j.seq = recs[n-1].Seq
	}
	return j, nil
}

// Begin records, durably before it returns, that op ("create", "update" or "delete") is about
// to be sent for the entry name (id: the connection's, empty for a create).
func (j *Journal) Begin(name, op, id string) error {
	switch op {
	case "create", "update", "delete":
	default:
		return fmt.Errorf("journal begin %s: unknown op %q", name, op)
	}
	if name == "" {
		return errors.New("journal begin: empty name")
	}
	return j.append(&record{Type: recBegin, Name: name, Op: op, ID: id}, true)
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
		if err := checkEntry(name, &c); err != nil {
			return fmt.Errorf("journal commit: %w", err)
		}
		e = &c
	}
	return j.append(&record{Type: recCommit, Name: name, Entry: e}, false)
}

// append adds r to the current batch; with wait, it returns once the batch is durable.
func (j *Journal) append(r *record, wait bool) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("journal %s: closed", j.path)
	}
	if j.err != nil {
		err := j.err
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
	b := j.cur
	if b == nil {
		b = newBatch()
		j.cur = b
	}
	if !wait {
		j.mu.Unlock()
		return nil
	}
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
		j.flushing = false // records without waiters stay for the next Begin or Close
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
		recs = append(recs, *r)
		off = next
		valid = next
	}
	return recs, valid, nil
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
			return fmt.Errorf("begin %s: has an entry", r.Name)
		}
	case recCommit:
		if r.Op != "" || r.ID != "" {
			return fmt.Errorf("commit %s: has an op or id", r.Name)
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
// PendingCreate (creating it, or keeping the ID and Retired of the entry being replaced), so
// the next apply looks the connection up by name before creating it again. A begun update or
// delete without outcome changes nothing: the next apply tolerates a stale etag (412) or a
// missing connection (404). changed reports whether f changed. A corrupt journal gives a
// *FormatError and leaves f and the journal as they were. The caller then Saves f and calls
// RemoveJournal.
func Fold(f *File, lockfilePath string) (changed bool, err error) {
	path := lockfilePath + journalSuffix
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read journal: %w", err)
	}
	return fold(f, path, data)
}

// fold is Fold once the journal at path is read.
func fold(f *File, path string, data []byte) (changed bool, err error) {
	recs, _, err := parseJournal(data)
	if err != nil {
		return false, &FormatError{Path: path, Err: err}
	}
	if f.Connections == nil && len(recs) > 0 {
		f.Connections = map[string]*Entry{}
	}
	pending := map[string]bool{} // creates begun and not committed
	for _, r := range recs {
		switch r.Type {
		case recBegin:
			if r.Op == "create" {
				pending[r.Name] = true
			}
		case recCommit:
			delete(pending, r.Name)
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
	}
	for name := range pending {
		e := f.Connections[name]
		switch {
		case e == nil:
			f.Connections[name] = &Entry{Pending: PendingCreate}
			changed = true
		case e.Pending != PendingCreate:
			e.Pending = PendingCreate
			changed = true
		}
	}
	return changed, nil
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
	path := lockfilePath + journalSuffix
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove journal: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}
