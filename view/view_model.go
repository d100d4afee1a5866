package view

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// planModel is what a plan view shows, decided once so that the text and the markdown plan
// are grouped the same way and list the same changes in the same order: the count line
// first, then one section per kind of change in planKinds order, then the unmanaged
// connections. Each view only formats it.
type planModel struct {
	Counts         planCounts
	Manifest       string // the manifest's path as given ("" when not known)
	Environment    string // the manifest environment (--env), "" without one
	Sandbox, OrgID string
	Refreshed      bool
	SecretsUnknown bool
	ImpactChecked  bool // what uses the connections to delete or replace was read
	Sections       []planSection
	Unmanaged      unmanagedSection
	lockfile       string // --lockfile when given, for the commands a hint prints
}

// planKind describes one kind of change a plan shows. A new kind (a conflict, a blocked
// delete, a rename) is one more row of planKinds.
type planKind struct {
	Action reconcile.Action
	// Grouped: a field change every change of the section makes is shown once, changes left
	// with nothing of their own are listed by name, and past maxDetailed the rest are
	// counted. Kinds that destroy or keep a connection by id are never grouped: each is
	// listed on a line of its own with its id.
	Grouped bool
	// Keep orders what the markdown plan keeps when it must cut: lower first.
	Keep int
	// Blocked: the deletes and replaces that dataflows block (of any Action), not those that
	// will be sent.
	Blocked bool
}

// matches reports whether ch is of kind k.
func (k planKind) matches(ch *reconcile.Change) bool {
	if k.Blocked || ch.Blocked {
		return k.Blocked && ch.Blocked
	}
	return ch.Action == k.Action
}

// planKinds is the order in which a plan shows its sections (that of the count line).
var planKinds = []planKind{
	{Action: reconcile.Create, Grouped: true, Keep: 4},
	{Action: reconcile.Update, Grouped: true, Keep: 3},
	{Action: reconcile.Replace, Keep: 1},
	{Action: reconcile.Delete, Keep: 0},
	{Action: reconcile.Delete, Blocked: true, Keep: 0},
	{Action: reconcile.Orphan, Keep: 2},
	{Action: reconcile.Conflict, Keep: 0},
	{Action: reconcile.Hold, Grouped: true, Keep: 2},
}

// unmanagedKeep is where unmanaged connections come when the markdown plan must cut.
const unmanagedKeep = 5

// planSection is the changes of one kind, in name order: Detailed are shown in full (less
// the Shared fields), Rows (creates past the first few) one line each, Hidden counted, Bare
// (nothing of their own) listed by name, BareMore of them counted.
type planSection struct {
	Kind        planKind
	Total       int
	Shared      []reconcile.FieldChange
	Detailed    []*reconcile.Change
	Rows        []createRow
	RowOther    []string // paths some rows have of their own beyond the table's columns
	Hidden      int
	HiddenPaths []string
	Bare        []string
	BareMore    int
	HeldFor     []string // for held changes: the environments they wait for
}

// createRow is a create past the first few: its name and the values that tell it apart.
type createRow struct {
	Name, Bucket, Folder, Region string
}

// unmanagedSection is the live connections flowsync does not own, at most maxDetailed of
// them listed, the rest counted.
type unmanagedSection struct {
	Listed []reconcile.Unmanaged
	Hidden int
}

const (
	// fewCreates is how many creates of a section are shown in full before the others become
	// rows of a table (when there are more than tableAfter of them).
	fewCreates = 3
	tableAfter = 5
)

// newPlanModel groups a changeset for the views.
func newPlanModel(cs *reconcile.Changeset) *planModel {
	m := &planModel{
		Counts: countPlan(cs), Manifest: cs.Manifest, Environment: cs.Environment,
		Sandbox: cs.Sandbox, OrgID: cs.OrgID, Refreshed: cs.Refreshed,
		SecretsUnknown: cs.SecretsUnknown, ImpactChecked: cs.ImpactChecked, lockfile: cs.Lockfile,
	}
	for _, k := range planKinds {
		var group []*reconcile.Change
		for i := range cs.Changes {
			if k.matches(&cs.Changes[i]) {
				group = append(group, &cs.Changes[i])
			}
		}
		if len(group) > 0 {
			m.Sections = append(m.Sections, newSection(k, group))
		}
	}
	u := cs.Unmanaged
	if len(u) > maxDetailed {
		m.Unmanaged.Hidden = len(u) - maxDetailed
		u = u[:maxDetailed]
	}
	m.Unmanaged.Listed = u
	return m
}

