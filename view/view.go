package view

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/workspace"
)

// PlanView renders a plan.
type PlanView interface {
	Plan(cs *reconcile.Changeset) error
}

// ApplyView reports an apply as it runs: Started once, Result as each change finishes (from
// any goroutine), Done once at the end with the results in plan order.
type ApplyView interface {
	Started(total int)
	Result(r reconcile.Result)
	Done(s *reconcile.Summary, stats RunStats)
}

// RunStats is what the client saw during an apply.
type RunStats = workspace.RunStats

// Below these a rate says nothing: one request "at 40,094.6 requests/s" is noise.
const (
	minRateRequests = 20
	minRateDuration = 100 * time.Millisecond
)

// rate is requests per second, or 0 for a run too small or too short to have one.
func rate(s RunStats) float64 {
	if s.Requests >= minRateRequests && s.Duration >= minRateDuration {
		return float64(s.Requests) / s.Duration.Seconds()
	}
	return 0
}

// PlanFormats are the values --output accepts for plan, in the order help lists them.
func PlanFormats() []string { return []string{"text", "json", "markdown"} }

// ApplyFormats are the values --output accepts for apply.
func ApplyFormats() []string { return []string{"text", "json"} }

// NewPlanView returns the plan view for an --output format.
func NewPlanView(format string, io IO) (PlanView, error) {
	switch format {
	case "text":
		return &textPlanView{io: io}, nil
	case "json":
		return &jsonPlanView{io: io}, nil
	case "markdown":
		return &markdownPlanView{io: io, limit: markdownLimit}, nil
	}
	return nil, unknownFormat(format, PlanFormats())
}

// NewApplyView returns the apply view for an --output format. Progress goes to io.Err: a bar
// when it is a terminal, otherwise a line at most every two seconds.
func NewApplyView(format string, io IO) (ApplyView, error) {
	switch format {
	case "text":
		return &textApplyView{io: io, progress: newProgress(io)}, nil
	case "json":
		return &jsonApplyView{io: io, progress: newProgress(io)}, nil
	}
	return nil, unknownFormat(format, ApplyFormats())
}

func unknownFormat(format string, valid []string) error {
	msg := fmt.Sprintf("unknown output format %q: valid formats are %s", format, strings.Join(valid, ", "))
	if s := suggest(format, valid); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	return errors.New(msg)
}

