package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/s3source"
)

func newImportCmd(g *globals) *cobra.Command {
	var (
		file, lockPathFlag string
		byName             bool
	)
	cmd := &cobra.Command{
		Use:   "import -f MANIFEST (NAME ID | --by-name)",
		Short: "Record existing connections for manifest entries",
		Long: `import records an existing connection in the lockfile for a manifest entry, so that
flowsync manages it instead of creating a new one. flowsync cannot read a connection's secrets,
so the next apply sends them again.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case byName && len(args) != 0:
				return withHints(ExitError, errors.New("import takes either NAME ID or --by-name, not both"))
			case !byName && len(args) != 2:
				return withHints(ExitError, fmt.Errorf("import needs NAME and ID (got %d arguments), or --by-name", len(args)),
					"flowsync import -f MANIFEST NAME ID")
			}
			m, err := loadManifest(file)
			if err != nil {
				return err
			}
			var entry *manifest.Connection
			if !byName {
				for i := range m.Connections {
					if m.Connections[i].Name == args[0] {
						entry = &m.Connections[i]
					}
				}
				if entry == nil {
					return withHints(ExitError, fmt.Errorf("%s: no connection named %q", file, args[0]),
						"add the entry to the manifest first, then import it")
				}
			}
			lockPath := lockfilePath(lockPathFlag, file)
			w, err := openWriter(cmd.Context(), g, m, lockPath, 8, 0)
			if err != nil {
				return err
			}
			defer w.Close()
			svc, lock := w.svc, w.lock
			if byName {
				err = importByName(cmd, g, svc.client, m, lock)
			} else {
				err = importOne(cmd, g, svc.client, entry, args[1], lock)
			}
			if err != nil {
				return err
			}
			return saveLock(lock, lockPath)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "manifest file (required)")
	cmd.Flags().StringVar(&lockPathFlag, "lockfile", "", "lockfile path (default: the manifest's path with .lock.json)")
	cmd.Flags().BoolVar(&byName, "by-name", false, "import every unrecorded entry whose name matches exactly one live S3 connection")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func importOne(cmd *cobra.Command, g *globals, c *flowservice.Client, entry *manifest.Connection, id string, lock *lockfile.File) error {
	for name, e := range lock.Connections {
		if e.ID == id && name != entry.Name {
			return withHints(ExitError, fmt.Errorf("connection %s is already recorded as %q", id, name))
		}
	}
	conn, err := c.Get(cmd.Context(), id)
	if err != nil {
		if flowservice.IsNotFound(err) {
			return withHints(ExitError, fmt.Errorf("import %s: connection %s does not exist in sandbox %s", entry.Name, id, lock.Target.Sandbox))
		}
		return serviceErr("import "+entry.Name, err)
	}
	if conn.ConnectionSpec.ID != s3source.SpecID {
		return withHints(ExitError, fmt.Errorf("import %s: connection %s is not an Amazon S3 connection (spec %s)", entry.Name, id, conn.ConnectionSpec.ID))
	}
	if prev := lock.Connections[entry.Name]; prev != nil && prev.ID != "" && prev.ID != id {
		fmt.Fprintf(g.io.Err, "flowsync: warning: %s was recorded as %s; it now records %s (the old connection is not deleted)\n", entry.Name, prev.ID, id)
	}
	if conn.Name != entry.Name {
		fmt.Fprintf(g.io.Err, "flowsync: warning: connection %s is named %q on the service; the next apply does not rename it\n", id, conn.Name)
	}
	lock.Connections[entry.Name] = importedEntry(conn, entry, lock.Salt)
	fmt.Fprintf(g.io.Out, "imported %s: %s\n", entry.Name, id)
	return nil
}

func importByName(cmd *cobra.Command, g *globals, c *flowservice.Client, m *manifest.Manifest, lock *lockfile.File) error {
	observed, err := observe(cmd.Context(), c)
	if err != nil {
		return err
	}
	recorded := map[string]bool{}
	for _, e := range lock.Connections {
		recorded[e.ID] = true
		for _, id := range e.Retired {
			recorded[id] = true
		}
	}
	byName := map[string][]*flowservice.Connection{}
	for i := range observed.Connections {
		conn := &observed.Connections[i]
		if !recorded[conn.ID] {
			byName[conn.Name] = append(byName[conn.Name], conn)
		}
	}
	var imported, missing int
	var ambiguous []string
	for _, entry := range m.Connections {
		if e := lock.Connections[entry.Name]; e != nil && e.ID != "" {
			continue
		}
		switch found := byName[entry.Name]; len(found) {
		case 0:
			missing++
		case 1:
			lock.Connections[entry.Name] = importedEntry(found[0], &entry, lock.Salt)
			fmt.Fprintf(g.io.Out, "imported %s: %s\n", entry.Name, found[0].ID)
			imported++
		default:
			ids := make([]string, len(found))
			for i, f := range found {
				ids[i] = f.ID
			}
			sort.Strings(ids)
			ambiguous = append(ambiguous, fmt.Sprintf("%s: %s", entry.Name, strings.Join(ids, ", ")))
		}
	}
	fmt.Fprintf(g.io.Out, "Import: %d imported, %d ambiguous, %d not found on the service.\n", imported, len(ambiguous), missing)
	for _, a := range ambiguous {
		fmt.Fprintf(g.io.Out, "  ambiguous %s (run \"flowsync import -f %s NAME ID\" with the right one)\n", a, m.Path)
	}
	return nil
}

// importedEntry records a live connection's visible fields. A param the manifest takes from a
// reference is recorded only as a digest, like every applied secret. The service's secrets
// cannot be read, so no digest is recorded for them: the next plan shows them as changed and
// apply sends them again.
func importedEntry(c *flowservice.Connection, m *manifest.Connection, salt string) *lockfile.Entry {
	e := &lockfile.Entry{
		ID:             c.ID,
		ETag:           c.ETag,
		Description:    c.Description,
		SpecName:       c.Auth.SpecName,
		ConnectionSpec: c.ConnectionSpec,
	}
	for k, v := range c.Auth.Params {
		if s3source.Secret(k) {
			continue
		}
		if v2, ok := m.Params[k]; ok && v2.Sensitive() {
			if e.SecretDigests == nil {
				e.SecretDigests = map[string]string{}
			}
			e.SecretDigests[k] = lockfile.Digest(salt, v)
			continue
		}
		if e.Params == nil {
			e.Params = map[string]string{}
		}
		e.Params[k] = v
	}
	if c.CreatedAt > 0 {
		e.CreatedAt = time.UnixMilli(c.CreatedAt).UTC()
	}
	if c.UpdatedAt > 0 {
		e.UpdatedAt = time.UnixMilli(c.UpdatedAt).UTC()
	}
	return e
}
