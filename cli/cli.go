// Package cli holds flowsync's commands. A command is flags → an arguments struct → one call
// into the domain (workspace, generate, reconcile) → a view (package view) → describe(err):
// errors are printed once, by Main, as "flowsync: error: …" followed by "flowsync: hint: …"
// lines, and in --output json mode as one JSON document on stdout too.
//
// Invariants: every bad input is rejected before anything is sent or written; a view is
// chosen once from --output and the domain never checks the format; no secret value reaches
// an error or a log line.
package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/schema"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

// Version is set at build time with -ldflags "-X github.com/flowsync/flowsync/cli.Version=…".
var Version = ""

// globals are the flags every command takes.
type globals struct {
	endpoint  string
	logFormat string
	io        IO
	log       *slog.Logger
	// started is set once cobra has parsed the command line and runs flowsync's own code:
	// an error before that is a usage error.
	started bool
	// ctx is the run's context, ended by the first SIGINT or SIGTERM: a read of standard
	// input, which no signal interrupts, stops waiting then (readInput).
	ctx context.Context
}

// readInput returns read's result (a read of standard input), or the run's context error as
// soon as the first SIGINT or SIGTERM ends it: signals do not interrupt a read, so a manifest
// piped from a writer that never closes, or a prompt nobody answers, would otherwise keep the
// process waiting. The abandoned read ends with the process.
func readInput[T any](g *globals, read func() (T, error)) (T, error) {
	ctx := g.ctx
	if ctx == nil {
		return read()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (g *globals) env(name string) (string, bool) {
	if g.io.Env != nil {
		return g.io.Env(name)
	}
	return os.LookupEnv(name)
}

// Main runs flowsync with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	// The first SIGINT or SIGTERM cancels ctx wherever the run is (reading the live state,
	// waiting to retry, importing): the command ends with exit 130 instead of being killed by
	// the signal's default action (143 for Kubernetes' SIGTERM) or, for a SIGINT a shell
	// inherited as ignored, not stopping at all. apply installs its own two-step handling on
	// top (finish in flight, then abort).
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	// --output json: stdout holds one JSON document. It is held until the run ends, so that a
	// run ending with a non-zero exit code adds that code and its hints to it (restic's
	// printExitError), or writes the failure's document when there is none.
	version, stdout := jsonMode(args), stdio.Out
	var doc *bytes.Buffer
	if version != "" {
		doc = new(bytes.Buffer)
		stdio.Out = doc
	}
	defer func() {
		if doc != nil {
			_, _ = stdout.Write(doc.Bytes()) // stdout gone: nothing left to tell
		}
	}()
	g := &globals{io: stdio, ctx: ctx}
	root := newRoot(ctx, g)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.InitDefaultCompletionCmd(args...) // so that "completion" is a command for the check below
	var err error
	cmd := root
	if word := commandWord(args); word != "" && !isCommand(root, word) {
		err = rootArgs(root, []string{word})
	} else {
		cmd, err = root.ExecuteContextC(ctx)
	}
	if err == nil {
		return ExitOK
	}
	var interrupted *interruptedError
	if ctx.Err() != nil && errors.Is(err, context.Canceled) && !errors.As(err, &interrupted) {
		// A signal ended the run before anything was sent (apply reports its own interruption,
		// with what it saved).
		err = &interruptedError{}
	}
	if !g.started {
		err = &usageError{err}
	}
	var h *hinted
	if !g.started && !errors.As(err, &h) {
		// cobra refused the command line (a required flag missing, flags that exclude each
		// other): the command's own help says what it takes.
		err = hint(&usageError{err}, usageHint(cmd))
	}
	hints, code := describe(err)
	if !errors.Is(err, errExitChanges) {
		view.PrintError(stdio.Err, err, hints...)
	}
	if doc != nil {
		jsonResult(doc, version, err, code, hints)
	}
	return code
}

// commandWord is the first argument that is neither a flag nor a global flag's value: the
// command's name.
func commandWord(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case a == "--endpoint" || a == "--log-format":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

func isCommand(root *cobra.Command, name string) bool {
	if name == "help" || strings.HasPrefix(name, "__complete") {
		return true
	}
	for _, c := range root.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return true
		}
	}
	return false
}

