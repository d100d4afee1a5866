package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
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
	plans := make([]view.EnvPlan, 0, len(runs))
	changes := false
	for _, r := range runs {
		lock, _, err := workspace.ReadLock(r.lockPath, r.m)
		if err != nil {
			return err
		}
		cs, err := plan(ctx, g, f, planInput{m: r.m, lockPath: r.lockPath, lock: lock, want: r.want})
		if err != nil {
			return fmt.Errorf("environment %s: %w", r.m.Env, err)
		}
		changes = changes || cs.HasChanges() || cs.Held() > 0
		plans = append(plans, view.EnvPlan{Env: r.m.Env, OrgID: r.m.Target.OrgID, Sandbox: r.m.Target.Sandbox, Lockfile: r.lockPath, Changes: cs})
	}
	if err := view.EnvPlans(output, g.io, plans); err != nil {
		return err
	}
	if detailed && changes {
		return errExitChanges
	}
	return nil
}

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
		view.Plural(n, "change held", "changes held"), strings.Join(envs, ", "), workspace.PromotionAdvice(cs.Manifest, envs))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