// PrintError prints err as "flowsync: error: …", once, followed by a "flowsync: hint: …" line
// per non-empty hint. A multi-line error (manifest diagnostics) keeps one problem per line,
// the later lines aligned under the first.
func PrintError(w io.Writer, err error, hints ...string) {
	if err == nil {
		return
	}
	const prefix = "flowsync: error: "
	var b strings.Builder
	first := true
	for line := range strings.SplitSeq(err.Error(), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			continue
		}
		if first {
			b.WriteString(prefix)
			first = false
		} else {
			b.WriteString(strings.Repeat(" ", len(prefix)))
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if first { // the error had no text at all
		b.WriteString(prefix + "unknown error\n")
	}
	for _, h := range hints {
		if h = strings.TrimSpace(h); h != "" {
			b.WriteString("flowsync: hint: " + h + "\n")
		}
	}
	io.WriteString(w, b.String()) //nolint:errcheck // nowhere left to report a failure to print an error
}

// planCounts is a changeset's counts in the order every view shows them.
type planCounts struct {
	Create, Update, Replace, Delete, Blocked, Orphan, Unchanged int
	Conflict                                                    int
	Held                                                        int // changes promotion holds back
	Unmanaged                                                   int // live connections flowsync does not own (never touched)
}

func countPlan(cs *reconcile.Changeset) planCounts {
	n := cs.Counts()
	return planCounts{
		Create:    n[reconcile.Create],
		Update:    n[reconcile.Update],
		Replace:   n[reconcile.Replace],
		Delete:    n[reconcile.Delete],
		Blocked:   cs.Blocked(),
		Orphan:    n[reconcile.Orphan],
		Unchanged: n[reconcile.NoOp],
		Conflict:  n[reconcile.Conflict],
		Held:      n[reconcile.Hold],
		Unmanaged: len(cs.Unmanaged),
	}
}

func (c planCounts) shown() int {
	return c.Create + c.Update + c.Replace + c.Delete + c.Blocked + c.Orphan + c.Conflict + c.Held
}

// conflictAdvice says both ways out of a name conflict: record the live connection when it
// is this entry's (one import per candidate), rename the entry when it is not.
func conflictAdvice(name string, live []reconcile.Owner, manifest, env, lockfile string) string {
	m := &planModel{Manifest: manifest, Environment: env, lockfile: lockfile}
	if manifest == "" || manifest == "-" {
		m.Manifest = "MANIFEST"
	}
	cmds := make([]string, len(live))
	for i, o := range live {
		cmds[i] = importCommand(m, name, o.ID)
	}
	return "if " + pick(len(live) == 1, "it is", "one is") + " this entry's, record it: " + strings.Join(cmds, " or ") +
		"; if not, rename the entry in the manifest"
}

// renameConflictAdvice is the way out of a rename onto a name a live connection flowsync does
// not manage already has: another name (that connection is someone else's; importing it would
// make flowsync patch it and delete this entry's).
func renameConflictAdvice(name, from string) string {
	return "nothing is renamed (" + from + " keeps its name): the name " + name + " belongs to a connection flowsync does not manage; pick another name for the entry in the manifest"
}

// ownerText is the owner of a delete's or replace's connection, ", created by API key K at
// TIME", or "" when the live state was not read.
func ownerText(ch *reconcile.Change) string {
	if ch.Owner == nil || (ch.Action != reconcile.Delete && ch.Action != reconcile.Replace) {
		return ""
	}
	if ch.Owner.ID != ch.ID {
		return ", " + ch.Owner.ID + " " + ch.Owner.Created()
	}
	return ", " + ch.Owner.Created()
}

// safe escapes the control characters of a name, note or message shown on a terminal, so
// that text from a file (a plan file, a lockfile, the service) cannot drive it.
func safe(s string) string { return shell.Printable(s) }

// fieldAction is the action a change's fields are shown for: a held change's fields are
// those of the change it holds back.
func fieldAction(ch *reconcile.Change) reconcile.Action {
	if ch.Action == reconcile.Hold {
		return ch.Held
	}
	return ch.Action
}

// heldText is the line of a held change, after its name.
func heldText(ch *reconcile.Change) string {
	return "not yet applied in " + ch.HeldFor + " (" + ch.Held.String() + " held back)"
}

// reasonText explains a change whose cause the user would not guess from the manifest, or
// returns "".
func reasonText(ch *reconcile.Change) string {
	switch {
	case ch.Reason == reconcile.ReasonMissing && (ch.Heal || ch.Prior != nil && ch.Prior.ID != ""):
		return "" // reconcile's note says what happened, with the id: saying it twice is noise
	case ch.Reason == reconcile.ReasonMissing:
		return "not found on the service: will be created"
	case ch.Reason == reconcile.ReasonDrift && ch.Action == reconcile.Replace:
		return "changed outside flowsync: will be replaced to match the manifest"
	case ch.Reason == reconcile.ReasonDrift:
		return "changed outside flowsync: will be set back to the manifest"
	}
	return ""
}

// plural returns "1 thing" or "2 things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

// thousands formats n with comma separators: 4212 → "4,212".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// unmanagedGroupText is what every unmanaged connection is.
const unmanagedGroupText = "live connections not owned by flowsync — never patched or deleted"

// unmanagedText describes live connections flowsync does not own and says how to resolve
// them.
func unmanagedText(u reconcile.Unmanaged, m *planModel) string {
	return "live " + connectionsWord(len(u.IDs)) + " " + unmanagedIDs(u) +
		" not owned by flowsync — never patched or deleted; " + unmanagedAdvice(u, m)
}

// unmanagedIDs lists the ids of u, each with why flowsync does not own it.
func unmanagedIDs(u reconcile.Unmanaged) string {
	var b strings.Builder
	for i, id := range u.IDs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
		if why := u.Reasons[id]; why != "" {
			b.WriteString(" (" + why + ")")
		}
	}
	return b.String()
}

// unmanagedAdvice says what to do about u: nothing when flowsync manages another connection
// under the name (they are someone else's namesakes), else the import command of each id.
func unmanagedAdvice(u reconcile.Unmanaged, m *planModel) string {
	switch {
	case u.Orphan:
		return "the name is no longer in the manifest"
	case u.Recorded != "":
		return "flowsync manages " + u.Recorded + " under this name"
	case m.Manifest == "" || m.Manifest == "-":
		return "if one is this entry's, record it with flowsync import NAME ID"
	}
	cmds := make([]string, len(u.IDs))
	for i, id := range u.IDs {
		cmds[i] = importCommand(m, u.Name, id)
	}
	if len(cmds) == 1 {
		return "if it is this entry's, record it: " + cmds[0]
	}
	return "if one is this entry's, record it: " + strings.Join(cmds, " or ")
}

// importCommand is the command that records id under name, quoted for a POSIX shell; "--"
// ends the options, so that a name starting with "-" is read as the name.
func importCommand(m *planModel, name, id string) string {
	return "flowsync import " + workspace.FileArgs(m.Manifest, m.Environment, m.lockfile) + " -- " + shell.Quote(name) + " " + shell.Quote(id)
}

// suggest returns the candidate closest to word, or "" when none is close enough to be what
// was meant: at most 2 edits, and fewer than half of word.
func suggest(word string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if d == 0 {
			continue
		}
		if best == "" || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > 2 || bestDist*2 >= len([]rune(word)) {
		// A prefix is a suggestion too: --dry → --dry-run.
		for _, c := range candidates {
			if len(word) >= 3 && strings.HasPrefix(c, word) {
				return c
			}
		}
		return ""
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (optimal string alignment): a swap of two
// neighbouring characters ("emualtor") counts as one edit.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}
