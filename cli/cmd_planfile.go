package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

// savePlan writes the plan file of plan --out and returns its SHA-256.
func savePlan(g *globals, f *planFlags, cs *reconcile.Changeset, lock *lockfile.File, lockPath, out string) (string, error) {
	taken := []planfile.Taken{{What: "the manifest", Path: f.file}, {What: "the lockfile", Path: lockPath},
		{What: "the lockfile's journal", Path: lockfile.JournalPath(lockPath)}, {What: "the lockfile's run lock", Path: lockfile.RunLockPath(lockPath)}}
	if err := planfile.CheckDestination(out, taken); err != nil {
		return "", hint(err, "save the plan to a file of its own, such as plan.json")
	}
	_, statErr := os.Stat(lockPath)
	fromManifest, err := lockfileFromManifest(f.file, lockPath)
	if err != nil {
		return "", hint(fmt.Errorf("--out: the lockfile %s cannot be named relative to the manifest %s: %w", lockPath, f.file, err),
			"give -f and --lockfile as paths on the same volume")
	}
	pf, err := planfile.Build(cs, lock, planfile.Meta{
		FlowsyncVersion:      versionString(),
		ManifestPath:         f.file,
		ManifestSHA256:       f.manifestSum,
		Env:                  f.env,
		LockfilePath:         lockPath,
		LockfileFromManifest: filepath.ToSlash(fromManifest),
		LockfileExists:       statErr == nil,
		Options:              planfile.Options{Prune: f.prune, Only: f.only, SkipPromotion: f.skipPromotion && f.env != ""},
	})
	if errors.Is(err, planfile.ErrSecretsUnknown) {
		return "", hint(err, "run plan --out where the secrets can be read (the pipeline that applies), or drop --out")
	}
	if err != nil {
		return "", err
	}
	sum, err := planfile.Write(out, pf)
	if err != nil {
		return "", hint(err, "check that the directory of --out exists and is writable; nothing else was written")
	}
	g.log.Debug("saved plan", "path", out, "sha256", sum, "changes", len(pf.Changes))
	return sum, nil
}

// lockfileFromManifest is lockPath relative to the manifest's directory, whichever of the two
// is given relative (to the working directory) or absolute: a CI job names its lockfile under
// $GITHUB_WORKSPACE and its manifest relative, say.
func lockfileFromManifest(manifestPath, lockPath string) (string, error) {
	dir, err := filepath.Abs(filepath.Dir(manifestPath))
	if err != nil {
		return "", err
	}
	lock, err := filepath.Abs(lockPath)
	if err != nil {
		return "", err
	}
	return filepath.Rel(dir, lock)
}

