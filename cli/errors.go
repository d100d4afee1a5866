package cli

import (
	"context"
	"errors"
	"slices"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/workspace"
)

// Exit codes of the product contract.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitChanges     = 2
	ExitApplyFailed = 3
	ExitLocked      = 4
	ExitInterrupted = 130
)

// Errors reach the user in one place: describe maps an error to its hint lines and exit code,
// and Main prints it once. Libraries return typed errors that state facts; the few errors
// cli raises itself carry their advice with hint.

// describe returns what to print after an error's message (hint lines, maybe none) and the
// exit code. A hint given with hint wins over the advice of the error's type, so that no
// advice is said twice.
func describe(err error) (hints []string, code int) {
	code = exitCode(err)
	var ca *conflictAdvised
	if errors.As(err, &ca) {
		rest, _ := describe(ca.err)
		return append(slices.Clone(ca.hints), rest...), code
	}
	var h *hinted
	if errors.As(err, &h) {
		return h.Hints, code
	}
	return advice(err), code
}

func exitCode(err error) int {
	var (
		locked      *lockfile.LockedError
		partial     *reconcile.PartialError
		interrupted *interruptedError
		stale       *staleError
	)
	switch {
	case errors.Is(err, errExitChanges):
		return ExitChanges
	case errors.As(err, &locked):
		return ExitLocked
	case errors.As(err, &interrupted), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &partial), errors.As(err, &stale):
		return ExitApplyFailed
	}
	return ExitError
}

// advice is the next step for an error of a known type, or nil.
func advice(err error) []string {
	var (
		usage       *usageError
		locked      *lockfile.LockedError
		runLockPath *lockfile.RunLockPathError
		target      *lockfile.TargetError
		format      *lockfile.FormatError
		diags       manifest.Diagnostics
		badURL      *flowservice.URLError
		token       *flowservice.TokenError
		service     *serviceError
		partial     *reconcile.PartialError
		interrupted *interruptedError
		stale       *staleError
		redirect    *flowservice.RedirectError
		tooLong     *flowservice.WaitTooLongError
		glob        *names.GlobError
		unmatched   *names.UnmatchedError
	)
	switch {
	case errors.As(err, &redirect):
		return []string{"nothing was sent to " + redirect.To + "; if that address is the real service, set --endpoint (or FLOWSYNC_IMS_URL) to it"}
	case errors.As(err, &tooLong):
		return []string{"the service is throttling this client: try again later"}
	case errors.As(err, &glob):
		return []string{"globs use *, ? and [...] as in path.Match"}
	case errors.As(err, &unmatched):
		return []string{"check the pattern; names are matched whole, as in path.Match (use * for any run of characters)"}
	case errors.As(err, &usage):
		return []string{`run "flowsync --help" for usage`}
	case errors.As(err, &locked):
		return []string{"wait for the other run to finish; if it died, its OS lock is already released and this error will not repeat"}
	case errors.As(err, &runLockPath):
		return runLockPathAdvice(runLockPath)
	case errors.As(err, &target):
		return []string{"point --lockfile at the lockfile of this org and sandbox; the file was left untouched"}
	case errors.As(err, &format):
		return formatAdvice(format)
	case errors.As(err, &diags):
		return []string{"fix the manifest; nothing was sent or written"}
	case errors.As(err, &badURL):
		return urlAdvice(badURL)
	case errors.As(err, &token):
		return []string{"check FLOWSYNC_CLIENT_ID, FLOWSYNC_CLIENT_SECRET, FLOWSYNC_SCOPES and FLOWSYNC_IMS_URL"}
	case errors.As(err, &interrupted):
		if interrupted.LockPath == "" {
			return nil
		}
		return []string{"run the same apply again to continue; it picks up where this one stopped"}
	case errors.As(err, &service) && service.ReadOnly:
		return checkAdvice(service.Err)
	case errors.As(err, &service):
		return serviceAdvice(service.Err)
	case errors.As(err, &stale):
		done := "every other change is saved; what moved is listed above"
		if stale.nothingApplied {
			done = "nothing was applied; what moved is listed above"
		}
		replan := "run flowsync plan --out again and apply that plan"
		if stale.replan != "" {
			replan = stale.replan
		}
		return []string{done, "review the stale changes as they now stand: " + replan}
	case errors.As(err, &partial):
		return []string{"every success is saved; fix the failures above and run apply again"}
	}
	return nil
}

