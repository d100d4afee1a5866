package flowservice

import (
	"context"
	"math"
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
//   - learned rate: a token bucket (x/time/rate, burst 1), unlimited until the first throttle.
//     A throttle sets it just below the rate the service accepted over the last half second
//     of sending (steady state: 90% of it), or halves it when too little was measured; successes
//     grow it again, fast while it is a guess (doubling each second), slowly once measured (0.5%/s), so a
//     run settles just under a service's rate limit and probes above it rarely: each probe
//     costs a Retry-After pause of the whole run. Never above MaxRPS, a hard cap.
//
// When nothing is throttled, a request costs a mutex section on each side and a clock read.
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

	rate      *rate.Limiter
	maxRPS    float64                                 // hard cap, 0 = none
	rps       float64                                 // current limit, 0 = unlimited
	measured  bool                                    // rps was set from a steady measurement: grow slowly
	grownAt   time.Time                               // last growth step
	sendingAt time.Time                               // start of the current stretch of sending (first success, end of a pause)
	slots     [successSlots + 1]struct{ at, n int64 } // one more than counted: the current slot
	now       func() time.Time
}

const (
	successSlots  = 5                      // the last half second of successes, in slots of
	slotWidth     = 100 * time.Millisecond // this width
	steadySpan    = 300 * time.Millisecond // a measurement over less is a guess
	steadyMin     = 15                     // and so is one of fewer successes
	guessGrowth   = 1.0                    // per second (doubling), while rps is a guess
	steadyGrowth  = 0.005                  // per second, once measured
	steadyMargin  = 0.9                    // of the measured accepted rate
	firstGuessRPS = 10                     // at least, when throttled before enough was measured
)

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
		rate:      rate.NewLimiter(rate.Inf, 1),
		now:       time.Now,
	}
	if maxRPS > 0 {
		l.maxRPS, l.rps = maxRPS, maxRPS
		l.rate.SetLimit(rate.Limit(maxRPS)) // burst 1: a hard cap, evenly spaced
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
	// Wait out any pause, then for the rate; if a pause began meanwhile, wait it out and
	// reserve again, so that requests queued before a decrease go out at the new rate after
	// the pause instead of in a burst.
	for {
		if err := l.waitPause(ctx); err != nil {
			l.release(0, outcomeOther, 0)
			return 0, err
		}
		if err := l.rate.Wait(ctx); err != nil {
			l.release(0, outcomeOther, 0)
			return 0, err
		}
		if l.pausedUntil.Load() == 0 || time.Now().UnixNano() >= l.pausedUntil.Load() {
			return ticket(l.decreases.Load()), nil
		}
	}
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
		now := l.now()
		l.streak = 0
		if l.window < l.ceiling {
			l.window = min(l.ceiling, l.window+1/l.window)
		}
		l.countSuccess(now)
		l.grow(now)
	case outcomeThrottled:
		now := l.now()
		if uint64(t) == l.decreases.Load() {
			l.decreases.Add(1)
			l.window = max(1, l.window/2)
			l.streak++
			l.learn(now)
		}
		pause := retryAfter
		if pause <= 0 {
			pause = l.pauseCap
			if s := max(l.streak, 1) - 1; s < 20 {
				pause = min(l.pauseCap, l.pauseBase<<s)
			}
		}
		until := now.Add(pause)
		if u := until.UnixNano(); u > l.pausedUntil.Load() {
			l.pausedUntil.Store(u) // only written under mu
		}
		if until.After(l.sendingAt) {
			l.sendingAt = until // the measurement starts again after the pause,
		}
		if until.After(l.grownAt) {
			l.grownAt = until // and so does growth: nothing was learnt while paused
		}
	}
	for len(l.waiters) > 0 && l.inflight < int(l.window) {
		l.inflight++
		close(l.waiters[0])
		l.waiters = l.waiters[1:]
	}
}

// countSuccess adds one success to the slot of now. Called under mu.
func (l *limiter) countSuccess(now time.Time) {
	if l.sendingAt.IsZero() {
		l.sendingAt = now
	}
	at := now.UnixNano() / int64(slotWidth)
	s := &l.slots[at%(successSlots+1)]
	if s.at != at {
		s.at, s.n = at, 0
	}
	s.n++
}

// accepted is the rate of successes over the last half second of sending, counted in whole slots
// (the current, partial one left out), the span it covers and how many successes that was.
// Called under mu.
func (l *limiter) accepted(now time.Time) (rps float64, span time.Duration, n int64) {
	if l.sendingAt.IsZero() {
		return 0, 0, 0
	}
	nowSlot := now.UnixNano() / int64(slotWidth)
	from := max(nowSlot-successSlots, l.sendingAt.UnixNano()/int64(slotWidth)+1)
	if from >= nowSlot {
		// Less than one whole slot of sending: count what there is, over its real span.
		span = now.Sub(l.sendingAt)
		from = l.sendingAt.UnixNano() / int64(slotWidth)
		for _, s := range l.slots {
			if s.at >= from && s.at <= nowSlot {
				n += s.n
			}
		}
		if span <= 0 {
			return 0, 0, n
		}
		return float64(n) / span.Seconds(), span, n
	}
	for _, s := range l.slots {
		if s.at >= from && s.at < nowSlot {
			n += s.n
		}
	}
	span = time.Duration(nowSlot-from) * slotWidth
	return float64(n) / span.Seconds(), span, n
}

// learn lowers the rate after a throttle. Called under mu.
func (l *limiter) learn(now time.Time) {
	acc, span, n := l.accepted(now)
	var next float64
	switch {
	case span >= steadySpan && n >= steadyMin:
		// What was accepted includes what the service's bucket had saved up, so it
		// overstates the limit: step down from the lower of it and the rate sent at.
		if l.rps > 0 {
			acc = min(acc, l.rps)
		}
		next, l.measured = steadyMargin*acc, true
	case l.rps > 0:
		next, l.measured = l.rps/2, false
	default:
		// Throttled before enough was measured (the first burst): start from a guess and
		// double each second of sending until the next throttle measures the service.
		next, l.measured = max(firstGuessRPS, l.ceiling, acc/2), false
	}
	if l.rps > 0 {
		next = min(next, l.rps)
	}
	l.setRate(max(next, 0.5), now)
}

// grow raises a learned rate a little for the time since it last grew. Called under mu.
func (l *limiter) grow(now time.Time) {
	if l.rps == 0 || (l.maxRPS > 0 && l.rps >= l.maxRPS) {
		return
	}
	dt := now.Sub(l.grownAt)
	if dt < slotWidth {
		return
	}
	g := guessGrowth
	if l.measured {
		g = steadyGrowth
	}
	next := l.rps * math.Pow(1+g, min(dt, time.Second).Seconds())
	if l.maxRPS > 0 {
		next = min(next, l.maxRPS)
	}
	l.setRate(next, now)
}

func (l *limiter) setRate(rps float64, now time.Time) {
	l.rps, l.grownAt = rps, now
	l.rate.SetLimit(rate.Limit(rps))
}

// state reports the current window and rate (for tests and Stats).
func (l *limiter) state() (window, rps float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.window, l.rps
}