// samePath reports whether a and b name the same file: the same existing file, or the same
// cleaned absolute path.
func samePath(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// announceSavedPlan tells where the plan was saved: after the text plan on stdout, on stderr
// when stdout holds a JSON document. The markdown plan says it itself.
func announceSavedPlan(g *globals, output, path, sum string) {
	w := g.io.Out
	switch output {
	case "markdown":
		return
	case "json":
		w = g.io.Err
	}
	fmt.Fprintf(w, "\nSaved the plan to %s (SHA-256 %s).\nApply exactly these changes with: flowsync apply --plan %s\n", path, sum, shell.Quote(path))
}

// staleErr is the exit of an apply --plan that refused stale changes.
func staleErr(sum *reconcile.Summary) error {
	msg := view.Plural(sum.Stale, "planned change was", "planned changes were") + " stale and not applied"
	if sum.Failed > 0 {
		msg += "; " + view.Plural(sum.Failed, "change", "changes") + " failed"
	}
	return &staleError{msg: msg, nothingApplied: len(sum.Results) == sum.Stale}
}

// withReplan gives the stale error of an apply --plan the commands that plan again as pf was
// planned and apply that plan.
func withReplan(err error, pf *planfile.File, planPath string) error {
	var stale *staleError
	if errors.As(err, &stale) {
		stale.replan = replanCommand(pf, planPath) + ", then flowsync apply --plan " + shell.Quote(planPath)
	}
	if partial, ok := errors.AsType[*reconcile.PartialError](err); ok && partial.Blocked > 0 {
		// A blocked change of a saved plan stays blocked in that file: a new plan is needed.
		return hint(err, "a change the saved plan holds as blocked is never sent from it; once the dataflows are moved, plan again: "+
			replanCommand(pf, planPath)+", then flowsync apply --plan "+shell.Quote(planPath))
	}
	return err
}

// newPlanAdvice is how to make a plan file at planPath again after it could not be used:
// something that is not a plan file is moved aside first (plan --out never replaces it).
// The command to plan again is given when the file names its manifest (it decoded but is
// inconsistent); else the manifest and lockfile are not known, and it is said in words.
func newPlanAdvice(err error, planPath string) string {
	p := shell.Quote(planPath)
	const words = "run flowsync plan with -f, --lockfile and --out %s for the manifest and lockfile you mean to apply"
	if errors.Is(err, fs.ErrNotExist) {
		return "nothing was sent; make the plan file first: " + fmt.Sprintf(words, p)
	}
	if st, serr := os.Stat(planPath); serr == nil && !st.Mode().IsRegular() {
		// A directory, FIFO or device is not moved aside: the plan goes to a file of its own.
		return "nothing was sent; save the plan to a file of its own: " + fmt.Sprintf(words, "plan.json") + ", then flowsync apply --plan plan.json"
	}
	aside := workspace.MoveAside(planPath, "aside")
	if fe, ok := errors.AsType[*planfile.FormatError](err); ok && fe.Parsed != nil && fe.Parsed.Manifest.Path != "" && fe.Parsed.LockfilePath() != "" {
		return "make a new plan file: " + aside + " && " + replanCommand(fe.Parsed, planPath)
	}
	return "move it aside with " + aside + ", then make a new plan file: " + fmt.Sprintf(words, p)
}

// replanCommand is the plan command that writes a new plan file at planPath with the options
// pf was made with, always against the live state (--refresh): a change refused as stale
// moved on the service, and a plan made from the lockfile alone would plan it against what it
// was before, stale again at every try.
func replanCommand(pf *planfile.File, planPath string) string {
	args := []string{"flowsync", "plan", workspace.FileArgs(pf.Manifest.Path, pf.Manifest.Env, pf.LockfilePath())}
	if pf.Options.SkipPromotion {
		args = append(args, "--skip-promotion")
	}
	args = append(args, "--refresh")
	if pf.Options.Prune {
		args = append(args, "--prune")
	}
	for _, o := range pf.Options.Only {
		args = append(args, "--only", shell.Quote(o))
	}
	return strings.Join(append(args, "--out", shell.Quote(planPath)), " ")
}

// refuseReplanning refuses the flags that would plan again: the saved plan fixed them.
func refuseReplanning(cmd *cobra.Command) error {
	for _, name := range []string{"refresh", "prune", "only", "skip-promotion"} {
		if cmd.Flags().Changed(name) {
			return hint(fmt.Errorf("--%s cannot be used with --plan: the saved plan fixed it", name),
				"drop --"+name+"; to plan differently, run flowsync plan --out again")
		}
	}
	return nil
}

// savedPlanManifest reads the manifest the plan names and checks that it is the one planned
// (same path as -f and --lockfile if given, same bytes, same target).
func savedPlanManifest(f *planFlags, pf *planfile.File, planPath string) (*manifest.Manifest, error) {
	mpath := pf.Manifest.Path
	if f.file != "" && !samePath(f.file, mpath) {
		return nil, hint(fmt.Errorf("-f %s: the plan %s was made for manifest %s", f.file, planPath, mpath),
			"drop -f: apply --plan reads the manifest the plan names", "nothing was sent")
	}
	if f.lockfile != "" && !samePath(f.lockfile, pf.LockfilePath()) {
		return nil, hint(fmt.Errorf("--lockfile %s: the plan %s was made against lockfile %s", f.lockfile, planPath, pf.LockfilePath()),
			"drop --lockfile: apply --plan uses the lockfile the plan names", "nothing was sent")
	}
	data, err := regular.ReadFile(mpath, 0)
	if err != nil {
		return nil, hint(fmt.Errorf("read manifest of the plan: %w", err),
			"run apply --plan from the directory plan --out ran in (the plan names "+mpath+")", "nothing was sent")
	}
	if got := planfile.SHA256(data); got != pf.Manifest.SHA256 {
		return nil, hint(fmt.Errorf("manifest %s changed since the plan %s was made (SHA-256 %s, planned %s)", mpath, planPath, got, pf.Manifest.SHA256),
			"nothing was sent; review the changes again: "+replanCommand(pf, planPath))
	}
	full, err := parseManifest(mpath, data)
	if err != nil {
		return nil, err
	}
	if f.env != "" && f.env != pf.Manifest.Env {
		return nil, hint(fmt.Errorf("--env %s: the plan %s was made for environment %q", f.env, planPath, pf.Manifest.Env),
			"drop --env: apply --plan applies the environment the plan names", "nothing was sent")
	}
	ms, err := workspace.SelectEnv(full, pf.Manifest.Env, false)
	if err != nil {
		return nil, fmt.Errorf("the plan %s: %w", planPath, err)
	}
	m := ms[0]
	if t := workspace.Target(m); t != pf.Target {
		return nil, hint(fmt.Errorf("the plan %s is for %s/%s, its manifest for %s/%s", planPath, pf.Target.OrgID, pf.Target.Sandbox, t.OrgID, t.Sandbox), "nothing was sent")
	}
	return m, nil
}

// addUnchanged adds to cs, as no-ops, the recorded manifest entries the plan pf leaves alone
// (within its --only), so that apply --plan counts them as unchanged as plan did.
func addUnchanged(cs *reconcile.Changeset, m *manifest.Manifest, pf *planfile.File, lock *lockfile.File) {
	planned := make(map[string]bool, len(pf.Changes))
	for _, c := range pf.Changes {
		planned[c.Name] = true
	}
	// The plan file's globs are a claim like the rest of it: one path.Match refuses selects
	// nothing.
	sel, _ := names.NewSelector("--only", pf.Options.Only)
	for _, c := range m.Connections {
		if planned[c.Name] || lock.Connections[c.Name] == nil || !sel.Match(c.Name) {
			continue
		}
		cs.Changes = append(cs.Changes, reconcile.Change{Name: c.Name, Action: reconcile.NoOp, Reason: reconcile.ReasonManifest, ID: lock.Connections[c.Name].ID})
	}
	slices.SortStableFunc(cs.Changes, func(a, b reconcile.Change) int { return strings.Compare(a.Name, b.Name) })
}

// holdBackSaved checks a saved plan's changes against the promotion order again (the plan
// file is a claim) unless it was made with --skip-promotion, and holds back those the
// previous environment has not applied. done: nothing is left to do (everything held).
func holdBackSaved(g *globals, m *manifest.Manifest, cs *reconcile.Changeset, stale int, r savedRun) (done bool, err error) {
	pf := r.pf
	cs.Manifest, cs.Environment = pf.Manifest.Path, pf.Manifest.Env
	if pf.Options.SkipPromotion {
		return false, nil
	}
	gates, err := workspace.Gates(m, pf.Manifest.Path)
	if err != nil {
		return false, err
	}
	reconcile.HoldBack(cs, gates)
	if cs.Sends() > 0 || stale > 0 || cs.Held() == 0 {
		return false, nil
	}
	pv, _ := view.NewPlanView("text", r.planIO)
	if err := pv.Plan(cs); err != nil {
		return false, err
	}
	heldNote(g, cs, r.output)
	return true, nil
}

// noteLockfileMoved says when the lockfile is not the one the plan was made against.
func noteLockfileMoved(planIO view.IO, pf *planfile.File, lock *lockfile.File, lockPath string) {
	switch {
	case !pf.Lockfile.Exists && lock.Serial > 0:
		fmt.Fprintf(planIO.Out, "The lockfile %s was created since the plan: each change is checked on its own.\n", lockPath)
	case lock.Serial != pf.Lockfile.Serial:
		fmt.Fprintf(planIO.Out, "The lockfile changed since the plan (serial %d, now %d): each change is checked on its own.\n", pf.Lockfile.Serial, lock.Serial)
	}
}

// applySavedPlan is apply --plan: it plans again (same manifest, the lockfile the plan names,
// the live state read first) and sends only the planned changes that plan holds unchanged.
func applySavedPlan(ctx context.Context, cmd *cobra.Command, g *globals, a applyArgs) error {
	f, planPath, output := a.f, a.planPath, a.output
	if err := refuseReplanning(cmd); err != nil {
		return err
	}
	pf, sum, err := planfile.Read(planPath)
	if err != nil {
		return hint(err, newPlanAdvice(err, planPath))
	}
	planIO := g.io
	if output != "text" {
		planIO.Out, planIO.Color = g.io.Err, false
	}
	fmt.Fprintf(planIO.Out, "Applying saved plan %s (SHA-256 %s)\n", view.Safe(planPath), sum)

	m, err := savedPlanManifest(f, pf, planPath)
	if err != nil {
		return err
	}
	lockPath := pf.LockfilePath()
	fmt.Fprintf(planIO.Out, "Lockfile: %s\n", view.Safe(lockPath))
	want, err := savedPlanDesired(m, pf, g.env)
	if err != nil {
		return err
	}
	w, err := workspace.Open(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: a.concurrency, MaxRPS: a.maxRPS})
	if err != nil {
		return err
	}
	defer w.Close()
	in, err := savedPlanInput(ctx, w, pf, planPath, want)
	if err != nil {
		return err
	}
	noteLockfileMoved(planIO, pf, in.Lock, lockPath)
	if err := formerNamesErr(reconcile.CheckFormerNames(in.Desired, in.Lock), pf.Manifest.Path, pf.Manifest.Env, nonDefaultLockfile(pf.Manifest.Path, lockPath)); err != nil {
		return err
	}
	cs, refused, err := planfile.Check(pf, in)
	if err != nil {
		return hint(fmt.Errorf("plan %s: %w", planPath, err), "nothing was sent", "review the changes again and save a new plan: "+replanCommand(pf, planPath))
	}
	cs.Manifest, cs.Lockfile = pf.Manifest.Path, nonDefaultLockfile(pf.Manifest.Path, lockPath)
	cs.Sandbox, cs.OrgID = m.Target.Sandbox, m.Target.OrgID
	if err := blockInUse(ctx, w.Service, cs); err != nil {
		return err
	}
	addUnchanged(cs, m, pf, in.Lock)
	r := savedRun{pf: pf, planPath: planPath, lockPath: lockPath, planIO: planIO, concurrency: a.concurrency, yes: a.yes, output: output}
	if done, err := holdBackSaved(g, m, cs, len(refused), r); done || err != nil {
		return err
	}
	return sendSavedPlan(ctx, g, w, cs, refused, r)
}

