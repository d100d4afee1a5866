package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/workspace"
)

// registerEnv adds --env to a command that reads a manifest; all says whether it takes
// --env all.
func registerEnv(cmd *cobra.Command, env *string, all bool) {
	usage := "environment of a manifest with environments (required there, refused otherwise)"
	if all {
		usage += "; all: every environment, one section each"
	}
	stringOnceVarP(cmd.Flags(), env, "env", "", "", usage)
}

// envPlan is one environment's plan, for --env all.
type envPlan struct {
	m        *manifest.Manifest
	lockPath string
	cs       *reconcile.Changeset
}

// planEnvs is plan --env all: one plan per environment, in promotion order, in one view.
func planEnvs(ctx context.Context, g *globals, f *planFlags, output, out string, detailed bool) error {
	if out != "" {
		return hint(errors.New("--out saves the plan of one environment: it cannot be used with --env all"),
			"plan one environment with --env NAME --out FILE")
	}
	runs, err := f.loadEnvs(g, true)
	if err != nil {
		return err
	}
	plans := make([]envPlan, 0, len(runs))
	changes := false
	for _, r := range runs {
		lock, _, err := workspace.ReadLock(r.lockPath, r.m)
		if err != nil {
			return err
		}
		cs, err := plan(ctx, g, f, r.m, r.lockPath, lock, r.want, nil)
		if err != nil {
			return fmt.Errorf("environment %s: %w", r.m.Env, err)
		}
		changes = changes || cs.HasChanges() || cs.Held() > 0
		plans = append(plans, envPlan{m: r.m, lockPath: r.lockPath, cs: cs})
	}
	if err := renderEnvPlans(output, g.io, plans); err != nil {
		return err
	}
	if detailed && changes {
		return errExitChanges
	}
	return nil
}

// renderEnvPlans renders each environment's plan with the view of one plan, in a section
// of its own: a heading line in text, a heading in markdown (the limit shared between the
// sections), and in JSON one document listing each environment with its plan document.
func renderEnvPlans(format string, io IO, plans []envPlan) error {
	if _, err := NewPlanView(format, io); err != nil {
		return err
	}
	var docs []jsonEnvPlan
	var md strings.Builder
	if format == "markdown" {
		md.WriteString("## flowsync plan: " + plural(len(plans), "environment", "environments") + "\n\n")
	}
	for i, p := range plans {
		var buf bytes.Buffer
		one := io
		one.Out = &buf
		view, _ := NewPlanView(format, one)
		if mv, ok := view.(*markdownPlanView); ok {
			mv.limit = (markdownLimit - md.Len()) / (len(plans) - i)
		}
		if err := view.Plan(p.cs); err != nil {
			return err
		}
		switch format {
		case "json":
			docs = append(docs, jsonEnvPlan{Environment: p.m.Env, OrgID: p.m.Target.OrgID, Sandbox: p.m.Target.Sandbox,
				Lockfile: p.lockPath, Plan: bytes.TrimRight(buf.Bytes(), "\n")})
		case "markdown":
			md.WriteString("### Environment " + mdEscape(p.m.Env) + ": sandbox " + mdEscape(p.m.Target.Sandbox) + "\n\n")
			md.WriteString(strings.Replace(buf.String(), "### flowsync plan\n\n", "", 1) + "\n")
		default:
			if i > 0 {
				fmt.Fprintln(io.Out)
			}
			fmt.Fprintf(io.Out, "=== environment %s: sandbox %s of %s (lockfile %s)\n", p.m.Env, p.m.Target.Sandbox, p.m.Target.OrgID, p.lockPath)
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

// recordPromotions saves, when nothing is sent, the promotion digests of unchanged entries
// the lockfile does not hold yet (reconcile.PromotionsToRecord): the next environment of the
// order learns that this one has them.
func recordPromotions(g *globals, cs *reconcile.Changeset, lock *lockfile.File, lockPath string) error {
	todo := reconcile.PromotionsToRecord(cs)
	if len(todo) == 0 {
		return nil
	}
	out := lock.Clone()
	for _, ch := range todo {
		e := out.Connections[ch.Name]
		e.Promotion = ch.Desired.Promotion
	}
	if err := g.ws().SaveLock(out, lockPath); err != nil {
		return err
	}
	g.log.Info("recorded the promotion digests of unchanged entries", "entries", len(todo), "lockfile", lockPath)
	return nil
}

// heldNote says what promotion held back, after an apply: on stdout in text, on stderr when
// stdout holds a JSON document.
func heldNote(g *globals, cs *reconcile.Changeset, output string) {
	n := cs.Held()
	if n == 0 {
		return
	}
	var envs []string
	for _, ch := range cs.Changes {
		if ch.Action == reconcile.Hold && !contains(envs, ch.HeldFor) {
			envs = append(envs, ch.HeldFor)
		}
	}
	w := g.io.Out
	if output != "text" {
		w = g.io.Err
	}
	fmt.Fprintf(w, "\n⏸ %s back by promotion, not yet applied in %s: %s\n",
		plural(n, "change held", "changes held"), strings.Join(envs, ", "), workspace.PromotionAdvice(cs.Manifest, envs))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
