// Package reconcile computes what must change to bring the service to the manifest (Plan)
// and carries it out (Apply).
//
// Invariants: Plan is pure: no I/O, no clock, no randomness, no context; its Changes are sorted
// by name, so the same inputs give the same plan. Apply depends on the Client interface
// below, never on HTTP; it returns the lockfile with every success even when it also returns
// an error, and records every operation in the Journal before it is sent.
package reconcile

import (
	"context"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
)

// Param is one desired auth param.
type Param struct {
	Value     string // resolved value; empty when !Known
	Sensitive bool   // came from a secret reference: never printed, stored only as a digest
	Known     bool   // false for a sensitive value that was not read (plan --no-secrets)
}

// Desired is one manifest entry with its secret references resolved (or marked unknown).
type Desired struct {
	Name string
	// FormerNames are names the entry had before (manifest formerNames): a lockfile entry
	// recorded under one of them, and not under Name, is renamed in place.
	FormerNames []string
	Description string
	Spec        flowapi.Spec
	SpecName    string
	Params      map[string]Param
	// Promotion is the entry's promotion digest (manifest.Connection.Promotion): recorded in
	// the lockfile when applied, compared with the previous environment's. "" without
	// environments.
	Promotion string
}

// Action is what a Change does.
type Action rune

const (
	NoOp    Action = '='
	Create  Action = '+'
	Update  Action = '~'
	Replace Action = '±' // shown as "-/+": create the new connection, record it, delete the old
	Delete  Action = '-' // an orphan deleted with --prune
	Orphan  Action = '!' // in the lockfile, not in the manifest: shown and kept
	// Conflict is a create (or the create half of a replace) refused because a live
	// connection of the name and connection spec exists that the lockfile does not record and
	// the ownership rule does not adopt: nothing is sent, apply fails the entry.
	Conflict Action = '≠'
	// Hold is a create, update or replace held back by promotion: the previous environment
	// has not applied it yet (Change.Held says what it would be, Change.HeldFor where).
	Hold Action = '⏸'
)

// Symbol is how the action is shown in a plan.
func (a Action) Symbol() string {
	switch a {
	case Replace:
		return "-/+"
	case NoOp:
		return " "
	case Conflict:
		return "!"
	}
	return string(a)
}

// Sends reports whether applying a change of this action sends a request: orphans kept and
// unmanaged connections are never touched.
func (a Action) Sends() bool {
	switch a {
	case Create, Update, Replace, Delete:
		return true
	}
	return false
}

func (a Action) String() string {
	switch a {
	case NoOp:
		return "no-op"
	case Create:
		return "create"
	case Update:
		return "update"
	case Replace:
		return "replace"
	case Delete:
		return "delete"
	case Orphan:
		return "orphan"
	case Conflict:
		return "conflict"
	case Hold:
		return "held"
	}
	return "unknown"
}

// Reason says why a change is planned.
type Reason string

const (
	ReasonManifest Reason = "manifest" // the manifest differs from what was applied
	ReasonDrift    Reason = "drift"    // the live connection was changed out of band
	ReasonMissing  Reason = "missing"  // the live connection was deleted out of band, or never recorded
	ReasonOrphan   Reason = "orphan"   // recorded but no longer in the manifest
)

// FieldChange is one field that differs. Path is dotted ("description",
// "auth.params.bucketName"). Before is the current value (live when refreshed, else as
// applied), After the desired one; both are empty when Sensitive.
type FieldChange struct {
	Path      string
	Before    string
	After     string
	Sensitive bool
	// Drift is true when Before came from the live connection and differs from what was applied.
	Drift bool
	// Removed is true when the manifest no longer sets the field (After is empty because
	// there is no value, not because the value is "").
	Removed bool
}

// Change is what happens to one name.
type Change struct {
	Name   string
	Action Action
	Reason Reason
	ID     string // the current connection id (update, replace, delete, orphan)
	ETag   string // the etag an update must send in If-Match
	Fields []FieldChange
	Notes  []string // facts the user should see ("a hidden value changed outside flowsync: …")
	// Resend is set on an Update whose connection changed outside flowsync in a way no GET
	// shows (its etag moved, nothing visible did): every secret is sent again. No particular
	// field is blamed.
	Resend bool
	// Desired is nil for Delete and Orphan; Prior is nil when nothing was recorded.
	Desired *Desired
	Prior   *lockfile.Entry
	// RenamedFrom is the recorded name this change takes over (an entry's formerNames): the
	// connection keeps its id, apply PATCHes /name with the other changed paths, and the
	// lockfile entry moves from RenamedFrom to Name. Prior is that entry.
	RenamedFrom string
	// Blocked is set on a Delete or Replace (or an Update deleting what an unfinished replace
	// left) that would delete a connection the dataflows in UsedBy use (Changeset.Block): it
	// is shown, counted and never attempted.
	Blocked bool
	UsedBy  []Dataflow
	// Heal is set on a Create whose earlier outcome is unknown: look the name up first.
	Heal bool
	// Held is, on a Hold, the action held back; HeldFor the environment that must apply the
	// entry first.
	Held    Action
	HeldFor string
	// Resolved is, on the Delete of a pending orphan planned against the live state, the id
	// its interrupted create made as the ownership rule proves ("" when none was found: the
	// record is dropped and nothing else is deleted).
	Resolved string
	// Owner is who created the connection a Delete or Replace removes, as the live state
	// says (nil: the live state was not read, or the connection is not live).
	Owner *Owner
	// Conflicts are, on a Conflict, the live connections of the name that flowsync did not
	// record (sorted by id); Refused is the action the conflict stops (Create or Replace).
	Conflicts []Owner
	Refused   Action
}