// savedRun is what sendSavedPlan needs of apply --plan.
type savedRun struct {
	pf                 *planfile.File
	planPath, lockPath string
	planIO             IO
	concurrency        int
	yes                bool
	output             string
}

// sendSavedPlan shows the checked changes (rendered from the fresh plan, never from the
// file's text) and what was refused, asks, and applies them.
func sendSavedPlan(ctx context.Context, g *globals, w *workspace.Session, cs *reconcile.Changeset, refused []reconcile.Result, r savedRun) error {
	pv, _ := view.NewPlanView("text", r.planIO)
	if cs.Sends() > 0 || cs.Blocked() > 0 {
		fmt.Fprintln(r.planIO.Out)
		if err := pv.Plan(cs); err != nil {
			return err
		}
	}
	if len(refused) > 0 && cs.Sends() > 0 {
		// Before the confirmation: what will not be sent. (With nothing left to send, the
		// results below say it once.)
		view.ShowStale(r.planIO, refused)
	}
	switch {
	case cs.Sends() == 0 && len(refused) == 0 && cs.Blocked() == 0:
		fmt.Fprintln(r.planIO.Out, "No changes: the saved plan is empty.")
		return nil
	case cs.Sends() == 0 && cs.Blocked() == 0:
		// Nothing left to send: report, and leave the lockfile and the journal alone.
		av, _ := view.NewApplyView(r.output, g.io)
		av.Started(len(refused))
		for _, res := range refused {
			av.Result(res)
		}
		sum := workspace.WithStale(&reconcile.Summary{}, refused)
		av.Done(sum, view.RunStats{})
		return withReplan(withConflictAdvice(refusedErr(sum), sum, cs), r.pf, r.planPath)
	}
	if err := confirmSends(g, cs, r.yes); err != nil {
		return err
	}
	defer heldNote(g, cs, r.output)
	return withReplan(executeApply(ctx, g, w, r.output, workspace.ApplyArgs{Changes: cs, Concurrency: r.concurrency, Saved: true, Stale: refused}), r.pf, r.planPath)
}