// empty reports whether there is nothing to show but the count line.
func (m *planModel) empty() bool { return m.Counts.shown() == 0 && len(m.Unmanaged.Listed) == 0 }

func newSection(k planKind, group []*reconcile.Change) planSection {
	s := planSection{Kind: k, Total: len(group)}
	for _, ch := range group {
		if ch.HeldFor != "" && !slices.Contains(s.HeldFor, ch.HeldFor) {
			s.HeldFor = append(s.HeldFor, ch.HeldFor)
		}
	}
	if !k.Grouped {
		s.Detailed = group
		return s
	}
	s.Shared = sharedFields(group)
	var own []*reconcile.Change
	var bare []string
	for _, ch := range group {
		if hasOwnLines(ch, s.Shared) {
			own = append(own, ch)
		} else {
			bare = append(bare, ch.Name)
		}
	}
	table := k.Action == reconcile.Create && len(own) > tableAfter
	seenPath, seenOther := map[string]bool{}, map[string]bool{}
	for _, ch := range own {
		shown := len(s.Detailed) + len(s.Rows)
		switch {
		case shown >= maxDetailed:
			s.Hidden++
			addOwnPaths(&s.HiddenPaths, seenPath, ch, s.Shared, nil)
		case table && len(s.Detailed) >= fewCreates && tableable(ch):
			s.Rows = append(s.Rows, newCreateRow(ch, s.Shared))
			addOwnPaths(&s.RowOther, seenOther, ch, s.Shared, rowColumns)
		default:
			s.Detailed = append(s.Detailed, ch)
		}
	}
	s.Bare, s.BareMore = fitNames(bare, utf8.RuneCountInString(k.Action.Symbol()+" "+k.Action.String()+" "))
	return s
}

// rowColumns are the paths a create row shows.
var rowColumns = map[string]bool{
	"auth.params.bucketName": true, "auth.params.folderPath": true,
	"auth.params.serviceUrl": true, "auth.params.region": true,
}

// tableable reports whether a create can be a row: nothing to say about it but its values.
func tableable(ch *reconcile.Change) bool { return reasonText(ch) == "" && len(ch.Notes) == 0 }

func newCreateRow(ch *reconcile.Change, shared []reconcile.FieldChange) createRow {
	r := createRow{Name: ch.Name}
	for _, f := range ch.Fields {
		if containsField(shared, f) || f.Sensitive {
			continue
		}
		switch f.Path {
		case "auth.params.bucketName":
			r.Bucket = f.After
		case "auth.params.folderPath":
			r.Folder = f.After
		case "auth.params.region":
			r.Region = f.After
		case "auth.params.serviceUrl":
			r.Region = regionOf(f.After)
		}
	}
	return r
}

// regionOf is the AWS region of an S3 endpoint (https://s3.REGION.amazonaws.com/, or .com.cn),
// or the URL itself when it is not one.
func regionOf(serviceURL string) string {
	if r, ok := s3source.RegionOf(serviceURL); ok {
		return r
	}
	return serviceURL
}

// addOwnPaths appends the paths ch changes that are not shared (nor in skip) to paths, once.
func addOwnPaths(paths *[]string, seen map[string]bool, ch *reconcile.Change, shared []reconcile.FieldChange, skip map[string]bool) {
	for _, f := range ch.Fields {
		if !containsField(shared, f) && !seen[f.Path] && !skip[f.Path] {
			seen[f.Path] = true
			*paths = append(*paths, f.Path)
		}
	}
}

// fitNames returns the names that fit in maxNameLines lines of lineWidth after a prefix of
// prefixLen characters (as writeNames packs them), and how many are left over.
func fitNames(names []string, prefixLen int) (shown []string, more int) {
	const indent = 4
	lineLen, lines := prefixLen, 0
	for i, name := range names {
		if i == maxDetailed { // past 30 entries of a group, the rest are counted (SPEC)
			return names[:i], len(names) - i
		}
		item := utf8.RuneCountInString(name)
		if i < len(names)-1 {
			item++
		}
		if i > 0 && lineLen+1+item > lineWidth {
			lines++
			if lines == maxNameLines {
				return names[:i], len(names) - i
			}
			lineLen = indent
		} else if i > 0 {
			lineLen++
		}
		lineLen += item
	}
	return names, 0
}

