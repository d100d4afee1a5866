package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/view"
	"github.com/flowsync/flowsync/workspace"
)

// ws is the workspace configuration of this run: the endpoint, the environment, the logger.
func (g *globals) ws() *workspace.Config {
	return &workspace.Config{
		Endpoint:     g.endpoint,
		BadEndpoint:  checkEndpoint(g.endpoint),
		Env:          g.env,
		Log:          g.log,
		UserAgent:    userAgent(),
		SaveLockfile: saveLockfile,
		Now:          g.io.Now,
	}
}

// userAgent is the User-Agent of every request a run sends, to Flow Service and to Adobe IMS.
func userAgent() string { return "flowsync/" + versionString() }

// resolveDesired is reconcile.Desire, with the references it cannot read grouped for the
// user and the advice that fits them.
// lockPath is the lockfile the commands of its advice name ("": the manifest's default).
func resolveDesired(m *manifest.Manifest, lockPath string, env func(string) (string, bool), noSecrets bool) ([]reconcile.Desired, error) {
	want, err := reconcile.Desire(m, env, noSecrets)
	var problems manifest.Diagnostics
	if errors.As(err, &problems) {
		return nil, hint(fmt.Errorf("cannot use secret references:\n%s", strings.Join(groupProblems(problems), "\n")), referenceAdvice(m.Path, m.Env, lockPath, problems)...)
	}
	return want, err
}

// referenceAdvice is the next step for references that could not be used: a reference that
// could not be read needs its variable or file; a value that breaks a rule needs fixing where
// it is kept (--no-secrets would only hide it).
func referenceAdvice(manifestPath, env, lockPath string, problems manifest.Diagnostics) []string {
	var unreadable, invalid bool
	for _, d := range problems {
		unreadable = unreadable || d.Unreadable
		invalid = invalid || !d.Unreadable
	}
	var advice []string
	if unreadable {
		advice = append(advice, "set the variables and create the files named above (regular files of at most 64 KiB); "+
			"to review a plan without any secret: flowsync plan "+workspace.AdviceFiles(manifestPath, env, lockPath)+" --no-secrets, which does not show secret changes")
	}
	if invalid {
		advice = append(advice, "fix the values the variables or files named above hold: a value read from a reference follows the rules of one written in the manifest")
	}
	return advice
}

// groupProblems says each unreadable reference once: an unset variable that 500 entries use
// (through the defaults, or each on its own line) is one line with the count and the first
// place, not 500 lines. The message names the variable or file, never a value.
func groupProblems(ds manifest.Diagnostics) []string {
	type group struct {
		first manifest.Diagnostic
		n     int
	}
	var order []string
	groups := map[string]*group{}
	for _, d := range ds {
		g, ok := groups[d.Message]
		if !ok {
			g = &group{first: d}
			groups[d.Message] = g
			order = append(order, d.Message)
		}
		g.n++
	}
	lines := make([]string, 0, len(order))
	for _, msg := range order {
		g := groups[msg]
		if g.n == 1 {
			lines = append(lines, g.first.Error())
			continue
		}
		lines = append(lines, fmt.Sprintf("%s:%d:%d: %s: used by %s entries, the first %s",
			g.first.File, g.first.Pos.Line, g.first.Pos.Col, msg, view.Thousands(g.n), g.first.Path))
	}
	return lines
}
