package flowservice

import (
	"math/rand/v2"
	"time"
)

// retryPolicy says how often and how long to wait. Budgets:
//   - per call: maxAttempts attempts in all (8: about 25s of backoff at most, more when the
//     service asks for it with Retry-After);
//   - per run (per Client): retries may not exceed runBase + runPerCall × calls so far
//     (1000 + 2 per call). A healthy run never comes near it; when the service is down, every
//     call fails after its first attempts instead of the run hammering it 8 times per entry.
type retryPolicy struct {
	maxAttempts int
	base, cap   time.Duration // backoff: full jitter in [0, min(cap, base·2^(attempt-1))]
	runBase     int64
	runPerCall  float64
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{
		maxAttempts: 8,
		base:        200 * time.Millisecond,
		cap:         20 * time.Second,
		runBase:     1000,
		runPerCall:  2,
	}
}

// delay is the wait before the retry that follows attempt (1-based): exponential backoff
// with full jitter, and never less than the service's Retry-After.
func (p retryPolicy) delay(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := p.cap
	if attempt-1 < 32 {
		if d := p.base << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	var d time.Duration
	if ceiling > 0 {
		d = rand.N(ceiling + 1)
	}
	return max(d, retryAfter)
}