// urlAdvice is the fix for the endpoint or IMS URL's actual problem.
func urlAdvice(e *flowservice.URLError) []string {
	setting, example := "--endpoint (or FLOWSYNC_ENDPOINT)", flowservice.DefaultEndpoint
	if e.What != "endpoint" {
		setting, example = "FLOWSYNC_IMS_URL", flowservice.DefaultIMSURL
	}
	switch e.Problem {
	case flowservice.URLQuery:
		return []string{"remove the ?… query and #… fragment from " + setting + ": it is a base URL"}
	case flowservice.URLCredentials:
		creds := "FLOWSYNC_ACCESS_TOKEN, or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET"
		if e.What != "endpoint" {
			creds = "FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET"
		}
		return []string{"remove the user:password@ part from " + setting + ": credentials are read from " + creds}
	case flowservice.URLPlainHTTP:
		return []string{"set " + setting + " to an https:// URL, or http:// only on a loopback address"}
	}
	return []string{"set " + setting + " to an absolute https:// URL, such as " + example}
}

// runLockPathAdvice removes what is in the run lock's place: the path is flowsync's own (the
// README has it git-ignored) and holds nothing to keep, and rm removes a symbolic link, not
// what it points to. A directory is removed only when empty.
func runLockPathAdvice(e *lockfile.RunLockPathError) []string {
	rm := "rm -- "
	if e.Mode.IsDir() {
		rm = "rmdir -- "
	}
	return []string{"that path is flowsync's run lock, which a run creates and holds nothing to keep: remove it and run again: " + rm + shell.Quote(e.Path)}
}

func formatAdvice(e *lockfile.FormatError) []string {
	switch {
	case errors.Is(e, lockfile.ErrNewerVersion):
		return []string{"the file was left untouched: upgrade flowsync to use it"}
	case e.Journal():
		return []string{"the file was left untouched: it records an interrupted apply; restore it from a backup, then run apply again to finish that run"}
	}
	return []string{"the file was left untouched: restore it from version control or a backup, " +
		"or move it aside and rebuild it with flowsync import --by-name --mine (only connections created with this API key are recorded)"}
}

// serviceAdvice is the next step after a call to Flow Service failed.
func serviceAdvice(err error) []string {
	var fe *flowservice.Error
	switch {
	case errors.Is(err, reconcile.ErrAuth):
		return []string{"check FLOWSYNC_ACCESS_TOKEN or FLOWSYNC_CLIENT_ID/FLOWSYNC_CLIENT_SECRET, FLOWSYNC_API_KEY, and the product profile's permissions for this sandbox"}
	case errors.As(err, &fe) && fe.Status >= 500:
		return []string{"the service is failing: try again later"}
	case errors.Is(err, context.Canceled):
		return nil
	}
	return []string{"check --endpoint and your network; nothing was changed"}
}

// checkAdvice is serviceAdvice for check, which changes nothing.
func checkAdvice(err error) []string {
	var fe *flowservice.Error
	switch {
	case errors.Is(err, reconcile.ErrAuth):
		return []string{"check FLOWSYNC_ACCESS_TOKEN or FLOWSYNC_CLIENT_ID/FLOWSYNC_CLIENT_SECRET, FLOWSYNC_API_KEY, the manifest's target.orgId and target.sandbox, and the product profile's permissions for this sandbox"}
	case errors.As(err, &fe) && fe.Status >= 500:
		return []string{"the service is failing: run check again later"}
	case errors.Is(err, context.Canceled):
		return nil
	}
	return []string{"check --endpoint and your network"}
}

// The errors the workspace and cli raise themselves, by their cli names.
type (
	hinted           = workspace.Hinted
	serviceError     = workspace.ServiceError
	interruptedError = workspace.InterruptedError
)

// hint attaches the next step to an error cli raises itself.
func hint(err error, hints ...string) error { return workspace.Hint(err, hints...) }

// serviceErr names a failed call to Flow Service by what it was for.
func serviceErr(op string, err error) error { return workspace.ServiceErr(op, err) }

// usageError is a command line cobra refused: unknown command or flag, wrong arguments.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// staleError ends an apply --plan that refused planned changes which no longer hold.
type staleError struct {
	msg            string
	nothingApplied bool   // every planned change was stale
	replan         string // the commands that plan again and apply that plan, when known
}

func (e *staleError) Error() string { return e.msg }

// errExitChanges ends plan --detailed-exitcode with changes, and check with a failed check:
// exit 2, nothing more printed (the view said it).
var errExitChanges = errors.New("changes pending")
