package view

import (
	"bufio"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/flowsync/flowsync/reconcile"
)

// textPlanView renders a plan for a person: the count line first, then the changes grouped by
// action. Within a group, a field change that every change of the group makes (the same
// connectionSpec on 500 creates, one new default description on 500 updates) is shown once
// for the group; changes left with nothing of their own are listed by name only; at most
// maxDetailed changes of a group are shown in full, the rest are counted. Deletes, replaces
// and orphans are always listed one by one with their ids. A long plan repeats the count line
// at the end. Colour only when io.Color.
type textPlanView struct {
	io IO
}

const (
	// longString is the length (in characters, on both sides) above which a changed value is
	// shown as one inline diff instead of "old" → "new".
	longString = 60
	// diffContext is how much unchanged text an inline diff keeps around each edit.
	diffContext = 24
	// maxDiffInput bounds the inline diff's work; longer values are shown whole.
	maxDiffInput = 32 << 10
	// maxDetailed is how many creates or updates of a plan are shown field by field; the
	// others are counted (--output json and --only show every one).
	maxDetailed = 30
	// maxNameLines bounds a packed list of names.
	maxNameLines = 6
	// lineWidth is where a packed list of names wraps.
	lineWidth = 100
	// repeatSummaryAfter is the body length (in lines) above which the count line is printed
	// again at the end, next to apply's question.
	repeatSummaryAfter = 20
)

func (v *textPlanView) Plan(cs *reconcile.Changeset) error {
	p := palette{on: v.io.Color}
	w := bufio.NewWriter(v.io.Out)
	m := newPlanModel(cs)
	if m.empty() {
		if !m.Refreshed {
			w.WriteString(offlineNote + "\n")
		}
		if m.SecretsUnknown {
			w.WriteString(noSecretsNote + "\n")
		}
		w.WriteString("No changes. " + plural(m.Counts.Unchanged, "connection", "connections") + " up to date.\n")
		return w.Flush()
	}
	summary := planSummary(m.Counts)
	var body strings.Builder
	for i := range m.Sections {
		if m.Sections[i].Kind.Action == reconcile.Conflict {
			writeConflicts(&body, m.Sections[i].Detailed, m, p)
			continue
		}
		writeTextSection(&body, &m.Sections[i], p)
	}
	writeTextUnmanaged(&body, m, p)
	w.WriteString(summary + "\n")
	if !m.Refreshed {
		w.WriteString(offlineNote + "\n")
	}
	if m.needsImpactNote() {
		w.WriteString(impactNote + "\n")
	}
	if m.SecretsUnknown {
		w.WriteString(noSecretsNote + "\n")
	}
	w.WriteString("\n")
	w.WriteString(body.String())
	if strings.Count(body.String(), "\n") > repeatSummaryAfter {
		w.WriteString("\n" + summary + "\n")
	}
	return w.Flush()
}

// offlineNote says what a plan without --refresh could not see.
const offlineNote = "Note: compared with the lockfile only (no --refresh): changes made outside flowsync are not shown."

// writeConflicts writes each name conflict: the live connections that stop its create, and
// both ways out.
func writeConflicts(b *strings.Builder, group []*reconcile.Change, m *planModel, p palette) {
	for _, ch := range group {
		b.WriteString(p.red("! conflict") + " " + p.bold(safe(ch.Name)) + ": " + safe(reconcile.OwnersText(ch.Conflicts)) + "\n")
		if ch.RenamedFrom != "" {
			b.WriteString("    " + p.dim("# "+safe(renameConflictAdvice(ch.Name, ch.RenamedFrom))) + "\n")
			continue
		}
		b.WriteString("    " + p.dim("# recorded under no entry of the lockfile: nothing is created for this entry; "+
			safe(conflictAdvice(ch.Name, ch.Conflicts, m.Manifest, m.Environment, m.lockfile))) + "\n")
	}
}

const noSecretsNote = "Note: secret references were not read (--no-secrets): secret changes are not shown."

func planSummary(n planCounts) string {
	blocked := ""
	if n.Blocked > 0 {
		blocked = thousands(n.Blocked) + " blocked (used by dataflows), "
	}
	conflicts := ""
	if n.Conflict > 0 {
		conflicts = ", " + plural(n.Conflict, "name conflict", "name conflicts")
	}
	if n.Unmanaged > 0 {
		conflicts += ", " + thousands(n.Unmanaged) + " unmanaged"
	}
	return "Plan: " + thousands(n.Create) + " to create, " + thousands(n.Update) + " to update, " +
		thousands(n.Replace) + " to replace, " + thousands(n.Delete) + " to delete, " + blocked +
		thousands(n.Orphan) + " orphaned (kept), " + heldCount(n) + thousands(n.Unchanged) + " unchanged" + conflicts + "."
}

