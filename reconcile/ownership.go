package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
)

// The ownership rule (SPEC "Ownership"). A connection is flowsync's when its id is in the
// lockfile. After a create whose outcome is unknown, a live connection is adopted as that
// create's only when all of these hold:
//   - it is not recorded under any name;
//   - it has the name and connection spec (id and version) of the create;
//   - its createdAt is at or after the Begin of the create minus lockfile.AdoptionSlack;
//   - its createdClient is the API key in use, when the service reports one;
//   - every non-secret field the create set (description, auth specName, each param the
//     service shows in clear) is equal, and it has no non-secret param the create lacked.
//
// Anything else is unmanaged: reported, never patched, never deleted.

// claim is what is known of a create whose outcome is unknown: what it sent, when, and with
// which API key.
type claim struct {
	name        string
	spec        flowapi.Spec
	specName    string
	description string
	clear       map[string]string // params the service shows in clear, as sent
	digests     map[string]string // params the service shows in clear, known only by digest
	unknown     map[string]bool   // params sent whose value is not known here (plan --no-secrets)
	since       time.Time         // Begin of the earliest attempt; zero: unknown
	apiKey      string            // "": not known, the createdClient test is skipped
	salt        string
}

// claimOfDesired is the claim of a create of d begun at since.
func claimOfDesired(d *Desired, since time.Time, apiKey, salt string) *claim {
	cl := &claim{name: d.Name, spec: d.Spec, specName: d.SpecName, description: d.Description,
		clear: map[string]string{}, digests: map[string]string{}, unknown: map[string]bool{},
		since: since, apiKey: apiKey, salt: salt}
	for k, p := range d.Params {
		switch {
		case s3source.Secret(k):
		case !p.Known:
			cl.unknown[k] = true
		default:
			cl.clear[k] = p.Value
		}
	}
	return cl
}

// claimOfEntry is the claim of the pending create recorded in e under name.
func claimOfEntry(name string, e *lockfile.Entry, apiKey, salt string) *claim {
	cl := &claim{name: name, spec: flowapi.Spec{ID: e.ConnectionSpec.ID, Version: e.ConnectionSpec.Version},
		specName: e.SpecName, description: e.Description,
		clear: map[string]string{}, digests: map[string]string{}, unknown: map[string]bool{},
		since: e.PendingAt, apiKey: apiKey, salt: salt}
	for k, v := range e.Params {
		cl.clear[k] = v
	}
	for k, d := range e.SecretDigests {
		if !s3source.Secret(k) {
			cl.digests[k] = d
		}
	}
	return cl
}

// refuse returns why c cannot be the claim's create, or "" when the rule adopts it. recorded
// is every id the lockfile knows.
func (cl *claim) refuse(c *flowapi.Connection, recorded map[string]bool) string {
	switch {
	case recorded[c.ID]:
		return "recorded under another name"
	case !names.Same(c.Name, cl.name):
		return "another name"
	case c.ConnectionSpec != cl.spec:
		return "another connection spec"
	case cl.specName == "":
		return "the interrupted create's fields are not known"
	case cl.since.IsZero():
		return "the time of the interrupted create is not known"
	case c.CreatedAt == 0:
		return "the service does not say when it was created"
	case time.UnixMilli(c.CreatedAt).Before(cl.since.Add(-lockfile.AdoptionSlack)):
		return "created before flowsync's create (at " + time.UnixMilli(c.CreatedAt).UTC().Format(time.RFC3339) + ")"
	case cl.apiKey != "" && c.CreatedClient != "" && c.CreatedClient != cl.apiKey:
		return "created by another API key"
	case c.Auth.SpecName != cl.specName:
		return "another auth specName"
	case c.Description != cl.description:
		return "another description"
	}
	for _, k := range sortedKeys(c.Auth.Params) {
		v := c.Auth.Params[k]
		if s3source.Secret(k) || cl.unknown[k] {
			continue
		}
		if want, ok := cl.clear[k]; ok {
			if v != want {
				return "another auth.params." + k
			}
			continue
		}
		if want, ok := cl.digests[k]; ok {
			if lockfile.Digest(cl.salt, v) != want {
				return "another auth.params." + k
			}
			continue
		}
		return "auth.params." + k + " is set"
	}
	for k := range cl.clear {
		if _, ok := c.Auth.Params[k]; !ok {
			return "auth.params." + k + " is not set"
		}
	}
	for k := range cl.digests {
		if _, ok := c.Auth.Params[k]; !ok {
			return "auth.params." + k + " is not set"
		}
	}
	return ""
}

// resolution is what the rule made of the live connections named like a claim.
type resolution struct {
	owned     []string          // ids the rule adopts (sorted); more than one is ambiguous
	unmanaged map[string]string // id → why it is not the claim's
}

func (cl *claim) resolve(found []*flowapi.Connection, recorded map[string]bool) resolution {
	res := resolution{unmanaged: map[string]string{}}
	for _, c := range found {
		if recorded[c.ID] {
			continue // flowsync's already: neither adopted nor unmanaged
		}
		if why := cl.refuse(c, recorded); why != "" {
			res.unmanaged[c.ID] = why
			continue
		}
		res.owned = append(res.owned, c.ID)
	}
	sort.Strings(res.owned)
	return res
}

// AmbiguousError reports that more than one live connection passes the ownership rule for
// a create whose outcome is unknown: flowsync cannot tell which is its own.
type AmbiguousError struct {
	Name string
	IDs  []string
	// Files names the manifest and lockfile in the command that resolves it: "-f m.yaml", or
	// "-f m.yaml --lockfile other.lock.json", each path quoted for a shell ("": not known).
	Files string
}

func (e *AmbiguousError) Error() string {
	msg := fmt.Sprintf("%d live connections named %q could each be the one flowsync's interrupted create made (%s); none was touched",
		len(e.IDs), e.Name, strings.Join(e.IDs, ", "))
	if e.Files != "" {
		msg += fmt.Sprintf("; record the right one with: flowsync import %s -- %s ID (ID: one of the ids above)", e.Files, shell.Quote(e.Name))
	}
	return msg
}

// NoIDError reports a create the service answered 2xx without naming the connection: it was
// most likely created, and is recorded as pending, never sent again in the same run.
type NoIDError struct {
	Name string
	Err  error
}

func (e *NoIDError) Error() string {
	return fmt.Sprintf("the service accepted the create but did not say which connection it made (%v); recorded as pending, not sent again", e.Err)
}

func (e *NoIDError) Unwrap() error { return e.Err }
