package view

import (
	"bufio"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/reconcile"
)

const (
	// markdownLimit is the most bytes the markdown plan may take: a GitHub comment holds 65,536
	// characters, and the rest is left for whatever the pipeline wraps around it.
	markdownLimit = 60_000
	// markdownValueMax is how many characters of a value the markdown plan shows.
	markdownValueMax = 1_000
	// mdHeading opens a plan comment; the count line follows on the next line (an ATX heading
	// needs no blank line after it), which keeps a grouped plan within its line budget.
	mdHeading = "### flowsync plan\n"
)

// markdownPlanView renders a plan for a pull-request comment from the same model as the text
// plan, grouped the same way and in the same order: the count line, the manifest,
// environment and sandbox first, then one collapsed <details> block per kind of change. It
// is never more than limit bytes: when everything does not fit, it keeps the changes that
// destroy first (planKind.Keep) and says what it left out.
type markdownPlanView struct {
	io    IO
	limit int
	saved string // set by SavedPlan: the line naming the plan file and its SHA-256
}

// mdBlock is one <details> block: head and tail always shown, entries as many as fit.
type mdBlock struct {
	head, tail string
	entries    []string
	keep       int
	unmanaged  bool
	shown      int
}

func (v *markdownPlanView) Plan(cs *reconcile.Changeset) error {
	m := newPlanModel(cs)
	var b strings.Builder
	b.WriteString(mdHeading)
	b.WriteString("**" + planSummary(m.Counts) + "**\n\n")
	if t := mdTarget(m); t != "" {
		b.WriteString(t + ". ") // one paragraph with what it was compared with
	}
	if m.Refreshed {
		b.WriteString("Compared with the live connections (`--refresh`).\n\n")
	} else {
		b.WriteString("Compared with the lockfile only; changes made outside flowsync are not shown (no `--refresh`).\n\n")
	}
	b.WriteString(v.saved)
	if m.SecretsUnknown {
		b.WriteString("**Note:** secret references were not read (`--no-secrets`): secret changes are not shown.\n\n")
	}
	if m.needsImpactNote() {
		b.WriteString("**Note:** not checked whether dataflows use the connections to delete or replace (no `--refresh`); `apply` checks and never deletes one in use.\n\n")
	}
	if m.empty() {
		b.WriteString("No changes. " + plural(m.Counts.Unchanged, "connection", "connections") + " up to date.\n")
		return v.write(b.String())
	}
	b.WriteString(mdCountTable(m.Counts))
	blocks := mdBlocks(m)
	v.writeBlocks(&b, blocks, m)
	return v.write(strings.TrimRight(b.String(), "\n") + "\n")
}

// mdCountTable is the summary table a reviewer reads before the details: one row of counts,
// with the columns for conflicts, blocked and held changes only when there are some.
func mdCountTable(n planCounts) string {
	cols := []struct {
		head string
		n    int
		show bool
	}{
		{"create", n.Create, true}, {"update", n.Update, true}, {"replace", n.Replace, true},
		{"delete", n.Delete, true}, {"blocked", n.Blocked, n.Blocked > 0},
		{"orphaned (kept)", n.Orphan, true}, {"held", n.Held, n.Held > 0},
		{"unchanged", n.Unchanged, true}, {"name conflicts", n.Conflict, n.Conflict > 0},
		{"unmanaged", n.Unmanaged, n.Unmanaged > 0},
	}
	var head, rule, row strings.Builder
	for _, c := range cols {
		if !c.show {
			continue
		}
		head.WriteString("| " + c.head + " ")
		rule.WriteString("|---:")
		row.WriteString("| " + thousands(c.n) + " ")
	}
	return head.String() + "|\n" + rule.String() + "|\n" + row.String() + "|\n\n"
}

// mdTarget names the manifest, environment, sandbox and org a plan is for.
func mdTarget(m *planModel) string {
	var parts []string
	if m.Manifest != "" {
		parts = append(parts, "manifest **"+mdEscape(m.Manifest)+"**")
	}
	if m.Environment != "" {
		parts = append(parts, "environment **"+mdEscape(m.Environment)+"**")
	}
	if m.Sandbox != "" {
		parts = append(parts, "sandbox **"+mdEscape(m.Sandbox)+"**")
	}
	if m.OrgID != "" {
		parts = append(parts, "org "+mdEscape(m.OrgID))
	}
	if len(parts) == 0 {
		return ""
	}
	t := strings.Join(parts, " · ")
	return strings.ToUpper(t[:1]) + t[1:]
}