// setUp runs before every command: it checks the flags cobra would check later (their errors
// are usage errors that name the command's help), then settles the endpoint and the logger.
func (g *globals) setUp(cmd *cobra.Command) error {
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return usageErr(cmd, err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return usageErr(cmd, err)
	}
	g.started = true
	if cmd.Flags().Changed("endpoint") {
		if err := checkEndpoint(g.endpoint); err != nil {
			return usageErr(cmd, err)
		}
	}
	if g.endpoint == "" {
		if v, ok := g.env("FLOWSYNC_ENDPOINT"); ok && v != "" {
			g.endpoint = v
		} else {
			g.endpoint = flowservice.DefaultEndpoint
		}
	}
	level, err := logLevel(g)
	if err != nil {
		return err
	}
	switch g.logFormat {
	case "text":
		g.log = slog.New(slog.NewTextHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
		g.io.Log = g.log
	default:
		return usageErr(cmd, choice("log-format", g.logFormat, []string{"text", "json"}))
	}
	return nil
}

func newRoot(ctx context.Context, g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "flowsync",
		Short: "Keep Adobe Experience Platform S3 base connections in the state a manifest declares",
		Long: `flowsync keeps many Adobe Experience Platform Amazon S3 base connections (Flow Service
/connections) in the state that one YAML manifest declares: validate, plan, apply.`,
		Example: `  flowsync validate -f connections.yaml
  flowsync plan -f connections.yaml
  flowsync apply -f connections.yaml
  flowsync apply -f examples/quickstart.yaml --endpoint emulator --yes   # no account needed`,
		Version:           versionString(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.setUp(cmd) },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.Version = versionLine()
	root.PersistentFlags().StringVar(&g.endpoint, "endpoint", "", "Flow Service base URL, or \"emulator\" for an in-process emulator (env FLOWSYNC_ENDPOINT)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	_ = root.RegisterFlagCompletionFunc("endpoint", cobra.FixedCompletions([]string{workspace.EmulatorWord, flowservice.DefaultEndpoint}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newValidateCmd(g),
		newPlanCmd(g),
		newApplyCmd(ctx, g),
		newImportCmd(g),
		newForgetCmd(g),
		newCheckCmd(g),
		newGenerateCmd(g),
		newEmulatorCmd(g),
		newSchemaCmd(g),
		newVersionCmd(g),
	)
	setFooter(root, helpFooter{
		exit: []string{exitLineOK, exitLineError, "2    plan --detailed-exitcode: changes pending (drift and blocked deletes included); check: a connection failed its test, or a preflight difference",
			"3    apply ran and at least one entry failed or was blocked by dataflows; every success is saved", exitLineLocked, exitLineInterrupt},
		env: append(append([]string{}, envGlobal...), envCredentials...),
	})
	for _, c := range root.Commands() {
		if _, ok := c.Annotations[footerKey]; !ok {
			c.Annotations = map[string]string{footerKey: root.Annotations[footerKey]} // every exit code, every variable
		}
	}
	installHelp(root)
	return root
}

// checkEndpoint refuses an --endpoint that is neither a URL nor the word emulator, naming the
// word it is closest to.
func checkEndpoint(endpoint string) error {
	if endpoint == workspace.EmulatorWord || strings.Contains(endpoint, "://") {
		return nil
	}
	msg := fmt.Sprintf("--endpoint %q: not a URL: give the Flow Service base URL (https://…) or the word %s", endpoint, workspace.EmulatorWord)
	if s := view.Suggest(endpoint, []string{workspace.EmulatorWord}); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	return errors.New(msg)
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
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print flowsync's version (the same as --version and the User-Agent it sends)",
		Example: `  flowsync version
  flowsync --version`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(g.io.Out, versionLine())
			return nil
		},
	}
	setFooter(cmd, helpFooter{exit: []string{exitLineOK}})
	return cmd
}

func newSchemaCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the manifest's JSON Schema, for editors and other tools",
		Long: `schema prints the JSON Schema (draft-07) that flowsync validates manifests against. Save it
beside your manifests and point your editor at it, e.g. with the YAML language server:

    flowsync schema > manifest.schema.json
    # first line of the manifest:
    # yaml-language-server: $schema=manifest.schema.json`,
		Example: `  flowsync schema > .flowsync/manifest.schema.json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := g.io.Out.Write(schema.JSON); err != nil {
				return fmt.Errorf("write schema: %w", err)
			}
			return nil
		},
	}
	setFooter(cmd, helpFooter{exit: []string{exitLineOK, exitLineError}})
	return cmd
}

// versionString is flowsync's version, the one every place shows (version, --version, the
// User-Agent): the one stamped into a release (-ldflags "-X …/cli.Version=v1.2.3"), else
// the module version the go command recorded (v1.2.3 for go install …@v1.2.3; a
// pseudo-version for a build from a checkout), else "dev" (go run, go test).
func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what version and --version print.
func versionLine() string {
	return "flowsync " + versionString() + " (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func newValidateCmd(g *globals) *cobra.Command {
	var file, env string
	cmd := &cobra.Command{
		Use:   "validate -f MANIFEST",
		Short: "Check a manifest against the schema and flowsync's rules; sends nothing",
		Long: `validate checks a manifest against the JSON Schema (flowsync schema) and flowsync's rules,
