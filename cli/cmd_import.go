package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

// importArgs refuses arguments and flags of import that do not go together.
func importArgs(byName, force, mine bool, args []string) error {
	switch {
	case byName && len(args) != 0:
		return errors.New("import takes either NAME ID or --by-name, not both")
	case byName && force:
		return errors.New("--force applies to import NAME ID only: --by-name never replaces a recorded connection")
	case mine && !byName:
		return errors.New("--mine applies to --by-name only: import NAME ID records the connection you name")
	case !byName && len(args) != 2:
		return hint(fmt.Errorf("import needs NAME and ID (got %d arguments), or --by-name", len(args)),
			"flowsync import -f MANIFEST NAME ID")
	}
	return nil
}

func newImportCmd(g *globals) *cobra.Command {
	var (
		file, lockPathFlag, env string
		byName, force, mine     bool
	)
	cmd := &cobra.Command{
		Use:   "import -f MANIFEST (NAME ID [--force] | --by-name)",
		Short: "Record existing connections for manifest entries",
		Long: `import records an existing connection in the lockfile for a manifest entry, so that
flowsync manages it instead of creating a new one. flowsync cannot read a connection's secrets,
so the next apply sends them again. A name already recorded with another connection is kept
unless --force. --by-name records every unrecorded entry whose name matches exactly one live
S3 connection, and exits 1 when a name matched several. With --mine it considers only connections
created with the API key in use (the service's createdClient): a colleague's connection of the
same name is listed and left alone. That is the safe way to rebuild a lost lockfile or journal.`,
		Example: `  flowsync import -f connections.yaml acme-eu 7c1e9a4b-2f3d-4c5e-8a6b-1d2e3f4a5b6c
  flowsync import -f connections.yaml --by-name
  flowsync import -f connections.yaml --by-name --mine`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "-" && lockPathFlag == "" {
				return hint(errors.New("-f - (manifest on stdin) needs --lockfile: there is no manifest path to put the lockfile beside"),
					"add --lockfile PATH, the lockfile this manifest is applied with")
			}
			if err := importArgs(byName, force, mine, args); err != nil {
				return err
			}
			m, err := g.loadEnv(file, env)
			if err != nil {
				return err
			}
			// Only which params come from references matters here: no secret is read.
			desired, err := resolveDesired(m, "", g.env, true)
			if err != nil {
				return err
			}
			var d *reconcile.Desired
			if !byName {
				for i := range desired {
					if names.Same(desired[i].Name, args[0]) {
						d = &desired[i]
					}
				}
				if d == nil {
					return hint(fmt.Errorf("%s: no connection named %q", file, args[0]),
						"add the entry to the manifest first, then import it")
				}
			}
			lockPath := workspace.EnvLockfilePath(lockPathFlag, file, m)
			w, err := workspace.Open(cmd.Context(), g.ws(), m, lockPath, workspace.Limits{Concurrency: workspace.DefaultConcurrency, MaxRPS: 0})
			if err != nil {
				return err
			}
			defer w.Close()
			if byName {
				return importByName(cmd, g, w, m, desired, mine)
			}
			return importOne(cmd, g, w, m, oneImport{d: d, id: args[1], force: force})
		},
	}
	stringOnceVarP(cmd.Flags(), &file, "file", "f", "", "manifest file, - for stdin (then --lockfile is required) (required)")
	stringOnceVarP(cmd.Flags(), &lockPathFlag, "lockfile", "", "", "lockfile path (default: the manifest's path with .lock.json)")
	registerEnv(cmd, &env, false)
	cmd.Flags().BoolVar(&byName, "by-name", false, "import every unrecorded entry whose name matches exactly one live S3 connection")
	cmd.Flags().BoolVar(&mine, "mine", false, "with --by-name: only connections created with the API key in use; others of the same name are listed and left alone")
	cmd.Flags().BoolVar(&force, "force", false, "replace the connection a name already records (the old one is then neither patched nor deleted)")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK, exitLineError + "; --by-name: an ambiguous name", exitLineLocked},
		env:  append(append([]string{}, envGlobal...), envCredentials...),
	})
	return cmd
}

// oneImport is import NAME ID: the entry, the connection's id, and --force.
type oneImport struct {
	d     *reconcile.Desired
	id    string
	force bool
}

