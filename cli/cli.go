// Package cli holds flowsync's commands and views. It is the only package that talks to the
// user: results on stdout, progress, logs and errors on stderr, each error printed once as
// "flowsync: error: …" followed by "flowsync: hint: …" lines.
//
// Invariants: no secret value reaches a view, a log line or an error (views only ever say
// "(sensitive)" or "(sensitive value changed)"); every bad input is rejected before anything
// is sent or written; a view is chosen once from --output and business code never checks the
// format; the same changeset renders to the same bytes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/planfile"
)

// Exit codes of SPEC.md.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitChanges     = 2
	ExitApplyFailed = 3
	ExitLocked      = 4
	ExitInterrupted = 130
)

// Version is set at build time with -ldflags "-X github.com/flowsync/flowsync/cli.Version=…".
var Version = ""

// exitError carries an exit code and hints along with the error to print.
type exitError struct {
	code  int
	err   error // nil: exit with code, print nothing
	hints []string
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func withHints(code int, err error, hints ...string) error {
	return &exitError{code: code, err: err, hints: hints}
}

// globals are the flags every command takes.
type globals struct {
	endpoint  string
	logFormat string
	io        IO
	log       *slog.Logger
}

func (g *globals) env(name string) (string, bool) {
	if g.io.Env != nil {
		return g.io.Env(name)
	}
	return os.LookupEnv(name)
}

// Main runs flowsync with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	g := &globals{io: stdio}
	root := newRoot(ctx, g)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			PrintError(stdio.Err, ee.err, ee.hints...)
		}
		return ee.code
	}
	// cobra's own errors: unknown command or flag, wrong number of arguments.
	PrintError(stdio.Err, err, "run \"flowsync --help\" for usage")
	return ExitError
}

func newRoot(ctx context.Context, g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "flowsync",
		Short: "Keep Adobe Experience Platform S3 base connections in the state a manifest declares",
		Long: `flowsync keeps many Adobe Experience Platform Amazon S3 base connections (Flow Service
/connections) in the state that one YAML manifest declares: validate, plan, apply.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.endpoint == "" {
				if v, ok := g.env("FLOWSYNC_ENDPOINT"); ok && v != "" {
					g.endpoint = v
				} else {
					g.endpoint = defaultEndpoint
				}
			}
			level, err := logLevel(g)
			if err != nil {
				return withHints(ExitError, err)
			}
			switch g.logFormat {
			case "text":
				g.log = slog.New(slog.NewTextHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
			case "json":
				g.log = slog.New(slog.NewJSONHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
				g.io.Log = g.log
			default:
				return withHints(ExitError, fmt.Errorf("--log-format %q: must be text or json", g.logFormat))
			}
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVar(&g.endpoint, "endpoint", "", "Flow Service base URL, or \"emulator\" for an in-process emulator (env FLOWSYNC_ENDPOINT)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withHints(ExitError, err, "run \"flowsync --help\" for usage")
	})
	root.AddCommand(
		newValidateCmd(g),
		newPlanCmd(g),
		newApplyCmd(ctx, g),
		newImportCmd(g),
		newCheckCmd(g),
		newEmulatorCmd(g),
		newVersionCmd(g),
	)
	return root
}

// logLevel reads FLOWSYNC_LOG_LEVEL: info (the default) or debug.
func logLevel(g *globals) (slog.Level, error) {
	switch v, _ := g.env("FLOWSYNC_LOG_LEVEL"); v {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	default:
		return 0, fmt.Errorf("FLOWSYNC_LOG_LEVEL %q: must be info or debug", v)
	}
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print flowsync's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := Version
			goVersion := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if v == "" {
					v = bi.Main.Version
				}
			}
			if v == "" || v == "(devel)" {
				v = "dev"
			}
			fmt.Fprintf(g.io.Out, "flowsync %s (%s)\n", v, goVersion)
			return nil
		},
	}
}

func newValidateCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f MANIFEST",
		Short: "Check a manifest against the schema and flowsync's rules; sends nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadManifest(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "%s: valid: %d connections for %s in sandbox %s\n", file, len(m.Connections), m.Target.OrgID, m.Target.Sandbox)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "manifest file (required)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// loadManifest reads and checks a manifest; every problem is reported at once.
func loadManifest(path string) (*manifest.Manifest, error) {
	m, _, err := loadManifestSum(path)
	return m, err
}

// loadManifestSum is loadManifest that also returns the hex SHA-256 of the bytes it parsed.
func loadManifestSum(path string) (*manifest.Manifest, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", withHints(ExitError, fmt.Errorf("read manifest: %w", err))
	}
	m, err := parseManifest(path, data)
	if err != nil {
		return nil, "", err
	}
	return m, planfile.SHA256(data), nil
}

// parseManifest parses manifest bytes read from path; every problem is reported at once.
func parseManifest(path string, data []byte) (*manifest.Manifest, error) {
	m, err := manifest.Parse(path, data)
	if err != nil {
		var d manifest.Diagnostics
		if errors.As(err, &d) {
			return nil, withHints(ExitError, fmt.Errorf("%s: %d problem(s):\n%w", path, len(d), err),
				"fix the manifest; nothing was sent or written")
		}
		return nil, withHints(ExitError, err)
	}
	return m, nil
}

// lockErr turns a lockfile error into a user-facing one with the next step.
func lockErr(err error) error {
	var fe *lockfile.FormatError
	var te *lockfile.TargetError
	var le *lockfile.LockedError
	switch {
	case errors.As(err, &le):
		return withHints(ExitLocked, err, "wait for the other run to finish; if it died, its OS lock is already released and this error will not repeat")
	case errors.As(err, &te):
		return withHints(ExitError, err, "this lockfile belongs to another org or sandbox: point --lockfile at the right one; the file was not changed")
	case errors.As(err, &fe):
		return withHints(ExitError, err, "the lockfile was left untouched: restore it from version control or a backup")
	}
	return withHints(ExitError, err)
}
