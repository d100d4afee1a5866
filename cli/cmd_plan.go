package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

// planFlags are the flags plan and apply share.
type planFlags struct {
	file      string
	lockfile  string
	refresh   bool
	prune     bool
	only      []string
	noSecrets bool // plan only: apply always reads the secrets it sends
	env       string
	// skipPromotion lifts promotion's holds (apply and plan).
	skipPromotion bool
	allEnvs       bool // the command takes --env all (plan)

	manifestSum string // set by load: the hex SHA-256 of the manifest's bytes
}

// register adds the shared flags; refresh is --refresh's default (apply reads the live state
// first unless --refresh=false, plan stays offline unless --refresh).
func (f *planFlags) register(cmd *cobra.Command, refresh bool) {
	stringOnceVarP(cmd.Flags(), &f.file, "file", "f", "", "manifest file, - for stdin (then --lockfile is required) (required)")
	stringOnceVarP(cmd.Flags(), &f.lockfile, "lockfile", "", "", "lockfile path (default: the manifest's path with .lock.json)")
	usage := "read the live connections and show drift (needs credentials)"
	if refresh {
		usage = "read the live connections first (--refresh=false: compare with the lockfile only)"
	}
	cmd.Flags().BoolVar(&f.refresh, "refresh", refresh, usage)
	cmd.Flags().BoolVar(&f.prune, "prune", false, "delete orphans: recorded connections no longer in the manifest")
	cmd.Flags().StringArrayVar(&f.only, "only", nil, "only names matching this glob (repeatable)")
	f.allEnvs = cmd.Name() == "plan"
	registerEnv(cmd, &f.env, f.allEnvs)
	cmd.Flags().BoolVar(&f.skipPromotion, "skip-promotion", false, "do not hold back changes the previous environment of the promotion order has not applied yet")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("lockfile", "json")
}

func (f *planFlags) check() error {
	if f.file == "-" && f.lockfile == "" {
		return hint(errors.New("-f - (manifest on stdin) needs --lockfile: there is no manifest path to put the lockfile beside"),
			"add --lockfile PATH, the lockfile this manifest is applied with")
	}
	sel, err := names.NewSelector("--only", f.only)
	if err != nil {
		return err
	}
	f.only = sel.Globs() // normalised, as the names they are matched with
	return nil
}

func (f *planFlags) options() reconcile.Options {
	return reconcile.Options{Prune: f.prune, Only: f.only, NoSecrets: f.noSecrets}
}

// onlyMatches refuses --only patterns that match no manifest entry and no recorded
// connection: a typo would otherwise read as "no changes". It returns how many manifest
// entries match.
func onlyMatches(globs []string, m *manifest.Manifest, lock *lockfile.File) (int, error) {
	sel, err := names.NewSelector("--only", globs)
	if err != nil {
		return 0, err
	}
	matched := 0
	for _, c := range m.Connections {
		if sel.Match(c.Name) || slices.ContainsFunc(c.FormerNames, sel.Match) {
			matched++ // an entry matches by its name or a former name (a rename's old one)
		}
	}
	if lock != nil {
		for name := range lock.Connections {
			sel.Match(name)
		}
	}
	return matched, sel.Unmatched("manifest entry or recorded connection")
}

// load reads the manifest, selects the environment of --env, resolves its secret references
// (unless --no-secrets) and names the lockfile.
func (f *planFlags) load(g *globals) (m *manifest.Manifest, want []reconcile.Desired, lockPath string, err error) {
	runs, err := f.loadEnvs(g, f.allEnvs)
	if err != nil {
		return nil, nil, "", err
	}
	return runs[0].m, runs[0].want, runs[0].lockPath, nil
}

// envRun is one environment's manifest, desired connections and lockfile.
type envRun struct {
	m        *manifest.Manifest
	want     []reconcile.Desired
	lockPath string
}

