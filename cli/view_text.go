package cli

import (
	"bufio"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/flowsync/flowsync/reconcile"
)

// textPlanView renders a plan for a person: one line per change, its fields underneath, then
// a count line. Colour only when io.Color.
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
)

func (v *textPlanView) Plan(cs *reconcile.Changeset) error {
	p := palette{on: v.io.Color}
	w := bufio.NewWriter(v.io.Out)
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		if ch.Action == reconcile.NoOp {
			continue
		}
		writeTextChange(w, ch, p)
	}
	for _, u := range cs.Unmanaged {
		w.WriteString(p.yellow("?") + " unmanaged " + p.bold(u.Name) + ": live " + connectionsWord(len(u.IDs)) + " " +
			strings.Join(u.IDs, ", ") + ` with a managed name — not touched; run "flowsync import" to adopt` + "\n")
	}
	n := countPlan(cs)
	if n.shown() > 0 || len(cs.Unmanaged) > 0 {
		w.WriteString("\n")
	}
	if cs.SecretsUnknown {
		w.WriteString("Note: secret references were not read (--no-secrets): secret changes are not shown.\n")
	}
	if n.shown() == 0 {
		w.WriteString("No changes. " + plural(n.Unchanged, "connection", "connections") + " up to date.\n")
	} else {
		w.WriteString("Plan: " + thousands(n.Create) + " to create, " + thousands(n.Update) + " to update, " +
			thousands(n.Replace) + " to replace, " + thousands(n.Delete) + " to delete, " +
			thousands(n.Orphan) + " orphaned (kept), " + thousands(n.Unchanged) + " unchanged.\n")
	}
	return w.Flush()
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
	case reconcile.Orphan:
		return p.cyan
	}
	return func(s string) string { return s }
}

func writeTextChange(w *bufio.Writer, ch *reconcile.Change, p palette) {
	style := actionStyle(p, ch.Action)
	w.WriteString(style(ch.Action.Symbol() + " " + ch.Action.String()))
	w.WriteString(" " + p.bold(ch.Name))
	if ch.ID != "" {
		w.WriteString(" (" + ch.ID + ")")
	}
	if ch.Action == reconcile.Orphan {
		w.WriteString(" — kept; use --prune to delete")
	}
	w.WriteString("\n")
	if r := reasonText(ch); r != "" {
		w.WriteString("    " + p.dim("# "+r) + "\n")
	}
	if ch.Heal {
		w.WriteString("    " + p.dim("# "+healText) + "\n")
	}
	for _, f := range ch.Fields {
		w.WriteString("    " + f.Path + ": " + textFieldValue(ch.Action, f, p))
		if f.Drift {
			w.WriteString(" " + p.yellow("(changed outside flowsync)"))
		}
		w.WriteString("\n")
	}
	for _, n := range ch.Notes {
		w.WriteString("    " + p.dim("# "+n) + "\n")
	}
}

// textFieldValue renders a field's change. A sensitive field never shows Before or After,
// whatever they hold.
func textFieldValue(a reconcile.Action, f reconcile.FieldChange, p palette) string {
	switch {
	case f.Sensitive && a == reconcile.Create:
		return "(sensitive)"
	case f.Sensitive:
		return "(sensitive value changed)"
	case a == reconcile.Create:
		return strconv.Quote(f.After)
	case a == reconcile.Delete || a == reconcile.Orphan:
		return strconv.Quote(f.Before)
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
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0 // no deadline: the same inputs must give the same diff
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMain(before, after, false))
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

// elide shortens an unchanged run, keeping diffContext characters next to each neighbouring
// edit (a run at the start keeps only its end, one at the end only its start).
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
	return quoteInner(string(r[:keepHead])) + "…" + quoteInner(string(r[len(r)-keepTail:]))
}

// quoteInner escapes s as strconv.Quote does, without the surrounding quotes.
func quoteInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
