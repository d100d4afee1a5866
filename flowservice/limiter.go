package flowservice

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limiter is the one throttle every request of a Client goes through. It keeps the run polite
// as a whole, not request by request, with two independent parts:
//
//   - window: at most size requests in flight (AIMD slots), size in [1, Concurrency];
//     halved on a throttled answer once per congestion event (only a request sent after the
//     last decrease can cause another, told by its ticket), grown by one per window of
//     successes;
//   - pacer: when requests may start. A 429 or 503 pauses every caller until its
//     Retry-After has passed (or, without one, for pauseBase·2^(streak-1), at most
//     pauseCap); between pauses, a learned rate (token bucket, burst 1) spaces requests out.
//     The rate is unlimited until the first throttle, which sets it just below what the
//     service accepted over the last half second of sending, or to a guess that doubles each
//     second when too little was measured. A measured rate then grows slowly (0.5 %/s), so
//     that a run settles just under a service's limit and probes above it rarely: every probe
//     costs a Retry-After pause of the whole run. Never above MaxRPS, a hard cap.
//
// Both read time from one clock, which tests replace. When nothing is throttled, a request
// costs a mutex section of the window on each side, one of the pacer and a clock read.
type limiter struct {
	win  *window
	pace *pacer
}

// clock is the limiter's one source of time.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

var wallClock = clock{now: time.Now, sleep: sleep}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeThrottled
	outcomeOther // neither: no signal about load
)

// ticket identifies the congestion period a request was sent in.
type ticket uint64

func newLimiter(concurrency int, maxRPS float64) *limiter {
	return newLimiterWithClock(concurrency, maxRPS, wallClock)
}

func newLimiterWithClock(concurrency int, maxRPS float64, c clock) *limiter {
	return &limiter{win: newWindow(concurrency), pace: newPacer(maxRPS, float64(concurrency), c)}
}

// acquire waits for a slot in the window, then for the pacer. The caller must release the
// slot with the ticket, unless acquire fails.
func (l *limiter) acquire(ctx context.Context) (ticket, error) {
	if err := l.win.acquire(ctx); err != nil {
		return 0, err
	}
	if err := l.pace.wait(ctx); err != nil {
		l.win.release(0, outcomeOther)
		return 0, err
	}
	return l.win.ticket(), nil
}

// release gives back the slot of a request holding ticket t and learns from its outcome.
func (l *limiter) release(t ticket, o outcome, retryAfter time.Duration) {
	event := l.win.release(t, o)
	switch o {
	case outcomeOK:
		l.pace.success()
	case outcomeThrottled:
		l.pace.throttled(event, retryAfter)
	}
}

// state reports the current window and rate (for tests and Stats).
func (l *limiter) state() (window, rps float64) {
	return l.win.current(), l.pace.current()
}

// window is the AIMD limit on requests in flight.
type window struct {
	mu       sync.Mutex
	ceiling  float64
	size     float64
	inflight int
	waiters  []chan struct{} // FIFO; closing one hands its waiter a slot
	events   atomic.Uint64   // congestion events so far: a request's ticket; written under mu
}

func newWindow(concurrency int) *window {
	return &window{ceiling: float64(concurrency), size: float64(concurrency)}
}

func (w *window) acquire(ctx context.Context) error {
	w.mu.Lock()
	if len(w.waiters) == 0 && w.inflight < int(w.size) {
		w.inflight++
		w.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	w.waiters = append(w.waiters, ready)
	w.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		for i, c := range w.waiters {
			if c == ready {
				w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
				w.mu.Unlock()
				return ctx.Err()
			}
		}
		w.mu.Unlock()
		w.release(0, outcomeOther) // a slot was handed over meanwhile: pass it on
		return ctx.Err()
	}
}

func (w *window) ticket() ticket { return ticket(w.events.Load()) }

// release gives back a slot and resizes the window for o. It reports whether o was the first
// throttle of a new congestion event.
func (w *window) release(t ticket, o outcome) (event bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight--
	switch o {
	case outcomeOK:
		if w.size < w.ceiling {
			w.size = min(w.ceiling, w.size+1/w.size)
		}
	case outcomeThrottled:
		if uint64(t) == w.events.Load() {
			w.events.Add(1)
			w.size = max(1, w.size/2)
			event = true
		}
	}
	for len(w.waiters) > 0 && w.inflight < int(w.size) {
		w.inflight++
		close(w.waiters[0])
		w.waiters = w.waiters[1:]
	}
	return event
}

