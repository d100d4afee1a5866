// Package view renders what flowsync's commands found: plans (text, JSON, markdown), apply
// progress and results, check reports, and errors. It is the only package that writes to the
// user: results on stdout, progress on stderr, colour and progress bars only on a terminal
// with NO_COLOR unset.
//
// Invariants: no secret value reaches a view (views only ever say "(sensitive)" or
// "(sensitive value changed)"); the same changeset renders to the same bytes; a command
// printed as advice is quoted for a POSIX shell.
package view

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/flowsync/flowsync/reconcile"
)

// EnvPlan is one environment's plan, for plan --env all.
type EnvPlan struct {
	Env, OrgID, Sandbox, Lockfile string
	Changes                       *reconcile.Changeset
}

// EnvPlans renders each environment's plan with the view of one plan, in a section
// of its own: a heading line in text, a heading in markdown (the limit shared between the
// sections), and in JSON one document listing each environment with its plan document.
func EnvPlans(format string, io IO, plans []EnvPlan) error {
	if _, err := NewPlanView(format, io); err != nil {
		return err
	}
	var docs []jsonEnvPlan
	var md strings.Builder
	if format == "markdown" {
		md.WriteString("## flowsync plan: " + plural(len(plans), "environment", "environments") + "\n\n")
		md.WriteString("| environment | sandbox | plan |\n| --- | --- | --- |\n")
		for _, p := range plans {
			md.WriteString("| " + mdEscape(p.Env) + " | " + mdEscape(p.Sandbox) + " | " + planSummary(countPlan(p.Changes)) + " |\n")
		}
		md.WriteString("\n")
	}
	for i, p := range plans {
		var buf bytes.Buffer
		one := io
		one.Out = &buf
		view, _ := NewPlanView(format, one)
		if mv, ok := view.(*markdownPlanView); ok {
			mv.limit = (markdownLimit - md.Len()) / (len(plans) - i)
		}
		if err := view.Plan(p.Changes); err != nil {
			return err
		}
		switch format {
		case "json":
			docs = append(docs, jsonEnvPlan{Environment: p.Env, OrgID: p.OrgID, Sandbox: p.Sandbox,
				Lockfile: p.Lockfile, Plan: bytes.TrimRight(buf.Bytes(), "\n")})
		case "markdown":
			md.WriteString("### Environment " + mdEscape(p.Env) + ": sandbox " + mdEscape(p.Sandbox) + "\n\n")
			md.WriteString(strings.Replace(buf.String(), mdHeading, "", 1) + "\n")
		default:
			if i > 0 {
				fmt.Fprintln(io.Out)
			}
			fmt.Fprintf(io.Out, "=== environment %s: sandbox %s of %s (lockfile %s)\n", p.Env, p.Sandbox, p.OrgID, p.Lockfile)
			if _, err := io.Out.Write(buf.Bytes()); err != nil {
				return err
			}
		}
	}
	switch format {
	case "json":
		return writeJSON(io.Out, jsonEnvPlans{FormatVersion: jsonEnvFormatVersion, Environments: docs})
	case "markdown":
		_, err := io.Out.Write([]byte(strings.TrimRight(md.String(), "\n") + "\n"))
		return err
	}
	return nil
}

// jsonEnvPlans is plan --env all --output json (docs/plan-json.md).
type jsonEnvPlans struct {
	FormatVersion string        `json:"format_version"`
	Environments  []jsonEnvPlan `json:"environments"`
}

type jsonEnvPlan struct {
	Environment string          `json:"environment"`
	OrgID       string          `json:"org_id"`
	Sandbox     string          `json:"sandbox"`
	Lockfile    string          `json:"lockfile"`
	Plan        jsonRawDocument `json:"plan"`
}

// jsonRawDocument is a JSON document written by a view, embedded as it is.
type jsonRawDocument []byte

func (d jsonRawDocument) MarshalJSON() ([]byte, error) { return d, nil }

// SavedPlan tells the plan view v that the plan was saved at path with SHA-256 sum: the
// markdown view says so under its title (the others leave it to the command).
func SavedPlan(v PlanView, path, sum string) {
	if mv, ok := v.(*markdownPlanView); ok {
		mv.saved = savedPlanMarkdown(path, sum)
	}
}

// savedPlanMarkdown is the line the markdown plan shows under its title for plan --out.
func savedPlanMarkdown(path, sum string) string {
	return "Saved plan **" + mdEscape(path) + "**, SHA-256 `" + sum + "`: `flowsync apply --plan` applies exactly these changes.\n\n"
}

// ShowStale lists the saved plan's changes that will not be sent.
func ShowStale(planIO IO, stale []reconcile.Result) {
	fmt.Fprintf(planIO.Out, "\n%s not be applied (stale: planned against something that moved):\n", plural(len(stale), "change will", "changes will"))
	p := palette{on: planIO.Color}
	for _, r := range stale {
		fmt.Fprintln(planIO.Out, textResult(r, p))
	}
	fmt.Fprintln(planIO.Out) // the results follow: every change, the stale ones again
}

// Plural returns "1 thing" or "2 things" (thousands separated).
func Plural(n int, one, many string) string { return plural(n, one, many) }

// Thousands formats n with comma separators: 4212 → "4,212".
func Thousands(n int) string { return thousands(n) }

// Safe is s with control characters escaped, fit for one line of a terminal.
func Safe(s string) string { return safe(s) }

// RenameConflictAdvice is the way out of a rename onto a name a live connection flowsync does
// not manage already has.
func RenameConflictAdvice(name, from string) string { return renameConflictAdvice(name, from) }

// Suggest is the candidate closest to word, or "".
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }

// ConflictAdvice is both ways out of a name conflict: the import that records the live
// connection when it is the entry's, a rename when it is not.
func ConflictAdvice(name string, live []reconcile.Owner, manifest, env, lockfile string) string {
	return conflictAdvice(name, live, manifest, env, lockfile)
}

// CheckView renders the result of check.
type CheckView = checkView

// NewCheckView returns the check view of an --output format.
func NewCheckView(format string, io IO) (CheckView, error) { return newCheckView(format, io) }

// Document versions, for the error document of --output json (cli).
const (
	PlanFormatVersion  = jsonFormatVersion
	CheckFormatVersion = checkFormatVersion
)

// BlockedAdvice is what to do about a delete or replace that dataflows block.
const BlockedAdvice = blockedAdvice
