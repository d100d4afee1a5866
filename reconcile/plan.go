package reconcile

import (
	"slices"
	"sort"
	"strings"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
)

// Plan compares the desired connections with what the lockfile says was applied and, when
// observed is not nil, with the live connections, and returns the changes, sorted by name.
//
// Before values are the current state: live when observed is given, else as applied. Secret
// values are compared only through their salted digests; the service's masked values are
// never compared.
func Plan(desired []Desired, lock *lockfile.File, observed *Observed, opts Options) *Changeset {
	cs := &Changeset{Refreshed: observed != nil, SecretsUnknown: opts.NoSecrets}
	var entries map[string]*lockfile.Entry
	salt := ""
	if lock != nil {
		entries = lock.Connections
		salt = lock.Salt
	}
	live := indexObserved(observed)
	recorded := recordedIDs(entries)

	// The globs were checked where they were given; one path.Match refuses selects nothing.
	sel, _ := names.NewSelector("", opts.Only)
	want := make(map[string]bool, len(desired))
	for i := range desired {
		d := &desired[i]
		want[d.Name] = true
		e := entries[d.Name]
		from := renameSource(d, e, entries)
		if from != "" {
			want[from] = true // not an orphan: d takes it over
		}
		if !sel.Match(d.Name) && !slices.ContainsFunc(d.FormerNames, sel.Match) {
			continue // --only matches an entry by its name or a former name
		}
		ow := owners{salt: salt, live: live, recorded: recorded, apiKey: opts.APIKey}
		ch := planEntry(d, e, from, entries, ow, want)
		setOwner(&ch, live)
		hold(&ch, d, ch.Prior, opts.Gates)
		if live != nil {
			u := planUnmanaged(&ch, d, e, ow)
			if cf := conflictsOf(&ch, d, salt, live, recorded, opts.APIKey); len(cf) > 0 {
				// The namesakes are the conflict: said once, on the conflict's line.
				ch.Refused, ch.Action, ch.Conflicts, ch.Notes, u = ch.Action, Conflict, cf, nil, nil
			}
			if u != nil {
				cs.Unmanaged = append(cs.Unmanaged, *u)
			}
		}
		cs.Changes = append(cs.Changes, ch)
	}
	for name, e := range entries {
		if want[name] || !sel.Match(name) {
			continue
		}
		ch, u := planOrphan(name, e, salt, live, recorded, opts)
		cs.Changes = append(cs.Changes, ch)
		if u != nil {
			cs.Unmanaged = append(cs.Unmanaged, *u)
		}
	}
	sort.Slice(cs.Changes, func(i, j int) bool { return cs.Changes[i].Name < cs.Changes[j].Name })
	sort.Slice(cs.Unmanaged, func(i, j int) bool { return cs.Unmanaged[i].Name < cs.Unmanaged[j].Name })
	cs.Block(opts.Impact)
	return cs
}

// hold turns a create, update or replace into a Hold when promotion says the previous
// environment has not applied the entry as the manifest now writes it (see Gate).
func hold(ch *Change, d *Desired, e *lockfile.Entry, gates map[string]Gate) {
	switch ch.Action {
	case Create, Update, Replace:
	default:
		return
	}
	g, gated := gates[d.Name]
	if !gated || d.Promotion == "" || g.Applied == d.Promotion || e != nil && e.Promotion == d.Promotion {
		return
	}
	ch.Held, ch.HeldFor, ch.Action = ch.Action, g.Env, Hold
}

// HoldBack holds back, in place, the changes of cs that gates hold (apply --plan: a saved
// plan is checked against the promotion order again before anything is sent).
func HoldBack(cs *Changeset, gates map[string]Gate) {
	for i := range cs.Changes {
		if ch := &cs.Changes[i]; ch.Desired != nil {
			hold(ch, ch.Desired, ch.Prior, gates)
		}
	}
}

// renameSource is the recorded name d takes over, "" when none: a former name of d recorded
// while d.Name is not (a rename), or recorded with the same connection as d.Name (a rename
// whose apply was interrupted between re-keying and dropping the old record). A pending
// create's record is never renamed: its connection is not known.
func renameSource(d *Desired, e *lockfile.Entry, entries map[string]*lockfile.Entry) string {
	for _, f := range d.FormerNames {
		old := entries[f]
		switch {
		case old == nil || old.Pending != "" || old.ID == "":
		case e == nil, e.ID == old.ID:
			return f
		}
	}
	return ""
}

