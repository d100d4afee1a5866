package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/view"
)

// This file holds what a person meets when a command line is wrong: suggestions for a
// mistyped flag, value or command, the hint that names the command's own help, and the help
// pages' examples, exit codes and environment variables.

// usageHint is the hint of a usage error: the help of the command that was run.
func usageHint(cmd *cobra.Command) string {
	if cmd == nil {
		return `run "flowsync --help" for usage`
	}
	return `run "` + cmd.CommandPath() + ` --help" for usage`
}

// didYouMean is " (did you mean X?)" or "".
func didYouMean(word string, candidates []string) string {
	if s := view.Suggest(word, candidates); s != "" {
		return "did you mean " + s + "?"
	}
	return ""
}

var (
	unknownFlagRE      = regexp.MustCompile(`^unknown flag: (--[^ ]+)`)
	unknownShorthandRE = regexp.MustCompile(`^unknown shorthand flag: '.' in (-[^ ]+)`)
)

// flagError turns pflag's parse errors into a usage error of cmd, with a suggestion for an
// unknown flag among the flags cmd takes.
func flagError(cmd *cobra.Command, err error) error {
	hints := []string{}
	m := unknownFlagRE.FindStringSubmatch(err.Error())
	if m == nil {
		m = unknownShorthandRE.FindStringSubmatch(err.Error())
	}
	if m != nil {
		name := m[1]
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			name = name[:eq]
		}
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
		cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
		long := "--" + strings.TrimLeft(name, "-")
		switch {
		case long != name && slices.Contains(names, long):
			hints = append(hints, "did you mean "+long+"? (long flags take two dashes)") // -refresh
		default:
			if s := didYouMean(long, names); s != "" {
				hints = append(hints, s)
			}
		}
	}
	hints = append(hints, usageHint(cmd))
	return hint(&usageError{err}, hints...)
}

// usageErr is a usage error of cmd.
func usageErr(cmd *cobra.Command, err error, hints ...string) error {
	return hint(&usageError{err}, append(hints, usageHint(cmd))...)
}

// noArgs refuses arguments, and names -f when the argument looks like a manifest
// (flowsync plan m.yaml).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if looksLikeManifest(args[0]) {
		return usageErr(cmd, fmt.Errorf("unexpected argument %q: the manifest is given with -f", args[0]),
			"did you mean: flowsync "+cmd.Name()+" -f "+shell.Quote(args[0]))
	}
	var hints []string
	if s := didYouMean(args[0], subcommandNames(cmd.Root())); s != "" {
		hints = append(hints, s)
	}
	return usageErr(cmd, fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " ")), hints...)
}

func looksLikeManifest(arg string) bool {
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

func subcommandNames(root *cobra.Command) []string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	sort.Strings(names)
	return names
}

// rootArgs handles "flowsync m.yaml" and "flowsync pln".
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if looksLikeManifest(args[0]) {
		return usageErr(cmd, fmt.Errorf("unknown command %q: the manifest is given with -f", args[0]),
			"did you mean: flowsync plan -f "+shell.Quote(args[0]))
	}
	var hints []string
	if s := didYouMean(args[0], subcommandNames(cmd)); s != "" {
		hints = append(hints, s)
	}
	return usageErr(cmd, fmt.Errorf("unknown command %q", args[0]), hints...)
}

// onceValue is a string flag that may be given once: a second -f is an error, not a silent
// override of the first.
type onceValue struct {
	p   *string
	set bool
}

func (v *onceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return fmt.Errorf("given twice (%q, then %q): it takes one value", *v.p, s)
	}
	*v.p, v.set = s, true
	return nil
}

func (v *onceValue) Type() string { return "string" }

// stringOnceVarP defines a string flag that may be given at most once.
func stringOnceVarP(fs *pflag.FlagSet, p *string, name, short, value, usage string) {
	*p = value
	fs.VarP(&onceValue{p: p}, name, short, usage)
}

// choice checks a flag's value against the values it takes, suggesting the closest.
func choice(flag, value string, valid []string) error {
	for _, v := range valid {
		if v == value {
			return nil
		}
	}
	msg := fmt.Sprintf("--%s %q: must be one of %s", flag, value, strings.Join(valid, ", "))
	if s := view.Suggest(value, valid); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	return errors.New(msg)
}

// helpFooter is what every help page ends with: exit codes and environment variables.
type helpFooter struct {
	exit []string // "0  …" lines
	env  []string // "NAME  …" lines
}

func (h helpFooter) String() string {
	var b strings.Builder
	if len(h.exit) > 0 {
		b.WriteString("Exit codes:\n")
		for _, l := range h.exit {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(h.env) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("Environment:\n")
		for _, l := range h.env {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

const footerKey = "flowsync:footer"

var (
	envGlobal = []string{
		"FLOWSYNC_ENDPOINT       Flow Service base URL, or \"emulator\" (as --endpoint)",
		"FLOWSYNC_LOG_LEVEL      info (default) or debug: a line per request, never a token or body",
		"NO_COLOR                set: no colour (wins over the two below)",
		"FORCE_COLOR             set (not 0): colour even when stdout is not a terminal (CI logs)",
		"CLICOLOR_FORCE          set (not 0): the same as FORCE_COLOR",
	}
	envCredentials = []string{
		"FLOWSYNC_ACCESS_TOKEN   an Adobe access token (with FLOWSYNC_API_KEY); any value works with --endpoint emulator",
		"FLOWSYNC_API_KEY        the x-api-key: your Developer Console project's client id",
		"FLOWSYNC_CLIENT_ID      with FLOWSYNC_CLIENT_SECRET: OAuth server-to-server, the token is fetched from IMS",
		"FLOWSYNC_CLIENT_SECRET  see FLOWSYNC_CLIENT_ID",
		"FLOWSYNC_IMS_URL        IMS token URL (default " + flowservice.DefaultIMSURL + ")",
		"FLOWSYNC_SCOPES         IMS scopes (default: those Flow Service needs)",
	}
	envReferences     = "NAME                    every variable a {env: NAME} reference of the manifest names"
	exitLineOK        = "0    success"
	exitLineError     = "1    error that stopped the run: bad input, bad lockfile, bad credentials"
	exitLineLocked    = "4    another run holds the lockfile"
	exitLineInterrupt = "130  interrupted (SIGINT or SIGTERM); what finished is saved"
)

// setFooter records cmd's help footer.
func setFooter(cmd *cobra.Command, h helpFooter) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[footerKey] = h.String()
}

// helpTemplate is cobra's usage template with the footer after it.
func installHelp(root *cobra.Command) {
	root.SetUsageTemplate(root.UsageTemplate() + `{{with index .Annotations "` + footerKey + `"}}
{{.}}{{end}}`)
}
