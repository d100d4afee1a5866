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

// Check rebuilds the changes of f for apply --plan from the desired connections (the same
// manifest, its secrets read again) and the lockfile as it is now. It never re-diffs: a change
// whose lockfile entry moved since the plan (id, etag or pending state), whose secrets are not
// the planned ones, or whose requests would differ from the recorded ones in any way is
// stale, returned as a Result whose Err is a *reconcile.StaleError; every other change comes
// back in the Changeset, to be sent as planned. The error is for a plan file that does not fit
// the manifest at all.
func Check(f *File, desired []reconcile.Desired, lock *lockfile.File) (*reconcile.Changeset, []reconcile.Result, error) {
	byName := make(map[string]*reconcile.Desired, len(desired))
	for i := range desired {
		byName[desired[i].Name] = &desired[i]
	}
	cs := &reconcile.Changeset{Refreshed: f.Options.Refresh}
	dg := newDigester(f.Lockfile.Salt)
	var stale []reconcile.Result
	for i := range f.Changes {
		pc := &f.Changes[i]
		action := actions[pc.Action]
		ch := reconcile.Change{
			Name:        pc.Name,
			Action:      action,
			Reason:      reconcile.Reason(pc.Reason),
			ID:          pc.ID,
			ETag:        pc.ETag,
			Notes:       pc.Notes,
			Heal:        pc.LookupFirst,
			Resend:      pc.Resend,
			Resolved:    pc.Resolved,
			Prior:       lock.Connections[pc.Name],
			RenamedFrom: pc.RenamedFrom,
		}
		if pc.RenamedFrom != "" {
			// A rename was planned against the entry under its former name (or, to finish an
			// interrupted rename, under both names with one id): it must still be recorded.
			old := lock.Connections[pc.RenamedFrom]
			if old == nil {
				stale = append(stale, reconcile.Result{Name: ch.Name, Action: action, ID: ch.ID, Err: &reconcile.StaleError{Moved: "its lockfile entry under the former name " + strconv.Quote(pc.RenamedFrom) + " was removed since the plan"}})
				continue
			}
			if ch.Prior == nil {
				ch.Prior = old
			}
		}
		if action != reconcile.Delete {
			d := byName[pc.Name]
			if d == nil {
				return nil, nil, fmt.Errorf("changes[%d]: %q is not in the manifest", i, pc.Name)
			}
			ch.Desired = d
		}
		for _, fc := range pc.Fields {
			c := reconcile.FieldChange{Path: fc.Path, Sensitive: fc.Sensitive, Drift: fc.Drift}
			if fc.Before != nil {
				c.Before = *fc.Before
			}
			if fc.After != nil {
				c.After = *fc.After
			}
			ch.Fields = append(ch.Fields, c)
		}
		if moved := movedSince(pc, &ch, dg); moved != "" {
			stale = append(stale, reconcile.Result{Name: ch.Name, Action: ch.Action, ID: ch.ID, Err: &reconcile.StaleError{Moved: moved}})
			continue
		}
		cs.Changes = append(cs.Changes, ch)
	}
	return cs, stale, nil
}

// movedSince says what moved since pc was planned, or "" when nothing did.
func movedSince(pc *Change, ch *reconcile.Change, dg *digester) string {
	if m := entryMoved(pc.Recorded, ch.Prior); m != "" {
		return m
	}
	if ch.Desired != nil {
		for _, k := range sortedKeys(ch.Desired.Params) {
			p := ch.Desired.Params[k]
			want, planned := pc.Secrets[k]
			switch {
			case p.Sensitive && !planned:
				return "auth.params." + k + " is a secret the plan did not read"
			case planned && !p.Sensitive:
				return "auth.params." + k + " is no longer a secret reference"
			case planned && dg.digest(p.Value) != want:
				return "auth.params." + k + ": the secret's value is not the one planned (rotated since the plan)"
			}
		}
		for k := range pc.Secrets {
			if _, ok := ch.Desired.Params[k]; !ok {
				return "auth.params." + k + " is planned but no longer desired"
			}
		}
	}
	reqs, err := requestsOf(ch, dg)
	if err != nil {
		return "its requests cannot be rebuilt: " + err.Error()
	}
	if len(reqs) != len(pc.Requests) {
		return fmt.Sprintf("it would send %d requests, the plan recorded %d", len(reqs), len(pc.Requests))
	}
	for i, r := range reqs {
		p := pc.Requests[i]
		if r.Method != p.Method || r.Path != p.Path || r.IfMatch != p.IfMatch || r.LookupFirst != p.LookupFirst || !sameJSON(r.Body, p.Body) {
			return "request " + strconv.Itoa(i+1) + " (" + p.Method + " " + p.Path + ") would differ from the planned one"
		}
	}
	return ""
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
