package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/names"
)

// Forgotten is one record Forget dropped: the connection stays live, unmanaged.
type Forgotten struct {
	Name    string
	ID      string   // "" for a create whose outcome was never known
	Retired []string // ids of connections it had replaced and not yet deleted
}

// ForgetError lists the names Forget refused; nothing was dropped.
type ForgetError struct {
	InManifest map[string]string // name -> the manifest entry that wants it (itself, or one listing it in formerNames)
	Unknown    []string          // names the lockfile does not record
}

func (e *ForgetError) Error() string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(e.InManifest)) {
		if by := e.InManifest[n]; !names.Same(by, n) {
			parts = append(parts, fmt.Sprintf("%q is a former name of manifest entry %q: the next apply would rename it", n, by))
		} else {
			parts = append(parts, fmt.Sprintf("%q is still an entry of the manifest: remove the entry first", n))
		}
	}
	if len(e.Unknown) > 0 {
		q := make([]string, len(e.Unknown))
		for i, n := range e.Unknown {
			q[i] = fmt.Sprintf("%q", n)
		}
		parts = append(parts, "not in the lockfile: "+strings.Join(q, ", "))
	}
	return "forget: " + strings.Join(parts, "; ")
}

// Forget drops the records of forget from lock, sending nothing: flowsync stops managing those
// connections and leaves them live (Terraform's `removed` without destroy). desired is the
// manifest: a name it still wants (as an entry or a former name) is refused, since the next
// apply would create or rename it again; so is a name the lockfile does not record. On any
// refusal lock is unchanged and the error is a *ForgetError naming every refused name.
func Forget(lock *lockfile.File, desired []Desired, forget []string) ([]Forgotten, error) {
	wanted := map[string]string{}
	for _, d := range desired {
		wanted[names.Normalize(d.Name)] = d.Name
		for _, f := range d.FormerNames {
			wanted[names.Normalize(f)] = d.Name
		}
	}
	refused := &ForgetError{InManifest: map[string]string{}}
	var out []Forgotten
	seen := map[string]bool{}
	for _, arg := range forget {
		n := names.Normalize(arg)
		if seen[n] {
			continue
		}
		seen[n] = true
		if by, ok := wanted[n]; ok {
			refused.InManifest[arg] = by
			continue
		}
		e := lock.Connections[n]
		if e == nil {
			refused.Unknown = append(refused.Unknown, arg)
			continue
		}
		out = append(out, Forgotten{Name: n, ID: e.ID, Retired: slices.Clone(e.Retired)})
	}
	if len(refused.InManifest) > 0 || len(refused.Unknown) > 0 {
		return nil, refused
	}
	for _, f := range out {
		delete(lock.Connections, f.Name)
	}
	return out, nil
}

// FormerNamesError is an entry two or more of whose former names the lockfile records: each
// could be its connection, and flowsync cannot tell which. Nothing may be planned for it.
type FormerNamesError struct {
	Name     string
	Recorded []Forgotten // the recorded former names, in formerNames order, with their ids
}

func (e *FormerNamesError) Error() string {
	parts := make([]string, len(e.Recorded))
	for i, r := range e.Recorded {
		parts[i] = fmt.Sprintf("%q (%s)", r.Name, orPending(r.ID))
	}
	return fmt.Sprintf("manifest entry %q: the lockfile records %d of its former names, %s: flowsync cannot tell which connection is this entry's; nothing was sent",
		e.Name, len(e.Recorded), strings.Join(parts, " and "))
}

func orPending(id string) string {
	if id == "" {
		return "a create whose outcome is unknown"
	}
	return "id " + id
}

// CheckFormerNames reports the first entry of desired (in manifest order) two or more of whose
// former names lock records, as a *FormerNamesError; nil when there is none.
func CheckFormerNames(desired []Desired, lock *lockfile.File) error {
	if lock == nil {
		return nil
	}
	for _, d := range desired {
		var rec []Forgotten
		for _, f := range d.FormerNames {
			if e := lock.Connections[f]; e != nil {
				rec = append(rec, Forgotten{Name: f, ID: e.ID})
			}
		}
		if len(rec) > 1 {
			return &FormerNamesError{Name: d.Name, Recorded: rec}
		}
	}
	return nil
}
