package planfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// Input is what apply --plan holds a plan file against: the same manifest, the lockfile the
// plan names as it is now, and the live state read now.
type Input struct {
	// Desired is every entry of the manifest (secrets read for the planned ones at least).
	Desired []reconcile.Desired
	// Lock is the lockfile now (for a lockfile that does not exist yet, a new one keyed by the
	// plan's salt); LockExists says whether it exists on disk.
	Lock       *lockfile.File
	LockExists bool
	// Observed is the live state (nil: not read; names are then not checked).
	Observed *reconcile.Observed
	// APIKey is the x-api-key in use, for the ownership rule.
	APIKey string
}

// NotPlannedError is a plan file whose change no plan of its manifest and lockfile holds,
// though the lockfile is the one planned against: the file is not a plan flowsync made (it
// was edited). Nothing may be sent.
type NotPlannedError struct {
	Name string
	Why  string
}

func (e *NotPlannedError) Error() string {
	return fmt.Sprintf("change %q is not one flowsync planned (the lockfile is the one the plan was made against, yet %s): the file was edited", e.Name, e.Why)
}

// Check holds each change of f against a fresh plan: reconcile.Plan of the same manifest, the
// lockfile now and the live state now, with f's options. A planned change is sent only when
// the fresh plan holds the same change (action, id, etag, lookup, secrets and every request,
// byte for byte as recorded): what comes back in the Changeset are the fresh plan's changes,
// so every decision of the ownership rule is re-derived, never read from the file. Any other
// planned change is refused: a name conflict as a *reconcile.ConflictError, else stale (a
// *reconcile.StaleError saying what differs). Check can narrow what is sent, never widen it.
//
// When the lockfile is the one planned (same serial), what f says about it must hold exactly
// (see claimCheck): a change that differs where only the file can have moved (not the live
// state, not a secret's value) means f is no plan flowsync made: Check returns a
// *NotPlannedError, and nothing may be sent.
//
// Check is pure: no I/O, no clock.
func Check(f *File, in Input) (*reconcile.Changeset, []reconcile.Result, error) {
	opts := reconcile.Options{Prune: f.Options.Prune, Only: f.Options.Only, APIKey: in.APIKey}
	fresh := reconcile.Plan(in.Desired, in.Lock, in.Observed, opts)
	repro := fresh
	if !f.Options.Refresh && in.Observed != nil {
		repro = reconcile.Plan(in.Desired, in.Lock, nil, opts)
	}
	freshBy, reproBy := byName(fresh), byName(repro)
	sameLock := in.LockExists == f.Lockfile.Exists && in.Lock.Serial == f.Lockfile.Serial
	dg := newDigester(f.Lockfile.Salt)
	var claims *claimCheck // made at the first change that differs: the common case needs none

	cs := &reconcile.Changeset{Refreshed: fresh.Refreshed}
	var refused []reconcile.Result
	for i := range f.Changes {
		pc := &f.Changes[i]
		fc := freshBy[pc.Name]
		if pc.Blocked {
			// Blocked when planned: never attempted, whatever a plan made now says.
			cs.Changes = append(cs.Changes, blockedChange(pc, fc, in.Lock))
			continue
		}
		why := differs(pc, fc, dg)
		if why == "" {
			cs.Changes = append(cs.Changes, *fc)
			continue
		}
		if sameLock {
			if claims == nil {
				claims = newClaimCheck(in, opts, repro, fresh)
			}
			if nwhy := claims.notPlanned(f, pc, fc, reproBy[pc.Name], dg); nwhy != "" {
				return nil, nil, &NotPlannedError{Name: pc.Name, Why: nwhy}
			}
		}
		refused = append(refused, refuse(pc, fc, in.Lock, why, dg))
	}
	return cs, refused, nil
}