// mdBlocks renders each section of the model, and the unmanaged connections, as a block.
func mdBlocks(m *planModel) []*mdBlock {
	var blocks []*mdBlock
	for i := range m.Sections {
		if s := &m.Sections[i]; s.Kind.Action == reconcile.Conflict {
			blocks = append(blocks, mdConflictBlock(s, m))
			continue
		}
		blocks = append(blocks, mdSectionBlock(&m.Sections[i]))
	}
	if u := m.Unmanaged; len(u.Listed) > 0 {
		blk := &mdBlock{keep: unmanagedKeep, unmanaged: true}
		blk.head = "<details><summary>? " + thousands(len(u.Listed)+u.Hidden) + " unmanaged (not touched)</summary>\n\n" +
			"Live connections not owned by flowsync — never patched or deleted:\n\n"
		for _, x := range u.Listed {
			blk.entries = append(blk.entries, "- **"+mdEscape(x.Name)+"**: "+mdEscape(unmanagedIDs(x))+"; "+mdAdvice(x, m)+"\n")
		}
		if u.Hidden > 0 {
			blk.tail = "… and " + thousands(u.Hidden) + " more (every one: `--output json`)\n"
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

// mdConflictBlock renders the name conflicts with both ways out.
func mdConflictBlock(s *planSection, m *planModel) *mdBlock {
	blk := &mdBlock{keep: s.Kind.Keep}
	blk.head = "<details><summary>! " + mdSummary(reconcile.Conflict, s.Total) + "</summary>\n\n" +
		"Live connections of these names are recorded under no entry of the lockfile: nothing is created for them.\n\n"
	for _, ch := range s.Detailed {
		advice := conflictAdvice(ch.Name, ch.Conflicts, m.Manifest, m.Environment, m.lockfile)
		if ch.RenamedFrom != "" {
			advice = renameConflictAdvice(ch.Name, ch.RenamedFrom)
		}
		blk.entries = append(blk.entries, "- **"+mdEscape(ch.Name)+"**: "+mdEscape(reconcile.OwnersText(ch.Conflicts))+"; "+mdEscape(advice)+"\n")
	}
	return blk
}

// mdClosing ends every block.
const mdClosing = "\n</details>\n\n"

// mdAdvice is unmanagedAdvice with its commands as code.
func mdAdvice(u reconcile.Unmanaged, m *planModel) string {
	a := unmanagedAdvice(u, m)
	if i := strings.Index(a, ": flowsync import"); i >= 0 && !strings.Contains(a, "`") {
		cmds := strings.Split(a[i+2:], " or ")
		for j, c := range cmds {
			cmds[j] = "`" + c + "`"
		}
		return mdEscape(a[:i+2]) + strings.Join(cmds, " or ")
	}
	return mdEscape(a)
}

func mdSectionBlock(s *planSection) *mdBlock {
	blk := &mdBlock{keep: s.Kind.Keep}
	var h strings.Builder
	if s.Kind.Blocked {
		h.WriteString("<details><summary>! " + thousands(s.Total) + " blocked (used by dataflows)</summary>\n\n" +
			"Never attempted: " + blockedAdvice + ".\n\n")
	} else {
		h.WriteString("<details><summary>" + s.Kind.Action.Symbol() + " " + mdSummary(s.Kind.Action, s.Total) + "</summary>\n\n")
	}
	if len(s.Shared) > 0 {
		h.WriteString("Each of the " + thousands(s.Total) + ":\n```diff\n") // a fence may interrupt a paragraph
		for _, f := range s.Shared {
			h.WriteString(mdField(s.Kind.Action, f, ""))
		}
		h.WriteString("```\n\n")
	}
	blk.head = h.String()
	for _, ch := range s.Detailed {
		blk.entries = append(blk.entries, mdChange(ch, s.Shared))
	}
	var t strings.Builder
	if len(s.Rows) > 0 {
		t.WriteString(mdRows(s))
	}
	if s.Hidden > 0 {
		t.WriteString(pick(t.Len() > 0, "\n", "") + mdEscape(s.hiddenText()) + " (every change: `--output json`; fewer: `--only GLOB`)\n")
	}
	if len(s.Bare) > 0 {
		t.WriteString(pick(t.Len() > 0, "\n", "") + pick(len(s.Shared) > 0, "Nothing else of their own: ", "Also: "))
		for i, n := range s.Bare {
			if i > 0 {
				t.WriteString(", ")
			}
			t.WriteString("**" + mdEscape(n) + "**")
		}
		if s.BareMore > 0 {
			t.WriteString(", … and " + thousands(s.BareMore) + " more (every name: `--output json`)")
		}
		t.WriteString("\n")
	}
	blk.tail = t.String()
	return blk
}

// mdRows renders the creates past the first few as a table.
func mdRows(s *planSection) string {
	bucket, folder, region := s.columns()
	var b strings.Builder
	b.WriteString(thousands(len(s.Rows)) + " more to create")
	if o := s.rowOtherText(); o != "" {
		b.WriteString(" (" + mdEscape(o) + ")")
	}
	b.WriteString(":\n\n| name |")
	sep := "| --- |"
	for _, c := range []struct {
		on   bool
		head string
	}{{bucket, "bucket"}, {folder, "folder"}, {region, "region"}} {
		if c.on {
			b.WriteString(" " + c.head + " |")
			sep += " --- |"
		}
	}
	b.WriteString("\n" + sep + "\n")
	for _, r := range s.Rows {
		b.WriteString("| " + mdEscape(r.Name) + " |")
		for _, c := range []struct {
			on  bool
			val string
		}{{bucket, r.Bucket}, {folder, r.Folder}, {region, r.Region}} {
			if c.on {
				b.WriteString(" " + mdEscape(pick(c.val == "", "-", c.val)) + " |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeBlocks writes the blocks in order, with as many entries as fit in the view's limit,
// giving room to the blocks that destroy first, and a note saying what was cut.
func (v *markdownPlanView) writeBlocks(b *strings.Builder, blocks []*mdBlock, m *planModel) {
	totalChanges, totalUnmanaged := 0, 0
	budget := v.limit - b.Len()
	for _, blk := range blocks {
		budget -= len(blk.head) + len("\n") + len(blk.tail) + len(mdClosing)
		if blk.unmanaged {
			totalUnmanaged += len(blk.entries)
		} else {
			totalChanges += len(blk.entries)
		}
	}
	budget -= len(v.cutNote(totalChanges, totalUnmanaged)) // the note only gets shorter
	order := append([]*mdBlock(nil), blocks...)
	slices.SortStableFunc(order, func(x, y *mdBlock) int { return x.keep - y.keep })
	full := true
	for _, blk := range order {
		for _, e := range blk.entries {
			if len(e) > budget {
				full = false
				break
			}
			budget -= len(e)
			blk.shown++
		}
	}
	shownChanges, shownUnmanaged := 0, 0
	for _, blk := range blocks {
		b.WriteString(blk.head)
		for _, e := range blk.entries[:blk.shown] {
			b.WriteString(e)
		}
		if blk.tail != "" && blk.shown > 0 {
			b.WriteString("\n")
		}
		b.WriteString(blk.tail + mdClosing)
		if blk.unmanaged {
			shownUnmanaged += blk.shown
		} else {
			shownChanges += blk.shown
		}
	}
	if !full {
		b.WriteString(v.cutNote(totalChanges-shownChanges, totalUnmanaged-shownUnmanaged))
	}
}

func (v *markdownPlanView) write(s string) error {
	w := bufio.NewWriter(v.io.Out)
	w.WriteString(s)
	return w.Flush()
}

// cutNote says what was left out.
func (v *markdownPlanView) cutNote(changes, unmanaged int) string {
	var what string
	switch {
	case changes > 0 && unmanaged > 0:
		what = thousands(changes) + " more changes and " + plural(unmanaged, "unmanaged connection", "unmanaged connections")
	case changes > 0:
		what = thousands(changes) + " more " + pick(changes == 1, "change", "changes")
	default:
		what = thousands(unmanaged) + " more " + pick(unmanaged == 1, "unmanaged connection", "unmanaged connections")
	}
	return "… " + what + " not shown (output limited to " + thousands(v.limit) +
		" bytes); run flowsync plan locally for the full list\n"
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func mdSummary(a reconcile.Action, n int) string {
	switch a {
	case reconcile.Orphan:
		return thousands(n) + " orphaned (kept)"
	case reconcile.Conflict:
		return plural(n, "name conflict", "name conflicts") + " (nothing created)"
	}
	if a == reconcile.Hold {
		return thousands(n) + " held (promotion)"
	}
	return thousands(n) + " to " + a.String()
}

// mdChange renders one change as a list item: name and id, reasons and notes as sub-items,
// then its fields (less those its group shows once) in a diff block. Values are quoted, so
// no line of the block can close it.
func mdChange(ch *reconcile.Change, shared []reconcile.FieldChange) string {
	var b strings.Builder
	if ch.Blocked {
		b.WriteString("- **" + mdEscape(ch.Name) + "** (" + mdEscape(ch.ID) + "): " + mdEscape(usedByText(ch)) + "\n")
		b.WriteString("  - " + mdEscape(blockedWhat(ch)) + "\n")
		return b.String()
	}
	if ch.RenamedFrom != "" {
		b.WriteString("- rename **" + mdEscape(ch.RenamedFrom) + "** → **" + mdEscape(ch.Name) + "**")
	} else {
		b.WriteString("- **" + mdEscape(ch.Name) + "**")
	}
	if ch.Action == reconcile.Hold {
		b.WriteString(": " + mdEscape(heldText(ch)))
	} else if ch.ID != "" {
		b.WriteString(" (" + mdEscape(ch.ID+ownerText(ch)) + ")")
	}
	if ch.Action == reconcile.Orphan {
		b.WriteString(" — kept; use `--prune` to delete")
	}
	b.WriteString("\n")
	if r := reasonText(ch); r != "" {
		b.WriteString("  - " + r + "\n")
	}
	for _, n := range ch.Notes {
		b.WriteString("  - " + mdEscape(n) + "\n")
	}
	var fields strings.Builder
	for _, f := range ch.Fields {
		if !containsField(shared, f) {
			fields.WriteString(mdField(fieldAction(ch), f, "  "))
		}
	}
	if fields.Len() > 0 {
		b.WriteString("\n  ```diff\n" + fields.String() + "  ```\n")
	}
	return b.String()
}

// mdField renders one field change as diff lines, each after indent.
func mdField(a reconcile.Action, f reconcile.FieldChange, indent string) string {
	drift := ""
	if f.Drift {
		drift = "  # changed outside flowsync"
	}
	switch {
	case f.Sensitive && (a == reconcile.Create || a == reconcile.Hold):
		return indent + "+ " + f.Path + ": (sensitive)\n"
	case f.Sensitive && f.Removed:
		return indent + "- " + f.Path + ": (sensitive value removed)" + drift + "\n"
	case f.Sensitive:
		return indent + "! " + f.Path + ": (sensitive value changed)" + drift + "\n"
	case a == reconcile.Create, a == reconcile.Hold && f.Before == "" && !f.Removed:
		return indent + "+ " + f.Path + ": " + mdValue(f.After) + "\n"
	case a == reconcile.Delete || a == reconcile.Orphan || f.Removed:
		return indent + "- " + f.Path + ": " + mdValue(f.Before) + drift + "\n"
	}
	return indent + "- " + f.Path + ": " + mdValue(f.Before) + drift + "\n" +
		indent + "+ " + f.Path + ": " + mdValue(f.After) + "\n"
}

// mdValue quotes a value for a diff block (one line, escapes visible), cut to
// markdownValueMax characters.
func mdValue(s string) string {
	if n := utf8.RuneCountInString(s); n > markdownValueMax {
		r := []rune(s)
		return strconv.Quote(string(r[:markdownValueMax])) + "… (" + thousands(n-markdownValueMax) + " more characters)"
	}
	return strconv.Quote(s)
}

// mdEscape makes text safe in markdown prose and table cells: markdown punctuation is
// backslash-escaped, HTML is entity-escaped, and line breaks become spaces.
//
// An @ that would mention someone on GitHub (@everyone, @org/team: an @ at the start or after
// a character that is not a letter, digit or _) gets a WORD JOINER (U+2060) after it: it
// shows as written and pings nobody. (&#64; would not do: GitHub finds mentions in the text
// after entities are decoded; a code span would, but would change every table.)
func mdEscape(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		mention := r == '@' && !(prev == '_' || unicode.IsLetter(prev) || unicode.IsDigit(prev))
		prev = r
		if mention {
			b.WriteString("@\u2060")
			continue
		}
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '#', '~', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			if shell.Escaped(r) {
				b.WriteString(safe(string(r))) // a terminal escape or bidi control, made visible
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
