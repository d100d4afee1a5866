package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

func newForgetCmd(g *globals) *cobra.Command {
	var file, lockPathFlag, env string
	cmd := &cobra.Command{
		Use:   "forget -f MANIFEST NAME...",
		Short: "Stop managing connections without deleting them",
		Long: `forget drops the records of the named connections from the lockfile and sends nothing:
the connections stay live, flowsync no longer manages them, and no plan shows them again (like
Terraform's "removed" block without destroy). It prints each id it forgets. Remove the entry
from the manifest first: a name the manifest still has (as an entry or in an entry's
formerNames) is refused, since the next apply would create or rename it again; so is a name
the lockfile does not record. On a refusal nothing is written. Needs no credentials; takes the
run lock and finishes an interrupted run's journal first, like apply.`,
		Example: `  flowsync forget -f connections.yaml acme-legacy
  flowsync forget -f connections.yaml --lockfile state/prod.lock.json acme-legacy acme-old-eu`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("forget needs at least one NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "-" && lockPathFlag == "" {
				return hint(errors.New("-f - (manifest on stdin) needs --lockfile: there is no manifest path to put the lockfile beside"),
					"add --lockfile PATH, the lockfile this manifest is applied with")
			}
			m, err := g.loadEnv(file, env)
			if err != nil {
				return err
			}
			desired, err := resolveDesired(m, "", g.env, true) // names only: no secret is read
			if err != nil {
				return err
			}
			lockPath := workspace.EnvLockfilePath(lockPathFlag, file, m)
			w, err := workspace.OpenOffline(g.ws(), m, lockPath)
			if err != nil {
				return err
			}
			defer w.Close()
			gone, err := reconcile.Forget(w.Lock, desired, args)
			if err != nil {
				return forgetErr(err, file, env, lockPathFlag)
			}
			if err := saveLockfile(w.Lock, lockPath); err != nil {
				return hint(err, "nothing was forgotten: the lockfile is as it was")
			}
			for _, f := range gone {
				fmt.Fprintln(g.io.Out, forgottenLine(f))
			}
			fmt.Fprintf(g.io.Out, "Forget: %s forgotten. Nothing was sent: the connections stay live and flowsync no longer manages them.\n", view.Thousands(len(gone)))
			return nil
		},
	}
	stringOnceVarP(cmd.Flags(), &file, "file", "f", "", "manifest file, - for stdin (then --lockfile is required) (required)")
	stringOnceVarP(cmd.Flags(), &lockPathFlag, "lockfile", "", "", "lockfile path (default: the manifest's path with .lock.json)")
	registerEnv(cmd, &env, false)
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + ": every name was forgotten", exitLineError + "; or a name still in the manifest or not recorded (nothing written)", exitLineLocked},
		env:  envGlobal,
	})
	return cmd
}

func forgottenLine(f reconcile.Forgotten) string {
	line := "forgot " + f.Name + ": " + f.ID
	if f.ID == "" {
		line = "forgot " + f.Name + ": no id (its create's outcome was never known; look for the name on the service)"
	}
	if len(f.Retired) > 0 {
		line += " (and " + strings.Join(f.Retired, ", ") + ", replaced and not yet deleted)"
	}
	return line
}

// formerNamesErr adds what to do to an entry two of whose former names are recorded: forget
// the one that is not this entry's (after taking it out of formerNames, which forget
// requires), as a command for each.
func formerNamesErr(err error, manifestPath, env, lockPathFlag string) error {
	var fe *reconcile.FormerNamesError
	if !errors.As(err, &fe) {
		return err
	}
	cmds := make([]string, len(fe.Recorded))
	for i, r := range fe.Recorded {
		cmds[i] = "flowsync forget " + fileArgs(manifestPath, env, lockPathFlag) + " -- " + shell.Quote(r.Name)
	}
	return hint(err, "take the former name that is not this entry's out of its formerNames in "+manifestPath+", then drop its record: "+strings.Join(cmds, " or "),
		"nothing was sent")
}

// forgetErr adds what to do to a refused forget.
func forgetErr(err error, manifestPath, env, lockPathFlag string) error {
	var fe *reconcile.ForgetError
	if !errors.As(err, &fe) {
		return err
	}
	var advice []string
	if len(fe.InManifest) > 0 {
		advice = append(advice, "remove the entry from "+manifestPath+" (and the name from any formerNames) first, then run forget again")
	}
	if len(fe.Unknown) > 0 {
		cmd := "flowsync plan " + workspace.FileArgs(manifestPath, env, lockPathFlag)
		advice = append(advice, "the recorded names the manifest no longer has are the orphans of: "+cmd+" --no-secrets")
	}
	return hint(err, append(advice, "nothing was written")...)
}
