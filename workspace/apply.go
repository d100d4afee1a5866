package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// DrainTimeout bounds how long in-flight requests may finish after the first interrupt.
const DrainTimeout = 30 * time.Second

// ApplyArgs is one apply of a changeset the user saw and confirmed.
type ApplyArgs struct {
	Changes     *reconcile.Changeset
	Concurrency int // 0: DefaultConcurrency
	// Saved: the changes come from a saved plan (a 412 is stale, not re-diffed); Stale are its
	// changes refused before anything was sent, merged into the summary in plan order.
	Saved bool
	Stale []reconcile.Result
	// OnStart is called once the journal is open, before anything is sent; OnResult as each
	// change finishes, from any goroutine.
	OnStart  func()
	OnResult func(reconcile.Result)
	// Interrupts is where the two-step interrupt says what it does (stderr).
	Interrupts io.Writer
}

// RunStats is what the client saw during an apply.
type RunStats struct {
	Duration                     time.Duration
	Requests, Throttled, Retries int64
	JournalWait                  time.Duration // time changes spent in journal calls, summed over changes
	Save                         time.Duration // closing and folding the journal, saving the lockfile
}

// Applied is what an apply did: every result in plan order, and the client's statistics.
type Applied struct {
	Summary *reconcile.Summary
	Stats   RunStats
}

// Apply sends the changes, records each success in the journal as it happens, and saves the
// lockfile: a partial apply is never lost. Its result is whole even when it also returns an
// error. A summary with stale changes and no other error returns a nil error: the caller
// says what moved. The first SIGINT or SIGTERM starts no new change and ends retry waits;
// the second, or DrainTimeout after the first, aborts the requests in flight.
func (s *Session) Apply(ctx context.Context, a ApplyArgs) (*Applied, error) {
	if a.Changes.Sends() == 0 {
		return s.reportUnsent(ctx, a)
	}
	journal, err := lockfile.OpenJournal(s.LockPath, lockfile.HeaderOf(s.Lock))
	if err != nil {
		return nil, Hint(err, "check that the lockfile's directory is writable")
	}
	if a.OnStart != nil {
		a.OnStart()
	}
	soft, hard, stopSignals := interrupts(ctx, a.Interrupts)
	defer stopSignals()
	// Begin times are compared with the createdAt the service stamps: take them in its clock.
	if n := a.Changes.Counts(); n[reconcile.Create]+n[reconcile.Replace] > 0 {
		if err := s.Client.LearnClock(flowservice.StopWaitsOn(hard, soft)); err != nil {
			s.cfg.Log.Warn("begin times are recorded in the local clock", "error", err)
		}
	}
	journal.UseClock(s.Client.Now)
	if a.Concurrency == 0 {
		a.Concurrency = DefaultConcurrency
	}
	start := time.Now()
	out, sum, applyErr := reconcile.Apply(flowservice.StopWaitsOn(hard, soft), s.Client, a.Changes, s.Lock, reconcile.ApplyOptions{
		Concurrency: a.Concurrency,
		Now:         s.Client.Now,
		APIKey:      s.Client.APIKey(),
		Files:       AdviceFiles(a.Changes.Manifest, a.Changes.Environment, s.LockPath),
		Journal:     journal,
		OnResult:    a.OnResult,
		Stop:        soft.Done(),
		Saved:       a.Saved,
	})
	sum = WithStale(sum, a.Stale)
	elapsed := time.Since(start)
	saveStart := time.Now()
	kept, saveFailed := lockfile.Commit(out, s.LockPath, journal, s.cfg.Saver())
	if kept != nil {
		s.cfg.Log.Warn("the journal is kept beside the lockfile; the next run folds it in again", "error", kept)
	}
	st := s.Client.Stats()
	res := &Applied{Summary: sum, Stats: RunStats{Duration: elapsed, Requests: st.Requests, Throttled: st.Throttled, Retries: st.Retries,
		JournalWait: sum.JournalWait, Save: time.Since(saveStart)}}
	if saveFailed != nil {
		return res, SaveErr(saveFailed)
	}
	var stopped *reconcile.StoppedError
	switch {
	case applyErr == nil:
		return res, nil
	case errors.As(applyErr, &stopped):
		return res, ServiceErr("apply", stopped.Err)
	case soft.Err() != nil:
		return res, &InterruptedError{LockPath: s.LockPath}
	case sum.Stale > 0:
		return res, nil
	}
	return res, applyErr
}