// planEntry plans d, recorded as e, taking over the record of its former name from ("": none).
// A former name recorded as a create whose outcome is unknown (d.Name not recorded) is
// resolved against the live state first: the one connection the ownership rule proves that
// create made is adopted and renamed (never created again); several are a conflict (nothing
// is created); none, a create. The former name is then not an orphan (want).
func planEntry(d *Desired, e *lockfile.Entry, from string, entries map[string]*lockfile.Entry, ow owners, want map[string]bool) Change {
	if e == nil && from == "" {
		if f, pe, cands := pendingFormer(d, entries, ow); pe != nil {
			want[f] = true
			ch := planDesired(d, pe, f, ow.salt, ow.live)
			renamed(&ch, f)
			ch.Notes = append(ch.Notes, "the interrupted create of its former name "+f+" made "+pe.ID+" (it passes the ownership rule): adopted and renamed, not created again")
			return ch
		} else if len(cands) > 0 {
			want[f] = true
			ch := planDesired(d, nil, "", ow.salt, ow.live)
			ch.Refused, ch.Action, ch.Conflicts = ch.Action, Conflict, cands
			return ch
		} else if f != "" && ow.live == nil {
			ch := planDesired(d, nil, "", ow.salt, nil)
			ch.Notes = append(ch.Notes, "its former name "+f+" is recorded as a create whose outcome is unknown: apply looks "+f+" up first and renames what that create made instead of creating")
			return ch
		}
	}
	var ch Change
	if e == nil && from != "" {
		ch = planDesired(d, entries[from], from, ow.salt, ow.live)
	} else {
		ch = planDesired(d, e, "", ow.salt, ow.live)
	}
	renamed(&ch, from)
	return ch
}

// pendingFormer finds a former name of d recorded as a create whose outcome is unknown and,
// against the live state, the connections of that name the ownership rule proves its create
// made: one gives a resolved copy of the record (the live id and etag, no longer pending);
// several are returned as candidates. "" when there is no such former name.
func pendingFormer(d *Desired, entries map[string]*lockfile.Entry, ow owners) (string, *lockfile.Entry, []Owner) {
	for _, f := range d.FormerNames {
		old := entries[f]
		if old == nil || old.Pending != lockfile.PendingCreate || old.ID != "" {
			continue
		}
		if ow.live == nil {
			return f, nil, nil
		}
		res := claimOfEntry(f, old, ow.apiKey, ow.salt).resolve(ow.live.byName[f], ow.recorded)
		switch len(res.owned) {
		case 0:
			continue
		case 1:
			if c := ow.live.byID[res.owned[0]]; c != nil {
				e := old.Clone()
				e.ID, e.ETag, e.Pending = c.ID, c.ETag, ""
				return f, e, nil
			}
		}
		var cands []Owner
		for _, id := range res.owned {
			if c := ow.live.byID[id]; c != nil {
				o := ownerOf(c)
				o.Why = "it may be what the interrupted create of the former name " + f + " made: nothing is created"
				cands = append(cands, o)
			}
		}
		return f, nil, cands
	}
	return "", nil, nil
}

// renamed makes ch the rename of the record from ("": none). A rename with nothing else to
// change still moves the lockfile entry: the service has the new name already (an
// interrupted apply renamed it), so nothing is sent.
func renamed(ch *Change, from string) {
	if from == "" {
		return
	}
	ch.RenamedFrom = from
	if ch.Action == NoOp {
		ch.Action = Update
		ch.Notes = append(ch.Notes, "the service has the new name already (an interrupted apply renamed it): only the lockfile entry moves to the new name, nothing is sent")
	}
}

// owners is what the ownership rule looks at: the lockfile's salt, the live connections, the
// ids the lockfile records, and the API key in use.
type owners struct {
	salt     string
	live     *liveIndex
	recorded map[string]bool
	apiKey   string
}