func importOne(cmd *cobra.Command, g *globals, w *workspace.Session, m *manifest.Manifest, one oneImport) error {
	d, id, force := one.d, one.id, one.force
	lock := w.Lock
	conn, err := w.Client.Get(cmd.Context(), id)
	if err != nil {
		if errors.Is(err, reconcile.ErrGone) {
			return hint(fmt.Errorf("import %s: connection %s does not exist in sandbox %s", d.Name, id, lock.Target.Sandbox),
				fmt.Sprintf("list the candidates with: flowsync plan %s --refresh", workspace.FileArgs(m.Path, m.Env, w.LockPath)))
		}
		return serviceErr("import "+d.Name, err)
	}
	if conn.ConnectionSpec.ID != s3source.SpecID {
		return fmt.Errorf("import %s: connection %s is not an Amazon S3 connection (spec %s)", d.Name, id, conn.ConnectionSpec.ID)
	}
	replaced, err := reconcile.Import(lock, d, conn, force)
	var conflict *reconcile.ImportConflictError
	switch {
	case errors.As(err, &conflict):
		return hint(err,
			"nothing was changed; the plan shows live connections named like a recorded one as unmanaged: they are someone else's, leave them alone",
			fmt.Sprintf("to make flowsync manage %s instead of %s (which it will then neither patch nor delete): flowsync import %s --force -- %s %s",
				id, conflict.Recorded, workspace.FileArgs(m.Path, m.Env, w.LockPath), shell.Quote(d.Name), shell.Quote(id)))
	case err != nil:
		return hint(err, "nothing was changed")
	}
	if err := g.ws().SaveLock(lock, w.LockPath); err != nil {
		return err
	}
	if replaced != "" {
		fmt.Fprintf(g.io.Out, "imported %s: %s (replaces %s, which flowsync no longer manages and did not delete)\n", d.Name, id, replaced)
	} else {
		fmt.Fprintf(g.io.Out, "imported %s: %s\n", d.Name, id)
	}
	if !names.Same(conn.Name, d.Name) {
		fmt.Fprintf(g.io.Err, "flowsync: warning: connection %s is named %q on the service; the next apply renames it to %q\n", id, conn.Name, d.Name)
	}
	return nil
}

// maxAmbiguousHints is how many names import --by-name gives a command for; the others are
// listed on stdout.
const maxAmbiguousHints = 10

func importByName(cmd *cobra.Command, g *globals, w *workspace.Session, m *manifest.Manifest, desired []reconcile.Desired, mine bool) error {
	observed, err := workspace.Observe(cmd.Context(), w.Client)
	if err != nil {
		return err
	}
	apiKey := ""
	if mine {
		apiKey = w.Client.APIKey()
	}
	rep := reconcile.ImportByName(w.Lock, desired, observed, apiKey)
	if len(rep.Imported) > 0 {
		if err := g.ws().SaveLock(w.Lock, w.LockPath); err != nil {
			return err
		}
	}
	for _, im := range rep.Imported {
		fmt.Fprintf(g.io.Out, "imported %s: %s\n", im.Name, im.ID)
	}
	fmt.Fprintf(g.io.Out, "Import: %d imported, %d ambiguous, %d not found on the service.\n", len(rep.Imported), len(rep.Ambiguous), len(rep.Missing))
	for _, a := range rep.Ambiguous {
		fmt.Fprintf(g.io.Out, "  ambiguous %s: %s\n", a.Name, strings.Join(a.IDs, ", "))
	}
	for _, f := range rep.Foreign {
		fmt.Fprintf(g.io.Out, "  left alone %s: %s (created by another API key)\n", f.Name, strings.Join(f.IDs, ", "))
	}
	if len(rep.Ambiguous) > 0 {
		verb := "were"
		if len(rep.Ambiguous) == 1 {
			verb = "was"
		}
		hints := []string{"record the right one of each; the others are someone else's: flowsync never touches them"}
		for i, a := range rep.Ambiguous {
			if i == maxAmbiguousHints {
				hints = append(hints, fmt.Sprintf("and %d more names, listed above", len(rep.Ambiguous)-i))
				break
			}
			hints = append(hints, fmt.Sprintf("flowsync import %s -- %s ID (ID: one of %s)", workspace.FileArgs(m.Path, m.Env, w.LockPath), shell.Quote(a.Name), strings.Join(a.IDs, ", ")))
		}
		return hint(fmt.Errorf("%s more than one live connection and %s not imported", view.Plural(len(rep.Ambiguous), "name matches", "names match"), verb), hints...)
	}
	return nil
}
