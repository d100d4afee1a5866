package reconcile

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// intents writes the journal intents of an apply's creates ahead of them, on its own goroutine,
// in chunks of one fsync each, at most two chunks ahead of the creates being sent. A create
// waits for its chunk only when the writer is behind, so that durability is off the
// critical path; the guarantee is Begin's: no create is sent before its intent is on disk,
// and after a crash every intent without an outcome is looked up under the ownership rule
// (its time is at most two chunks before the create was sent).
type intents struct {
	seq   map[*Change]int // a create's position in the order the writer follows
	size  int             // creates per chunk
	ready []chan struct{} // closed once chunk c is durable (or the writer stopped: err)

	mu       sync.Mutex
	err      error        // why chunks after written are not durable
	written  int          // creates whose intents are durable
	started  atomic.Int64 // highest position a create started at, +1
	progress chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// writeIntents starts the writer for the creates of chs (in this order).
func (a *applier) writeIntents(j Journal, chs []*Change) *intents {
	size := max(2*a.opts.Concurrency, 32)
	in := &intents{seq: make(map[*Change]int, len(chs)), size: size,
		progress: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for i, ch := range chs {
		in.seq[ch] = i
	}
	for range (len(chs) + size - 1) / size {
		in.ready = append(in.ready, make(chan struct{}))
	}
	go func() {
		defer close(in.done)
		for c := range in.ready {
			// At most two chunks ahead of the creates being sent.
			for c >= 2 && int(in.started.Load()) <= (c-2)*size {
				select {
				case <-in.progress:
				case <-in.stop:
				}
				if in.stopped() {
					break
				}
			}
			err := errNotWritten
			if !in.stopped() {
				err = nil
				for _, ch := range chs[c*size : min(len(chs), (c+1)*size)] {
					if err = j.Intend(ch.Name, a.entryFor(ch.Desired, "", "", nil)); err != nil {
						break
					}
				}
				if err == nil {
					err = j.Sync()
				}
			}
			if err != nil {
				in.mu.Lock()
				in.err = err
				in.mu.Unlock()
				for _, r := range in.ready[c:] {
					close(r)
				}
				return
			}
			in.mu.Lock()
			in.written = min(len(chs), (c+1)*size)
			in.mu.Unlock()
			close(in.ready[c])
		}
	}()
	return in
}

var errNotWritten = fmt.Errorf("%w: its journal intent was not written", ErrNotStarted)

func (in *intents) stopped() bool {
	select {
	case <-in.stop:
		return true
	default:
		return false
	}
}

// wait returns once ch's intent is durable. ok is false when ch is not one of the creates.
func (in *intents) wait(ch *Change) (ok bool, err error) {
	i, ok := in.seq[ch]
	if !ok {
		return false, nil
	}
	<-in.ready[i/in.size]
	in.mu.Lock()
	durable, err := i < in.written, in.err
	in.mu.Unlock()
	if durable {
		err = nil
		for {
			s := in.started.Load()
			if int64(i+1) <= s || in.started.CompareAndSwap(s, int64(i+1)) {
				break
			}
		}
		select {
		case in.progress <- struct{}{}:
		default:
		}
	} else if err != nil {
		err = fmt.Errorf("journal: %w", err)
	}
	return true, err
}

// close stops the writer and returns how many intents are durable.
func (in *intents) close() int {
	close(in.stop)
	<-in.done
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.written
}