// planUnmanaged finds the live connections named like d that flowsync did not record. For a
// pending create it applies the ownership rule and says in ch what apply will do; every
// connection the rule does not adopt is returned as unmanaged.
func planUnmanaged(ch *Change, d *Desired, e *lockfile.Entry, o owners) *Unmanaged {
	salt, live, recorded, apiKey := o.salt, o.live, o.recorded, o.apiKey
	found := live.byName[d.Name]
	u := &Unmanaged{Name: d.Name, Reasons: map[string]string{}}
	if e != nil && e.ID != "" && e.Pending == "" {
		u.Recorded = e.ID
	} else if ch.RenamedFrom != "" && ch.ID != "" {
		u.Recorded = ch.ID // the entry owns a connection through its former name: no import
	}
	if ch.Heal {
		res := claimOfDesired(d, e.PendingAt, apiKey, salt).resolve(found, recorded)
		switch len(res.owned) {
		case 0:
			ch.Notes = append(ch.Notes, "no live connection passes the ownership rule (same name, spec, fields and API key, created after the interrupted run recorded this create): it is created")
		case 1:
			ch.Notes = append(ch.Notes, "the interrupted create made "+res.owned[0]+" (it passes the ownership rule): it is adopted, not created again")
		default:
			ch.Notes = append(ch.Notes, (&AmbiguousError{Name: d.Name, IDs: res.owned}).Error()+": apply fails this entry; record the right one with flowsync import")
		}
		u.Reasons = res.unmanaged
	} else {
		for _, c := range found {
			if recorded[c.ID] {
				continue
			}
			why := "not in the lockfile"
			if apiKey != "" && c.CreatedClient != "" && c.CreatedClient != apiKey {
				why = "created by another API key"
			}
			u.Reasons[c.ID] = why
		}
	}
	if len(u.Reasons) == 0 {
		return nil
	}
	u.IDs = sortedKeys(u.Reasons)
	return u
}