// Owner is a live connection and who created it, as the service reports it.
type Owner struct {
	ID        string
	Client    string // createdClient: the API key that created it ("": not reported)
	CreatedAt int64  // createdAt, epoch milliseconds (0: not reported)
	// Why, on a name conflict, is why flowsync does not own it ("created by another API key").
	Why string
}

func ownerOf(c *flowapi.Connection) Owner {
	return Owner{ID: c.ID, Client: c.CreatedClient, CreatedAt: c.CreatedAt}
}

// Unmanaged is a live connection of the S3 spec whose name is in the manifest (or is a
// pending orphan's) but whose id flowsync did not record and cannot prove it created (SPEC
// "Ownership"). It is reported, never touched.
type Unmanaged struct {
	Name    string
	IDs     []string          // sorted
	Reasons map[string]string // id → why flowsync does not own it ("created by another API key")
	// Recorded is the id flowsync manages under Name, if any: the unmanaged connections are
	// someone else's namesakes, and importing one would replace it.
	Recorded string
	// Orphan is set when Name is no longer in the manifest (a pending orphan's namesakes).
	Orphan bool
}

// Changeset is the result of Plan.
type Changeset struct {
	Changes        []Change // sorted by name, NoOps included
	Refreshed      bool     // live state was read (--refresh)
	SecretsUnknown bool     // secret references were not read (--no-secrets)
	Unmanaged      []Unmanaged
	// ImpactChecked: what uses the connections to delete or replace was read (Block).
	ImpactChecked bool
	// Manifest is the manifest's path, for the commands a view suggests (set by the caller;
	// Plan leaves it empty).
	Manifest string
	// Lockfile is --lockfile when given ("" for the default one), Environment the manifest
	// environment ("" without one), Sandbox and OrgID the target: set by the caller for the
	// views (Plan leaves them empty).
	Lockfile, Environment, Sandbox, OrgID string
}

// Counts is how many changes of each action a changeset holds.
type Counts map[Action]int

// Counts counts the changes by action; blocked ones are not counted (see Blocked).
func (c *Changeset) Counts() Counts {
	n := Counts{}
	for _, ch := range c.Changes {
		if !ch.Blocked {
			n[ch.Action]++
		}
	}
	return n
}

// Blocked returns how many deletes and replaces are blocked by dataflows.
func (c *Changeset) Blocked() int {
	n := 0
	for _, ch := range c.Changes {
		if ch.Blocked {
			n++
		}
	}
	return n
}

// HasChanges reports whether applying the changeset would send anything (drift that apply
// corrects included), fail an entry (a name conflict), or is blocked (pending, though apply
// cannot make it). Orphans that are merely kept and unmanaged connections, which apply never
// touches, are not changes.
func (c *Changeset) HasChanges() bool {
	return c.Sends() > 0 || c.Counts()[Conflict] > 0 || c.Blocked() > 0
}

// Held returns how many changes promotion holds back.
func (c *Changeset) Held() int {
	n := 0
	for _, ch := range c.Changes {
		if ch.Action == Hold {
			n++
		}
	}
	return n
}

// Sends returns how many changes send a request when applied.
func (c *Changeset) Sends() int {
	n := 0
	for _, ch := range c.Changes {
		if ch.Action.Sends() && !ch.Blocked {
			n++
		}
	}
	return n
}

// Client is what Apply needs of the service. *flowservice.Client satisfies it; retries,
// throttling and auth live in the client, not here.
type Client interface {
	Create(ctx context.Context, c flowapi.NewConnection) (flowapi.Ref, error)
	Get(ctx context.Context, id string) (*flowapi.Connection, error)
	Patch(ctx context.Context, id, etag string, ops []flowapi.PatchOp) (flowapi.Ref, error)
	Delete(ctx context.Context, id string) error
	// FindByName lists the live connections of spec whose name is exactly name.
	FindByName(ctx context.Context, name string, spec flowapi.Spec) ([]flowapi.Connection, error)
}

// Journal is Apply's one write-ahead path: nothing is sent before the journal holds, durably,
// what a crash would need to finish or undo it. *lockfile.Journal satisfies it.
//
//   - Begin records an update or delete (op "update" or "delete", id set, intent nil), or a
//     create whose intent was not written ahead (op "create", id empty, intent the entry it
//     would record), and must be durable before the request is sent. It records when it was
//     begun.
//   - Intend records a create's intent without waiting for the disk; Sync makes every intent
//     recorded so far durable in one fsync. Apply writes the creates' intents ahead of them
//     this way, in chunks of one Sync each, on a goroutine of its own (intents.go), and sends
//     a create only once its chunk is synced: the same guarantee as Begin, with the fsyncs
//     off the critical path.
//   - Commit records the entry's state after a success (nil: the entry is gone).
type Journal interface {
	Begin(name, op, id string, intent *lockfile.Entry) error
	Intend(name string, intent *lockfile.Entry) error
	Sync() error
	Commit(name string, e *lockfile.Entry) error
}