// reportUnsent is Apply of a changeset that sends nothing (its deletes and replaces are
// blocked by dataflows, the rest of a saved plan stale): the results, and no journal, no
// request, no lockfile written.
func (s *Session) reportUnsent(ctx context.Context, a ApplyArgs) (*Applied, error) {
	if a.OnStart != nil {
		a.OnStart()
	}
	_, sum, err := reconcile.Apply(ctx, s.Client, a.Changes, s.Lock, reconcile.ApplyOptions{Saved: a.Saved})
	sum = WithStale(sum, a.Stale)
	st := s.Client.Stats()
	return &Applied{Summary: sum, Stats: RunStats{Requests: st.Requests, Throttled: st.Throttled, Retries: st.Retries}}, err
}

// interrupts returns a soft context, cancelled on the first SIGINT/SIGTERM (start nothing new)
// and a hard one, cancelled on the second or DrainTimeout after the first (abort in-flight
// requests). The journal keeps what is needed to heal either way.
func interrupts(ctx context.Context, say io.Writer) (soft, hard context.Context, stop func()) {
	if say == nil {
		say = io.Discard
	}
	soft, cancelSoft := context.WithCancel(ctx)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var drain <-chan time.Time
		for n := 0; ; {
			select {
			case <-sigs:
				n++
				if n == 1 {
					fmt.Fprintln(say, "flowsync: interrupted: finishing requests in flight, then saving (interrupt again to stop at once)")
					cancelSoft()
					drain = time.After(DrainTimeout)
					continue
				}
				fmt.Fprintln(say, "flowsync: stopping at once; the journal keeps what the next run needs")
				cancelHard()
				return
			case <-drain:
				cancelHard()
				return
			case <-done:
				return
			}
		}
	}()
	return soft, hard, func() {
		signal.Stop(sigs)
		close(done)
		cancelSoft()
		cancelHard()
	}
}

// WithStale merges the changes of a saved plan refused before anything was sent into the
// summary, keeping plan order (both are sorted by name), and counts each entry once: when an
// entry has more than one result, a failure (a name conflict: nothing was created) wins over
// stale, and the first of two alike is kept.
func WithStale(sum *reconcile.Summary, stale []reconcile.Result) *reconcile.Summary {
	if len(stale) == 0 {
		return sum
	}
	if sum == nil {
		sum = &reconcile.Summary{}
	}
	merged := make([]reconcile.Result, 0, len(sum.Results)+len(stale))
	at := make(map[string]int, len(sum.Results)+len(stale))
	for _, r := range sum.Results {
		at[r.Name] = len(merged)
		merged = append(merged, r)
	}
	out := *sum
	for _, r := range stale {
		i, seen := at[r.Name]
		switch {
		case !seen:
			at[r.Name] = len(merged)
			merged = append(merged, r)
			count(&out, r, 1)
		case isStale(merged[i]) && !isStale(r) && r.Err != nil:
			count(&out, merged[i], -1)
			merged[i] = r
			count(&out, r, 1)
		}
	}
	slices.SortStableFunc(merged, func(a, b reconcile.Result) int { return strings.Compare(a.Name, b.Name) })
	out.Results = merged
	return &out
}

func isStale(r reconcile.Result) bool {
	_, ok := errors.AsType[*reconcile.StaleError](r.Err)
	return ok
}

// count adds n times r to the summary's count of its outcome.
func count(sum *reconcile.Summary, r reconcile.Result, n int) {
	_, blocked := errors.AsType[*reconcile.BlockedError](r.Err)
	switch {
	case isStale(r):
		sum.Stale += n
	case errors.Is(r.Err, reconcile.ErrNotStarted):
		sum.NotStarted += n
	case blocked:
		sum.Blocked += n
	case r.Err != nil:
		sum.Failed += n
	}
}

// AdviceFiles names the manifest and lockfile in a suggested command (FileArgs), or is "" when
// the manifest has no path a command could name (stdin).
func AdviceFiles(manifestPath, env, lockPath string) string {
	if manifestPath == "" || manifestPath == "-" {
		return ""
	}
	return FileArgs(manifestPath, env, lockPath)
}