// conflictsOf lists the live connections a create of ch (or the create half of its replace)
// would duplicate: of d's name and connection spec, recorded under no entry, and not adopted
// by the ownership rule. One name, one live connection: such a create is never sent.
func conflictsOf(ch *Change, d *Desired, salt string, live *liveIndex, recorded map[string]bool, apiKey string) []Owner {
	if ch.RenamedFrom != "" && ch.Action == Update {
		return renameConflicts(ch, d, live, recorded)
	}
	if ch.Action != Create && ch.Action != Replace {
		return nil
	}
	found := live.byName[d.Name]
	why := map[string]string{}
	if e := ch.Prior; ch.Heal && e != nil {
		res := claimOfDesired(d, e.PendingAt, apiKey, salt).resolve(found, recorded)
		if len(res.owned) > 0 {
			return nil // adopted (one) or ambiguous (several: apply fails the entry): no create either way
		}
		why = res.unmanaged
	}
	var out []Owner
	for _, c := range found {
		if recorded[c.ID] || c.ConnectionSpec.ID != d.Spec.ID {
			continue
		}
		o := ownerOf(c)
		o.Why = why[c.ID]
		if o.Why == "" {
			o.Why = "not in the lockfile"
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// renameConflicts is the live connections, recorded under no entry, that already have the
// name a rename gives ch's connection: renaming would leave two of that name (and a colleague's
// connection would then look like this entry's), so the rename is a conflict, not sent.
func renameConflicts(ch *Change, d *Desired, live *liveIndex, recorded map[string]bool) []Owner {
	var out []Owner
	for _, c := range live.byName[d.Name] {
		if c.ID == ch.ID || recorded[c.ID] || c.ConnectionSpec.ID != d.Spec.ID {
			continue
		}
		o := ownerOf(c)
		o.Why = "not in the lockfile: it has the name " + ch.RenamedFrom + " is renamed to"
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

type liveIndex struct {
	byID   map[string]*flowapi.Connection
	byName map[string][]*flowapi.Connection
}

// setOwner says on a delete or replace planned against the live state who created the
// connection it removes.
func setOwner(ch *Change, live *liveIndex) {
	if (ch.Action != Delete && ch.Action != Replace) || ch.Prior == nil {
		return
	}
	id := ch.Prior.ID
	if id == "" {
		id = ch.Resolved
	}
	if c := live.byIDOrNil(id); c != nil {
		o := ownerOf(c)
		ch.Owner = &o
	}
}

// byIDOrNil is the live connection id, or nil when it is not live, id is "" or the live
// state was not read.
func (ix *liveIndex) byIDOrNil(id string) *flowapi.Connection {
	if ix == nil || id == "" {
		return nil
	}
	return ix.byID[id]
}

func indexObserved(o *Observed) *liveIndex {
	if o == nil {
		return nil
	}
	ix := &liveIndex{
		byID:   make(map[string]*flowapi.Connection, len(o.Connections)),
		byName: make(map[string][]*flowapi.Connection, len(o.Connections)),
	}
	for i := range o.Connections {
		c := &o.Connections[i]
		ix.byID[c.ID] = c
		n := names.Normalize(c.Name) // the manifest's names are NFC
		ix.byName[n] = append(ix.byName[n], c)
	}
	return ix
}

// recordedIDs is every connection id the lockfile knows, live or retired.
func recordedIDs(entries map[string]*lockfile.Entry) map[string]bool {
	ids := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.ID != "" {
			ids[e.ID] = true
		}
		for _, id := range e.Retired {
			ids[id] = true
		}
	}
	return ids
}

// state is a connection as flowsync sees it: its non-secret fields, and for each param
// either a clear value or (for sensitive ones) a digest.
type state struct {
	Name        string // "" when not known (as applied: the entry's key)
	Description string
	Spec        flowapi.Spec
	SpecName    string
	Params      map[string]string // clear values of non-sensitive params
	Digests     map[string]string // digests of sensitive params ("" when present but unknown)
}

func stateOfEntry(e *lockfile.Entry) state {
	return state{
		Description: e.Description,
		Spec:        e.ConnectionSpec,
		SpecName:    e.SpecName,
		Params:      e.Params,
		Digests:     e.SecretDigests,
	}
}

// stateOfLive reads a live connection against what was applied: a param recorded as
// sensitive keeps its recorded digest when the service masks it, and is digested when the
// service shows it in clear (s3AccessKey from a reference, say).
func stateOfLive(c *flowapi.Connection, e *lockfile.Entry, salt string) state {
	s := state{
		Name:        c.Name,
		Description: c.Description,
		Spec:        c.ConnectionSpec,
		SpecName:    c.Auth.SpecName,
		Params:      map[string]string{},
		Digests:     map[string]string{},
	}
	// The service's secrets come back masked, or not at all: whatever it shows for them is
	// opaque, so they are taken as applied.
	for k, d := range e.SecretDigests {
		if s3source.Secret(k) {
			s.Digests[k] = d
		}
	}
	for k, v := range c.Auth.Params {
		_, wasSecret := e.SecretDigests[k]
		switch {
		case s3source.Secret(k):
			continue
		case wasSecret:
			s.Digests[k] = lockfile.Digest(salt, v)
		default:
			s.Params[k] = v
		}
	}
	return s
}

// planDesired plans d against its record e, recorded under the name from when d renames it
// ("": under d.Name).
func planDesired(d *Desired, e *lockfile.Entry, from, salt string, live *liveIndex) Change {
	ch := Change{Name: d.Name, Desired: d, Prior: e, Reason: ReasonManifest}
	if e == nil {
		ch.Action = Create
		ch.Fields = createFields(d)
		return ch
	}
	ch.ID, ch.ETag = e.ID, e.ETag
	if e.Pending == lockfile.PendingCreate {
		ch.Heal = true
		ch.Reason = ReasonMissing
		ch.Notes = append(ch.Notes, "an earlier create was interrupted before its outcome was known: flowsync looks the name up before creating again")
		if e.ID == "" {
			ch.Action = Create
			ch.Fields = createFields(d)
			return ch
		}
	}
	cur := stateOfEntry(e)
	cur.Name = d.Name
	if from != "" {
		cur.Name = from
	}
	driftFrom := (*state)(nil)
	if live != nil && e.ID != "" {
		c := live.byID[e.ID]
		if c == nil {
			ch.Action = Create
			ch.Reason = ReasonMissing
			ch.Notes = append(ch.Notes, "deleted outside flowsync (was "+e.ID+"): it will be created again")
			ch.Fields = createFields(d)
			ch.ID, ch.ETag = "", ""
			return ch
		}
		recorded := cur
		driftFrom = &recorded
		cur = stateOfLive(c, e, salt)
		ch.ETag = c.ETag
	}

	if cur.Spec != d.Spec || cur.SpecName != d.SpecName {
		ch.Action = Replace
		ch.Fields = diffState(d, cur, driftFrom, salt)
		ch.Notes = append(ch.Notes, "the connection spec or auth specName cannot change in place: a new connection is created and recorded, then the old one is deleted")
		return ch
	}
	ch.Fields = diffState(d, cur, driftFrom, salt)
	for _, f := range ch.Fields {
		if f.Drift {
			ch.Reason = ReasonDrift
		}
	}
	if driftFrom != nil && e.ETag != "" && ch.ETag != e.ETag && !anyDrift(ch.Fields) && !ch.Heal && !renamedLive(d, cur, driftFrom) {
		// Something changed that no GET shows: a secret, or a field the service hides. Which
		// one is not known, so no field is blamed; every secret is sent again. A recorded etag
		// that was never known (an answer without one) proves nothing moved.
		ch.Notes = append(ch.Notes, HiddenChangeNote)
		ch.Reason = ReasonDrift
		ch.Resend = true
	}
	switch {
	case ch.Heal:
		ch.Action = Replace
	case len(ch.Fields) > 0 || ch.Resend:
		ch.Action = Update
	case len(e.Retired) > 0:
		ch.Action = Update
		ch.Notes = append(ch.Notes, "an earlier replace did not finish: the old connection "+strings.Join(e.Retired, ", ")+" is deleted")
	default:
		ch.Action = NoOp
	}
	return ch
}

// renamedLive reports whether the live connection has been renamed since it was recorded, to
// exactly d's name: that visible change (a rename this entry asked for, whose apply was
// interrupted after its PATCH) explains why the etag moved.
func renamedLive(d *Desired, live state, recorded *state) bool {
	return !names.Same(recorded.Name, live.Name) && names.Same(live.Name, d.Name)
}

// HiddenChangeNote is the note on an entry whose etag moved outside flowsync with nothing
// visible changed.
const HiddenChangeNote = "a hidden value changed outside flowsync; secrets will be sent again"

func anyDrift(fs []FieldChange) bool {
	for _, f := range fs {
		if f.Drift {
			return true
		}
	}
	return false
}

func createFields(d *Desired) []FieldChange {
	var fs []FieldChange
	if d.Description != "" {
		fs = append(fs, FieldChange{Path: "description", After: d.Description})
	}
	fs = append(fs, FieldChange{Path: "auth.specName", After: d.SpecName})
	for _, k := range sortedKeys(d.Params) {
		p := d.Params[k]
		f := FieldChange{Path: "auth.params." + k, Sensitive: p.Sensitive}
		if !p.Sensitive {
			f.After = p.Value
		}
		fs = append(fs, f)
	}
	return append(fs, FieldChange{Path: "connectionSpec", After: d.Spec.ID + " " + d.Spec.Version})
}

// diffState lists the fields where d differs from cur. When recorded is not nil, cur is live
// and a field whose live value differs from the recorded one is marked as drift.
func diffState(d *Desired, cur state, recorded *state, salt string) []FieldChange {
	var fs []FieldChange
	if cur.Name != "" && !names.Same(cur.Name, d.Name) {
		fs = append(fs, FieldChange{Path: "name", Before: cur.Name, After: d.Name,
			Drift: recorded != nil && recorded.Name != cur.Name})
	}
	if d.Description != cur.Description {
		fs = append(fs, FieldChange{Path: "description", Before: cur.Description, After: d.Description,
			Drift: recorded != nil && recorded.Description != cur.Description})
	}
	if d.SpecName != cur.SpecName {
		fs = append(fs, FieldChange{Path: "auth.specName", Before: cur.SpecName, After: d.SpecName,
			Drift: recorded != nil && recorded.SpecName != cur.SpecName})
	}
	if d.Spec != cur.Spec {
		fs = append(fs, FieldChange{Path: "connectionSpec", Before: cur.Spec.ID + " " + cur.Spec.Version, After: d.Spec.ID + " " + d.Spec.Version,
			Drift: recorded != nil && recorded.Spec != cur.Spec})
	}
	keys := map[string]bool{}
	for k := range d.Params {
		keys[k] = true
	}
	for k := range cur.Params {
		keys[k] = true
	}
	for k := range cur.Digests {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		path := "auth.params." + k
		p, want := d.Params[k]
		clear, isClear := cur.Params[k]
		digest, isDigest := cur.Digests[k]
		have := isClear || isDigest
		switch {
		case want && !p.Sensitive:
			if isClear && clear == p.Value {
				continue
			}
			f := FieldChange{Path: path, Before: clear, After: p.Value, Sensitive: isDigest}
			if isDigest {
				f.Before = ""
			}
			if recorded != nil {
				rv, rok := recorded.Params[k]
				f.Drift = rok != isClear || rv != clear
			}
			fs = append(fs, f)
		case want && p.Sensitive:
			if have && !p.Known {
				continue // --no-secrets: cannot tell
			}
			if isDigest && p.Known && digest != "" && digest == lockfile.Digest(salt, p.Value) {
				continue
			}
			f := FieldChange{Path: path, Sensitive: true}
			if recorded != nil {
				rd, rok := recorded.Digests[k]
				f.Drift = rok != isDigest || (isDigest && rd != digest)
			}
			fs = append(fs, f)
		case !want && have:
			f := FieldChange{Path: path, Before: clear, Sensitive: isDigest, Removed: true}
			if recorded != nil {
				_, rc := recorded.Params[k]
				_, rd := recorded.Digests[k]
				f.Drift = !rc && !rd
			}
			fs = append(fs, f)
		}
	}
	return fs
}

func planOrphan(name string, e *lockfile.Entry, salt string, live *liveIndex, recorded map[string]bool, opts Options) (Change, *Unmanaged) {
	ch := Change{Name: name, Action: Orphan, Reason: ReasonOrphan, ID: e.ID, ETag: e.ETag, Prior: e}
	if opts.Prune {
		ch.Action = Delete
	}
	var u *Unmanaged
	if e.Pending == lockfile.PendingCreate {
		ch.Heal = true
		switch {
		case live == nil && opts.Prune:
			ch.Notes = append(ch.Notes, "its create was interrupted before the outcome was known: apply looks the name up and deletes only a connection the ownership rule proves is that create's")
		case live == nil:
			ch.Notes = append(ch.Notes, "its create was interrupted before the outcome was known")
		default:
			res := claimOfEntry(name, e, opts.APIKey, salt).resolve(live.byName[name], recorded)
			if len(res.unmanaged) > 0 {
				u = &Unmanaged{Name: name, IDs: sortedKeys(res.unmanaged), Reasons: res.unmanaged, Orphan: true}
			}
			switch len(res.owned) {
			case 0:
				ch.Notes = append(ch.Notes, "its interrupted create made no connection flowsync can prove is its own: nothing found to delete; the record is dropped")
			case 1:
				ch.Resolved = res.owned[0]
				if ch.ID == "" {
					ch.ID = ch.Resolved
				} else {
					ch.Notes = append(ch.Notes, "also deletes "+ch.Resolved+", made by its interrupted create")
				}
				ch.Notes = append(ch.Notes, "its interrupted create made "+ch.Resolved+" (it passes the ownership rule)")
			default:
				ch.Action = Orphan
				ch.Notes = append(ch.Notes, (&AmbiguousError{Name: name, IDs: res.owned}).Error()+": kept; delete the right one by hand")
			}
		}
	}
	if live != nil && e.ID != "" && live.byID[e.ID] == nil {
		ch.Notes = append(ch.Notes, "already deleted outside flowsync")
	}
	setOwner(&ch, live)
	if len(e.Retired) > 0 {
		ch.Notes = append(ch.Notes, "also replaced earlier: "+strings.Join(e.Retired, ", "))
	}
	return ch, u
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
