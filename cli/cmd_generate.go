package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/generate"
	"github.com/flowsync/flowsync/internal/atomicfile"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

func newGenerateCmd(g *globals) *cobra.Command {
	var (
		org, sandbox, out, fromCSV string
		globs                      []string
	)
	cmd := &cobra.Command{
		Use:   "generate [--from-csv FILE] --org ORG --sandbox SANDBOX -o MANIFEST",
		Short: "Write a manifest and lockfile for the live S3 connections of a sandbox, to bring them under flowsync",
		Long: `generate reads every live Amazon S3 connection of the org and sandbox and writes a manifest
(entries sorted by name, values every entry shares in defaults, secrets as {env: ...}
references, one variable per secret param of each connection) and its lockfile recording them
all, so that "flowsync plan --no-secrets" right after shows no change. The service never
answers secrets: once the variables are set, the first apply sends them, and nothing else.

A name held by several live connections is listed with their ids and left out. generate never
overwrites a file: the manifest and its lockfile must not exist.

With --from-csv, generate writes the manifest from a table instead, with no network and no
credentials: a header row, then a row per connection. Columns: name and bucketName
(required), region or serviceUrl, folderPath, description, specName (default Access Key).
A region becomes https://s3.REGION.amazonaws.com/; empty cells are left out; secrets are
{env: S3_ACCESS_KEY} and {env: S3_SECRET_KEY} in defaults, with every value the rows share.
Every bad row is reported as FILE:ROW: column: message, and then nothing is written. No
lockfile is written: nothing is live yet.`,
		Example: `  flowsync generate --org 5C1328435BF324E90A49402A@AdobeOrg --sandbox prod -o connections.yaml
  flowsync generate --org 5C1328435BF324E90A49402A@AdobeOrg --sandbox prod -o marketing.yaml --name 'mkt-*'
  flowsync generate --from-csv buckets.csv --org 5C1328435BF324E90A49402A@AdobeOrg --sandbox prod -o buckets.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context() // cancelled by SIGINT and SIGTERM (Main)
			if fromCSV != "" {
				return runGenerateCSV(g, fromCSV, org, sandbox, out, globs)
			}
			return runGenerate(ctx, g, org, sandbox, out, globs)
		},
	}
	stringOnceVarP(cmd.Flags(), &org, "org", "", "", "IMS organization id, e.g. 5C1328435BF324E90A49402A@AdobeOrg (required)")
	stringOnceVarP(cmd.Flags(), &sandbox, "sandbox", "", "", "sandbox name, all lowercase, e.g. prod (required)")
	stringOnceVarP(cmd.Flags(), &out, "out", "o", "", "manifest file to write; its lockfile is written beside it (required; neither may exist)")
	cmd.Flags().StringArrayVar(&globs, "name", nil, "only connections whose name matches this glob (repeatable)")
	stringOnceVarP(cmd.Flags(), &fromCSV, "from-csv", "", "", "write the manifest from this table (header row; no network, no lockfile)")
	_ = cmd.MarkFlagFilename("from-csv", "csv")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("sandbox")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagFilename("out", "yaml", "yml")
	setFooter(cmd, helpFooter{
		exit: []string{exitLineOK + ": the manifest and its lockfile were written (names left out are listed)", exitLineError + "; nothing was written",
			"130  interrupted (SIGINT or SIGTERM); nothing was written"},
		env: append(append([]string{}, envGlobal...), envCredentials...),
	})
	return cmd
}

func runGenerate(ctx context.Context, g *globals, org, sandbox, out string, globs []string) error {
	sel, err := names.NewSelector("--name", globs)
	if err != nil {
		return err
	}
	target := lockfile.Target{OrgID: org, Sandbox: sandbox}
	if err := checkTarget(target); err != nil {
		return err
	}
	lockPath := lockfile.DefaultPath(out)
	// Before any network call: never overwrite anything.
	if err := refuseExisting(out, lockPath); err != nil {
		return err
	}

	m := &manifest.Manifest{Path: out, Target: manifest.Target{OrgID: org, Sandbox: sandbox}}
	svc, err := workspace.Connect(ctx, g.ws(), m, lockPath, workspace.Limits{Concurrency: workspace.DefaultConcurrency, MaxRPS: 0})
	if err != nil {
		return err
	}
	defer svc.Close()
	c := svc.Client

	secret, required, err := generateRules(ctx, g, c)
	if err != nil {
		return err
	}
	observed, err := workspace.Observe(ctx, c)
	if err != nil {
		return err
	}
	conns, err := selectLive(observed.Connections, sel, sandbox)
	if err != nil {
		return err
	}

	gen, err := generate.Build(out, target, conns, secret, required)
	if err != nil {
		return hint(err)
	}
	if gen.Entries() == 0 {
		printLeftOut(g, gen.LeftOut, out)
		return hint(fmt.Errorf("no live Amazon S3 connection of org %s, sandbox %s to write; nothing was written", org, sandbox))
	}

	if err := writeGenerated(gen, out, lockPath); err != nil {
		return err
	}
	printGenerated(g, gen, out, lockPath, target)
	return nil
}

// selectLive keeps the live Amazon S3 connections whose names sel matches; a glob that
// matches nothing is an error.
func selectLive(live []flowservice.Connection, sel *names.Selector, sandbox string) ([]flowservice.Connection, error) {
	var conns []flowservice.Connection
	for _, conn := range live {
		if conn.ConnectionSpec.ID == s3source.SpecID && sel.Match(conn.Name) {
			conns = append(conns, conn)
		}
	}
	if err := sel.Unmatched("live Amazon S3 connection of sandbox " + sandbox); err != nil {
		return nil, fmt.Errorf("%w; nothing was written", err)
	}
	return conns, nil
}

// writeGenerated writes the lockfile first: a manifest without its lockfile would plan creates
// of connections that exist. If the manifest then cannot be written, the lockfile is removed.
func writeGenerated(gen *generate.Result, out, lockPath string) error {
	gen.Lock.Serial = 1
	lockData, err := gen.Lock.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteNew(lockPath, lockData, 0o600); err != nil {
		return writeErr(lockPath, err)
	}
	if err := atomicfile.WriteNew(out, gen.Manifest, 0o644); err != nil {
		_ = os.Remove(lockPath)
		return writeErr(out, err)
	}
	return nil
}

// printGenerated says what was written and what to do next.
func printGenerated(g *globals, gen *generate.Result, out, lockPath string, target lockfile.Target) {
	org, sandbox := target.OrgID, target.Sandbox
	w := g.io.Out
	fmt.Fprintf(w, "Wrote %s: %s of org %s, sandbox %s.\n", out, view.Plural(gen.Entries(), "connection", "connections"), org, sandbox)
	fmt.Fprintf(w, "Wrote %s: each of them recorded with its id and etag.\n", lockPath)
	printLeftOut(g, gen.LeftOut, out)
	if len(gen.EnvVars) > 0 {
		fmt.Fprintf(w, "\nThe service never answers secrets: each is a reference to an environment variable, one per\nparam for the connections of one AWS access key. Set them before apply:\n")
		for _, v := range gen.EnvVars {
			fmt.Fprintf(w, "  %s\n", v)
		}
	}
	fmt.Fprintf(w, "\nNext: \"flowsync plan -f %s --no-secrets\" shows no change. With the variables set, \"flowsync apply -f %s\" sends the secrets once, and nothing else.\n", shell.Quote(out), shell.Quote(out))
}

func printLeftOut(g *globals, left []generate.LeftOut, out string) {
	if len(left) == 0 {
		return
	}
	w := g.io.Out
	fmt.Fprintf(w, "\nLeft out (%d): add each by hand and run \"flowsync import -f %s -- NAME ID\" with the right id.\n", len(left), shell.Quote(out))
	for _, l := range left {
		fmt.Fprintf(w, "  %s: %s: %s\n", l.Name, strings.Join(l.IDs, ", "), l.Reason)
	}
	fmt.Fprintf(g.io.Err, "flowsync: warning: %s left out; see the list above\n", view.Plural(len(left), "connection name", "connection names"))
}

// checkTarget refuses an org or sandbox a manifest would refuse, before any network call.
func checkTarget(t lockfile.Target) error {
	doc := fmt.Sprintf("version: 1\ntarget:\n  orgId: %s\n  sandbox: %s\nconnections: []\n", strconv.Quote(t.OrgID), strconv.Quote(t.Sandbox))
	if _, err := manifest.Parse("generate", []byte(doc)); err != nil {
		var d manifest.Diagnostics
		if errors.As(err, &d) {
			var msgs []string
			for _, x := range d {
				switch {
				case strings.HasPrefix(x.Path, "target.orgId"):
					msgs = append(msgs, "--org: "+x.Message)
				case strings.HasPrefix(x.Path, "target.sandbox"):
					msgs = append(msgs, "--sandbox: "+x.Message)
				}
			}
			if len(msgs) > 0 {
				return hint(errors.New(strings.Join(msgs, "\n")),
					"the org looks like 5C1328435BF324E90A49402A@AdobeOrg; the sandbox is all lowercase, like prod")
			}
		}
	}
	return nil
}

// refuseExisting fails when the manifest, its lockfile or a journal beside it exists, or
// the directory does not.
func refuseExisting(out, lockPath string) error {
	dir := filepath.Dir(out)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return hint(fmt.Errorf("-o %s: directory %s does not exist", out, dir), "create the directory first")
	}
	for _, p := range []string{out, lockPath, lockPath + ".journal"} {
		if _, err := os.Lstat(p); err == nil {
			return hint(fmt.Errorf("%s exists: generate never overwrites a file; nothing was sent or written", p),
				"choose another -o path, or move the existing file away")
		} else if !errors.Is(err, fs.ErrNotExist) {
			return hint(fmt.Errorf("%s: %w", p, err))
		}
	}
	return nil
}

func writeErr(p string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return hint(fmt.Errorf("%s appeared while generate ran: it was not overwritten", p), "move it away and run generate again")
	}
	return hint(fmt.Errorf("write %s: %w", p, err), "nothing was written; fix the problem and run generate again")
}

// generateRules are which params are secret and which are required, per auth spec: what the
// service's own description says (format: password, required) together with flowsync's rules,
// which are the fallback when the service cannot describe itself. A param either calls secret
// is written as a reference: a masked value must never become a literal.
func generateRules(ctx context.Context, g *globals, c *flowservice.Client) (generate.SecretRule, func(string) []string, error) {
	spec, err := c.GetConnectionSpec(ctx, s3source.SpecID)
	switch {
	case errors.Is(err, reconcile.ErrAuth):
		return nil, nil, serviceErr("read connection spec "+s3source.SpecID, err)
	case errors.Is(err, context.Canceled):
		return nil, nil, &interruptedError{}
	case err != nil:
		g.log.Warn("the service did not describe the Amazon S3 connection spec: using flowsync's own rules", "error", err.Error())
		spec = nil
	}
	secret, required := generate.Rules(spec)
	return secret, required, nil
}