// blockedChange is the change of a plan file's blocked change pc: the fresh plan's change
// when it is the same action on the same connection, else one made of pc; blocked by the
// dataflows the plan recorded (Changeset.Block adds those using it now), so never sent.
func blockedChange(pc *Change, fc *reconcile.Change, lock *lockfile.File) reconcile.Change {
	var ch reconcile.Change
	if fc != nil && fc.Action.String() == pc.Action && fc.ID == pc.ID {
		ch = *fc
	} else {
		ch = reconcile.Change{Name: pc.Name, Action: actions[pc.Action], Reason: reconcile.Reason(pc.Reason), ID: pc.ID, ETag: pc.ETag,
			Prior: lock.Connections[pc.Name]}
	}
	// The dataflows shown are those the live lookup finds now (Changeset.Block adds them),
	// never the names the file carries: what is shown is rendered from checked state.
	ch.Blocked, ch.UsedBy = true, nil
	return ch
}

// claimCheck tells a change that differs from the fresh plan because the live state moved
// (stale) from one no plan of this manifest and lockfile holds (the file was edited), when
// the lockfile is the one planned.
type claimCheck struct {
	offline map[string]*reconcile.Change // the plan of the manifest and the lockfile alone
	etags   map[string]string            // live id → etag (nil: the live state was not read)
}

func newClaimCheck(in Input, opts reconcile.Options, repro, fresh *reconcile.Changeset) *claimCheck {
	offline := repro
	if fresh.Refreshed && repro == fresh {
		offline = reconcile.Plan(in.Desired, in.Lock, nil, opts)
	}
	c := &claimCheck{offline: byName(offline)}
	if in.Observed != nil {
		c.etags = make(map[string]string, len(in.Observed.Connections))
		for _, l := range in.Observed.Connections {
			c.etags[l.ID] = l.ETag
		}
	}
	return c
}

// notPlanned says why pc, which differs from the fresh plan's fc though the lockfile is the
// one planned, is no change flowsync planned, or "" when only the live state (or a secret
// read again) can have moved since the plan: then pc is stale. Whatever pc says about the
// lockfile must hold exactly: its entry, its id, its action as the lockfile allows it. What
// the live state decides (a create of a connection deleted outside flowsync, the etag of a
// connection edited outside it) may differ, but only as the live state can move: a deleted
// connection does not come back, nor does an etag.
func (c *claimCheck) notPlanned(f *File, pc *Change, fc, rc *reconcile.Change, dg *digester) string {
	oc := c.offline[pc.Name]
	if oc == nil {
		return "a plan of this manifest and lockfile" + onlyNote(f) + " has no change of that name"
	}
	if why := c.lockClaim(pc, oc); why != "" {
		return why
	}
	if secretRotated(pc, fc, dg) {
		return "" // a secret's value moved since the plan: the file cannot cause that
	}
	// An offline plan is reproduced exactly; one made against the live state wherever the
	// live connection is the one planned against (its id and etag).
	if !f.Options.Refresh {
		return differs(pc, rc, dg)
	}
	if sameTarget(pc, fc) {
		return differs(pc, fc, dg)
	}
	return ""
}

func onlyNote(f *File) string {
	if len(f.Options.Only) > 0 {
		return " (within its --only)"
	}
	return ""
}

