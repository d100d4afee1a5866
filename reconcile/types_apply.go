package reconcile

import (
	"time"

	"github.com/flowsync/flowsync/flowapi"
)

// Observed is the live state read with --refresh: every connection of the S3 spec.
// A nil *Observed means the plan is offline.
type Observed struct {
	Connections []flowapi.Connection
}

// Options tune Plan.
type Options struct {
	Prune     bool     // plan deletes for orphans
	Only      []string // path.Match globs on names; empty means every name
	NoSecrets bool     // secret references were not read; secret changes are not shown
	// APIKey is the x-api-key in use, for the ownership rule's createdClient test ("": the
	// test is skipped). Used only with observed state.
	APIKey string
	// Impact is what uses the connections the plan deletes or replaces (LookupImpact of a
	// first plan's AtRisk); a delete or replace of one in use is blocked. Zero: not checked.
	Impact Impact
	// Gates are, by name, what promotion holds an entry's create, update or replace to: nil
	// without a promotion order (or with --skip-promotion); an entry without a gate is
	// never held.
	Gates map[string]Gate
}

// Gate is what one entry's change waits for under promotion: Env is the environment before
// this one that has the entry, Applied the promotion digest its lockfile records for it ("":
// none). A change is held unless Applied is the entry's digest, or this environment's
// lockfile records that digest already (the change is then this environment's own: an
// override, its defaults, a rotated secret, drift).
type Gate struct {
	Env     string
	Applied string
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Concurrency int              // parallel operations, default 8
	Journal     Journal          // nil: no journal
	Now         func() time.Time // clock for lockfile timestamps; default time.Now
	OnResult    func(Result)     // called as each change finishes (any goroutine, serialized)
	MaxStale    int              // 412 re-read rounds per entry, default 3
	// APIKey is the x-api-key in use: a connection created by another key is never adopted.
	APIKey string
	// Stop, when closed, starts no new change and lets in-flight ones finish (the first
	// Ctrl-C); nil never closes.
	Stop <-chan struct{}
	// Files names the manifest and lockfile in the commands an error suggests: "-f m.yaml",
	// with "--lockfile PATH" when the lockfile is not the manifest's default, quoted for a shell.
	Files string
	// Saved: the changes come from a saved plan (apply --plan). A 412 is not re-read and
	// re-diffed: the change fails with a *StaleError.
	Saved bool
}

// Result is the outcome of one change.
type Result struct {
	Name      string
	Action    Action
	ID        string // the connection id after the change (the old one for a delete)
	Err       error
	Healed    bool // a create whose earlier outcome was unknown looked its name up first
	Adopted   bool // ... and recorded it instead of creating again
	Recreated bool // the connection had been deleted outside flowsync: it was created again
	// Unmanaged lists live connections with this name that the ownership rule refused (id →
	// why), when the name was looked up; they were not touched.
	Unmanaged  map[string]string
	Retries412 int // stale-etag rounds resolved
	// AnswerLost: an update's answer was lost and its retry met a 412; the re-read showed
	// every visible value it sent and nothing else, so the change was recorded as applied.
	AnswerLost bool
}

// Summary is what Apply did, in plan order.
type Summary struct {
	Results    []Result
	Failed     int // changes that were tried and failed (stale ones not included)
	Stale      int // changes of a saved plan refused because what they were planned against moved (Err is a *StaleError)
	NotStarted int // changes never started: the run was interrupted or stopped (Err is ErrNotStarted)
	Blocked    int // deletes and replaces not attempted: dataflows use the connection (Err is a *BlockedError)

	// JournalWait is the time changes spent in journal calls (waiting for a Begin to be
	// durable before sending, recording a Commit), summed over all changes: the cost of
	// durability on the critical path is about JournalWait / Concurrency.
	JournalWait time.Duration
}
