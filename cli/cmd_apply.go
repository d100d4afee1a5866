package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/workspace"
)

// drainTimeout bounds how long in-flight requests may finish after the first interrupt.
const drainTimeout = 30 * time.Second

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
			if _, err := NewApplyView(output, g.io); err != nil {
				return err
			}
			if planPath != "" {
				return applySavedPlan(cmd.Context(), cmd, g, &f, planPath, concurrency, maxRPS, yes, output)
			}
			return applyManifest(cmd.Context(), g, &f, concurrency, maxRPS, yes, output)
		},
	}
	f.register(cmd, true)
	cmd.Flags().IntVar(&concurrency, "concurrency", workspace.DefaultConcurrency, "requests in flight at once")
	cmd.Flags().Float64Var(&maxRPS, "max-rps", 0, "hard cap on requests per second (0: none; flowsync still slows down when throttled)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking (required when not on a terminal)")
	stringOnceVarP(cmd.Flags(), &output, "output", "o", "text", "result format: "+strings.Join(ApplyFormats(), ", ")+" (with json, the plan is shown on stderr)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(ApplyFormats(), cobra.ShellCompDirectiveNoFileComp))
	stringOnceVarP(cmd.Flags(), &planPath, "plan", "", "", "apply exactly the changes of this saved plan (plan --out); stale ones are refused")
	_ = cmd.MarkFlagFilename("plan", "json")
	// -f is required unless --plan names the manifest.
	cmd.Flags().Lookup("file").Usage = "manifest file, - for stdin (then --lockfile is required) (required unless --plan names it)"
	_ = cmd.Flags().SetAnnotation("file", cobra.BashCompOneRequiredFlag, []string{"false"})
	cmd.MarkFlagsOneRequired("file", "plan")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + " (nothing to do included)", exitLineError,
			"3    at least one entry failed, or (with --plan) was stale; every success is saved", exitLineLocked, exitLineInterrupt},
		env: append(append(append([]string{}, envGlobal...), envReferences), envCredentials...),
	})
	return cmd
}

func applyManifest(ctx context.Context, g *globals, f *planFlags, concurrency int, maxRPS float64, yes bool, output string) error {
	m, want, lockPath, err := f.load(g)
	if err != nil {
		return err
	}
	w, err := workspace.Open(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: concurrency, MaxRPS: maxRPS})
	if err != nil {
		return err
	}
	defer w.Close()
	svc, lock := w.Service, w.Lock

	cs, err := plan(ctx, g, f, m, lockPath, lock, want, svc)
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
	view, _ := NewPlanView("text", planIO)
	if err := view.Plan(cs); err != nil {
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

	err = executeApply(ctx, g, svc, lock, lockPath, cs, concurrency, output, false, nil)
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
	line, err := bufio.NewReader(g.io.In).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("apply cancelled: no answer")
	}
	if strings.TrimSpace(line) != "yes" {
		return hint(errors.New("apply cancelled"), "nothing was changed")
	}
	return nil
}

// interrupts returns a soft context, cancelled on the first SIGINT/SIGTERM (start nothing new)
// and a hard one, cancelled on the second or drainTimeout after the first (abort in-flight
// requests). The journal keeps what is needed to heal either way.
func interrupts(ctx context.Context, g *globals) (soft, hard context.Context, stop func()) {
	soft, cancelSoft := context.WithCancel(ctx)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var drain <-chan time.Time
		for n := 0; ; {
			select {
			case <-sigs:
				n++
				if n == 1 {
					fmt.Fprintln(g.io.Err, "flowsync: interrupted: finishing requests in flight, then saving (interrupt again to stop at once)")
					cancelSoft()
					drain = time.After(drainTimeout)
					continue
				}
				fmt.Fprintln(g.io.Err, "flowsync: stopping at once; the journal keeps what the next run needs")
				cancelHard()
				return
			case <-drain:
				cancelHard()
				return
			case <-done:
				return
			}
		}
	}()
	return soft, hard, func() {
		signal.Stop(sigs)
		close(done)
		cancelSoft()
		cancelHard()
	}
}