// heldCount is the count line's held changes, said only when promotion holds some back.
func heldCount(n planCounts) string {
	if n.Held == 0 {
		return ""
	}
	return thousands(n.Held) + " held, "
}

func connectionsWord(n int) string {
	if n == 1 {
		return "connection"
	}
	return "connections"
}

// actionStyle is how an action's symbol and verb are coloured.
func actionStyle(p palette, a reconcile.Action) func(string) string {
	switch a {
	case reconcile.Create:
		return p.green
	case reconcile.Update:
		return p.yellow
	case reconcile.Delete:
		return p.red
	case reconcile.Replace:
		return p.magenta
	case reconcile.Orphan, reconcile.Hold:
		return p.cyan
	}
	return func(s string) string { return s }
}

// writeTextSection writes the changes of one kind.
func writeTextSection(b *strings.Builder, s *planSection, p palette) {
	style := actionStyle(p, s.Kind.Action)
	if len(s.Shared) > 0 {
		b.WriteString(style(s.header()) + " " + thousands(s.Total) + " connections, each with:\n")
		for _, f := range s.Shared {
			writeTextField(b, s.Kind.Action, f, p)
		}
	}
	for _, ch := range s.Detailed {
		if ch.Blocked {
			writeTextBlocked(b, ch, p)
		} else {
			writeTextChange(b, ch, s.Shared, p)
		}
	}
	if s.Kind.Blocked {
		b.WriteString("    " + p.dim("# "+blockedAdvice) + "\n")
	}
	writeTextRows(b, s, p)
	if s.Hidden > 0 {
		b.WriteString("    " + p.dim(s.hiddenText()+" (every change: --output json; fewer: --only GLOB)") + "\n")
	}
	if len(s.Bare) > 0 {
		writeNames(b, style(s.header())+" ", s.Bare, s.BareMore, p)
	}
}

// writeTextRows writes the creates of a section past the first few as an aligned table.
func writeTextRows(b *strings.Builder, s *planSection, p palette) {
	if len(s.Rows) == 0 {
		return
	}
	bucket, folder, region := s.columns()
	table := [][]string{{"NAME"}}
	for _, c := range []struct {
		on   bool
		head string
	}{{bucket, "BUCKET"}, {folder, "FOLDER"}, {region, "REGION"}} {
		if c.on {
			table[0] = append(table[0], c.head)
		}
	}
	for _, r := range s.Rows {
		row := []string{r.Name}
		for _, c := range []struct {
			on  bool
			val string
		}{{bucket, r.Bucket}, {folder, r.Folder}, {region, r.Region}} {
			if c.on {
				row = append(row, pick(c.val == "", "-", c.val))
			}
		}
		table = append(table, row)
	}
	widths := make([]int, len(table[0]))
	for _, row := range table {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	b.WriteString(actionStyle(p, s.Kind.Action)(s.header()) + " " + thousands(len(s.Rows)) + " more, one per line")
	if o := s.rowOtherText(); o != "" {
		b.WriteString(" (" + o + ")")
	}
	b.WriteString(":\n")
	for i, row := range table {
		var line strings.Builder
		for j, cell := range row {
			if j > 0 {
				line.WriteString("  ")
			}
			if i > 0 && j == 0 {
				line.WriteString(p.bold(cell))
			} else {
				line.WriteString(cell)
			}
			if j < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell)))
			}
		}
		b.WriteString("    " + line.String() + "\n")
	}
}

// writeTextUnmanaged writes the live connections flowsync does not own: one line, or a group
// whose header says once what every line would.
func writeTextUnmanaged(b *strings.Builder, m *planModel, p palette) {
	u := m.Unmanaged
	if len(u.Listed) == 1 && u.Hidden == 0 {
		b.WriteString(p.yellow("?") + " unmanaged " + p.bold(safe(u.Listed[0].Name)) + ": " + safe(unmanagedText(u.Listed[0], m)) + "\n")
		return
	}
	if len(u.Listed) == 0 {
		return
	}
	b.WriteString(p.yellow("?") + " unmanaged " + thousands(len(u.Listed)+u.Hidden) + " names: " + unmanagedGroupText + "\n")
	for _, x := range u.Listed {
		b.WriteString("    " + p.bold(safe(x.Name)) + ": " + safe(unmanagedIDs(x)+"; "+unmanagedAdvice(x, m)) + "\n")
	}
	if u.Hidden > 0 {
		b.WriteString("    " + p.dim("… and "+thousands(u.Hidden)+" more (every one: --output json)") + "\n")
	}
}

