// Package health answers two questions about connections flowsync manages: does the service
// still describe the S3 source the way flowsync validates it (CompareSpec), and can the
// service reach each recorded connection's source with its stored credentials (Test).
//
// Invariants: CompareSpec is pure and its output sorted, so the same inputs give the same
// report; Test only reads (GET /connections/{id}/test), tests only the ids it is given, and
// reports results in the order of its targets, never in completion order. Nothing here holds
// or prints a secret value: the service's answers are booleans and error texts the client
// already redacted.
package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/reconcile"
)

// Param is one auth param as flowsync validates it.
type Param struct {
	Name     string
	Required bool
	Secret   bool // must be a secret reference; never answered in clear
}

// AuthSpec is one auth spec as flowsync validates it.
type AuthSpec struct {
	Name   string
	Params []Param
}

// Kind says what a Difference is about.
type Kind string

// Kinds of differences between the service's description and flowsync's rules.
const (
	SpecMissing       Kind = "connection_spec_missing"   // the service does not know the connection spec
	AuthSpecMissing   Kind = "auth_spec_missing"         // flowsync's auth spec is not in the service's spec
	AuthSpecUnread    Kind = "auth_spec_unreadable"      // the service's auth spec is not a schema of params
	ParamOnlyService  Kind = "param_unknown_to_flowsync" // the service lists a param flowsync refuses
	ParamOnlyFlowsync Kind = "param_unknown_to_service"  // flowsync takes a param the service does not list
	RequiredByService Kind = "required_by_service"       // the service requires a param flowsync treats as optional
	OptionalOnService Kind = "optional_on_service"       // flowsync requires a param the service treats as optional
	SecretOnService   Kind = "secret_on_service"         // the service marks a param secret, flowsync does not
	PlainOnService    Kind = "plain_on_service"          // flowsync treats a param as secret, the service does not
	EntryMissing      Kind = "entry_missing_param"       // a manifest entry lacks a param the service requires
	EntryUnknown      Kind = "entry_unknown_param"       // a manifest entry sets a param the service does not list
)

// Difference is one way the service's description differs from flowsync's rules, or one
// manifest entry the service's description would refuse.
type Difference struct {
	Kind     Kind
	AuthSpec string // "" for SpecMissing
	Param    string // "" when about a whole auth spec
	Entry    string // manifest entry, for EntryMissing and EntryUnknown
	Message  string
}

// Comparison is the result of CompareSpec.
type Comparison struct {
	Differences []Difference
	// Other are auth specs the service offers that flowsync does not manage: facts, not
	// differences (a manifest may not use them, and nothing flowsync sends depends on them).
	Other []string
}

// Entry is a manifest entry as the service's description checks it: its specName and the
// names of the params it sets.
type Entry struct {
	Name     string
	SpecName string
	Params   []string
}

// CompareSpec compares the service's connection spec cs with the rules flowsync validates
// (embedded) and checks entries against the service's description, which wins where they
// differ. cs nil means the service does not know the spec.
func CompareSpec(cs *flowservice.ConnectionSpec, embedded []AuthSpec, entries []Entry) Comparison {
	var out Comparison
	if cs == nil {
		out.Differences = append(out.Differences, Difference{Kind: SpecMissing,
			Message: "the service does not know the Amazon S3 connection spec: flowsync cannot create or check connections of it"})
		return out
	}
	service := map[string]flowservice.ParamsSchema{}
	for _, es := range embedded {
		as, ok := cs.Auth(es.Name)
		if !ok {
			out.Differences = append(out.Differences, Difference{Kind: AuthSpecMissing, AuthSpec: es.Name,
				Message: fmt.Sprintf("auth spec %q: the service does not offer it; flowsync accepts it in manifests", es.Name)})
			continue
		}
		ps, err := as.Params()
		if err != nil {
			out.Differences = append(out.Differences, Difference{Kind: AuthSpecUnread, AuthSpec: es.Name,
				Message: fmt.Sprintf("auth spec %q: %v", es.Name, err)})
			continue
		}
		service[es.Name] = ps
		out.Differences = append(out.Differences, compareAuth(es, ps)...)
	}
	for _, as := range cs.AuthSpec {
		if !slices.ContainsFunc(embedded, func(e AuthSpec) bool { return e.Name == as.Name }) && !slices.Contains(out.Other, as.Name) {
			out.Other = append(out.Other, as.Name)
		}
	}
	sort.Strings(out.Other)
	for _, e := range entries {
		ps, ok := service[e.SpecName]
		if !ok {
			continue // the auth spec's own difference says it
		}
		for _, p := range ps.Required {
			if !slices.Contains(e.Params, p) {
				out.Differences = append(out.Differences, Difference{Kind: EntryMissing, AuthSpec: e.SpecName, Param: p, Entry: e.Name,
					Message: fmt.Sprintf("%s: auth.params.%s is required by the service's auth spec %q; the entry does not set it", e.Name, p, e.SpecName)})
			}
		}
		for _, p := range e.Params {
			if _, listed := ps.Properties[p]; !listed {
				out.Differences = append(out.Differences, Difference{Kind: EntryUnknown, AuthSpec: e.SpecName, Param: p, Entry: e.Name,
					Message: fmt.Sprintf("%s: auth.params.%s is not a param of the service's auth spec %q", e.Name, p, e.SpecName)})
			}
		}
	}
	sort.SliceStable(out.Differences, func(i, j int) bool {
		a, b := out.Differences[i], out.Differences[j]
		if (a.Entry == "") != (b.Entry == "") {
			return a.Entry == "" // the spec's differences first, then the entries'
		}
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		if a.AuthSpec != b.AuthSpec {
			return a.AuthSpec < b.AuthSpec
		}
		if a.Param != b.Param {
			return a.Param < b.Param
		}
		return a.Kind < b.Kind
	})
	return out
}

