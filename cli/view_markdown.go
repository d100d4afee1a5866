package cli

import (
	"bufio"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowsync/flowsync/reconcile"
)

const (
	// markdownLimit is the most bytes the markdown plan may take: a GitHub comment holds 65,536
	// characters, and the rest is left for whatever the pipeline wraps around it.
	markdownLimit = 60_000
	// markdownValueMax is how many characters of a value the markdown plan shows.
	markdownValueMax = 1_000
)

// markdownPlanView renders a plan for a pull-request comment: a count table first, then one
// collapsed <details> block per kind of change (deletes and replaces first), never more than
// limit bytes. When the entries
// do not fit it stops adding them and says how many were left out.
type markdownPlanView struct {
	io    IO
	limit int
	saved string // set by SavedPlan: the line naming the plan file and its SHA-256
}

// mdSection is one <details> block: its summary and its entries, rendered on demand.
type mdSection struct {
	summary   string
	n         int
	entry     func(i int) string
	unmanaged bool
}

func (v *markdownPlanView) Plan(cs *reconcile.Changeset) error {
	n := countPlan(cs)
	var b strings.Builder
	b.WriteString("### flowsync plan\n\n")
	b.WriteString(v.saved)
	mdCounts(&b, n, len(cs.Unmanaged))
	if cs.Refreshed {
		b.WriteString("Compared with the live connections (`--refresh`).\n\n")
	} else {
		b.WriteString("Compared with the lockfile only; changes made outside flowsync are not shown (no `--refresh`).\n\n")
	}
	if cs.SecretsUnknown {
		b.WriteString("**Note:** secret references were not read (`--no-secrets`): secret changes are not shown.\n\n")
	}
	if n.shown() == 0 && len(cs.Unmanaged) == 0 {
		b.WriteString("No changes. " + plural(n.Unchanged, "connection", "connections") + " up to date.\n")
		return v.write(b.String())
	}
	sections, totalChanges := mdSections(cs)
	v.writeSections(&b, sections, totalChanges, len(cs.Unmanaged))
	return v.write(strings.TrimRight(b.String(), "\n") + "\n")
}

// mdCounts writes the table of counts per action.
func mdCounts(b *strings.Builder, n planCounts, unmanaged int) {
	b.WriteString("| action | count |\n| --- | ---: |\n")
	for _, row := range []struct {
		label string
		n     int
	}{
		{"create", n.Create}, {"update", n.Update}, {"replace", n.Replace}, {"delete", n.Delete},
		{"orphan (kept)", n.Orphan}, {"unchanged", n.Unchanged}, {"name conflict", n.Conflict},
	} {
		if row.label == "name conflict" && row.n == 0 {
			continue
		}
		b.WriteString("| " + row.label + " | " + thousands(row.n) + " |\n")
	}
	if unmanaged > 0 {
		b.WriteString("| unmanaged (not touched) | " + thousands(unmanaged) + " |\n")
	}
	b.WriteString("\n")
}

// mdSections groups the changes by action, destructive ones first: when the output is cut,
// what is left out is the least risky. Unmanaged connections come last.
func mdSections(cs *reconcile.Changeset) (sections []mdSection, totalChanges int) {
	for _, a := range [...]reconcile.Action{reconcile.Conflict, reconcile.Delete, reconcile.Replace, reconcile.Update, reconcile.Create, reconcile.Orphan} {
		var idx []int
		for i := range cs.Changes {
			if cs.Changes[i].Action == a {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		totalChanges += len(idx)
		sections = append(sections, mdSection{
			summary: mdSummary(a, len(idx)),
			n:       len(idx),
			entry: func(i int) string {
				if a == reconcile.Conflict {
					return mdConflict(&cs.Changes[idx[i]], cs)
				}
				return mdChange(&cs.Changes[idx[i]])
			},
		})
	}
	if len(cs.Unmanaged) > 0 {
		sections = append(sections, mdSection{
			summary:   thousands(len(cs.Unmanaged)) + " unmanaged (not touched)",
			n:         len(cs.Unmanaged),
			entry:     func(i int) string { return mdUnmanaged(cs.Unmanaged[i]) },
			unmanaged: true,
		})
	}
	return sections, totalChanges
}

// writeSections writes each section as a <details> block, as many entries as fit in the
// view's limit, and a note saying what was cut.
func (v *markdownPlanView) writeSections(b *strings.Builder, sections []mdSection, totalChanges, totalUnmanaged int) {
	const closing = "\n</details>\n\n"
	reserve := len(v.cutNote(totalChanges, totalUnmanaged)) // the note only gets shorter
	shownChanges, shownUnmanaged := 0, 0
	cut := false
	for _, s := range sections {
		open := "<details><summary>" + s.summary + "</summary>\n\n"
		shown := 0
		for ; shown < s.n; shown++ {
			e := s.entry(shown)
			need := len(e) + len(closing) + reserve
			if shown == 0 {
				need += len(open)
			}
			if b.Len()+need > v.limit {
				cut = true
				break
			}
			if shown == 0 {
				b.WriteString(open)
			}
			b.WriteString(e)
		}
		if s.unmanaged {
			shownUnmanaged += shown
		} else {
			shownChanges += shown
		}
		if shown > 0 {
			b.WriteString(closing)
		}
		if cut {
			break
		}
	}
	if cut {
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
	return thousands(n) + " to " + a.String()
}

// mdChange renders one change as a list item: name and id, reasons and notes as sub-items,
// then its fields in a diff block. Values are quoted, so no line of the block can close it.
func mdChange(ch *reconcile.Change) string {
	var b strings.Builder
	b.WriteString("- **" + mdEscape(ch.Name) + "**")
	if ch.ID != "" {
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
	if len(ch.Fields) > 0 {
		b.WriteString("\n  ```diff\n")
		for _, f := range ch.Fields {
			drift := ""
			if f.Drift {
				drift = "  # changed outside flowsync"
			}
			switch {
			case f.Sensitive && ch.Action == reconcile.Create:
				b.WriteString("  + " + f.Path + ": (sensitive)\n")
			case f.Sensitive:
				b.WriteString("  ! " + f.Path + ": (sensitive value changed)" + drift + "\n")
			case ch.Action == reconcile.Create:
				b.WriteString("  + " + f.Path + ": " + mdValue(f.After) + "\n")
			case ch.Action == reconcile.Delete || ch.Action == reconcile.Orphan || f.Removed:
				b.WriteString("  - " + f.Path + ": " + mdValue(f.Before) + drift + "\n")
			default:
				b.WriteString("  - " + f.Path + ": " + mdValue(f.Before) + drift + "\n")
				b.WriteString("  + " + f.Path + ": " + mdValue(f.After) + "\n")
			}
		}
		b.WriteString("  ```\n")
	}
	return b.String()
}

// mdConflict renders a name conflict with both ways out.
func mdConflict(ch *reconcile.Change, cs *reconcile.Changeset) string {
	return "- **" + mdEscape(ch.Name) + "**: " + mdEscape(reconcile.OwnersText(ch.Conflicts)) + "\n  - nothing is created for this entry; " +
		mdEscape(conflictAdvice(ch.Name, ch.Conflicts, cs.Manifest, cs.Lockfile)) + "\n"
}

func mdUnmanaged(u reconcile.Unmanaged) string {
	ids := make([]string, len(u.IDs))
	for i, id := range u.IDs {
		ids[i] = mdEscape(id)
	}
	return "- **" + mdEscape(u.Name) + "**: " + mdEscape(unmanagedText(u, "")) + "\n"
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
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
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
			b.WriteRune(r)
		}
	}
	return b.String()
}