func (w *window) current() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// pacer decides when a request may start: pauses asked by the service, and a learned rate.
type pacer struct {
	clock       clock
	pausedUntil atomic.Int64 // unix nanoseconds of the clock; 0 when no pause was asked since the last one ended
	bucket      *rate.Limiter

	mu        sync.Mutex
	streak    int // congestion events since the last success
	pauseBase time.Duration
	pauseCap  time.Duration
	floor     float64                                 // the first guess is at least this (the window's ceiling)
	maxRPS    float64                                 // hard cap, 0 = none
	rps       float64                                 // current rate, 0 = unlimited
	measured  bool                                    // rps was set from a steady measurement: probe slowly
	grownAt   time.Time                               // last growth step
	sendingAt time.Time                               // start of the current stretch of sending (first success, end of a pause)
	slots     [successSlots + 1]struct{ at, n int64 } // one more than counted: the current slot
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

func newPacer(maxRPS, floor float64, c clock) *pacer {
	p := &pacer{
		clock:     c,
		bucket:    rate.NewLimiter(rate.Inf, 1),
		pauseBase: 250 * time.Millisecond,
		pauseCap:  30 * time.Second,
		floor:     floor,
	}
	if maxRPS > 0 {
		p.maxRPS, p.rps = maxRPS, maxRPS
		p.bucket.SetLimitAt(c.now(), rate.Limit(maxRPS)) // burst 1: a hard cap, evenly spaced
	}
	return p
}

// wait returns when a request may start: after any pause, at the rate. If a pause began while
// it waited for the rate, it waits that out and reserves again, so that requests queued before
// a decrease go out at the new rate after the pause instead of in a burst.
func (p *pacer) wait(ctx context.Context) error {
	for {
		now := p.clock.now()
		if until := p.pausedUntil.Load(); until != 0 {
			if d := time.Duration(until - now.UnixNano()); d > 0 {
				if err := p.clock.sleep(ctx, d); err != nil {
					return err
				}
				continue
			}
			p.pausedUntil.CompareAndSwap(until, 0)
		}
		r := p.bucket.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			if err := p.clock.sleep(ctx, d); err != nil {
				r.CancelAt(p.clock.now())
				return err
			}
		}
		if until := p.pausedUntil.Load(); until == 0 || p.clock.now().UnixNano() >= until {
			return nil
		}
	}
}

// success learns from a request the service accepted.
func (p *pacer) success() {
	now := p.clock.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streak = 0
	p.countSuccess(now)
	p.grow(now)
}

// throttled pauses every caller for retryAfter (or a backoff without one); the first throttle
// of a congestion event (event) also lowers the rate.
func (p *pacer) throttled(event bool, retryAfter time.Duration) {
	now := p.clock.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if event {
		p.streak++
		p.learn(now)
	}
	pause := retryAfter
	if pause <= 0 {
		pause = p.pauseCap
		if s := max(p.streak, 1) - 1; s < 20 {
			pause = min(p.pauseCap, p.pauseBase<<s)
		}
	}
	until := now.Add(pause)
	if u := until.UnixNano(); u > p.pausedUntil.Load() {
		p.pausedUntil.Store(u) // only written under mu
	}
	// Nothing is learnt while paused: the measurement and growth start again after it.
	for _, t := range []*time.Time{&p.sendingAt, &p.grownAt} {
		if until.After(*t) {
			*t = until
		}
	}
}

// countSuccess adds one success to the slot of now. Called under mu.
func (p *pacer) countSuccess(now time.Time) {
	if p.sendingAt.IsZero() {
		p.sendingAt = now
	}
	at := now.UnixNano() / int64(slotWidth)
	s := &p.slots[at%(successSlots+1)]
	if s.at != at {
		s.at, s.n = at, 0
	}
	s.n++
}

// accepted is the rate of successes over the last half second of sending, counted in whole
// slots (the current, partial one left out), the span it covers and how many successes that
// was. Called under mu.
func (p *pacer) accepted(now time.Time) (rps float64, span time.Duration, n int64) {
	if p.sendingAt.IsZero() {
		return 0, 0, 0
	}
	nowSlot := now.UnixNano() / int64(slotWidth)
	from := max(nowSlot-successSlots, p.sendingAt.UnixNano()/int64(slotWidth)+1)
	if from >= nowSlot {
		// Less than one whole slot of sending: count what there is, over its real span.
		span = now.Sub(p.sendingAt)
		from = p.sendingAt.UnixNano() / int64(slotWidth)
		for _, s := range p.slots {
			if s.at >= from && s.at <= nowSlot {
				n += s.n
			}
		}
		if span <= 0 {
			return 0, 0, n
		}
		return float64(n) / span.Seconds(), span, n
	}
	for _, s := range p.slots {
		if s.at >= from && s.at < nowSlot {
			n += s.n
		}
	}
	span = time.Duration(nowSlot-from) * slotWidth
	return float64(n) / span.Seconds(), span, n
}

// learn lowers the rate after a throttle. Called under mu.
func (p *pacer) learn(now time.Time) {
	acc, span, n := p.accepted(now)
	var next float64
	switch {
	case span >= steadySpan && n >= steadyMin:
		// What was accepted includes what the service's bucket had saved up, so it
		// overstates the limit: step down from the lower of it and the rate sent at.
		if p.rps > 0 {
			acc = min(acc, p.rps)
		}
		next, p.measured = steadyMargin*acc, true
	case p.rps > 0:
		next, p.measured = p.rps/2, false
	default:
		// Throttled before enough was measured (the first burst): start from a guess and
		// double each second of sending until the next throttle measures the service.
		next, p.measured = max(firstGuessRPS, p.floor, acc/2), false
	}
	if p.rps > 0 {
		next = min(next, p.rps)
	}
	p.setRate(max(next, 0.5), now)
}

// grow raises a learned rate for the time since it last grew. Called under mu.
func (p *pacer) grow(now time.Time) {
	if p.rps == 0 || (p.maxRPS > 0 && p.rps >= p.maxRPS) {
		return
	}
	dt := now.Sub(p.grownAt)
	if dt < slotWidth {
		return
	}
	g := guessGrowth
	if p.measured {
		g = steadyGrowth
	}
	next := p.rps * math.Pow(1+g, min(dt, time.Second).Seconds())
	if p.maxRPS > 0 {
		next = min(next, p.maxRPS)
	}
	p.setRate(next, now)
}

func (p *pacer) setRate(rps float64, now time.Time) {
	p.rps, p.grownAt = rps, now
	p.bucket.SetLimitAt(now, rate.Limit(rps))
}

func (p *pacer) current() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rps
}
