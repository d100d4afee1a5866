package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

func newApplyCmd(ctx context.Context, g *globals) *cobra.Command {
	var (
		f           planFlags
		concurrency int
		maxRPS      float64
		yes         bool
		output      string
		planPath    string
	)
	cmd := &cobra.Command{
		Use:   "apply (-f MANIFEST | --plan PLANFILE)",
		Short: "Create, update, replace and (with --prune) delete connections to match the manifest",
		Long: `apply prints the plan (as plan does), asks for confirmation on a terminal (--yes otherwise),
then sends the changes concurrently and records each success in the lockfile as it happens.
A failed entry does not stop the others. The result lists every failure in full and the
successes worth a second look (adopted, healed, replaced, deleted, stale etags re-read); the
last line says whether the apply completed, had failures or stopped early.`,
		Example: `  flowsync apply -f connections.yaml
  flowsync apply -f connections.yaml --yes --refresh          # in a pipeline: correct drift too
  flowsync apply -f connections.yaml --prune                  # also delete orphans
  flowsync apply --plan reviewed.plan.json --yes             # exactly what plan --out saved
  flowsync apply -f examples/quickstart.yaml --endpoint emulator --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if f.file == "-" && !yes {
				return hint(errors.New("apply -f - reads the manifest from stdin, so it cannot ask for confirmation"),
					"review the plan first (flowsync plan -f - --lockfile …), then run apply with --yes")
			}
			if concurrency < 1 || concurrency > 1024 {
				return fmt.Errorf("--concurrency %d: must be between 1 and 1024", concurrency)
			}
			if err := flowservice.CheckMaxRPS(maxRPS); err != nil {
				return fmt.Errorf("--max-rps: %w", err)
			}
			if _, err := view.NewApplyView(output, g.io); err != nil {
				return err
			}
			a := applyArgs{f: &f, planPath: planPath, concurrency: concurrency, maxRPS: maxRPS, yes: yes, output: output}
			if planPath != "" {
				return applySavedPlan(cmd.Context(), cmd, g, a)
			}
			return applyManifest(cmd.Context(), g, a)
		},
	}
	f.register(cmd, true)
	cmd.Flags().IntVar(&concurrency, "concurrency", workspace.DefaultConcurrency, "requests in flight at once")
	cmd.Flags().Float64Var(&maxRPS, "max-rps", 0, "hard cap on requests per second (0: none; flowsync still slows down when throttled)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking (required when not on a terminal)")
	stringOnceVarP(cmd.Flags(), &output, "output", "o", "text", "result format: "+strings.Join(view.ApplyFormats(), ", ")+" (with json, the plan is shown on stderr)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(view.ApplyFormats(), cobra.ShellCompDirectiveNoFileComp))
	stringOnceVarP(cmd.Flags(), &planPath, "plan", "", "", "apply exactly the changes of this saved plan (plan --out); stale ones are refused")
	_ = cmd.MarkFlagFilename("plan", "json")
	// -f is required unless --plan names the manifest.
	cmd.Flags().Lookup("file").Usage = "manifest file, - for stdin (then --lockfile is required) (required unless --plan names it)"
	_ = cmd.Flags().SetAnnotation("file", cobra.BashCompOneRequiredFlag, []string{"false"})
	cmd.MarkFlagsOneRequired("file", "plan")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + " (nothing to do included)", exitLineError,
			"3    at least one entry failed, was blocked by dataflows, or (with --plan) was stale; every success is saved", exitLineLocked, exitLineInterrupt},
		env: append(append(append([]string{}, envGlobal...), envReferences), envCredentials...),
	})
	return cmd
}

// applyArgs are apply's arguments.
type applyArgs struct {
	f           *planFlags
	planPath    string // --plan
	concurrency int
	maxRPS      float64
	yes         bool
	output      string
}

func applyManifest(ctx context.Context, g *globals, a applyArgs) error {
	f, concurrency, yes, output := a.f, a.concurrency, a.yes, a.output
	m, want, lockPath, err := f.load(g)
	if err != nil {
		return err
	}
	w, err := workspace.Open(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: concurrency, MaxRPS: a.maxRPS})
	if err != nil {
		return err
	}
	defer w.Close()
	svc, lock := w.Service, w.Lock

	cs, err := plan(ctx, g, f, planInput{m: m, lockPath: lockPath, lock: lock, want: want, svc: svc})
	if err != nil {
		return err
	}
	if !f.refresh {
		fmt.Fprintln(g.io.Err, "flowsync: note: --refresh=false: the live connections were not read, so names are not checked: a create may meet a connection of the same name that flowsync did not record")
	}
	planIO := g.io
	if output != "text" {
		// stdout holds one JSON document: the plan goes to stderr for the operator.
		planIO.Out, planIO.Color = g.io.Err, false
	}
	pv, _ := view.NewPlanView("text", planIO)
	if err := pv.Plan(cs); err != nil {
		return err
	}
	if !cs.HasChanges() {
		if err := recordPromotions(g, cs, lock, lockPath); err != nil {
			return err
		}
		heldNote(g, cs, output)
		return nil
	}
	if err := confirmSends(g, cs, yes); err != nil {
		return err
	}

	err = executeApply(ctx, g, w, output, workspace.ApplyArgs{Changes: cs, Concurrency: concurrency})
	heldNote(g, cs, output)
	return err
}

// saveLockfile saves a lockfile; tests replace it to see what a full disk does.
var saveLockfile = (*lockfile.File).Save

// confirmSends is confirm when the changeset sends anything: blocked changes alone (which
// are never attempted) need no confirmation.
func confirmSends(g *globals, cs *reconcile.Changeset, yes bool) error {
	if cs.Sends() == 0 {
		return nil
	}
	return confirm(g, yes)
}

// confirm asks on a terminal and needs --yes otherwise.
func confirm(g *globals, yes bool) error {
	if yes {
		return nil
	}
	if !g.io.InTTY {
		return hint(errors.New("apply needs confirmation: stdin is not a terminal"),
			"review the plan above and run again with --yes")
	}
	fmt.Fprint(g.io.Err, "\nApply these changes? Only 'yes' will be accepted: ")
	line, err := readInput(g, func() (string, error) { return bufio.NewReader(g.io.In).ReadString('\n') })
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("apply cancelled at the prompt: %w", err)
	}
	if err != nil && line == "" {
		return errors.New("apply cancelled: no answer")
	}
	if strings.TrimSpace(line) != "yes" {
		return hint(errors.New("apply cancelled"), "nothing was changed")
	}
	return nil
}

// executeApply applies cs, whose plan the user saw and confirmed, and reports it through the
// apply view of output.
func executeApply(ctx context.Context, g *globals, w *workspace.Session, output string, a workspace.ApplyArgs) error {
	av, _ := view.NewApplyView(output, g.io)
	a.OnStart = func() {
		av.Started(a.Changes.Sends() + len(a.Stale))
		for _, r := range a.Stale {
			av.Result(r)
		}
	}
	a.OnResult, a.Interrupts = av.Result, g.io.Err
	if a.Changes.Sends() == 0 {
		// Only blocked changes: nothing is sent, but promotion digests are still learnt.
		if err := recordPromotions(g, a.Changes, w.Lock, w.LockPath); err != nil {
			return err
		}
	}
	res, err := w.Apply(ctx, a)
	if res == nil {
		return err
	}
	// The summary comes before the error: what was done is worth knowing even when it could
	// not be saved.
	av.Done(res.Summary, res.Stats)
	var partial *reconcile.PartialError
	switch {
	case err == nil && res.Summary.Stale > 0:
		return withConflictAdvice(staleErr(res.Summary), res.Summary, a.Changes)
	case err == nil && res.Summary.Failed > 0:
		// Every change sent succeeded, but the saved plan's refused ones include failures
		// (name conflicts).
		return withConflictAdvice(&reconcile.PartialError{Failed: res.Summary.Failed, Total: len(res.Summary.Results)}, res.Summary, a.Changes)
	case errors.As(err, &partial) && res.Summary.Blocked > 0:
		return withConflictAdvice(hint(err, view.Plural(res.Summary.Blocked, "delete or replace was", "deletes or replaces were")+" blocked: "+view.BlockedAdvice,
			"every success is saved"), res.Summary, a.Changes)
	case errors.As(err, &partial):
		return withConflictAdvice(err, res.Summary, a.Changes)
	}
	return err
}

// maxConflictHints bounds the import commands an apply suggests for name conflicts.
const maxConflictHints = 5

// withConflictAdvice gives err both ways out of each name conflict among the results: the
// import that records the live connection when it is the entry's, a rename when it is not.
func withConflictAdvice(err error, sum *reconcile.Summary, cs *reconcile.Changeset) error {
	var hints []string
	n := 0
	for _, r := range sum.Results {
		var c *reconcile.ConflictError
		if !errors.As(r.Err, &c) {
			continue
		}
		if n++; n <= maxConflictHints && c.RenamedFrom != "" {
			hints = append(hints, view.Safe(r.Name)+": "+view.Safe(view.RenameConflictAdvice(r.Name, c.RenamedFrom)))
		} else if n <= maxConflictHints {
			hints = append(hints, view.Safe(r.Name)+": "+view.Safe(view.ConflictAdvice(r.Name, c.Live, cs.Manifest, cs.Environment, cs.Lockfile)))
		}
	}
	if n == 0 {
		return err
	}
	if n > maxConflictHints {
		hints = append(hints, fmt.Sprintf("and %d more name conflicts: each as above (flowsync plan %s --refresh lists them all)", n-maxConflictHints, fileArgs(cs.Manifest, cs.Environment, cs.Lockfile)))
	}
	return &conflictAdvised{err: err, hints: hints}
}

// conflictAdvised is an apply's error with the ways out of its name conflicts, said before
// the error's own advice.
type conflictAdvised struct {
	err   error
	hints []string
}

func (e *conflictAdvised) Error() string { return e.err.Error() }
func (e *conflictAdvised) Unwrap() error { return e.err }

// fileArgs names the manifest and lockfile in a suggested command (workspace.FileArgs), or
// is "" when the manifest has no path a command could name (stdin).
func fileArgs(manifestPath, env, lockPath string) string {
	if manifestPath == "" || manifestPath == "-" {
		return ""
	}
	return workspace.FileArgs(manifestPath, env, lockPath)
}