// lockClaim checks what pc says that the lockfile alone decides against oc, the change of a
// plan of the manifest and the lockfile without the live state.
func (c *claimCheck) lockClaim(pc *Change, oc *reconcile.Change) string {
	if pc.RenamedFrom != oc.RenamedFrom {
		return "the file renames it from " + orNone(pc.RenamedFrom) + ", the lockfile and manifest from " + orNone(oc.RenamedFrom)
	}
	if m := recordedDiffers(pc.Recorded, oc.Prior); m != "" {
		return m
	}
	if pc.LookupFirst != oc.Heal {
		return "lookup_first is " + strconv.FormatBool(pc.LookupFirst) + ", but the lockfile entry " + pick(oc.Heal, "is", "is not") + " an interrupted create"
	}
	if pc.Resolved != "" && !oc.Heal {
		return "it names the id " + pc.Resolved + " an interrupted create made, but the lockfile records no interrupted create of it"
	}
	switch {
	case oc.Action == reconcile.Create:
		if pc.Action != "create" || pc.ID != "" {
			return "the lockfile records no connection of it, but the file would " + pc.Action + " " + orNone(pc.ID)
		}
	case oc.Action == reconcile.Delete || oc.Action == reconcile.Orphan:
		switch {
		case oc.Action == reconcile.Orphan:
			return "the plan was not made with --prune, yet the file deletes " + orNone(pc.ID)
		case pc.Action != "delete":
			return "it is not in the manifest: the only change a plan makes of it is a delete, not a " + pc.Action
		case pc.ID != oc.ID && (oc.ID != "" || pc.ID != pc.Resolved):
			return "the file deletes " + orNone(pc.ID) + ", the lockfile records " + orNone(oc.ID)
		}
	default:
		if why := c.recordedClaim(pc, oc); why != "" {
			return why
		}
	}
	if liveETag, live := c.etags[oc.ID]; live && oc.ID != "" && oc.ETag != "" && pc.ID == oc.ID && pc.ETag != oc.ETag && liveETag == oc.ETag {
		return "the file says it was planned against etag " + orNone(pc.ETag) + ", but the connection is at the etag the lockfile records, " + orNone(oc.ETag) + " (an etag does not come back)"
	}
	if why := etagClaim(pc, oc); why != "" {
		return why
	}
	return secretClaim(pc, oc)
}

// secretClaim checks the digests an update says it read against the lockfile entry: a secret
// the update does not change was read with the value the lockfile records (else the plan
// would change it), so its digest is the recorded one. Not when the update was planned
// against another etag than the recorded one: the live values may then differ from it.
func secretClaim(pc *Change, oc *reconcile.Change) string {
	if pc.Action != "update" || oc.Prior == nil || pc.ETag != oc.ETag {
		return ""
	}
	for _, k := range sortedKeys(pc.Secrets) {
		rec := oc.Prior.SecretDigests[k]
		changed := slices.ContainsFunc(pc.Fields, func(f Field) bool { return f.Path == "auth.params."+k })
		if rec != "" && !changed && pc.Secrets[k] != rec {
			return "the file says auth.params." + k + " was read with a value other than the one the lockfile records, yet it does not change it"
		}
	}
	return ""
}

// etagClaim checks the etag pc was planned against: a delete is planned against the etag the
// lockfile records, a create against none, and an update against another etag only when the
// plan saw the connection changed outside flowsync (a drifted field, or secrets sent again),
// or when the lockfile never knew the etag (an answer without one proves nothing moved).
func etagClaim(pc *Change, oc *reconcile.Change) string {
	switch {
	case pc.Action == "delete" && pc.ETag != oc.ETag:
		return "the file deletes it as planned against etag " + orNone(pc.ETag) + ", but a delete is planned against the etag the lockfile records, " + orNone(oc.ETag)
	case pc.Action == "create" && pc.ETag != "":
		return "a create names the etag " + pc.ETag
	case pc.Action == "update" && oc.ETag != "" && pc.ETag != oc.ETag && !pc.Resend && pc.RenamedFrom == "" && !slices.ContainsFunc(pc.Fields, func(f Field) bool { return f.Drift }):
		return "the file says it was planned against etag " + orNone(pc.ETag) + ", not the one the lockfile records (" + orNone(oc.ETag) + "), yet it shows no change made outside flowsync"
	}
	return ""
}

