package workspace

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
)

// SelectEnv is the manifest as --env env sees it: m itself without environments (env must be
// ""), else the environment env. env may be manifest.AllEnvironments only where allowAll.
// It returns one manifest per environment: every one, in promotion order, for --env all.
func SelectEnv(m *manifest.Manifest, env string, allowAll bool) ([]*manifest.Manifest, error) {
	if env == manifest.AllEnvironments && m.HasEnvironments() {
		if !allowAll {
			return nil, Hint(errors.New("--env all: this command works on one environment at a time"),
				"name one: --env "+joinOr(m.EnvironmentNames()))
		}
		out := make([]*manifest.Manifest, 0, len(m.Environments))
		for _, e := range m.Environments {
			s, err := m.Select(e.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := m.Select(env)
	var ee *manifest.EnvError
	if errors.As(err, &ee) {
		if len(ee.Names) == 0 {
			return nil, Hint(err, "--env is for manifests with environments")
		}
		names := ee.Names
		if allowAll {
			names = append(names[:len(names):len(names)], manifest.AllEnvironments)
		}
		return nil, Hint(err, "add --env "+joinOr(names))
	}
	if err != nil {
		return nil, err
	}
	return []*manifest.Manifest{s}, nil
}

func joinOr(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// EnvLockfilePath is the lockfile of the manifest at manifestPath as m (selected by SelectEnv)
// uses it: --lockfile when given, else NAME.ENV.lock.json beside the manifest for an
// environment, else NAME.lock.json.
func EnvLockfilePath(flag, manifestPath string, m *manifest.Manifest) string {
	if flag != "" || m.Env == "" {
		return LockfilePath(flag, manifestPath)
	}
	return lockfile.EnvPath(manifestPath, m.Env)
}

// CheckLockfileFlag refuses --lockfile with --env all: a lockfile belongs to one environment.
func CheckLockfileFlag(flag, env string) error {
	if flag != "" && env == manifest.AllEnvironments {
		return Hint(errors.New("--lockfile names the lockfile of one environment: it cannot be used with --env all"),
			"drop --lockfile (each environment uses NAME.ENV.lock.json beside the manifest), or name one environment with --env")
	}
	return nil
}

// Gates are the promotion gates of environment m.Env (m selected by SelectEnv) for
// reconcile.Options: for each of its entries that an earlier environment in the promotion
// order has, that environment and the digest its lockfile (at its default path, beside the
// manifest at manifestPath) records. nil without promotion, or for its first environment.
// The earlier lockfiles are only read, their journals folded in memory.
func Gates(m *manifest.Manifest, manifestPath string) (map[string]reconcile.Gate, error) {
	if m.Env == "" || len(m.Promotion) == 0 {
		return nil, nil
	}
	locks := map[string]*lockfile.File{}
	var gates map[string]reconcile.Gate
	for _, c := range m.Connections {
		prev, ok := m.Previous(m.Env, c.Name)
		if !ok {
			continue
		}
		lock, seen := locks[prev]
		if !seen {
			var err error
			if lock, err = previousLock(m, prev, manifestPath); err != nil {
				return nil, err
			}
			locks[prev] = lock
		}
		if gates == nil {
			gates = make(map[string]reconcile.Gate, len(m.Connections))
		}
		g := reconcile.Gate{Env: prev}
		if e := lock.Connections[c.Name]; e != nil && e.Pending == "" {
			g.Applied = e.Promotion
		}
		gates[c.Name] = g
	}
	return gates, nil
}

// previousLock reads the lockfile of environment prev (an empty one when it has none yet).
func previousLock(m *manifest.Manifest, prev, manifestPath string) (*lockfile.File, error) {
	if manifestPath == "-" || manifestPath == "" {
		return nil, Hint(fmt.Errorf("promotion: the lockfile of %s lies beside the manifest, and the manifest came from stdin", prev),
			"use -f with the manifest's path, or --skip-promotion")
	}
	pm, err := m.Select(prev)
	if err != nil {
		return nil, err
	}
	path := lockfile.EnvPath(manifestPath, prev)
	lock, _, err := ReadLock(path, pm)
	var te *lockfile.TargetError
	if errors.As(err, &te) {
		// Not a lockfile the user named: say what to do about environment prev's.
		return nil, Hint(fmt.Errorf("promotion: read the lockfile of %s: %w", prev, err),
			fmt.Sprintf("%s is environment %s's lockfile, read only for the promotion check, and was left untouched: restore it from version control if it was replaced; "+
				"if environment %s's target changed on purpose, move that lockfile aside and apply --env %s first; or add --skip-promotion to go on without the check",
				shell.Quote(path), prev, prev, prev))
	}
	if err != nil {
		return nil, fmt.Errorf("promotion: read the lockfile of %s: %w", prev, err)
	}
	return lock, nil
}

// PromotionAdvice is the hint of a run that held changes back.
func PromotionAdvice(manifestPath string, held []string) string {
	return "apply --env " + joinOr(held) + " first (flowsync apply -f " + shell.Quote(manifestPath) + " --env " + held[0] +
		"), or send them now with --skip-promotion"
}
