package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

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
			view, err := view.NewCheckView(output, g.io)
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
			ctx := cmd.Context() // cancelled by SIGINT and SIGTERM (Main)
			return runCheck(ctx, g, view, checkArgs{file: file, lockfile: lockPathFlag, env: env, only: only})
		},
	}
	stringOnceVarP(cmd.Flags(), &file, "file", "f", "", "manifest file, - for stdin (then --lockfile is required) (required)")
	stringOnceVarP(cmd.Flags(), &lockPathFlag, "lockfile", "", "", "lockfile path (default: the manifest's path with .lock.json)")
	cmd.Flags().StringArrayVar(&only, "only", nil, "only names matching this glob (repeatable)")
	registerEnv(cmd, &env, false)
	stringOnceVarP(cmd.Flags(), &output, "output", "o", "text", "output format: "+strings.Join(view.CheckFormats(), ", "))
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("lockfile", "json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(view.CheckFormats(), cobra.ShellCompDirectiveNoFileComp))
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + ": healthy, no preflight difference", exitLineError,
			"2    a connection failed its test (or is gone), or the preflight found a difference",
			"130  interrupted (SIGINT or SIGTERM); check changes nothing"},
		env: append(append(append([]string{}, envGlobal...), envReferences+" (read only to redact them)"), envCredentials...),
	})
	return cmd
}

// checkArgs are check's arguments.
type checkArgs struct {
	file, lockfile, env string
	only                []string
}

func runCheck(ctx context.Context, g *globals, view view.CheckView, a checkArgs) error {
	file := a.file
	m, err := g.loadEnv(file, a.env)
	if err != nil {
		return err
	}
	lockPath := workspace.EnvLockfilePath(a.lockfile, file, m)
	rep, err := workspace.Check(ctx, g.ws(), m, lockPath, a.only)
	if err != nil {
		return err
	}
	// The command line the advice names: the manifest as given, its environment, and the
	// lockfile when it is not the default one.
	rep.Files = workspace.FileArgs(file, m.Env, lockPath)
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
