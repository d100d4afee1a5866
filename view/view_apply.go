package view

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/flowsync/flowsync/reconcile"
)

// progressEvery is how often the plain (non-terminal) progress line is printed at most.
const progressEvery = 2 * time.Second

// progress shows how far an apply is on stderr: a bar on a terminal, otherwise a line such as
// "apply: 120/300 done, 2 failed" at most every progressEvery. Safe for concurrent use.
type progress struct {
	w   io.Writer
	log *slog.Logger // structured progress instead of plain lines (--log-format json)
	tty bool
	now func() time.Time

	mu                  sync.Mutex
	bar                 *progressbar.ProgressBar
	total, done, failed int
	last                time.Time // when the plain line was last printed (or the run started)
	printed             bool      // a plain line has been printed
	shownDone           int       // done when the last plain line was printed
	shownFailed         int       // failed when the last plain line was printed
}

func newProgress(io IO) *progress {
	return &progress{w: io.Err, log: io.Log, tty: io.ErrTTY, now: time.Now}
}

func (p *progress) start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done, p.failed = total, 0, 0
	p.last = p.now()
	if p.tty && total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("apply"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
}

func (p *progress) add(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if failed {
		p.failed++
	}
	if p.bar != nil {
		if failed {
			p.bar.Describe("apply (" + strconv.Itoa(p.failed) + " failed)")
		}
		p.bar.Add(1) //nolint:errcheck // progress is best effort
		return
	}
	if now := p.now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.line()
	}
}

// finish removes the bar, or prints the final count if a plain line was printed before.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish() //nolint:errcheck // progress is best effort
		p.bar = nil
		return
	}
	if p.printed && (p.done != p.shownDone || p.failed != p.shownFailed) {
		p.line() // the final count, unless the last line already said it
	}
}

func (p *progress) line() {
	p.printed = true
	p.shownDone, p.shownFailed = p.done, p.failed
	if p.log != nil {
		p.log.Info("apply progress", "done", p.done, "total", p.total, "failed", p.failed)
		return
	}
	fmt.Fprintf(p.w, "apply: %d/%d done, %d failed\n", p.done, p.total, p.failed)
}

// textApplyView shows progress on stderr while the apply runs, then, on stdout, a compact
// result: every failure in full, the successes worth a second look (adopted, healed, stale
// etags re-read, replaced, deleted) one per line, plain creates and updates only counted
// (the plan above listed them; the lockfile holds their ids), and one headline that says
// whether the run completed, had failures or stopped early.
type textApplyView struct {
	io       IO
	progress *progress
}

func (v *textApplyView) Started(total int)         { v.progress.start(total) }
func (v *textApplyView) Result(r reconcile.Result) { v.progress.add(failed(r)) }

func (v *textApplyView) Done(s *reconcile.Summary, stats RunStats) {
	v.progress.finish()
	if s == nil {
		return
	}
	p := palette{on: v.io.Color}
	var b strings.Builder
	for _, r := range s.Results {
		if line := textResult(r, p); line != "" {
			b.WriteString(line + "\n")
		}
	}
	t := tallyResults(s)
	switch {
	case t.notStarted > 0:
		b.WriteString(p.red("Apply stopped early") + ": ")
	case t.failed > 0:
		b.WriteString(p.red("Apply finished with failures") + ": ")
	case t.blocked > 0:
		b.WriteString(p.red("Apply finished with blocked changes") + ": ")
	case t.stale > 0:
		b.WriteString(p.yellow("Apply finished with stale changes") + ": ")
	default:
		b.WriteString(p.green("Apply complete") + ": ")
	}
	fmt.Fprintf(&b, "%s created, %s updated, %s replaced, %s deleted, %s failed",
		thousands(t.created), thousands(t.updated), thousands(t.replaced), thousands(t.deleted), thousands(t.failed))
	if t.blocked > 0 {
		fmt.Fprintf(&b, ", %s blocked (used by dataflows, not attempted)", thousands(t.blocked))
	}
	if t.stale > 0 {
		fmt.Fprintf(&b, ", %s stale (not applied)", thousands(t.stale))
	}
	if t.notStarted > 0 {
		fmt.Fprintf(&b, ", %s not started", thousands(t.notStarted))
	}
	fmt.Fprintf(&b, ". %s, ", plural(int(stats.Requests), "request", "requests"))
	if stats.Retries > 0 {
		fmt.Fprintf(&b, "%s retried, ", thousands(int(stats.Retries)))
	}
	fmt.Fprintf(&b, "%s throttled", thousands(int(stats.Throttled)))
	if r := rate(stats); r > 0 {
		fmt.Fprintf(&b, ", %.1f requests/s", r)
	}
	b.WriteString(".\n")
	io.WriteString(v.io.Out, b.String()) //nolint:errcheck // stdout gone: nothing left to tell
}