// loadEnvs is load for each environment --env selects: every one for --env all (when
// allowAll).
func (f *planFlags) loadEnvs(g *globals, allowAll bool) ([]envRun, error) {
	if err := workspace.CheckLockfileFlag(f.lockfile, f.env); err != nil {
		return nil, err
	}
	full, sum, err := g.loadManifestSum(f.file)
	if err != nil {
		return nil, err
	}
	f.manifestSum = sum
	ms, err := workspace.SelectEnv(full, f.env, allowAll)
	if err != nil {
		return nil, err
	}
	runs := make([]envRun, len(ms))
	for i, m := range ms {
		runs[i] = envRun{m: m, lockPath: workspace.EnvLockfilePath(f.lockfile, f.file, m)}
		if runs[i].want, err = resolveDesired(m, runs[i].lockPath, g.env, f.noSecrets); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

func newPlanCmd(g *globals) *cobra.Command {
	var (
		f        planFlags
		output   string
		detailed bool
		out      string
	)
	cmd := &cobra.Command{
		Use:   "plan -f MANIFEST",
		Short: "Show what apply would change; writes nothing",
		Long: `plan compares the manifest with the lockfile (and, with --refresh, with the live
connections) and prints the changes. It writes nothing, except the plan file of --out. Without
--refresh it needs no network and no credentials.

The text output starts with the count line, then the changes by action: a field change that
every change of a group makes is shown once ("each with:"), creates past the first three are
rows of a table (name, bucket, folder, region), past 30 the rest are counted (--output json
lists every one); --output markdown groups the same way, in the same order.
Symbols: + create, ~ update, -/+ replace, - delete, ! orphan (kept), ? unmanaged (a live
connection with a managed name that flowsync did not record: never touched).`,
		Example: `  flowsync plan -f connections.yaml
  flowsync plan -f connections.yaml --refresh --detailed-exitcode    # drift check: exit 2 when changes are pending
  flowsync plan -f connections.yaml --no-secrets --output markdown   # a pull-request comment, no secrets needed
  flowsync plan -f connections.yaml --only 'acme-eu-*'
  flowsync plan -f connections.yaml --out reviewed.plan.json       # then: flowsync apply --plan reviewed.plan.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, &f, output, out, detailed)
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&f.noSecrets, "no-secrets", false, "do not read secret references (secret changes are not shown)")
	stringOnceVarP(cmd.Flags(), &output, "output", "o", "text", "output format: "+strings.Join(view.PlanFormats(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(view.PlanFormats(), cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes (drift included), 0 when none")
	stringOnceVarP(cmd.Flags(), &out, "out", "", "", "save the plan to this file, for apply --plan to apply exactly these changes (the only file plan writes)")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + "; with --detailed-exitcode: no changes", exitLineError,
			"2    with --detailed-exitcode: changes pending (drift included), blocked by dataflows, or held back by promotion"},
		env: append(append(append([]string{}, envGlobal...), envReferences), envCredentials...),
	})
	return cmd
}

// runPlan is plan: one environment (or none), or every one with --env all.
func runPlan(ctx context.Context, g *globals, f *planFlags, output, out string, detailed bool) error {
	if err := f.check(); err != nil {
		return err
	}
	pv, err := view.NewPlanView(output, g.io)
	if err != nil {
		return err
	}
	if f.env == manifest.AllEnvironments {
		return planEnvs(ctx, g, f, output, out, detailed)
	}
	m, want, lockPath, err := f.load(g)
	if err != nil {
		return err
	}
	lock, _, err := workspace.ReadLock(lockPath, m)
	if err != nil {
		return err
	}
	cs, err := plan(ctx, g, f, planInput{m: m, lockPath: lockPath, lock: lock, want: want})
	if err != nil {
		return err
	}
	sum := ""
	if out != "" {
		if sum, err = savePlan(g, f, cs, lock, lockPath, out); err != nil {
			return err
		}
		view.SavedPlan(pv, out, sum)
	}
	if err := pv.Plan(cs); err != nil {
		return err
	}
	if out != "" {
		announceSavedPlan(g, output, out, sum)
	}
	if detailed && (cs.HasChanges() || cs.Held() > 0) {
		return errExitChanges
	}
	return nil
}

// onlyNote says on stderr that --only limits the run, and to how many entries; said once the
// patterns are known to match something (else onlyMatches' error says it all).
func onlyNote(g *globals, only []string, matched, entries int) {
	if len(only) == 0 {
		return
	}
	fmt.Fprintf(g.io.Err, "flowsync: note: --only %s is in effect: %s of %s manifest entries match; changes to the others are neither shown nor made\n",
		strings.Join(only, " --only "), view.Thousands(matched), view.Thousands(entries))
}

// plan computes the changeset, reading the live state first with --refresh, through svc when
// the caller has connected already (apply), else through a connection of its own.
// planInput is what plan plans: the manifest, its lockfile, the desired entries, and the
// service when the caller has connected already.
type planInput struct {
	m        *manifest.Manifest
	lockPath string
	lock     *lockfile.File
	want     []reconcile.Desired
	svc      *workspace.Service
}

func plan(ctx context.Context, g *globals, f *planFlags, in planInput) (*reconcile.Changeset, error) {
	m, lockPath, lock, want, svc := in.m, in.lockPath, in.lock, in.want, in.svc
	if err := formerNamesErr(reconcile.CheckFormerNames(want, lock), f.file, m.Env, f.lockfile); err != nil {
		return nil, err
	}
	matched, err := onlyMatches(f.only, m, lock)
	if err != nil {
		return nil, err
	}
	onlyNote(g, f.only, matched, len(m.Connections))
	opts := f.options()
	if !f.skipPromotion {
		gates, err := workspace.Gates(m, f.file)
		if err != nil {
			return nil, err
		}
		opts.Gates = gates
	}
	var observed *reconcile.Observed
	if f.refresh && svc == nil {
		var err error
		if svc, err = workspace.Connect(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: workspace.DefaultConcurrency, MaxRPS: 0}); err != nil {
			return nil, err
		}
		defer svc.Close()
	}
	if f.refresh {
		var err error
		if observed, err = workspace.Observe(ctx, svc.Client); err != nil {
			return nil, err
		}
		opts.APIKey = svc.Client.APIKey()
	}
	cs := reconcile.Plan(want, lock, observed, opts)
	if svc != nil {
		// Connected (apply, plan --refresh): look up what uses the connections this plan
		// would delete or replace, and block those in use. Block is the step Plan ends with
		// when given the impact (Options.Impact): the same plan without planning twice
		// (a plan of 10,000 entries takes about 0.25 s).
		imp, err := workspace.Impact(ctx, svc.Client, cs.AtRisk())
		if err != nil {
			return nil, err
		}
		cs.Block(imp)
	}
	labelPlan(cs, f, m)
	return cs, nil
}

// labelPlan names the manifest, lockfile and target a changeset was planned for, for the views.
func labelPlan(cs *reconcile.Changeset, f *planFlags, m *manifest.Manifest) {
	cs.Manifest, cs.Lockfile = f.file, f.lockfile
	cs.Sandbox, cs.OrgID, cs.Environment = m.Target.Sandbox, m.Target.OrgID, m.Env
}

// nonDefaultLockfile is lockPath when it is not the manifest's default lockfile, else "": the
// commands flowsync suggests name --lockfile only then.
func nonDefaultLockfile(manifestPath, lockPath string) string {
	if lockPath == workspace.LockfilePath("", manifestPath) {
		return ""
	}
	return lockPath
}
