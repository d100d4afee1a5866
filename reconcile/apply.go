package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
)

// ErrNotStarted is the Result.Err of a change that was never started because the run was
// interrupted or stopped.
var ErrNotStarted = errors.New("not started: the run was stopped before this change")

// PartialError is returned by Apply when some changes failed (or, Blocked of them, were
// blocked by dataflows and not attempted); every success is saved.
type PartialError struct{ Failed, Total, Blocked int }

func (e *PartialError) Error() string {
	if e.Blocked == e.Failed {
		return fmt.Sprintf("%d of %d changes blocked by dataflows", e.Blocked, e.Total)
	}
	return fmt.Sprintf("%d of %d changes failed", e.Failed, e.Total)
}

// StoppedError is returned when the run stopped early because every further call would fail
// the same way (401/403).
type StoppedError struct{ Err error }

func (e *StoppedError) Error() string { return "run stopped: " + e.Err.Error() }
func (e *StoppedError) Unwrap() error { return e.Err }

// Apply carries out the changes of cs concurrently and returns a copy of lock with every
// success recorded, even when it also returns an error. A failed change does not stop the
// others, except refused credentials (ErrAuth), which stop the run (*StoppedError). ctx is the
// requests' context: cancelling it aborts requests in flight. Closing opts.Stop starts nothing
// new (the rest are ErrNotStarted) and returns context.Canceled once in-flight changes finish.
func Apply(ctx context.Context, client Client, cs *Changeset, lock *lockfile.File, opts ApplyOptions) (*lockfile.File, *Summary, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 3
	}
	a := &applier{client: client, out: lock.Clone(), opts: opts, refreshed: cs.Refreshed}

	var todo []*Change
	var blocked []Result
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		switch {
		case ch.Blocked:
			blocked = append(blocked, Result{Name: ch.Name, Action: ch.Action, ID: ch.ID, Err: &BlockedError{UsedBy: ch.UsedBy}})
		case ch.Action.Sends() || ch.Action == Conflict:
			todo = append(todo, ch)
		}
	}
	a.intentsAhead(todo)
	if err := a.recordPromotions(cs); err != nil {
		return a.out, &Summary{}, err
	}
	results := a.runAll(ctx, todo)
	if a.ahead != nil {
		// An intent written for a create that never started is withdrawn, so that the next
		// run does not look it up: what the entry held before is committed again.
		written := a.ahead.close()
		for k, ch := range todo {
			if n, ok := a.ahead.seq[ch]; ok && n < written && results[k].Err == ErrNotStarted {
				if err := a.commit(ch.Name, ch.Prior); err != nil {
					results[k].Err = fmt.Errorf("%w (%w)", ErrNotStarted, err)
				}
			}
		}
	}
	sum := summarize(inPlanOrder(cs, blocked, results), time.Duration(a.journalWait.Load()))
	switch {
	case a.stopErr != nil:
		return a.out, sum, &StoppedError{Err: a.stopErr}
	case a.interrupted():
		return a.out, sum, context.Canceled
	case sum.Failed+sum.Stale+sum.Blocked > 0:
		return a.out, sum, &PartialError{Failed: sum.Failed + sum.Stale + sum.Blocked, Total: len(sum.Results), Blocked: sum.Blocked}
	}
	return a.out, sum, nil
}

// inPlanOrder merges the results of the blocked changes and of those run (each in plan order)
// into the plan's order.
func inPlanOrder(cs *Changeset, blocked, run []Result) []Result {
	if len(blocked) == 0 {
		return run
	}
	out := make([]Result, 0, len(blocked)+len(run))
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		switch {
		case ch.Blocked:
			out, blocked = append(out, blocked[0]), blocked[1:]
		case ch.Action.Sends():
			out, run = append(out, run[0]), run[1:]
		}
	}
	return out
}

// recordPromotions records the promotion digest of every unchanged entry whose lockfile
// entry holds another one (the manifest changed in a way this environment does not see, an
// override covering it, or the lockfile predates promotion): applied here, as the next
// environment in the order must learn. Nothing is sent.
func (a *applier) recordPromotions(cs *Changeset) error {
	for _, ch := range PromotionsToRecord(cs) {
		e := ch.Prior.Clone()
		e.Promotion = ch.Desired.Promotion
		if err := a.commit(ch.Name, e); err != nil {
			return err
		}
	}
	return nil
}

// PromotionsToRecord returns the unchanged entries of cs whose lockfile entry does not hold
// their promotion digest yet: apply records it without sending anything.
func PromotionsToRecord(cs *Changeset) []*Change {
	var out []*Change
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		if ch.Action == NoOp && ch.Desired != nil && ch.Prior != nil && ch.Prior.Pending == "" &&
			ch.Desired.Promotion != "" && ch.Prior.Promotion != ch.Desired.Promotion {
			out = append(out, ch)
		}
	}
	return out
}