// textResult is the line of one result, or "" for a plain success or a change not started
// (both counted in the headline).
func textResult(r reconcile.Result, p palette) string {
	style := actionStyle(p, r.Action)
	name := p.bold(safe(r.Name))
	if errors.Is(r.Err, reconcile.ErrNotStarted) {
		return ""
	}
	var stale *reconcile.StaleError
	if errors.As(r.Err, &stale) {
		return "  " + p.yellow("!") + " " + name + ": " + r.Action.String() + " stale, not applied: " + safe(stale.Moved)
	}
	var blocked *reconcile.BlockedError
	if errors.As(r.Err, &blocked) {
		return "  " + p.red("!") + " " + name + ": " + r.Action.String() + " blocked, not attempted: " + usedByText(&reconcile.Change{UsedBy: blocked.UsedBy})
	}
	if r.Err != nil {
		msg := safe(strings.ReplaceAll(strings.TrimSpace(r.Err.Error()), "\n", "; "))
		return "  " + p.red("x") + " " + name + ": " + r.Action.String() + " failed: " + msg + unmanagedResult(r)
	}
	var what string
	symbol := r.Action.Symbol()
	switch r.Action {
	case reconcile.Create:
		switch {
		case r.Adopted:
			what = "adopted " + safe(r.ID) + " (an earlier create's outcome was unknown; it passes the ownership rule)"
		case r.Healed:
			what = "created " + safe(r.ID) + " (an interrupted run may have sent it: looked up by name first; no connection passed the ownership rule)"
		case r.Retries412 > 0 || len(r.Unmanaged) > 0:
			what = "created " + safe(r.ID)
		default:
			return ""
		}
	case reconcile.Update:
		switch {
		case r.Recreated:
			// The update met a 404: the connection was created, and is counted as created.
			style, symbol = actionStyle(p, reconcile.Create), reconcile.Create.Symbol()
			what = "deleted outside flowsync: created again as " + safe(r.ID)
		case r.AnswerLost:
			what = "updated (its answer was lost; the re-read shows every value sent that can be read back: secrets cannot)"
		case r.Retries412 > 0:
			what = "updated"
		default:
			return ""
		}
	case reconcile.Replace:
		what = "replaced, now " + safe(r.ID)
	case reconcile.Delete:
		what = "deleted " + safe(r.ID)
		if r.ID == "" {
			what = "record dropped (its interrupted create made no connection flowsync can prove is its own: nothing deleted)"
		}
	default:
		return ""
	}
	if r.Retries412 > 0 {
		what += " (" + plural(r.Retries412, "stale etag", "stale etags") + " re-read)"
	}
	return "  " + style(symbol) + " " + name + ": " + what + unmanagedResult(r)
}

// failed reports whether r failed; a stale change of a saved plan (refused, not failed) and
// a success did not.
func failed(r reconcile.Result) bool {
	var stale *reconcile.StaleError
	var blocked *reconcile.BlockedError
	return r.Err != nil && !errors.As(r.Err, &stale) && !errors.As(r.Err, &blocked) && !errors.Is(r.Err, reconcile.ErrNotStarted)
}

type resultTally struct{ created, updated, replaced, deleted, failed, stale, blocked, notStarted int }

func tallyResults(s *reconcile.Summary) resultTally {
	var t resultTally
	var stale *reconcile.StaleError
	var blocked *reconcile.BlockedError
	for _, r := range s.Results {
		switch {
		case errors.Is(r.Err, reconcile.ErrNotStarted):
			t.notStarted++
		case errors.As(r.Err, &stale):
			t.stale++
		case errors.As(r.Err, &blocked):
			t.blocked++
		case r.Err != nil:
			t.failed++
		case r.Action == reconcile.Create, r.Recreated:
			t.created++
		case r.Action == reconcile.Update:
			t.updated++
		case r.Action == reconcile.Replace:
			t.replaced++
		case r.Action == reconcile.Delete && r.ID != "":
			t.deleted++
		}
	}
	t.failed = max(t.failed, s.Failed)
	t.stale = max(t.stale, s.Stale)
	t.notStarted = max(t.notStarted, s.NotStarted)
	return t
}