// sharedFields returns the field changes that every change of a group of two or more makes
// identically, in the order of the first change.
func sharedFields(group []*reconcile.Change) []reconcile.FieldChange {
	if len(group) < 2 {
		return nil
	}
	var shared []reconcile.FieldChange
	for _, f := range group[0].Fields {
		all := true
		for _, ch := range group[1:] {
			if !containsField(ch.Fields, f) {
				all = false
				break
			}
		}
		if all {
			shared = append(shared, f)
		}
	}
	return shared
}

func containsField(fs []reconcile.FieldChange, f reconcile.FieldChange) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// hasOwnLines reports whether ch has anything to show besides its name and the shared fields.
func hasOwnLines(ch *reconcile.Change, shared []reconcile.FieldChange) bool {
	if reasonText(ch) != "" || len(ch.Notes) > 0 || ch.RenamedFrom != "" {
		return true
	}
	for _, f := range ch.Fields {
		if !containsField(shared, f) {
			return true
		}
	}
	return false
}

// writeNames packs names after a prefix, wrapped at lineWidth, then says how many more there
// are (fitNames chose the names so that they fit in maxNameLines lines).
func writeNames(b *strings.Builder, prefix string, names []string, more int, p palette) {
	const indent = "    "
	line := prefix
	lineLen := utf8.RuneCountInString(stripSGR(prefix))
	for i, name := range names {
		comma := i < len(names)-1 || more > 0
		item := name
		if comma {
			item += ","
		}
		if i > 0 && lineLen+1+utf8.RuneCountInString(item) > lineWidth {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line, lineLen = indent, len(indent)
		} else if i > 0 {
			line += " "
			lineLen++
		}
		line += p.bold(safe(name))
		if comma {
			line += ","
		}
		lineLen += utf8.RuneCountInString(item)
	}
	b.WriteString(line + "\n")
	if more > 0 {
		b.WriteString(indent + p.dim("… and "+thousands(more)+" more (every name: --output json)") + "\n")
	}
}

// stripSGR removes ANSI colour codes, to measure what is shown.
func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writeTextBlocked writes a delete or replace that dataflows block.
func writeTextBlocked(b *strings.Builder, ch *reconcile.Change, p palette) {
	b.WriteString(p.red("! blocked") + " " + p.bold(safe(ch.Name)))
	if ch.ID != "" {
		b.WriteString(" (" + safe(ch.ID) + ")")
	}
	b.WriteString(": " + usedByText(ch) + "\n")
	b.WriteString("    " + p.dim("# "+blockedWhat(ch)) + "\n")
}

// writeTextChange writes one change: its line, then its reason, fields and notes, leaving out
// the fields its group shows once.
func writeTextChange(b *strings.Builder, ch *reconcile.Change, shared []reconcile.FieldChange, p palette) {
	style := actionStyle(p, ch.Action)
	switch {
	case ch.RenamedFrom != "" && ch.Action == reconcile.Update:
		b.WriteString(style(ch.Action.Symbol() + " rename"))
		b.WriteString(" " + p.bold(safe(ch.RenamedFrom)) + " → " + p.bold(safe(ch.Name)))
	case ch.RenamedFrom != "":
		b.WriteString(style(ch.Action.Symbol() + " " + ch.Action.String()))
		b.WriteString(" " + p.bold(safe(ch.Name)) + " (renamed from " + p.bold(safe(ch.RenamedFrom)) + ")")
	default:
		b.WriteString(style(ch.Action.Symbol() + " " + ch.Action.String()))
		b.WriteString(" " + p.bold(safe(ch.Name)))
	}
	if ch.Action == reconcile.Hold {
		b.WriteString(": " + heldText(ch))
	} else if ch.ID != "" {
		b.WriteString(" (" + safe(ch.ID+ownerText(ch)) + ")")
	}
	if ch.Action == reconcile.Orphan {
		b.WriteString(" — kept; use --prune to delete")
	}
	b.WriteString("\n")
	if r := reasonText(ch); r != "" {
		b.WriteString("    " + p.dim("# "+r) + "\n")
	}
	for _, f := range ch.Fields {
		if containsField(shared, f) || renameField(ch, f) {
			continue
		}
		writeTextField(b, fieldAction(ch), f, p)
	}
	for _, n := range ch.Notes {
		b.WriteString("    " + p.dim("# "+safe(n)) + "\n")
	}
}

// renameField reports whether f is the name change of a rename, which the change's line says.
func renameField(ch *reconcile.Change, f reconcile.FieldChange) bool {
	return ch.RenamedFrom != "" && f.Path == "name" && !f.Drift
}

