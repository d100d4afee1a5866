package reconcile

import (
	"fmt"
	"slices"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
)

// StaleError is the error of a change of a saved plan (apply --plan) that no longer holds:
// what it was planned against moved. Such a change is refused, never re-diffed.
type StaleError struct {
	// Moved says what moved, for people: "etag moved: planned against "a", lockfile now "b"".
	Moved string
}

func (e *StaleError) Error() string { return "stale: " + e.Moved }

// Request is one call Apply sends for a change when every answer is the expected one (no
// 412, no unknown outcome). Body values are the desired ones, secrets included: a caller that
// stores or shows a Request must redact them first (Desired says which params are sensitive).
type Request struct {
	Method  string // "POST", "PATCH" or "DELETE"
	ID      string // the connection of a PATCH or DELETE
	IfMatch string // the etag a PATCH sends
	Create  *flowapi.NewConnection
	Patch   []flowapi.PatchOp
	// LookupFirst is set on a POST that Apply sends only after looking the name up (an earlier
	// create's outcome is unknown) and finding nothing to adopt.
	LookupFirst bool
}

// Requests lists, in order, the calls Apply makes for ch: the POST of a create, the PATCH of
// an update (If-Match ch.ETag), the POST then the DELETEs of a replace, the DELETEs of a
// delete and of connections an earlier replace left behind. It is what a saved plan records
// and what apply --plan checks it would send again. NoOps and orphans send nothing.
func Requests(ch *Change) ([]Request, error) {
	var out []Request
	deletes := func(ids []string) {
		for _, id := range ids {
			out = append(out, Request{Method: "DELETE", ID: id})
		}
	}
	switch {
	case ch.Action != Delete && ch.Action.Sends() && ch.Desired == nil:
		return nil, fmt.Errorf("%s %s: not in the manifest", ch.Action, ch.Name)
	case (ch.Action == Update || ch.Action == Replace || ch.Action == Delete) && ch.Prior == nil:
		return nil, fmt.Errorf("%s %s: no lockfile entry", ch.Action, ch.Name)
	}
	switch ch.Action {
	case Create:
		nc := newConnection(ch.Desired)
		out = append(out, Request{Method: "POST", Create: &nc, LookupFirst: ch.Heal})
	case Update:
		if len(ch.Fields) > 0 || ch.Resend {
			ops, err := patchOps(ch.Desired, ch.Prior, ch.Fields, ch.Resend)
			if err != nil {
				return nil, err
			}
			if len(ops) > 0 {
				out = append(out, Request{Method: "PATCH", ID: ch.Prior.ID, IfMatch: ch.ETag, Patch: ops})
			}
		}
		deletes(ch.Prior.Retired)
	case Replace:
		nc := newConnection(ch.Desired)
		out = append(out, Request{Method: "POST", Create: &nc, LookupFirst: ch.Heal})
		retired := slices.Clone(ch.Prior.Retired)
		if ch.Prior.ID != "" && !slices.Contains(retired, ch.Prior.ID) {
			retired = append(retired, ch.Prior.ID)
		}
		deletes(retired)
	case Delete:
		ids := slices.Clone(ch.Prior.Retired)
		if ch.Prior.ID != "" {
			ids = append([]string{ch.Prior.ID}, ids...)
		}
		if ch.Prior.Pending == lockfile.PendingCreate && ch.Resolved != "" && !slices.Contains(ids, ch.Resolved) {
			ids = append(ids, ch.Resolved)
		}
		deletes(ids)
	}
	return out, nil
}