// intentsAhead writes the intents of the creates ahead of them, so that no create waits for
// the disk before it is sent (intents.go). Without a journal each create begins on its own.
func (a *applier) intentsAhead(todo []*Change) {
	j := a.opts.Journal
	if j == nil {
		return
	}
	var creates []*Change
	for _, ch := range todo {
		if ch.Action == Create || ch.Action == Replace {
			creates = append(creates, ch)
		}
	}
	if len(creates) > 0 {
		a.ahead = a.writeIntents(j, creates)
	}
}

// runAll carries out the changes, opts.Concurrency at a time, and returns their results in
// order; a change never started (stopped, interrupted) has ErrNotStarted.
func (a *applier) runAll(ctx context.Context, todo []*Change) []Result {
	results := make([]Result, len(todo))
	var g errgroup.Group
	g.SetLimit(a.opts.Concurrency)
	var reportMu sync.Mutex
	for k, ch := range todo {
		results[k] = Result{Name: ch.Name, Action: ch.Action, ID: ch.ID, Err: ErrNotStarted}
		if a.stopping() {
			continue
		}
		g.Go(func() error {
			if a.stopping() {
				return nil
			}
			r := a.runOne(ctx, ch)
			results[k] = r
			if a.opts.OnResult != nil {
				reportMu.Lock()
				a.opts.OnResult(r)
				reportMu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return results
}

// runOne carries out one change and classifies its failure: refused credentials stop the
// run, and a request an interrupt kept from being sent counts as not started.
func (a *applier) runOne(ctx context.Context, ch *Change) Result {
	r := a.run(ctx, ch)
	if ch.Action != Replace && errors.Is(r.Err, ErrNotSent) {
		// The interrupt ended its wait for the throttle or a retry: its request was
		// not sent again, as if the change had not started.
		r.Err = fmt.Errorf("%w (%w)", ErrNotStarted, r.Err)
	}
	if r.Err != nil && isAuth(r.Err) {
		a.stop(r.Err)
	}
	if r.Err != nil && a.interrupted() && errors.Is(r.Err, context.Canceled) && !isUnknownOutcome(r.Err) {
		// Interrupted while waiting to send (the throttle, a retry's backoff): what
		// it committed is saved, and nothing more of it was sent.
		r.Err = fmt.Errorf("%w (%v)", ErrNotStarted, r.Err)
	}
	return r
}

// summarize counts the results.
func summarize(results []Result, journalWait time.Duration) *Summary {
	sum := &Summary{Results: results, JournalWait: journalWait}
	var stale *StaleError
	var blocked *BlockedError
	for _, r := range results {
		switch {
		case errors.Is(r.Err, ErrNotStarted):
			sum.NotStarted++
		case errors.As(r.Err, &blocked):
			sum.Blocked++
		case errors.As(r.Err, &stale):
			sum.Stale++
		case r.Err != nil:
			sum.Failed++
		}
	}
	return sum
}

type applier struct {
	client    Client
	opts      ApplyOptions
	refreshed bool // the plan was made against the live state

	mu  sync.Mutex // guards out.Connections
	out *lockfile.File

	journalWait atomic.Int64 // nanoseconds in journal calls, summed over changes
	ahead       *intents     // the creates' intents, written ahead; nil: each create begins

	stopped  atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

func (a *applier) stop(err error) {
	a.stopOnce.Do(func() {
		a.stopErr = err
		a.stopped.Store(true)
	})
}

// interrupted reports whether opts.Stop is closed: no new change may start.
func (a *applier) interrupted() bool {
	select {
	case <-a.opts.Stop:
		return true
	default:
		return false
	}
}

// stopping reports whether no new change may start: interrupted, or stopped by ErrAuth.
func (a *applier) stopping() bool { return a.interrupted() || a.stopped.Load() }

func (a *applier) run(ctx context.Context, ch *Change) Result {
	r := Result{Name: ch.Name, Action: ch.Action, ID: ch.ID}
	switch ch.Action {
	case Create:
		r.Err = a.create(ctx, ch, &r, nil)
	case Update:
		r.Err = a.update(ctx, ch, &r)
	case Replace:
		r.Err = a.replace(ctx, ch, &r)
	case Delete:
		r.Err = a.delete(ctx, ch, &r)
	case Conflict:
		r.Action = ch.Refused
		r.Err = &ConflictError{Name: ch.Name, Live: ch.Conflicts, RenamedFrom: ch.RenamedFrom}
		r.Unmanaged = map[string]string{}
		for _, o := range ch.Conflicts {
			r.Unmanaged[o.ID] = o.Why
		}
	}
	if ch.RenamedFrom != "" && r.Err == nil {
		// The entry is recorded under its new name (committed first: a crash in between
		// leaves both names with one id, which the next plan resolves as this rename).
		r.Err = a.commit(ch.RenamedFrom, nil)
	}
	return r
}

// commit records e (nil: removes the name) in the journal and in the output lockfile.
func (a *applier) commit(name string, e *lockfile.Entry) error {
	if a.opts.Journal != nil {
		start := time.Now()
		err := a.opts.Journal.Commit(name, e)
		a.journalWait.Add(int64(time.Since(start)))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e == nil {
		delete(a.out.Connections, name)
	} else {
		a.out.Connections[name] = e
	}
	return nil
}

func (a *applier) begin(name, op, id string, intent *lockfile.Entry) error {
	if a.opts.Journal == nil {
		return nil
	}
	start := time.Now()
	err := a.opts.Journal.Begin(name, op, id, intent)
	a.journalWait.Add(int64(time.Since(start)))
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// entryFor is what the lockfile records after d was applied as connection id at etag.
func (a *applier) entryFor(d *Desired, id, etag string, prior *lockfile.Entry) *lockfile.Entry {
	now := a.opts.Now().UTC()
	params := make(map[string]string, len(d.Params))
	for k, p := range d.Params {
		params[k] = p.Value
	}
	e := record(lockfile.Entry{ID: id, ETag: etag, Description: d.Description, SpecName: d.SpecName, ConnectionSpec: d.Spec}, params,
		func(k string) bool { return d.Params[k].Sensitive }, a.out.Salt)
	e.CreatedAt, e.UpdatedAt = now, now
	e.Promotion = d.Promotion
	if prior != nil && prior.ID == id && !prior.CreatedAt.IsZero() {
		e.CreatedAt = prior.CreatedAt
	}
	return e
}

func newConnection(d *Desired) flowapi.NewConnection {
	params := make(map[string]string, len(d.Params))
	for k, p := range d.Params {
		params[k] = p.Value
	}
	return flowapi.NewConnection{
		Name:           d.Name,
		Description:    d.Description,
		Auth:           flowapi.Auth{SpecName: d.SpecName, Params: params},
		ConnectionSpec: d.Spec,
	}
}

// create POSTs ch.Desired, never blindly twice: when an earlier attempt's outcome is unknown
// (ch.Heal, or a POST of this run), the name is looked up first and a connection is adopted
// only under the ownership rule. A create answered 2xx without an id is not sent again in this
// run: it is recorded as pending. retired, when not nil, is recorded in the new entry (a
// replace's old ids).
func (a *applier) create(ctx context.Context, ch *Change, r *Result, retired []string) error {
	d := ch.Desired
	heal := ch.Heal
	var since time.Time // the earliest Begin of a create of d whose outcome is unknown
	if p := ch.Prior; p != nil && p.Pending == lockfile.PendingCreate {
		since = p.PendingAt
	}
	if a.ahead != nil {
		start := time.Now()
		_, err := a.ahead.wait(ch)
		a.journalWait.Add(int64(time.Since(start)))
		if err != nil {
			return err
		}
	}
	const attempts = 5
	for attempt := 0; attempt < attempts; attempt++ {
		if heal {
			r.Healed = true
			adopted, conflicts, err := a.heal(ctx, ch, r, retired, since)
			if err != nil {
				return a.unknown(ctx, ch, since, err)
			}
			if adopted {
				return nil
			}
			if len(conflicts) > 0 {
				// One name, one live connection: a namesake flowsync cannot prove is its own
				// stops the create. What was recorded stays (a pending create stays pending).
				return a.conflict(ctx, ch, attempt > 0, since, &ConflictError{Name: d.Name, Live: conflicts})
			}
		}
		at := a.opts.Now()
		if a.ahead == nil {
			if err := a.begin(d.Name, "create", "", a.entryFor(d, "", "", nil)); err != nil {
				return err
			}
		}
		if since.IsZero() || at.Before(since) {
			since = at
		}
		ref, err := a.client.Create(ctx, newConnection(d))
		if err == nil {
			e := a.entryFor(d, ref.ID, ref.ETag, nil)
			e.Retired = retired
			r.ID = ref.ID
			return a.commit(d.Name, e)
		}
		if errors.Is(err, ErrNoID) {
			// Accepted, but which connection? Never POST it again in this run: look it up
			// once, adopt only under the ownership rule, else leave it pending.
			adopted, _, herr := a.heal(ctx, ch, r, retired, since)
			if herr == nil && adopted {
				return nil
			}
			return a.unknown(ctx, ch, since, errors.Join(&NoIDError{Name: d.Name, Err: err}, herr))
		}
		if !isUnknownOutcome(err) {
			// The service refused: nothing was created. Undo the journal's intent.
			if cerr := a.commit(d.Name, ch.Prior); cerr != nil {
				return errors.Join(err, cerr)
			}
			return err
		}
		heal = true
		r.Healed = true
	}
	return a.unknown(ctx, ch, since, fmt.Errorf("outcome still unknown after %d attempts", attempts))
}

// unknown records that a create of ch may or may not have happened: the entry is marked
// pending with what the create sent and since when (keeping the id, etag and retired ids of
// a connection being replaced), so that the next apply looks the name up before creating.
func (a *applier) unknown(ctx context.Context, ch *Change, since time.Time, cause error) error {
	e := a.entryFor(ch.Desired, "", "", nil)
	if p := ch.Prior; p != nil {
		e.ID, e.ETag, e.Retired = p.ID, p.ETag, slices.Clone(p.Retired)
		if p.Pending == lockfile.PendingCreate && !p.PendingAt.IsZero() && (since.IsZero() || p.PendingAt.Before(since)) {
			since = p.PendingAt
		}
	}
	e.Pending, e.PendingAt = lockfile.PendingCreate, since
	if err := a.commit(ch.Name, e); err != nil {
		return errors.Join(cause, err)
	}
	var noID *NoIDError
	if errors.As(cause, &noID) {
		return cause
	}
	return fmt.Errorf("%w; recorded as pending: the next apply looks the name up before creating", cause)
}

// conflict ends a create refused for a name conflict. sent: this run sent a create of ch
// whose outcome is unknown, so the entry is recorded as pending; otherwise what was recorded
// is committed again (withdrawing a create intent written ahead).
func (a *applier) conflict(ctx context.Context, ch *Change, sent bool, since time.Time, err *ConflictError) error {
	if sent {
		return a.unknown(ctx, ch, since, err)
	}
	if cerr := a.commit(ch.Name, ch.Prior); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// ConflictError is the error of a create refused because live connections of its name and
// connection spec exist that the lockfile records under no entry and the ownership rule does
// not adopt (SPEC "No second connection of a name"). Nothing was created.
type ConflictError struct {
	Name string
	Live []Owner
	// RenamedFrom: the conflict is a rename's (from this former name): nothing was renamed.
	RenamedFrom string
}

func (e *ConflictError) Error() string {
	if e.RenamedFrom != "" {
		return "name conflict: " + OwnersText(e.Live) + " already has the name " + e.RenamedFrom + " is renamed to and is recorded under no entry of the lockfile; nothing was renamed"
	}
	return "name conflict: " + OwnersText(e.Live) + " has this name and is recorded under no entry of the lockfile; nothing was created"
}

// OwnersText says which live connections these are and who created them:
// "live connection ID (created by API key K at TIME)".
func OwnersText(live []Owner) string {
	parts := make([]string, len(live))
	for i, o := range live {
		parts[i] = o.ID + " (" + o.Created() + ")"
	}
	word := "live connection "
	if len(live) != 1 {
		word = "live connections "
	}
	return word + strings.Join(parts, ", ")
}

// Created says who created the connection and when: "created by API key K at TIME".
func (o Owner) Created() string {
	by := "created by an API key the service does not report"
	if o.Client != "" {
		by = "created by API key " + o.Client
	}
	if o.CreatedAt > 0 {
		by += " at " + time.UnixMilli(o.CreatedAt).UTC().Format(time.RFC3339)
	}
	return by
}

// heal looks the name up and adopts the one live connection the ownership rule proves was
// made by a create of ch.Desired begun at since. It reports whether it adopted one; two or
// more candidates are an *AmbiguousError. Connections the rule refuses are listed in
// r.Unmanaged and never touched; when none is adopted they are returned as conflicts.
func (a *applier) heal(ctx context.Context, ch *Change, r *Result, retired []string, since time.Time) (bool, []Owner, error) {
	d := ch.Desired
	ptrs, recorded, res, err := a.lookUp(ctx, d.Name, d.Spec, claimOfDesired(d, since, a.opts.APIKey, a.out.Salt), r)
	if err != nil {
		return false, nil, fmt.Errorf("look up %q after an unknown create outcome: %w", d.Name, err)
	}
	switch len(res.owned) {
	case 0:
		var conflicts []Owner
		for _, c := range ptrs {
			if !recorded[c.ID] {
				o := ownerOf(c)
				o.Why = res.unmanaged[c.ID]
				conflicts = append(conflicts, o)
			}
		}
		sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].ID < conflicts[j].ID })
		return false, conflicts, nil
	case 1:
	default:
		return false, nil, &AmbiguousError{Name: d.Name, IDs: res.owned, Files: a.opts.Files}
	}
	var c *flowapi.Connection
	for _, p := range ptrs {
		if p.ID == res.owned[0] {
			c = p
		}
	}
	r.Healed, r.Adopted, r.ID = true, true, c.ID
	// Adopt: the lost create carried the desired values, secrets included; record them with
	// the live etag, then patch whatever visible field differs.
	e := a.entryFor(d, c.ID, c.ETag, nil)
	e.Retired = retired
	live := stateOfLive(c, e, a.out.Salt)
	fields := diffState(d, live, nil, a.out.Salt)
	if err := a.commit(d.Name, e); err != nil {
		return true, nil, err
	}
	if len(fields) == 0 {
		return true, nil, nil
	}
	_, err = a.patch(ctx, d, e, c.ETag, patchWant{fields: fields}, r)
	return true, nil, err
}

func (a *applier) update(ctx context.Context, ch *Change, r *Result) error {
	e := ch.Prior
	if ch.RenamedFrom != "" && len(ch.Fields) == 0 && !ch.Resend {
		// Renamed on the service already: the entry moves to the new name (with the etag the
		// rename left, as planned against the live state), nothing is sent.
		e = e.Clone()
		if ch.ETag != "" {
			e.ETag = ch.ETag
		}
		if err := a.commit(ch.Name, e); err != nil {
			return err
		}
	}
	fields, etag, resend := ch.Fields, ch.ETag, ch.Resend
	if ch.RenamedFrom != "" && renames(fields) && !a.refreshed && !a.opts.Saved {
		var err error
		if fields, etag, resend, err = a.renameLive(ctx, ch); errors.Is(err, errGone) {
			return a.recreate(ctx, ch, r)
		} else if err != nil {
			return err
		}
	}
	if len(fields) > 0 || resend || etag != ch.ETag {
		ne, err := a.patch(ctx, ch.Desired, e, etag, patchWant{fields: fields, resend: resend}, r)
		if errors.Is(err, errGone) {
			if a.opts.Saved {
				// Re-creating it would send what the saved plan did not hold.
				return &StaleError{Moved: "the connection was deleted outside flowsync since the plan (404 on PATCH)"}
			}
			return a.recreate(ctx, ch, r)
		}
		if err != nil {
			return err
		}
		e = ne
	}
	return a.retire(ctx, ch.Name, e)
}

// errGone is patch's error for a connection deleted outside flowsync.
var errGone = errors.New("deleted outside flowsync")

// recreate creates ch.Desired again after its connection was found deleted outside flowsync
// (an update answered 404). The old id is no longer recorded; connections it replaced are
// still retired.
func (a *applier) recreate(ctx context.Context, ch *Change, r *Result) error {
	r.Recreated = true
	c := *ch
	c.Heal = false
	if p := ch.Prior; p != nil {
		prior := p.Clone()
		prior.ID, prior.ETag = "", ""
		c.Prior = prior
	}
	var retired []string
	if ch.Prior != nil {
		retired = slices.Clone(ch.Prior.Retired)
	}
	if err := a.create(ctx, &c, r, retired); err != nil {
		return fmt.Errorf("deleted outside flowsync; creating it again: %w", err)
	}
	a.mu.Lock()
	e := a.out.Connections[ch.Name]
	a.mu.Unlock()
	return a.retire(ctx, ch.Name, e)
}

// patchWant is what a patch changes: fields, and every param, secrets included, when resend.
type patchWant struct {
	fields []FieldChange
	resend bool
}

// patch sends the minimal JSON Patch for fields (every param, secrets included, when resend)
// with If-Match etag, re-reading and re-diffing on 412 (at most MaxStale times), and records
// the result. A connection that is gone (404) gives errGone.
func (a *applier) patch(ctx context.Context, d *Desired, prior *lockfile.Entry, etag string, want patchWant, r *Result) (*lockfile.Entry, error) {
	id, fields, resend := prior.ID, want.fields, want.resend
	ops, err := patchOps(d, prior, fields, resend)
	if err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		if len(ops) == 0 {
			e := a.entryFor(d, id, etag, prior)
			e.Retired = prior.Retired
			return e, a.commit(d.Name, e)
		}
		if err := a.begin(d.Name, "update", id, nil); err != nil {
			return nil, err
		}
		ref, err := a.client.Patch(ctx, id, etag, ops)
		if err == nil {
			e := a.entryFor(d, id, ref.ETag, prior)
			e.Retired = prior.Retired
			return e, a.commit(d.Name, e)
		}
		if isGone(err) {
			return nil, errGone
		}
		var live *flowapi.Connection
		if isLostAnswer(err) {
			// The 412 may be this PATCH's own doing: an earlier attempt was carried out and
			// its answer lost. The connection shows every visible value sent and nothing
			// else: it is taken as flowsync's own (a secret changed by someone else in that
			// window cannot be seen).
			var rerr error
			if live, rerr = a.reread(ctx, id); rerr != nil {
				return nil, rerr
			}
			if e := a.entryFor(d, id, live.ETag, prior); shows(live, d, e, a.out.Salt) {
				r.AnswerLost = true
				e.Retired = prior.Retired
				return e, a.commit(d.Name, e)
			}
		}
		if a.opts.Saved && isStale(err) {
			return nil, &StaleError{Moved: "the connection was changed outside flowsync since the plan (412 Precondition Failed for If-Match " + etag + ")"}
		}
		if !isStale(err) || round >= a.opts.MaxStale {
			if isStale(err) {
				return nil, fmt.Errorf("still stale after %d re-reads (someone keeps changing it): %w", round, err)
			}
			return nil, err
		}
		// Someone changed the connection: re-read it, re-diff, patch again with the fresh etag.
		r.Retries412++
		if live == nil {
			var rerr error
			if live, rerr = a.reread(ctx, id); rerr != nil {
				return nil, rerr
			}
		}
		fresh, resend, err := freshFields(live, d, prior, fields, a.out.Salt)
		if err != nil {
			return nil, err
		}
		if ops, err = patchOps(d, prior, fresh, resend); err != nil {
			return nil, err
		}
		etag = live.ETag
	}
}

// reread reads connection id again after its PATCH met a 412: errGone when it is gone.
func (a *applier) reread(ctx context.Context, id string) (*flowapi.Connection, error) {
	live, err := a.client.Get(ctx, id)
	if isGone(err) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("re-read after 412: %w", err)
	}
	return live, nil
}

// shows reports whether live shows d as applied and recorded as e: the same connection spec,
// name, description and params, by what can be seen (secrets are not: they are taken as e
// records them).
func shows(live *flowapi.Connection, d *Desired, e *lockfile.Entry, salt string) bool {
	return len(diffState(d, stateOfLive(live, e, salt), nil, salt)) == 0
}

// freshFields re-diffs d against live, a connection whose etag moved since fields were
// planned: the visible fields that still differ, every secret fields meant to send (secrets
// cannot be read back), and whether every secret must be sent again. The move itself says
// something changed, and what it was may not be visible; unless it is the rename fields asked
// for and nothing else is left to change (an earlier run sent this PATCH and died before it
// recorded the answer): then nothing more is sent.
func freshFields(live *flowapi.Connection, d *Desired, prior *lockfile.Entry, fields []FieldChange, salt string) ([]FieldChange, bool, error) {
	st := stateOfLive(live, prior, salt)
	if st.Spec != d.Spec || st.SpecName != d.SpecName {
		return nil, false, fmt.Errorf("its connection spec or specName was changed outside flowsync: run plan --refresh to see the replace")
	}
	fresh := diffState(d, st, nil, salt)
	for _, f := range fields {
		if f.Sensitive && !slices.ContainsFunc(fresh, func(g FieldChange) bool { return g.Path == f.Path }) {
			fresh = append(fresh, f)
		}
	}
	resend := !(len(fresh) == 0 && renames(fields) && names.Same(st.Name, d.Name))
	return fresh, resend, nil
}

// renameLive reads the connection of a rename planned offline before anything is sent: a
// rename an interrupted run already made is then recorded, not sent again, and one the
// connection moved under is re-diffed instead of failing on 412. It returns the fields, etag
// and resend flag to patch with.
func (a *applier) renameLive(ctx context.Context, ch *Change) ([]FieldChange, string, bool, error) {
	live, err := a.client.Get(ctx, ch.Prior.ID)
	if err != nil {
		if isGone(err) {
			return nil, "", false, errGone
		}
		return nil, "", false, fmt.Errorf("read before rename: %w", err)
	}
	if live.ETag == ch.ETag {
		return ch.Fields, ch.ETag, ch.Resend, nil
	}
	fresh, resend, err := freshFields(live, ch.Desired, ch.Prior, ch.Fields, a.out.Salt)
	return fresh, live.ETag, resend, err
}

// renames reports whether fields change the name.
func renames(fields []FieldChange) bool {
	return slices.ContainsFunc(fields, func(f FieldChange) bool { return f.Path == "name" })
}

const sessionToken = s3source.ParamSessionToken

// patchOps is the minimal JSON Patch for fields: /name and /description when they changed;
// the session token alone as /auth/params/s3SessionToken when only it changed (the documented
// rotation); each secret at /auth/params/<param> when only secrets the manifest sets changed;
// otherwise the whole /auth/params, secrets included, since the service replaces every param.
// resend sends the whole /auth/params in any case.
func patchOps(d *Desired, prior *lockfile.Entry, fields []FieldChange, resend bool) ([]flowapi.PatchOp, error) {
	var ops []flowapi.PatchOp
	var params []string
	for _, f := range fields {
		switch {
		case f.Path == "name":
			ops = append(ops, flowapi.PatchOp{Op: "replace", Path: "/name", Value: jsonString(d.Name)})
		case f.Path == "description":
			op := "replace"
			if prior.Description == "" && f.Before == "" {
				op = "add"
			}
			ops = append(ops, flowapi.PatchOp{Op: op, Path: "/description", Value: jsonString(d.Description)})
		case strings.HasPrefix(f.Path, "auth.params."):
			params = append(params, strings.TrimPrefix(f.Path, "auth.params."))
		default:
			return nil, fmt.Errorf("%s cannot be patched", f.Path)
		}
	}
	if resend {
		for k := range d.Params {
			if !slices.Contains(params, k) {
				params = append(params, k)
			}
		}
		sort.Strings(params)
	}
	for _, k := range params {
		if p, ok := d.Params[k]; ok && !p.Known && p.Sensitive {
			return nil, fmt.Errorf("auth.params.%s was not read: secrets are needed to apply", k)
		}
	}
	switch {
	case len(params) == 1 && params[0] == sessionToken && !resend:
		p, want := d.Params[sessionToken]
		_, had := prior.SecretDigests[sessionToken]
		if _, clear := prior.Params[sessionToken]; clear {
			had = true
		}
		switch {
		case !want:
			ops = append(ops, flowapi.PatchOp{Op: "remove", Path: "/auth/params/" + sessionToken})
		case had:
			ops = append(ops, flowapi.PatchOp{Op: "replace", Path: "/auth/params/" + sessionToken, Value: jsonString(p.Value)})
		default:
			ops = append(ops, flowapi.PatchOp{Op: "add", Path: "/auth/params/" + sessionToken, Value: jsonString(p.Value)})
		}
	case len(params) > 0 && !resend && onlySecretsSet(d, params):
		// Only secrets change (rotated credentials, or secrets never sent by flowsync, as after
		// generate or import): each is sent alone at its own path, nothing else is touched.
		slices.Sort(params)
		for _, k := range params {
			_, had := prior.SecretDigests[k]
			if _, clear := prior.Params[k]; clear {
				had = true
			}
			op := "add"
			if had {
				op = "replace"
			}
			ops = append(ops, flowapi.PatchOp{Op: op, Path: "/auth/params/" + k, Value: jsonString(d.Params[k].Value)})
		}
	case len(params) > 0:
		all := make(map[string]string, len(d.Params))
		for k, p := range d.Params {
			all[k] = p.Value
		}
		v, err := json.Marshal(all)
		if err != nil {
			return nil, err
		}
		ops = append(ops, flowapi.PatchOp{Op: "replace", Path: "/auth/params", Value: v})
	}
	return ops, nil
}

// onlySecretsSet reports whether every param in params is a secret the manifest sets.
func onlySecretsSet(d *Desired, params []string) bool {
	for _, k := range params {
		if p, ok := d.Params[k]; !ok || !p.Sensitive {
			return false
		}
	}
	return true
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// replace creates the new connection and records it (with the old id retired) before it
// deletes the old one, so a failure never leaves the name with nothing.
func (a *applier) replace(ctx context.Context, ch *Change, r *Result) error {
	old := ch.Prior
	retired := append([]string(nil), old.Retired...)
	if old.ID != "" && !slices.Contains(retired, old.ID) {
		retired = append(retired, old.ID)
	}
	if err := a.create(ctx, ch, r, retired); err != nil {
		return err
	}
	a.mu.Lock()
	e := a.out.Connections[ch.Name]
	a.mu.Unlock()
	return a.retire(ctx, ch.Name, e)
}

// retire deletes the connections e replaced and records e without them.
func (a *applier) retire(ctx context.Context, name string, e *lockfile.Entry) error {
	if e == nil || len(e.Retired) == 0 {
		return nil
	}
	var left []string
	var errs []error
	for _, id := range e.Retired {
		if err := a.deleteID(ctx, name, id); err != nil {
			left = append(left, id)
			errs = append(errs, fmt.Errorf("delete replaced connection %s: %w", id, err))
		}
	}
	ne := *e
	ne.Retired = left
	if err := a.commit(name, &ne); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteID deletes one connection; a 404 means it is already gone.
func (a *applier) deleteID(ctx context.Context, name, id string) error {
	if err := a.begin(name, "delete", id, nil); err != nil {
		return err
	}
	err := a.client.Delete(ctx, id)
	if err != nil && !isGone(err) {
		return err
	}
	return nil
}

// delete removes a pruned orphan: its connection and any it replaced. A pending create of it
// is resolved by the ownership rule first: as planned against the live state (ch.Resolved),
// or by looking the name up now when the plan was offline. A refusal (a dataflow still uses
// it) keeps it in the lockfile.
func (a *applier) delete(ctx context.Context, ch *Change, r *Result) error {
	e := ch.Prior
	ids := append([]string(nil), e.Retired...)
	if e.ID != "" {
		ids = append([]string{e.ID}, ids...)
	}
	if e.Pending == lockfile.PendingCreate {
		made := ch.Resolved
		if !a.refreshed {
			found, err := a.pendingMade(ctx, ch, r)
			if err != nil {
				return err
			}
			if found != "" {
				made = found
			}
		}
		if made != "" && !slices.Contains(ids, made) {
			ids = append(ids, made)
		}
		if r.ID == "" {
			r.ID = made
		}
	}
	var left []string
	var errs []error
	for _, id := range ids {
		if err := a.deleteID(ctx, ch.Name, id); err != nil {
			left = append(left, id)
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return a.commit(ch.Name, nil)
	}
	if len(left) < len(ids) || e.Pending != "" {
		if err := a.commit(ch.Name, leftOver(e, left)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lookUp is the ownership lookup: the live connections named name of spec, the ids the
// lockfile records, and what the ownership rule cl makes of them. Connections the rule
// refuses go to r.Unmanaged.
func (a *applier) lookUp(ctx context.Context, name string, spec flowapi.Spec, cl *claim, r *Result) ([]*flowapi.Connection, map[string]bool, resolution, error) {
	found, err := a.client.FindByName(ctx, name, spec)
	if err != nil {
		return nil, nil, resolution{}, err
	}
	a.mu.Lock()
	recorded := recordedIDs(a.out.Connections)
	a.mu.Unlock()
	ptrs := make([]*flowapi.Connection, len(found))
	for i := range found {
		ptrs[i] = &found[i]
	}
	res := cl.resolve(ptrs, recorded)
	if len(res.unmanaged) > 0 {
		r.Unmanaged = res.unmanaged
	}
	return ptrs, recorded, res, nil
}

// pendingMade looks up the connection a pending create of ch made, under the ownership rule:
// its id, or "" when none is proven; live connections the rule refuses go to r.Unmanaged.
func (a *applier) pendingMade(ctx context.Context, ch *Change, r *Result) (string, error) {
	e := ch.Prior
	spec := e.ConnectionSpec
	if spec.ID == "" {
		spec = s3source.ConnectionSpec()
	}
	_, _, res, err := a.lookUp(ctx, ch.Name, spec, claimOfEntry(ch.Name, e, a.opts.APIKey, a.out.Salt), r)
	if err != nil {
		return "", fmt.Errorf("look up %q: %w", ch.Name, err)
	}
	switch len(res.owned) {
	case 0:
		return "", nil
	case 1:
		return res.owned[0], nil
	}
	return "", &AmbiguousError{Name: ch.Name, IDs: res.owned, Files: a.opts.Files}
}

// leftOver is the entry of e once the delete of some of its connections failed: the ids in
// left are recorded as known connections, and a pending create is resolved.
func leftOver(e *lockfile.Entry, left []string) *lockfile.Entry {
	ne := *e
	ne.Pending, ne.PendingAt = "", time.Time{}
	ne.ID, ne.ETag, ne.Retired = "", "", nil
	for _, id := range left {
		switch {
		case ne.ID == "" && (id == e.ID || e.ID == ""):
			ne.ID = id
			if id == e.ID {
				ne.ETag = e.ETag
			}
		default:
			ne.Retired = append(ne.Retired, id)
		}
	}
	if ne.ID == "" && len(ne.Retired) > 0 {
		ne.ID, ne.Retired = ne.Retired[0], ne.Retired[1:]
	}
	if ne.ID == "" {
		// Nothing left: cannot happen with errors, but keep the record as it was.
		ne = *e
	}
	return &ne
}
