package flowservice

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limiter is the one throttle every request of a Client goes through. It keeps the run
// polite as a whole, not request by request:
//
//   - pause: a 429 or 503 stops every caller until its Retry-After has passed (or, without
//     one, for an exponential pause: pauseBase·2^(streak-1), at most pauseCap);
//   - AIMD window: at most window requests in flight, window in [1, Concurrency]; halved on
//     a throttled answer (once per congestion event: only a request sent after the last
//     decrease can cause another, told by its ticket), grown by 1/window per success (one
//     per window of successes), never above Concurrency;
//   - MaxRPS: a token bucket (x/time/rate) whose rate is halved and regrown the same way,
//     never above MaxRPS.
//
// When nothing is throttled, a request costs one short mutex section on each side and an
// atomic load; no clock reading (slow on some VMs).
type limiter struct {
	mu       sync.Mutex
	ceiling  float64
	window   float64
	inflight int
	waiters  []chan struct{} // FIFO; closing one hands its waiter a slot

	pausedUntil atomic.Int64  // unix nanoseconds; 0 when no pause was asked since the last one ended
	decreases   atomic.Uint64 // congestion events so far: a request's ticket; written under mu
	streak      int           // congestion events since the last success
	pauseBase   time.Duration
	pauseCap    time.Duration

	rate   *rate.Limiter // nil without MaxRPS
	maxRPS float64
	rps    float64
}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeThrottled
	outcomeOther // neither: no signal about load
)

func newLimiter(concurrency int, maxRPS float64) *limiter {
	l := &limiter{
		ceiling:   float64(concurrency),
		window:    float64(concurrency),
		pauseBase: 250 * time.Millisecond,
		pauseCap:  30 * time.Second,
	}
	if maxRPS > 0 {
		l.maxRPS, l.rps = maxRPS, maxRPS
		l.rate = rate.NewLimiter(rate.Limit(maxRPS), 1) // burst 1: a hard cap, evenly spaced
	}
	return l
}

// ticket identifies the congestion period a request was sent in.
type ticket uint64

// acquire waits for a slot in the window, then for the end of any pause, then for the rate.
// The caller must release the slot with the ticket, unless acquire fails.
func (l *limiter) acquire(ctx context.Context) (ticket, error) {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inflight < int(l.window) {
		l.inflight++
		l.mu.Unlock()
	} else {
		ready := make(chan struct{})
		l.waiters = append(l.waiters, ready)
		l.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			l.mu.Lock()
			for i, w := range l.waiters {
				if w == ready {
					l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
					l.mu.Unlock()
					return 0, ctx.Err()
				}
			}
			l.mu.Unlock()
			l.release(0, outcomeOther, 0) // a slot was handed over meanwhile: pass it on
			return 0, ctx.Err()
		}
	}
	if err := l.waitPause(ctx); err != nil {
		l.release(0, outcomeOther, 0)
		return 0, err
	}
	if l.rate != nil {
		if err := l.rate.Wait(ctx); err != nil {
			l.release(0, outcomeOther, 0)
			return 0, err
		}
	}
	return ticket(l.decreases.Load()), nil
}

func (l *limiter) waitPause(ctx context.Context) error {
	for {
		until := l.pausedUntil.Load()
		if until == 0 {
			return nil
		}
		d := time.Until(time.Unix(0, until))
		if d <= 0 {
			l.pausedUntil.CompareAndSwap(until, 0)
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// release gives back the slot of a request holding ticket t and learns from its outcome.
func (l *limiter) release(t ticket, o outcome, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	switch o {
	case outcomeOK:
		l.streak = 0
		if l.window < l.ceiling {
			l.window = min(l.ceiling, l.window+1/l.window)
		}
		if l.rate != nil && l.rps < l.maxRPS {
			l.rps = min(l.maxRPS, l.rps+l.maxRPS/200)
			l.rate.SetLimit(rate.Limit(l.rps))
		}
	case outcomeThrottled:
		if uint64(t) == l.decreases.Load() {
			l.decreases.Add(1)
			l.window = max(1, l.window/2)
			l.streak++
			if l.rate != nil {
				l.rps = max(min(1, l.maxRPS), l.rps/2)
				l.rate.SetLimit(rate.Limit(l.rps))
			}
		}
		pause := retryAfter
		if pause <= 0 {
			pause = l.pauseCap
			if s := max(l.streak, 1) - 1; s < 20 {
				pause = min(l.pauseCap, l.pauseBase<<s)
			}
		}
		if until := time.Now().Add(pause).UnixNano(); until > l.pausedUntil.Load() {
			l.pausedUntil.Store(until) // only written under mu
		}
	}
	for len(l.waiters) > 0 && l.inflight < int(l.window) {
		l.inflight++
		close(l.waiters[0])
		l.waiters = l.waiters[1:]
	}
}

// state reports the current window and rate (for tests and Stats).
func (l *limiter) state() (window, rps float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.window, l.rps
}
