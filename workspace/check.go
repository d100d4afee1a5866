package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// CheckReport is what check found; views render it.
type CheckReport struct {
	Target lockfile.Target
	Files  string // how the command line names the manifest and lockfile: "-f m.yaml" (set by cli)
	// Spec is the service's S3 connection spec, nil when the service does not know it.
	Spec       *flowservice.ConnectionSpec
	Comparison health.Comparison
	Results    []health.Result // sorted by name
	NotTested  []NotTested     // sorted by name
	// Foreign are the tested connections the service says another API key created: flowsync
	// manages them only because the lockfile records their ids (sorted by name).
	Foreign []ForeignOwner
}

// ForeignOwner is a recorded connection created by another API key than the one in use.
type ForeignOwner struct {
	Name  string
	Owner reconcile.Owner
}

// NotTested is a selected name that was not tested, and why.
type NotTested struct {
	Name, Reason string
}

// Count returns how many results have status s.
func (r *CheckReport) Count(s health.Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Healthy reports whether nothing failed and the preflight found no difference.
func (r *CheckReport) Healthy() bool {
	return len(r.Comparison.Differences) == 0 && len(r.Results) == r.Count(health.Healthy)
}

// Check is flowsync check: preflight (the org and sandbox accept the credentials, the
// service's description of the S3 spec against flowsync's), then a connection test of every
// recorded connection whose name only selects. It changes nothing.
func Check(ctx context.Context, c *Config, m *manifest.Manifest, lockPath string, only []string) (*CheckReport, error) {
	lock, _, err := ReadLock(lockPath, m)
	if err != nil {
		return nil, err
	}
	targets, notTested, entries, err := checkTargets(m, lock, only)
	if err != nil {
		return nil, err
	}
	svc, err := Connect(ctx, c, m, lockPath, Limits{})
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	client := svc.Client

	// Preflight: the org and sandbox accept the credentials, then the service's description.
	if err := client.CheckAccess(ctx, s3source.SpecID); err != nil {
		return nil, checkServiceErr(fmt.Sprintf("preflight: org %s, sandbox %s", m.Target.OrgID, m.Target.Sandbox), err)
	}
	rep := &CheckReport{Target: Target(m), NotTested: notTested}
	spec, err := client.GetConnectionSpec(ctx, s3source.SpecID)
	switch {
	case errors.Is(err, reconcile.ErrGone):
		spec = nil
	case err != nil:
		return nil, checkServiceErr("preflight: read connection spec "+s3source.SpecID, err)
	}
	rep.Spec = spec
	rep.Comparison = health.CompareSpec(spec, EmbeddedAuthSpecs(), entries)

	results, err := health.Test(ctx, client, targets, DefaultConcurrency)
	var stopped *health.StoppedError
	switch {
	case errors.As(err, &stopped):
		return nil, checkServiceErr("test connections", stopped.Err)
	case err != nil:
		return nil, checkServiceErr("test connections", err)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	rep.Results = results
	if rep.Foreign, err = foreignOwners(ctx, client, results); err != nil {
		return nil, err
	}
	return rep, nil
}

// foreignOwners lists the tested connections that another API key created, as the live
// listing says (one request per 100 connections): a lockfile id is not silently taken as
// flowsync's own.
func foreignOwners(ctx context.Context, client *flowservice.Client, results []health.Result) ([]ForeignOwner, error) {
	if len(results) == 0 || client.APIKey() == "" {
		return nil, nil
	}
	observed, err := Observe(ctx, client)
	if err != nil {
		return nil, checkServiceErr("read live connections", errors.Unwrap(err))
	}
	byID := make(map[string]*flowservice.Connection, len(observed.Connections))
	for i := range observed.Connections {
		byID[observed.Connections[i].ID] = &observed.Connections[i]
	}
	var out []ForeignOwner
	for _, res := range results {
		c := byID[res.ID]
		if c == nil || c.CreatedClient == "" || c.CreatedClient == client.APIKey() {
			continue
		}
		out = append(out, ForeignOwner{Name: res.Name, Owner: reconcile.Owner{ID: c.ID, Client: c.CreatedClient, CreatedAt: c.CreatedAt}})
	}
	return out, nil
}

// checkServiceErr is ServiceErr for check, which changes nothing.
func checkServiceErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return &InterruptedError{}
	}
	return &ServiceError{Op: op, Err: err, ReadOnly: true}
}

// checkTargets selects the recorded connections to test: every lockfile entry with an id
// whose name matches --only (orphans included: they are still flowsync's). It also returns
// the selected names that cannot be tested, and the selected manifest entries as the
// service's description checks them. A glob that matches no name is an error.
func checkTargets(m *manifest.Manifest, lock *lockfile.File, only []string) ([]health.Target, []NotTested, []health.Entry, error) {
	sel, err := names.NewSelector("--only", only)
	if err != nil {
		return nil, nil, nil, err
	}
	selected := sel.Match
	var targets []health.Target
	var notTested []NotTested
	var entries []health.Entry
	inManifest := map[string]bool{}
	for _, c := range m.Connections {
		inManifest[c.Name] = true
		if !selected(c.Name) {
			continue
		}
		e := health.Entry{Name: c.Name, SpecName: c.SpecName}
		for p := range c.Params {
			e.Params = append(e.Params, p)
		}
		sort.Strings(e.Params)
		entries = append(entries, e)
		if rec := lock.Connections[c.Name]; rec == nil {
			notTested = append(notTested, NotTested{Name: c.Name, Reason: "not recorded in the lockfile: apply has not created it yet"})
		}
	}
	for name, rec := range lock.Connections {
		if !selected(name) {
			continue
		}
		if rec.ID == "" {
			notTested = append(notTested, NotTested{Name: name, Reason: "its create was interrupted before the outcome was known: the next apply looks it up"})
			continue
		}
		targets = append(targets, health.Target{Name: name, ID: rec.ID})
	}
	if err := sel.Unmatched("manifest entry or recorded connection"); err != nil {
		return nil, nil, nil, err
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
	sort.Slice(notTested, func(i, j int) bool { return notTested[i].Name < notTested[j].Name })
	return targets, notTested, entries, nil
}

// EmbeddedAuthSpecs are the auth specs of the Amazon S3 source as flowsync validates them
// (s3source): what check compares the service's own description with, and the offline
// fallback.
func EmbeddedAuthSpecs() []health.AuthSpec {
	var out []health.AuthSpec
	for _, a := range s3source.AuthSpecs() {
		h := health.AuthSpec{Name: a.Name}
		for _, p := range a.Params {
			h.Params = append(h.Params, health.Param{Name: p.Name, Required: p.Required, Secret: p.Secret})
		}
		out = append(out, h)
	}
	return out
}
