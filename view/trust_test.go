package view

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// Names and notes from a file (a plan file, a lockfile) or the service are shown with their
// control characters escaped, in text and in markdown: they cannot drive a terminal.
func TestSafeEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"acme-eu":              "acme-eu",
		"a\x1b[2Jb":            `a\x1b[2Jb`,
		"evil\u202egpj.exe":    `evil\u202egpj.exe`,
		"tab\there":            `tab\there`,
		"café zero\u200bwidth": "café zero\u200bwidth",
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
		if got := mdEscape(in); strings.ContainsFunc(got, shell.Escaped) {
			t.Errorf("mdEscape(%q) = %q keeps a control character", in, got)
		}
	}
}

// A dataflow's name, state and last run come from the service: a blocked change shows them
// escaped in the text and markdown plans and in apply's results, so a flow named with a
// terminal escape and a fake plan line cannot clear the screen or forge a line.
func TestBlockedDataflowTextEscaped(t *testing.T) {
	evil := "evil\x1b[2J\n- delete pg-3 (fake)\r"
	used := []reconcile.Dataflow{{ID: "df\x1b1", Name: evil, State: "enabled\x1b[0m\n", LastRun: "success\r\x07", LastRunAt: 1}}
	cs := &reconcile.Changeset{ImpactChecked: true, Changes: []reconcile.Change{{
		Name: "pg-1\x1b]0;x\x07", Action: reconcile.Delete, Reason: reconcile.ReasonOrphan, ID: "id-\x1b1",
		Prior: &lockfile.Entry{ID: "id-\x1b1"}, Blocked: true, UsedBy: used,
	}}}
	for _, format := range []string{"text", "markdown"} {
		out := renderPlan(t, format, false, cs)
		if strings.ContainsAny(out, "\x1b\r\x07") {
			t.Errorf("%s plan keeps a control character:\n%q", format, out)
		}
		if strings.Contains(out, "\n- delete pg-3") {
			t.Errorf("%s plan shows a forged line:\n%s", format, out)
		}
	}
	var out, errOut bytes.Buffer
	v, err := NewApplyView("text", IO{Out: &out, Err: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	r := reconcile.Result{Name: "pg-1", Action: reconcile.Delete, ID: "id-1", Err: &reconcile.BlockedError{UsedBy: used}}
	v.Started(1)
	v.Result(r)
	v.Done(&reconcile.Summary{Results: []reconcile.Result{r}, Blocked: 1}, RunStats{})
	if all := out.String() + errOut.String(); strings.ContainsAny(all, "\x1b\r\x07") || strings.Contains(all, "\n- delete pg-3") {
		t.Errorf("apply output keeps a control character or a forged line:\n%q", all)
	}
}