// refusedErr is the exit of an apply --plan that sent nothing: stale changes, or name
// conflicts (failed).
func refusedErr(sum *reconcile.Summary) error {
	if sum.Stale > 0 {
		return staleErr(sum)
	}
	return &reconcile.PartialError{Failed: sum.Failed, Total: len(sum.Results)}
}

// savedPlanDesired is every entry of the manifest: the planned ones with their secrets read
// (what is sent, and checked against the planned digests), the others without (a fresh plan
// needs their names and fields only).
func savedPlanDesired(m *manifest.Manifest, pf *planfile.File, env func(string) (string, bool)) ([]reconcile.Desired, error) {
	planned, rest := splitPlanned(m, pf)
	want, err := resolveDesired(planned, pf.LockfilePath(), env, false)
	if err != nil {
		return nil, err
	}
	others, err := resolveDesired(rest, pf.LockfilePath(), env, true)
	if err != nil {
		return nil, err
	}
	return append(want, others...), nil
}

// savedPlanInput is what the plan file is checked against: the lockfile it names (refused
// when it is another one: another salt, or gone) and the live state, read first.
func savedPlanInput(ctx context.Context, w *workspace.Session, pf *planfile.File, planPath string, want []reconcile.Desired) (planfile.Input, error) {
	lock := w.Lock
	_, statErr := os.Lstat(w.LockPath)
	exists := !errors.Is(statErr, fs.ErrNotExist)
	replan := "nothing was sent; plan again against this lockfile: " + replanCommand(pf, planPath)
	switch {
	case !exists && pf.Lockfile.Exists:
		return planfile.Input{}, hint(fmt.Errorf("lockfile %s does not exist: the plan %s was made against serial %d of it", w.LockPath, planPath, pf.Lockfile.Serial),
			"restore the lockfile (from version control or the job that applied before), then run apply --plan again", replan)
	case !exists:
		// The first apply: the digests of the plan are keyed by the salt it chose.
		lock.Salt = pf.Lockfile.Salt
	case lock.Salt != pf.Lockfile.Salt:
		return planfile.Input{}, hint(fmt.Errorf("lockfile %s is not the one the plan %s was made against (another salt)", w.LockPath, planPath), replan)
	}
	observed, err := workspace.Observe(ctx, w.Client)
	if err != nil {
		return planfile.Input{}, err
	}
	return planfile.Input{Desired: want, Lock: lock, LockExists: exists, Observed: observed, APIKey: w.Client.APIKey()}, nil
}

// splitPlanned splits the entries of m into those the plan changes and the others.
func splitPlanned(m *manifest.Manifest, pf *planfile.File) (planned, rest *manifest.Manifest) {
	names := make(map[string]bool, len(pf.Changes))
	for _, c := range pf.Changes {
		names[c.Name] = true
	}
	p, r := *m, *m
	p.Connections, r.Connections = nil, nil
	for _, c := range m.Connections {
		if names[c.Name] {
			p.Connections = append(p.Connections, c)
		} else {
			r.Connections = append(r.Connections, c)
		}
	}
	return &p, &r
}

// blockInUse reads what uses the connections a saved plan deletes or replaces (now, not as
// the plan saw it) and blocks those in use.
func blockInUse(ctx context.Context, svc *workspace.Service, cs *reconcile.Changeset) error {
	imp, err := workspace.Impact(ctx, svc.Client, cs.AtRisk())
	if err != nil {
		return err
	}
	cs.Block(imp)
	return nil
}
