package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/workspace"
)

// CheckFormats are the values --output accepts for check.
func CheckFormats() []string { return []string{"text", "json"} }

func newCheckCmd(g *globals) *cobra.Command {
	var (
		file, lockPathFlag, output, env string
		only                            []string
	)
	cmd := &cobra.Command{
		Use:   "check -f MANIFEST",
		Short: "Check that the service accepts the credentials and can reach every recorded connection; changes nothing",
		Long: `check is read-only. Preflight: the credentials work, the org and sandbox accept them, the
Amazon S3 connection spec exists, and its auth specs and params match what flowsync validates
(each difference is reported; the service's description wins). Then every connection recorded
in the lockfile is tested (GET /connections/{id}/test): a connection whose stored credentials
no longer work (an expired s3SessionToken, say) is listed with the service's answer. -f - reads
the manifest from stdin (then --lockfile is required).`,
		Example: `  flowsync check -f connections.yaml
  flowsync check -f connections.yaml --only 'acme-*' --output json > check.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			view, err := newCheckView(output, g.io)
			if err != nil {
				return usageErr(cmd, err)
			}
			if file == "-" && lockPathFlag == "" {
				return hint(errors.New("-f - (manifest on stdin) needs --lockfile: there is no manifest path to put the lockfile beside"),
					"add --lockfile PATH, the lockfile this manifest is applied with")
			}
			if _, err := names.NewSelector("--only", only); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runCheck(ctx, g, view, checkArgs{file: file, lockfile: lockPathFlag, env: env, only: only})
		},
	}
	stringOnceVarP(cmd.Flags(), &file, "file", "f", "", "manifest file, - for stdin (then --lockfile is required) (required)")
	stringOnceVarP(cmd.Flags(), &lockPathFlag, "lockfile", "", "", "lockfile path (default: the manifest's path with .lock.json)")
	cmd.Flags().StringArrayVar(&only, "only", nil, "only names matching this glob (repeatable)")
	registerEnv(cmd, &env, false)
	stringOnceVarP(cmd.Flags(), &output, "output", "o", "text", "output format: "+strings.Join(CheckFormats(), ", "))
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("lockfile", "json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(CheckFormats(), cobra.ShellCompDirectiveNoFileComp))
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + ": healthy, no preflight difference", exitLineError,
			"2    a connection failed its test (or is gone), or the preflight found a difference",
			"130  interrupted (SIGINT or SIGTERM); check changes nothing"},
		env: append(append(append([]string{}, envGlobal...), envReferences+" (read only to redact them)"), envCredentials...),
	})
	return cmd
}

// CheckReport is what check found; views render it.
type CheckReport struct {
	Target lockfile.Target
	Files  string // how the command line names the manifest and lockfile: "-f m.yaml"
	// Spec is the service's S3 connection spec, nil when the service does not know it.
	Spec       *flowservice.ConnectionSpec
	Comparison health.Comparison
	Results    []health.Result // sorted by name
	NotTested  []NotTested     // sorted by name
}

// NotTested is a selected name that was not tested, and why.
type NotTested struct {
	Name, Reason string
}

// Count returns how many results have status s.
func (r *CheckReport) Count(s health.Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Healthy reports whether nothing failed and the preflight found no difference.
func (r *CheckReport) Healthy() bool {
	return len(r.Comparison.Differences) == 0 && len(r.Results) == r.Count(health.Healthy)
}

// checkArgs are check's arguments.
type checkArgs struct {
	file, lockfile, env string
	only                []string
}

func runCheck(ctx context.Context, g *globals, view checkView, a checkArgs) error {
	file, only := a.file, a.only
	m, err := g.loadEnv(file, a.env)
	if err != nil {
		return err
	}
	lockPath := workspace.EnvLockfilePath(a.lockfile, file, m)
	// The command line the advice names: the manifest as given, its environment, and the
	// lockfile when it is not the default one.
	files := workspace.FileArgs(file, m.Env, lockPath)
	lock, _, err := workspace.ReadLock(lockPath, m)
	if err != nil {
		return err
	}
	targets, notTested, entries, err := checkTargets(m, lock, only)
	if err != nil {
		return err
	}

	svc, err := workspace.Connect(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: workspace.DefaultConcurrency, MaxRPS: 0})
	if err != nil {
		return err
	}
	defer svc.Close()
	c := svc.Client

	// Preflight: the org and sandbox accept the credentials, then the service's description.
	if err := c.CheckAccess(ctx, s3source.SpecID); err != nil {
		return checkServiceErr(fmt.Sprintf("preflight: org %s, sandbox %s", m.Target.OrgID, m.Target.Sandbox), err)
	}
	rep := &CheckReport{Target: workspace.Target(m), Files: files, NotTested: notTested}
	spec, err := c.GetConnectionSpec(ctx, s3source.SpecID)
	switch {
	case flowservice.IsNotFound(err):
		spec = nil
	case err != nil:
		return checkServiceErr("preflight: read connection spec "+s3source.SpecID, err)
	}
	rep.Spec = spec
	rep.Comparison = health.CompareSpec(spec, embeddedAuthSpecs(), entries)

	results, err := health.Test(ctx, c, targets, workspace.DefaultConcurrency)
	var stopped *health.StoppedError
	switch {
	case errors.As(err, &stopped):
		return checkServiceErr("test connections", stopped.Err)
	case err != nil:
		return checkServiceErr("test connections", err)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	rep.Results = results
	if err := view.Check(rep); err != nil {
		return err
	}
	if n := rep.Count(health.Errored); n > 0 {
		return hint(fmt.Errorf("%d connection(s) could not be tested: the service kept failing", n),
			"run check again later; the other results above stand")
	}
	if !rep.Healthy() {
		return errExitChanges
	}
	return nil
}

// checkServiceErr is serviceErr for check, which changes nothing.
func checkServiceErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return &interruptedError{}
	}
	return &serviceError{Op: op, Err: err, ReadOnly: true}
}

// checkTargets selects the recorded connections to test: every lockfile entry with an id
// whose name matches --only (orphans included: they are still flowsync's). It also returns
// the selected names that cannot be tested, and the selected manifest entries as the
// service's description checks them. A glob that matches no name is an error.
func checkTargets(m *manifest.Manifest, lock *lockfile.File, only []string) ([]health.Target, []NotTested, []health.Entry, error) {
	sel, err := names.NewSelector("--only", only)
	if err != nil {
		return nil, nil, nil, err
	}
	selected := sel.Match
	var targets []health.Target
	var notTested []NotTested
	var entries []health.Entry
	inManifest := map[string]bool{}
	for _, c := range m.Connections {
		inManifest[c.Name] = true
		if !selected(c.Name) {
			continue
		}
		e := health.Entry{Name: c.Name, SpecName: c.SpecName}
		for p := range c.Params {
			e.Params = append(e.Params, p)
		}
		sort.Strings(e.Params)
		entries = append(entries, e)
		if rec := lock.Connections[c.Name]; rec == nil {
			notTested = append(notTested, NotTested{Name: c.Name, Reason: "not recorded in the lockfile: apply has not created it yet"})
		}
	}
	for name, rec := range lock.Connections {
		if !selected(name) {
			continue
		}
		if rec.ID == "" {
			notTested = append(notTested, NotTested{Name: name, Reason: "its create was interrupted before the outcome was known: the next apply looks it up"})
			continue
		}
		targets = append(targets, health.Target{Name: name, ID: rec.ID})
	}
	if err := sel.Unmatched("manifest entry or recorded connection"); err != nil {
		return nil, nil, nil, err
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
	sort.Slice(notTested, func(i, j int) bool { return notTested[i].Name < notTested[j].Name })
	return targets, notTested, entries, nil
}