reporting every problem at once as FILE:LINE:COL: path: message. It reads no secret reference,
needs no credentials and sends nothing. -f - reads the manifest from stdin.`,
		Example: `  flowsync validate -f connections.yaml
  cat connections.yaml | flowsync validate -f -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			full, err := g.loadManifest(file)
			if err != nil {
				return err
			}
			ms, err := workspace.SelectEnv(full, env, true)
			if err != nil {
				return err
			}
			if file == "-" {
				file = stdinName
			}
			for _, m := range ms {
				if m.Env != "" {
					fmt.Fprintf(g.io.Out, "%s: valid: environment %s: %d connections for %s in sandbox %s\n", file, m.Env, len(m.Connections), m.Target.OrgID, m.Target.Sandbox)
					continue
				}
				fmt.Fprintf(g.io.Out, "%s: valid: %d connections for %s in sandbox %s\n", file, len(m.Connections), m.Target.OrgID, m.Target.Sandbox)
			}
			return nil
		},
	}
	stringOnceVarP(cmd.Flags(), &file, "file", "f", "", "manifest file, - for stdin (required)")
	registerEnv(cmd, &env, true)
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	setFooter(cmd, helpFooter{exit: []string{exitLineOK + ": the manifest is valid", "1    the manifest has problems (all listed), or cannot be read"}})
	return cmd
}

// stdinName is how a manifest read from stdin (-f -) is named in messages.
const stdinName = "<stdin>"

// maxStdinManifest bounds a manifest read from stdin.
const maxStdinManifest = 256 << 20

// loadManifest reads and checks a manifest; every problem is reported at once. "-" reads it
// from stdin: references {file: PATH} are then relative to the current directory.
func (g *globals) loadManifest(path string) (*manifest.Manifest, error) {
	m, _, err := g.loadManifestSum(path)
	return m, err
}

// loadEnv is loadManifest, then the environment --env selects (see workspace.SelectEnv).
func (g *globals) loadEnv(path, env string) (*manifest.Manifest, error) {
	m, err := g.loadManifest(path)
	if err != nil {
		return nil, err
	}
	ms, err := workspace.SelectEnv(m, env, false)
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// loadManifestSum is loadManifest that also returns the hex SHA-256 of the bytes it parsed.
func (g *globals) loadManifestSum(path string) (m *manifest.Manifest, sum string, err error) {
	defer func() {
		if m != nil {
			for _, w := range m.Warnings {
				fmt.Fprintf(g.io.Err, "flowsync: warning: %s\n", w.Error())
			}
		}
	}()
	if path != "-" {
		return loadManifestSum(path)
	}
	data, err := readInput(g, func() ([]byte, error) { return io.ReadAll(io.LimitReader(g.io.In, maxStdinManifest+1)) })
	if err != nil {
		return nil, "", fmt.Errorf("read manifest from stdin: %w", err)
	}
	if len(data) > maxStdinManifest {
		return nil, "", fmt.Errorf("manifest on stdin is larger than %d MiB", maxStdinManifest>>20)
	}
	if m, err = parseManifest(stdinName, data); err != nil {
		return nil, "", err
	}
	return m, planfile.SHA256(data), nil
}

// loadManifestSum is loadManifest that also returns the hex SHA-256 of the bytes it parsed.
func loadManifestSum(path string) (*manifest.Manifest, string, error) {
	data, err := regular.ReadFile(path, 0)
	if err != nil {
		return nil, "", manifestReadErr(fmt.Errorf("read manifest: %w", err))
	}
	m, err := parseManifest(path, data)
	if err != nil {
		return nil, "", err
	}
	return m, planfile.SHA256(data), nil
}

// manifestReadErr adds the next step to a manifest that could not be read, when there is one.
func manifestReadErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return hint(err, "check the path given to -f; flowsync generate writes a manifest for the connections a sandbox already has")
	case errors.As(err, new(*regular.NotRegularError)):
		return hint(err, "flowsync reads the manifest from a regular file only: write it to a file first, or pipe it to -f -")
	}
	return err
}

// parseManifest parses manifest bytes read from path; every problem is reported at once.
func parseManifest(path string, data []byte) (*manifest.Manifest, error) {
	m, err := manifest.Parse(path, data)
	if err != nil {
		var d manifest.Diagnostics
		if errors.As(err, &d) {
			return nil, fmt.Errorf("%s: %d problem(s):\n%w", path, len(d), err)
		}
		return nil, err
	}
	return m, nil
}
