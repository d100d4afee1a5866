package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/planfile"
	"github.com/flowsync/flowsync/reconcile"
)

// savePlan writes the plan file of plan --out and returns its SHA-256.
func savePlan(g *globals, f *planFlags, cs *reconcile.Changeset, lock *lockfile.File, lockPath, out string) (string, error) {
	for _, p := range []struct{ what, path string }{{"the manifest", f.file}, {"the lockfile", lockPath}} {
		if samePath(out, p.path) {
			return "", withHints(ExitError, fmt.Errorf("--out %s is %s", out, p.what), "save the plan to a file of its own, such as plan.json")
		}
	}
	_, statErr := os.Stat(lockPath)
	pf, err := planfile.Build(cs, lock, planfile.Meta{
		FlowsyncVersion: versionString(),
		ManifestPath:    f.file,
		ManifestSHA256:  f.manifestSum,
		LockfilePath:    lockPath,
		LockfileExists:  statErr == nil,
		Options:         planfile.Options{Prune: f.prune, Only: f.only},
	})
	if errors.Is(err, planfile.ErrSecretsUnknown) {
		return "", withHints(ExitError, err, "run plan --out where the secrets can be read (the pipeline that applies), or drop --out")
	}
	if err != nil {
		return "", withHints(ExitError, err)
	}
	sum, err := planfile.Write(out, pf)
	if err != nil {
		return "", withHints(ExitError, err, "check that the directory of --out exists and is writable; nothing else was written")
	}
	g.log.Debug("saved plan", "path", out, "sha256", sum, "changes", len(pf.Changes))
	return sum, nil
}

// samePath reports whether a and b name the same file: the same existing file, or the same
// cleaned absolute path.
func samePath(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// savedPlanMarkdown is the line the markdown plan shows under its title for plan --out.
func savedPlanMarkdown(path, sum string) string {
	return "Saved plan **" + mdEscape(path) + "**, SHA-256 `" + sum + "`: `flowsync apply --plan` applies exactly these changes.\n\n"
}

// announceSavedPlan tells where the plan was saved: after the text plan on stdout, on stderr
// when stdout holds a JSON document. The markdown plan says it itself.
func announceSavedPlan(g *globals, output, path, sum string) {
	w := g.io.Out
	switch output {
	case "markdown":
		return
	case "json":
		w = g.io.Err
	}
	fmt.Fprintf(w, "\nSaved the plan to %s (SHA-256 %s).\nApply exactly these changes with: flowsync apply --plan %s\n", path, sum, path)
}