// header is "+ create", "~ update", ….
func (s *planSection) header() string {
	if s.Kind.Blocked {
		return "! blocked"
	}
	if s.Kind.Action == reconcile.Hold {
		return s.Kind.Action.Symbol() + " held for " + strings.Join(s.HeldFor, ", ") + ":"
	}
	return s.Kind.Action.Symbol() + " " + s.Kind.Action.String()
}

// impactNote is what an offline plan that deletes or replaces says about dataflows.
const impactNote = "Note: not checked whether dataflows use the connections to delete or replace (no --refresh): plan --refresh and apply check, and never delete one in use."

// blockedAdvice is what to do about a delete or replace that dataflows block.
const blockedAdvice = "move those dataflows to another connection or delete them first, then run apply again (a rename or an update of the connection needs neither)"

// needsImpactNote reports whether the plan deletes or replaces without having checked what
// uses those connections.
func (m *planModel) needsImpactNote() bool {
	return !m.ImpactChecked && m.Counts.Delete+m.Counts.Replace > 0
}

// usedByText says which dataflows use the connection of a blocked change: "used by 2
// dataflows: orders (enabled, last run success 2026-01-01 00:00 UTC), …", at most
// maxUsedByShown of them by name.
func usedByText(ch *reconcile.Change) string {
	const maxUsedByShown = 5
	if len(ch.UsedBy) == 0 { // blocked by a saved plan; the live lookup finds none now
		return "blocked when the plan was saved, and no dataflow uses it now: plan again to act on it"
	}
	var parts []string
	for i, d := range ch.UsedBy {
		if i == maxUsedByShown {
			parts = append(parts, "and "+thousands(len(ch.UsedBy)-i)+" more")
			break
		}
		run := "never ran"
		if d.LastRun != "" {
			run = "last run " + safe(d.LastRun)
			if d.LastRunAt > 0 {
				run += " " + time.UnixMilli(d.LastRunAt).UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		// The service's text: escaped, so a dataflow's name cannot drive a terminal or forge a line.
		parts = append(parts, safe(d.Name)+" ("+pick(d.State == "", "state unknown", safe(d.State))+", "+run+")")
	}
	return "used by " + plural(len(ch.UsedBy), "dataflow", "dataflows") + ": " + strings.Join(parts, ", ")
}

// blockedWhat says what a blocked change does not do.
func blockedWhat(ch *reconcile.Change) string {
	if ch.Action == reconcile.Replace {
		return "replace not attempted: no new connection is created and this one is not deleted (its connection spec or specName changed)"
	}
	if ch.Action == reconcile.Update {
		return "update not attempted: the old connection an earlier replace left (" + safe(strings.Join(retiredOf(ch), ", ")) + ") is not deleted, and nothing is patched"
	}
	return "delete not attempted"
}

func retiredOf(ch *reconcile.Change) []string {
	if ch.Prior == nil {
		return nil
	}
	return ch.Prior.Retired
}

// hiddenText says how many changes of a section are counted rather than shown.
func (s *planSection) hiddenText() string {
	what := ""
	if len(s.HiddenPaths) > 0 {
		what = ", each with its own " + strings.Join(s.HiddenPaths, ", ")
	}
	if s.Kind.Action == reconcile.Hold {
		return "… and " + thousands(s.Hidden) + " more held" + what
	}
	return "… and " + thousands(s.Hidden) + " more to " + s.Kind.Action.String() + what
}

// rowOtherText says what the rows of a table have of their own beyond its columns, or "".
func (s *planSection) rowOtherText() string {
	if len(s.RowOther) == 0 {
		return ""
	}
	return "each row also with its own " + strings.Join(s.RowOther, ", ")
}

// columns reports which of a table's optional columns (bucket, folder, region) hold a value.
func (s *planSection) columns() (bucket, folder, region bool) {
	for _, r := range s.Rows {
		bucket = bucket || r.Bucket != ""
		folder = folder || r.Folder != ""
		region = region || r.Region != ""
	}
	return
}