func compareAuth(es AuthSpec, ps flowservice.ParamsSchema) []Difference {
	var out []Difference
	add := func(k Kind, param, format string, a ...any) {
		out = append(out, Difference{Kind: k, AuthSpec: es.Name, Param: param,
			Message: fmt.Sprintf("auth spec %q: ", es.Name) + fmt.Sprintf(format, a...)})
	}
	mine := map[string]Param{}
	for _, p := range es.Params {
		mine[p.Name] = p
	}
	for _, name := range ps.ParamNames() {
		if _, ok := mine[name]; !ok {
			how := "optional"
			if ps.IsRequired(name) {
				how = "required"
			}
			add(ParamOnlyService, name, "the service lists param %s (%s); flowsync refuses it in manifests", name, how)
		}
	}
	for _, r := range ps.Required {
		if _, listed := ps.Properties[r]; !listed {
			if _, ok := mine[r]; !ok {
				add(ParamOnlyService, r, "the service requires param %s; flowsync refuses it in manifests", r)
			}
		}
	}
	for _, p := range es.Params {
		s, listed := ps.Properties[p.Name]
		required := ps.IsRequired(p.Name)
		if !listed && !required {
			add(ParamOnlyFlowsync, p.Name, "flowsync accepts param %s; the service does not list it", p.Name)
			continue
		}
		switch {
		case required && !p.Required:
			add(RequiredByService, p.Name, "the service requires param %s; flowsync treats it as optional", p.Name)
		case !required && p.Required:
			add(OptionalOnService, p.Name, "flowsync requires param %s; the service treats it as optional", p.Name)
		}
		if !listed {
			continue
		}
		switch {
		case s.Secret() && !p.Secret:
			add(SecretOnService, p.Name, "the service marks param %s secret (format: password); flowsync treats it as a plain value", p.Name)
		case !s.Secret() && p.Secret:
			add(PlainOnService, p.Name, "flowsync treats param %s as secret; the service does not mark it (format: password)", p.Name)
		}
	}
	return out
}

// Tester is what Test needs of the service. *flowservice.Client satisfies it.
type Tester interface {
	TestConnection(ctx context.Context, id string) (bool, error)
}

// Target is one recorded connection to test.
type Target struct {
	Name, ID string
}

// Status is the outcome of one connection's test.
type Status string

// Statuses of a Result.
const (
	Healthy  Status = "ok"        // the service reached the source
	Failing  Status = "failing"   // the service answered {"result": false}
	NotFound Status = "not_found" // the connection does not exist any more
	Errored  Status = "error"     // the test could not be run (the service kept failing)
)

// Result is the outcome of one connection's test.
type Result struct {
	Name, ID string
	Status   Status
	Message  string // what the service said, for a result other than Healthy
	Err      error  // for Errored
}

// StoppedError is returned by Test when a failure made every other test pointless (a 401 or
// 403: every call would fail the same way). Results holds what finished.
type StoppedError struct{ Err error }

func (e *StoppedError) Error() string { return e.Err.Error() }
func (e *StoppedError) Unwrap() error { return e.Err }

// Test tests every target concurrently, at most concurrency at once, and returns one result
// per target in the targets' order. A 401 or 403 stops the run: the results of tests that did
// not finish are missing and the error is a *StoppedError. A cancelled ctx stops starting
// new tests; those not run are missing and ctx's error is returned.
func Test(ctx context.Context, t Tester, targets []Target, concurrency int) ([]Result, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]*Result, len(targets))
	var (
		mu      sync.Mutex
		stopped error
	)
	var g errgroup.Group
	g.SetLimit(concurrency)
	for i, tg := range targets {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			ok, err := t.TestConnection(ctx, tg.ID)
			r := &Result{Name: tg.Name, ID: tg.ID}
			switch {
			case err == nil && ok:
				r.Status = Healthy
			case err == nil:
				r.Status = Failing
				r.Message = `the service answered {"result": false}: it cannot reach the source with the stored credentials (expired session token, wrong key or missing bucket)`
			case errors.Is(err, reconcile.ErrGone):
				r.Status = NotFound
				r.Message = "the connection does not exist (deleted outside flowsync?): " + err.Error()
			case errors.Is(err, reconcile.ErrAuth):
				mu.Lock()
				if stopped == nil {
					stopped = err
				}
				mu.Unlock()
				cancel()
				return nil
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
				return nil
			default:
				r.Status = Errored
				r.Message = err.Error()
				r.Err = err
			}
			results[i] = r
			return nil
		})
	}
	_ = g.Wait()
	out := make([]Result, 0, len(results))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	switch {
	case stopped != nil:
		return out, &StoppedError{Err: stopped}
	case len(out) < len(targets):
		if err := context.Cause(ctx); err != nil {
			return out, err
		}
		return out, fmt.Errorf("%d of %d tests did not run", len(targets)-len(out), len(targets))
	}
	return out, nil
}
