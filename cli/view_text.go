package cli

import (
	"bufio"
	"strconv"
	"strings"
	"unicode"
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
		w.WriteString(p.yellow("?") + " unmanaged " + p.bold(u.Name) + ": " + unmanagedText(u, cs.Manifest) + "\n")
	}
	n := countPlan(cs)
	if n.shown() > 0 || len(cs.Unmanaged) > 0 {
		w.WriteString("\n")
	}
	if !cs.Refreshed {
		w.WriteString("Note: compared with the lockfile only (no --refresh): changes made outside flowsync are not shown.\n")
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