// recordedClaim checks pc for a manifest entry the lockfile records with an id.
func (c *claimCheck) recordedClaim(pc *Change, oc *reconcile.Change) string {
	_, live := c.etags[oc.ID]
	switch pc.Action {
	case "create":
		switch {
		case pc.ID != "":
			return "a create names the id " + pc.ID
		case live:
			return "the file creates it again as if " + oc.ID + " had been deleted, but " + oc.ID + " is live (a deleted connection does not come back)"
		}
	case "update", "replace":
		if pc.ID != oc.ID {
			return "the file would " + pc.Action + " " + orNone(pc.ID) + ", the lockfile records " + orNone(oc.ID)
		}
	default:
		return "it is in the manifest: no plan deletes it"
	}
	return ""
}

// recordedDiffers compares the lockfile entry pc says it was planned against with the one the
// lockfile records (the lockfile being the one planned, they are the same).
func recordedDiffers(was *Recorded, now *lockfile.Entry) string {
	switch {
	case was == nil && now == nil:
		return ""
	case was == nil:
		return "the file says the lockfile records no entry of it, but it records " + orNone(now.ID)
	case now == nil:
		return "the file says the lockfile records " + orNone(was.ID) + ", but it records no entry of it"
	case was.ID != now.ID || was.ETag != now.ETag || was.Pending != now.Pending:
		return "the file says the lockfile records " + orNone(was.ID) + " (etag " + orNone(was.ETag) + "), but it records " + orNone(now.ID) + " (etag " + orNone(now.ETag) + ")"
	}
	return ""
}

func byName(cs *reconcile.Changeset) map[string]*reconcile.Change {
	m := make(map[string]*reconcile.Change, len(cs.Changes))
	for i := range cs.Changes {
		m[cs.Changes[i].Name] = &cs.Changes[i]
	}
	return m
}

// sameTarget reports whether fc acts on the connection pc was planned against, as it was.
func sameTarget(pc *Change, fc *reconcile.Change) bool {
	return fc != nil && fc.Action != reconcile.Conflict && fc.ID == pc.ID && fc.ETag == pc.ETag
}

// refuse is the result of a planned change the fresh plan does not hold.
func refuse(pc *Change, fc *reconcile.Change, lock *lockfile.File, why string, dg *digester) reconcile.Result {
	action := actions[pc.Action]
	r := reconcile.Result{Name: pc.Name, Action: action, ID: pc.ID}
	if fc != nil && fc.Action == reconcile.Conflict && (action == reconcile.Create || action == reconcile.Replace) {
		r.Err = &reconcile.ConflictError{Name: pc.Name, Live: fc.Conflicts}
		return r
	}
	now := lock.Connections[pc.Name]
	if now == nil && pc.RenamedFrom != "" {
		now = lock.Connections[pc.RenamedFrom] // a rename was planned against its former name
	}
	moved := entryMoved(pc.Recorded, now)
	if moved == "" {
		moved = rotated(pc, fc, dg)
	}
	if moved == "" {
		moved = why
	}
	r.Err = &reconcile.StaleError{Moved: moved}
	return r
}

