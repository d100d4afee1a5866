package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
)

// record is the lockfile entry base (a connection's id, etag and non-secret fields) holding
// params: a param for which sensitive reports true (it came from a secret reference) is
// stored only as its digest. Apply and Import build entries through it.
func record(base lockfile.Entry, params map[string]string, sensitive func(string) bool, salt string) *lockfile.Entry {
	e := &base
	for k, v := range params {
		if sensitive(k) {
			if e.SecretDigests == nil {
				e.SecretDigests = map[string]string{}
			}
			e.SecretDigests[k] = lockfile.Digest(salt, v)
			continue
		}
		if e.Params == nil {
			e.Params = map[string]string{}
		}
		e.Params[k] = v
	}
	return e
}

// importedEntry records the visible fields of the live connection c for d. A param d takes
// from a secret reference is recorded only as a digest, like every applied secret. The
// service's secrets cannot be read, so no digest is recorded for them: the next plan shows
// them as changed and apply sends them again.
func importedEntry(c *flowapi.Connection, d *Desired, salt string) *lockfile.Entry {
	params := make(map[string]string, len(c.Auth.Params))
	for k, v := range c.Auth.Params {
		if !s3source.Secret(k) {
			params[k] = v
		}
	}
	e := record(lockfile.Entry{ID: c.ID, ETag: c.ETag, Description: c.Description, SpecName: c.Auth.SpecName, ConnectionSpec: c.ConnectionSpec}, params,
		func(k string) bool { return d.Params[k].Sensitive }, salt)
	if c.CreatedAt > 0 {
		e.CreatedAt = time.UnixMilli(c.CreatedAt).UTC()
	}
	if c.UpdatedAt > 0 {
		e.UpdatedAt = time.UnixMilli(c.UpdatedAt).UTC()
	}
	return e
}

// RecordedElsewhereError reports an import of a connection already recorded under another
// name.
type RecordedElsewhereError struct{ ID, Name string }

func (e *RecordedElsewhereError) Error() string {
	return fmt.Sprintf("connection %s is already recorded as %q", e.ID, e.Name)
}

// ImportConflictError reports an import for a name already recorded with another id.
type ImportConflictError struct {
	Name     string
	Recorded string // the id recorded now
	ID       string // the id to import
}

func (e *ImportConflictError) Error() string {
	return fmt.Sprintf("%s is already recorded as connection %s; importing %s would make flowsync forget %s", e.Name, e.Recorded, e.ID, e.Recorded)
}

// Import records the live connection c for the desired entry d in lock. It refuses an id
// recorded under another name, and a name recorded with another id unless force; replaced
// is the id it made flowsync forget (force), which is then neither patched nor deleted. The
// ids d's entry still has to delete (an unfinished replace) are kept.
func Import(lock *lockfile.File, d *Desired, c *flowapi.Connection, force bool) (replaced string, err error) {
	for name, e := range lock.Connections {
		if name != d.Name && (e.ID == c.ID || slices.Contains(e.Retired, c.ID)) {
			return "", &RecordedElsewhereError{ID: c.ID, Name: name}
		}
	}
	prev := lock.Connections[d.Name]
	if prev != nil && prev.ID != "" && prev.ID != c.ID && prev.Pending == "" {
		if !force {
			return "", &ImportConflictError{Name: d.Name, Recorded: prev.ID, ID: c.ID}
		}
		replaced = prev.ID
	}
	e := importedEntry(c, d, lock.Salt)
	if prev != nil {
		for _, id := range prev.Retired {
			if id != c.ID {
				e.Retired = append(e.Retired, id)
			}
		}
		if prev.Pending != "" && prev.ID != "" && prev.ID != c.ID {
			// An unfinished replace: its old connection is still flowsync's to delete.
			e.Retired = append(e.Retired, prev.ID)
		}
	}
	lock.Connections[d.Name] = e
	return replaced, nil
}

// Imported is one connection ImportByName recorded.
type Imported struct{ Name, ID string }

// ImportReport is what ImportByName did.
type ImportReport struct {
	Imported  []Imported  // recorded, in manifest order
	Ambiguous []Unmanaged // names matching two or more unrecorded live connections: not recorded
	Missing   []string    // names matching no unrecorded live connection
	// Foreign are the live connections left out because another API key created them (only
	// when ImportByName was given the key in use): reported, never recorded.
	Foreign []Unmanaged
}

// ImportByName records, for every entry of desired with no recorded id, the one unrecorded
// live connection of observed with its name. Names matching several are left out and
// reported.
//
// With a non-empty apiKey, a live connection that the service says another API key created
// (createdClient) is no candidate: it is reported in Foreign and never recorded. That is how a
// lockfile or journal is rebuilt without adopting a colleague's connection of the same name.
func ImportByName(lock *lockfile.File, desired []Desired, observed *Observed, apiKey string) ImportReport {
	recorded := recordedIDs(lock.Connections)
	byName := map[string][]*flowapi.Connection{}
	foreign := map[string][]string{}
	for i := range observed.Connections {
		c := &observed.Connections[i]
		if recorded[c.ID] {
			continue
		}
		n := names.Normalize(c.Name)
		if apiKey != "" && c.CreatedClient != "" && c.CreatedClient != apiKey {
			foreign[n] = append(foreign[n], c.ID)
			continue
		}
		byName[n] = append(byName[n], c)
	}
	var rep ImportReport
	for i := range desired {
		d := &desired[i]
		if e := lock.Connections[d.Name]; e != nil && e.ID != "" && e.Pending == "" {
			continue
		}
		if ids := foreign[d.Name]; len(ids) > 0 {
			sort.Strings(ids)
			rep.Foreign = append(rep.Foreign, Unmanaged{Name: d.Name, IDs: ids})
		}
		switch found := byName[d.Name]; len(found) {
		case 0:
			rep.Missing = append(rep.Missing, d.Name)
		case 1:
			if _, err := Import(lock, d, found[0], false); err != nil {
				// Cannot happen: the connection is unrecorded and the name has no id.
				rep.Missing = append(rep.Missing, d.Name)
				continue
			}
			rep.Imported = append(rep.Imported, Imported{Name: d.Name, ID: found[0].ID})
		default:
			ids := make([]string, len(found))
			for i, c := range found {
				ids[i] = c.ID
			}
			sort.Strings(ids)
			rep.Ambiguous = append(rep.Ambiguous, Unmanaged{Name: d.Name, IDs: ids})
		}
	}
	return rep
}