// jsonApplyView shows progress on stderr like the text view and writes one JSON document
// (docs/plan-json.md, "Apply") on stdout at the end.
type jsonApplyView struct {
	io       IO
	progress *progress
}

type jsonApply struct {
	FormatVersion string            `json:"format_version"`
	Results       []jsonApplyResult `json:"results"`
	Summary       jsonApplySummary  `json:"summary"`
	Stats         jsonApplyStats    `json:"stats"`
}

type jsonApplyResult struct {
	Name             string `json:"name"`
	Action           string `json:"action"`
	Status           string `json:"status"` // "ok", "failed", "stale", "blocked" or "not_started"
	ID               string `json:"id,omitempty"`
	Error            string `json:"error,omitempty"`
	Healed           bool   `json:"healed"`
	Adopted          bool   `json:"adopted"`
	Recreated        bool   `json:"recreated,omitempty"`
	StaleEtagRereads int    `json:"stale_etag_rereads"`
}

type jsonApplySummary struct {
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Replaced int `json:"replaced"`
	Deleted  int `json:"deleted"`
	Failed   int `json:"failed"`
	Stale    int `json:"stale"`
	Blocked  int `json:"blocked"`
	// NotStarted counts the changes a stopped run never started (they are not failures: the
	// next apply does them); present only when there are some.
	NotStarted int `json:"not_started,omitempty"`
}

type jsonApplyStats struct {
	DurationSeconds   float64 `json:"duration_seconds"`
	Requests          int64   `json:"requests"`
	Throttled         int64   `json:"throttled"`
	Retries           int64   `json:"retries"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	JournalWaitSecs   float64 `json:"journal_wait_seconds"`
	SaveSeconds       float64 `json:"save_seconds"`
}

func (v *jsonApplyView) Started(total int)         { v.progress.start(total) }
func (v *jsonApplyView) Result(r reconcile.Result) { v.progress.add(failed(r)) }

func (v *jsonApplyView) Done(s *reconcile.Summary, stats RunStats) {
	v.progress.finish()
	doc := jsonApply{
		FormatVersion: jsonFormatVersion,
		Results:       []jsonApplyResult{},
		Stats: jsonApplyStats{
			DurationSeconds:   stats.Duration.Seconds(),
			Requests:          stats.Requests,
			Throttled:         stats.Throttled,
			Retries:           stats.Retries,
			RequestsPerSecond: rate(stats),
			JournalWaitSecs:   stats.JournalWait.Seconds(),
			SaveSeconds:       stats.Save.Seconds(),
		},
	}
	if s != nil {
		for _, r := range s.Results {
			jr := jsonApplyResult{
				Name: r.Name, Action: r.Action.String(), Status: "ok", ID: r.ID,
				Healed: r.Healed, Adopted: r.Adopted, Recreated: r.Recreated && r.Err == nil, StaleEtagRereads: r.Retries412,
			}
			var stale *reconcile.StaleError
			var blocked *reconcile.BlockedError
			switch {
			case errors.As(r.Err, &stale):
				jr.Status, jr.Error = "stale", r.Err.Error()
			case errors.As(r.Err, &blocked):
				jr.Status, jr.Error = "blocked", r.Err.Error()
			case errors.Is(r.Err, reconcile.ErrNotStarted):
				jr.Status, jr.Error = "not_started", r.Err.Error()
			case r.Err != nil:
				jr.Status, jr.Error = "failed", r.Err.Error()
			}
			doc.Results = append(doc.Results, jr)
		}
		t := tallyResults(s)
		doc.Summary = jsonApplySummary{Created: t.created, Updated: t.updated, Replaced: t.replaced, Deleted: t.deleted, Failed: t.failed, Stale: t.stale, Blocked: t.blocked, NotStarted: t.notStarted}
	}
	writeJSON(v.io.Out, doc) //nolint:errcheck // stdout gone: nothing left to tell
}

// unmanagedResult names the connections an apply looked at and did not touch.
func unmanagedResult(r reconcile.Result) string {
	if len(r.Unmanaged) == 0 {
		return ""
	}
	ids := make([]string, 0, len(r.Unmanaged))
	for id := range r.Unmanaged {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		ids[i] = id + " (" + r.Unmanaged[id] + ")"
	}
	return "; not touched: " + strings.Join(ids, ", ")
}