func writeTextField(b *strings.Builder, a reconcile.Action, f reconcile.FieldChange, p palette) {
	b.WriteString("    " + f.Path + ": " + textFieldValue(a, f, p))
	if f.Drift {
		b.WriteString(" " + p.yellow("(changed outside flowsync)"))
	}
	b.WriteString("\n")
}

// textFieldValue renders a field's change. A sensitive field never shows Before or After,
// whatever they hold.
func textFieldValue(a reconcile.Action, f reconcile.FieldChange, p palette) string {
	switch {
	case f.Sensitive && (a == reconcile.Create || a == reconcile.Hold):
		return "(sensitive)"
	case f.Sensitive && f.Removed:
		return "(sensitive value removed)"
	case f.Sensitive:
		return "(sensitive value changed)"
	case a == reconcile.Create, a == reconcile.Hold && f.Before == "" && !f.Removed:
		return strconv.Quote(f.After)
	case a == reconcile.Delete || a == reconcile.Orphan:
		return strconv.Quote(f.Before)
	case f.Removed:
		return strconv.Quote(f.Before) + " → (removed)"
	case utf8.RuneCountInString(f.Before) > longString && utf8.RuneCountInString(f.After) > longString &&
		len(f.Before)+len(f.After) <= maxDiffInput:
		return inlineDiff(f.Before, f.After, p)
	}
	return strconv.Quote(f.Before) + " → " + strconv.Quote(f.After)
}

// inlineDiff shows before → after as one quoted string with the edits marked: [-deleted-] and
// {+inserted+} in plain text, red and green in colour. Long unchanged runs are elided to
// diffContext characters either side of an edit.
func inlineDiff(before, after string, p palette) string {
	diffs := wordDiff(before, after)
	var b strings.Builder
	b.WriteByte('"')
	for i, d := range diffs {
		text := quoteInner(d.Text)
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			if p.on {
				b.WriteString(p.red(text))
			} else {
				b.WriteString("[-" + text + "-]")
			}
		case diffmatchpatch.DiffInsert:
			if p.on {
				b.WriteString(p.green(text))
			} else {
				b.WriteString("{+" + text + "+}")
			}
		default:
			b.WriteString(elide(d.Text, i > 0, i < len(diffs)-1))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wordDiff diffs two strings word by word (a word is a run of letters and digits; any other
// character stands alone), so an edit never splits a word, then cleans the result up
// semantically so that short unchanged runs between edits are folded into them.
func wordDiff(before, after string) []diffmatchpatch.Diff {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0   // no deadline: the same inputs must give the same diff
	words := []string{""} // index 0 unused, as in diffmatchpatch's line mode
	ids := map[string]int{}
	encode := func(s string) []rune {
		var out []rune
		for _, w := range splitWords(s) {
			id, ok := ids[w]
			if !ok {
				id = len(words)
				ids[w] = id
				words = append(words, w)
			}
			out = append(out, indexRune(id))
		}
		return out
	}
	a, b := encode(before), encode(after)
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMainRunes(a, b, false))
	return dmp.DiffCharsToLines(diffs, words)
}

// indexRune encodes a word index as diffmatchpatch's line mode does: skipping the surrogate
// range, which is not valid in a string.
func indexRune(i int) rune {
	const surrogateStart, surrogateEnd = 0xd800, 0xdfff + 1
	if i < surrogateStart {
		return rune(i)
	}
	return rune(i + (surrogateEnd - surrogateStart))
}

func splitWords(s string) []string {
	var words []string
	start := -1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
		} else {
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			words = append(words, s[i:i+size])
		}
		i += size
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// elide shortens an unchanged run, keeping about diffContext characters next to each
// neighbouring edit (a run at the start keeps only its end, one at the end only its start),
// cut at a space when there is one nearby so that words stay whole.
func elide(s string, editBefore, editAfter bool) string {
	r := []rune(s)
	keepHead, keepTail := 0, 0
	if editBefore {
		keepHead = diffContext
	}
	if editAfter {
		keepTail = diffContext
	}
	if len(r) <= keepHead+keepTail+1 {
		return quoteInner(s)
	}
	head, tail := r[:keepHead], r[len(r)-keepTail:]
	if i := lastSpace(head); i >= keepHead/2 {
		head = head[:i+1]
	}
	if i := firstSpace(tail); i >= 0 && i <= keepTail/2 {
		tail = tail[i:]
	}
	return quoteInner(string(head)) + "…" + quoteInner(string(tail))
}

func lastSpace(r []rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == ' ' {
			return i
		}
	}
	return -1
}

func firstSpace(r []rune) int {
	for i, c := range r {
		if c == ' ' {
			return i
		}
	}
	return -1
}

// quoteInner escapes s as strconv.Quote does, without the surrounding quotes.
func quoteInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