// executeApply applies cs, whose plan the user saw and confirmed, and saves the lockfile. saved:
// the changes come from a saved plan (a 412 is stale, not re-diffed); stale are its changes
// refused before anything was sent, reported with the results in plan order.
func executeApply(ctx context.Context, g *globals, svc *workspace.Service, lock *lockfile.File, lockPath string, cs *reconcile.Changeset, concurrency int, output string, saved bool, stale []reconcile.Result) error {
	if cs.Sends() == 0 {
		// Only blocked changes (and stale ones of a saved plan): nothing is sent, and the
		// lockfile and the journal are left alone (but for promotion digests to record).
		if err := recordPromotions(g, cs, lock, lockPath); err != nil {
			return err
		}
		av, _ := NewApplyView(output, g.io)
		av.Started(len(stale))
		for _, r := range stale {
			av.Result(r)
		}
		_, sum, applyErr := reconcile.Apply(ctx, svc.Client, cs, lock, reconcile.ApplyOptions{Saved: saved})
		sum = withStale(sum, stale)
		st := svc.Client.Stats()
		av.Done(sum, RunStats{Requests: st.Requests, Throttled: st.Throttled, Retries: st.Retries})
		return applyOutcome(applyErr, sum, cs, false, lockPath)
	}
	journal, err := lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock))
	if err != nil {
		return hint(err, "check that the lockfile's directory is writable")
	}
	soft, hard, stopSignals := interrupts(ctx, g)
	defer stopSignals()
	// Begin times are compared with the createdAt the service stamps: take them in its clock.
	if n := cs.Counts(); n[reconcile.Create]+n[reconcile.Replace] > 0 {
		if err := svc.Client.LearnClock(flowservice.StopWaitsOn(hard, soft)); err != nil {
			g.log.Warn("begin times are recorded in the local clock", "error", err)
		}
	}
	journal.UseClock(svc.Client.Now)

	av, _ := NewApplyView(output, g.io)
	av.Started(cs.Sends() + len(stale))
	for _, r := range stale {
		av.Result(r)
	}
	start := time.Now()
	// The first Ctrl-C (soft) starts no new change and ends retry waits; the second (hard)
	// aborts requests in flight.
	out, sum, applyErr := reconcile.Apply(flowservice.StopWaitsOn(hard, soft), svc.Client, cs, lock, reconcile.ApplyOptions{
		Concurrency: concurrency,
		Now:         svc.Client.Now,
		APIKey:      svc.Client.APIKey(),
		Files:       fileArgs(cs.Manifest, cs.Environment, lockPath),
		Journal:     journal,
		OnResult:    av.Result,
		Stop:        soft.Done(),
		Saved:       saved,
	})
	sum = withStale(sum, stale)
	elapsed := time.Since(start)
	saveStart := time.Now()
	kept, saveFailed := lockfile.Commit(out, lockPath, journal, g.ws().Saver())
	if kept != nil {
		g.log.Warn("the journal is kept beside the lockfile; the next run folds it in again", "error", kept)
	}
	st := svc.Client.Stats()
	av.Done(sum, RunStats{Duration: elapsed, Requests: st.Requests, Throttled: st.Throttled, Retries: st.Retries,
		JournalWait: sum.JournalWait, Save: time.Since(saveStart)})
	if saveFailed != nil {
		return workspace.SaveErr(saveFailed) // after the summary: what was done is worth knowing even when it could not be saved
	}

	return applyOutcome(applyErr, sum, cs, soft.Err() != nil, lockPath)
}

// applyOutcome is the error an apply ends with (nil: every change succeeded).
func applyOutcome(applyErr error, sum *reconcile.Summary, cs *reconcile.Changeset, interrupted bool, lockPath string) error {
	var stopped *reconcile.StoppedError
	switch {
	case applyErr == nil && sum.Stale == 0:
		return nil
	case errors.As(applyErr, &stopped):
		return serviceErr("apply", stopped.Err)
	case applyErr != nil && interrupted:
		return &interruptedError{LockPath: lockPath}
	case sum.Stale > 0:
		return withConflictAdvice(staleErr(sum), sum, cs)
	case sum.Blocked > 0:
		return withConflictAdvice(hint(applyErr, plural(sum.Blocked, "delete or replace was", "deletes or replaces were")+" blocked: "+blockedAdvice,
			"every success is saved"), sum, cs)
	}
	return withConflictAdvice(applyErr, sum, cs)
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
		if n++; n <= maxConflictHints {
			hints = append(hints, safe(r.Name)+": "+safe(conflictAdvice(r.Name, c.Live, cs.Manifest, cs.Lockfile)))
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