// differs says how the fresh plan's change fc differs from the planned pc, or "" when it is
// the same change with the same requests.
func differs(pc *Change, fc *reconcile.Change, dg *digester) string {
	switch {
	case fc == nil || fc.Action == reconcile.NoOp:
		return "a plan made now changes nothing of it"
	case fc.Action == reconcile.Conflict:
		return "a plan made now refuses it: " + (&reconcile.ConflictError{Name: fc.Name, Live: fc.Conflicts, RenamedFrom: fc.RenamedFrom}).Error()
	case !fc.Action.Sends():
		return "a plan made now would not " + pc.Action + " it (it would be an " + fc.Action.String() + ": kept)"
	case fc.Action.String() != pc.Action:
		why := "a plan made now would " + fc.Action.String() + " it, not " + pc.Action + " it"
		if len(fc.Notes) > 0 {
			why += " (" + fc.Notes[0] + ")"
		}
		return why
	case fc.ID != pc.ID:
		return "a plan made now acts on " + orNone(fc.ID) + ", not " + orNone(pc.ID)
	case fc.ETag != pc.ETag:
		return "the connection changed since the plan (planned against etag " + orNone(pc.ETag) + ", it is now at " + orNone(fc.ETag) + ")"
	case fc.Heal != pc.LookupFirst:
		return "a plan made now " + pick(fc.Heal, "looks the name up first", "does not look the name up first") + " (lookup_first)"
	case fc.RenamedFrom != pc.RenamedFrom:
		return "a plan made now renames it from " + orNone(fc.RenamedFrom) + ", not from " + orNone(pc.RenamedFrom)
	case fc.Resolved != pc.Resolved:
		return "a plan made now resolves the interrupted create to " + orNone(fc.Resolved) + ", not " + orNone(pc.Resolved)
	}
	if m := rotated(pc, fc, dg); m != "" {
		return m
	}
	reqs, err := requestsOf(fc, dg)
	if err != nil {
		return "its requests cannot be rebuilt: " + err.Error()
	}
	if len(reqs) != len(pc.Requests) {
		return fmt.Sprintf("it would send %d requests, the plan recorded %d", len(reqs), len(pc.Requests))
	}
	for i, r := range reqs {
		p := pc.Requests[i]
		if r.Method != p.Method || r.Path != p.Path || r.IfMatch != p.IfMatch || r.LookupFirst != p.LookupFirst || !sameJSON(r.Body, p.Body) {
			return "request " + strconv.Itoa(i+1) + " (" + strconv.Quote(p.Method) + " " + strconv.Quote(p.Path) + ") would differ from the planned one"
		}
	}
	return ""
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// rotated says which secret of fc's desired connection is not the one pc planned, or "".
func rotated(pc *Change, fc *reconcile.Change, dg *digester) string {
	if fc == nil || fc.Desired == nil {
		return ""
	}
	d := fc.Desired
	for _, k := range sortedKeys(d.Params) {
		p := d.Params[k]
		want, planned := pc.Secrets[k]
		switch {
		case p.Sensitive && !planned:
			return "auth.params." + k + " is a secret the plan did not read"
		case planned && !p.Sensitive:
			return "auth.params." + k + " is no longer a secret reference"
		case planned && !p.Known:
			return "auth.params." + k + " was not read"
		case planned && dg.digest(p.Value) != want:
			return "auth.params." + k + ": the secret's value is not the one planned (rotated since the plan)"
		}
	}
	for _, k := range sortedKeys(pc.Secrets) {
		if _, ok := d.Params[k]; !ok {
			return "auth.params." + k + " is planned but no longer desired"
		}
	}
	return ""
}

// secretRotated reports whether a secret pc planned holds another value now (its variable or
// file changed since the plan): a reason for a change to differ that the file cannot cause.
func secretRotated(pc *Change, fc *reconcile.Change, dg *digester) bool {
	if fc == nil || fc.Desired == nil {
		return false
	}
	for k, want := range pc.Secrets {
		if p, ok := fc.Desired.Params[k]; ok && p.Sensitive && p.Known && dg.digest(p.Value) != want {
			return true
		}
	}
	return false
}

// entryMoved compares the lockfile entry a change was planned against with the current one.
func entryMoved(was *Recorded, now *lockfile.Entry) string {
	switch {
	case was == nil && now == nil:
		return ""
	case was == nil:
		if now.ID == "" {
			return "recorded in the lockfile since the plan (a create whose outcome is unknown)"
		}
		return "recorded in the lockfile since the plan as " + now.ID + " (etag " + now.ETag + ")"
	case now == nil:
		return "its lockfile entry (" + orNone(was.ID) + ") was removed since the plan"
	case was.ID != now.ID:
		return "id moved: planned against " + orNone(was.ID) + ", the lockfile now records " + orNone(now.ID)
	case was.ETag != now.ETag:
		return "etag moved: planned against " + orNone(was.ETag) + ", the lockfile now records " + orNone(now.ETag)
	case was.Pending != now.Pending:
		return "its pending state changed since the plan"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if bytes.Equal(a, b) {
		return true // as written: the common case
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
