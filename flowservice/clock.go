package flowservice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/flowsync/flowsync/s3source"
)

// serviceClock is the service's clock as far as its answers show it: every answer's Date
// header (RFC 9110: when the answer was made, to the second) gives the offset of the
// service's clock from the local one. The ownership rule compares a connection's createdAt,
// stamped by the service, with the time a create was begun: both must come from one clock,
// or a client clock an hour off would make flowsync refuse its own connection (ahead) or
// widen what it adopts (behind).
type serviceClock struct {
	local  func() time.Time // the machine's clock (Config.Now)
	offset atomic.Int64     // service minus local, in nanoseconds
	known  atomic.Bool      // an answer with a valid Date header was seen
}

// observe learns the offset from an answer received at the local time got. An answer
// without a valid Date header teaches nothing. The header is truncated to the second, so the
// service's time was somewhere in [Date, Date+1s): the middle is taken.
func (c *serviceClock) observe(h http.Header, got time.Time) {
	v := h.Get("Date")
	if v == "" {
		return
	}
	t, err := http.ParseTime(v)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return
	}
	c.offset.Store(int64(t.Add(500 * time.Millisecond).Sub(got)))
	c.known.Store(true)
}

// now is the service's time: the local clock corrected by the offset last learned (none yet:
// the local clock).
func (c *serviceClock) now() time.Time {
	return c.local().Add(time.Duration(c.offset.Load()))
}

// Now is the time in the service's clock, as learned from the Date header of its answers
// (the local clock, Config.Now, until the first answer). Times compared with what the service
// stamps (a connection's createdAt) are taken from it.
func (c *Client) Now() time.Time { return c.clock.now() }

// ClockKnown reports whether an answer of the service has shown its clock yet.
func (c *Client) ClockKnown() bool { return c.clock.known.Load() }

// ClockOffset is how far the service's clock is ahead of the local one (negative: behind),
// as last learned; 0 until ClockKnown.
func (c *Client) ClockOffset() time.Duration { return time.Duration(c.clock.offset.Load()) }

// LearnClock makes one light request (GET of the S3 connection spec) when no answer has
// shown the service's clock yet, so that the time recorded before a first create is in the
// service's clock. Any answer teaches it, an error answer too: the error is returned only
// when the clock is still unknown.
func (c *Client) LearnClock(ctx context.Context) error {
	if c.ClockKnown() {
		return nil
	}
	_, err := c.GetConnectionSpec(ctx, s3source.SpecID)
	if c.ClockKnown() {
		return nil
	}
	if err == nil {
		err = errors.New("the service's answer has no Date header")
	}
	return fmt.Errorf("learn the service's clock: %w", err)
}
