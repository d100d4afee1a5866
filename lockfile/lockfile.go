// Package lockfile holds flowsync's record of what it applied: ids, etags, the applied
// non-secret fields and salted HMAC-SHA256 digests of applied secret values.
//
// Invariants: a File never holds a secret value; Save is atomic (temp file, fsync, rename,
// fsync dir) and its bytes are deterministic for the same state; a file that does not parse,
// has a newer version or belongs to another target is an error and is never overwritten.
package lockfile

import (
	"time"

	"github.com/flowsync/flowsync/s3source"
)

// Version is the lockfile format version this build writes.
const Version = 1

// Target is the org and sandbox a lockfile belongs to.
type Target struct {
	OrgID   string `json:"orgId"`
	Sandbox string `json:"sandbox"`
}

// Spec is a connection spec reference.
type Spec = s3source.Spec

// File is the whole lockfile.
type File struct {
	Version int    `json:"version"`
	Serial  int64  `json:"serial"`
	Target  Target `json:"target"`
	Salt    string `json:"salt"` // hex, 32 random bytes, the HMAC key of every digest
	// Connections maps a manifest name to what was applied (encoding/json writes map keys sorted).
	Connections map[string]*Entry `json:"connections"`
}

// Pending values of Entry.Pending.
const (
	// PendingCreate: a POST was sent and its outcome never arrived (crash, timeout). The
	// connection may exist: look it up by name before creating again, and adopt only what
	// the ownership rule proves to be that create's.
	PendingCreate = "create"
)

// AdoptionSlack is how much earlier than the Begin of a create (as the journal recorded it)
// a live connection may have been created and still be that create's: clocks of the client
// and of the service differ.
const AdoptionSlack = 5 * time.Minute

// Entry is what was applied for one manifest name.
type Entry struct {
	ID   string `json:"id,omitempty"`
	ETag string `json:"etag,omitempty"` // with its quotes, as the service sent it
	// Pending is set when an operation's outcome is unknown (see PendingCreate). The other
	// fields of a pending entry are those of the create that was sent (ID, ETag and Retired
	// excepted: they belong to the connection being replaced, if any).
	Pending string `json:"pending,omitempty"`
	// PendingAt is when the earliest unanswered create of a pending entry was begun (zero:
	// unknown). A connection created more than AdoptionSlack before it is not that create's.
	PendingAt      time.Time         `json:"pendingAt,omitzero"`
	Description    string            `json:"description,omitempty"`
	SpecName       string            `json:"specName,omitempty"`
	ConnectionSpec Spec              `json:"connectionSpec"`
	Params         map[string]string `json:"params,omitempty"`        // non-secret params, applied values
	SecretDigests  map[string]string `json:"secretDigests,omitempty"` // param → Digest(salt, value); "" = set on the service, value unknown (generate)
	// Retired lists ids of connections this entry replaced (-/+) whose delete has not yet
	// succeeded; the next apply deletes them.
	Retired []string `json:"retired,omitempty"`
	// Promotion is, in a manifest with a promotion order, the digest of the entry as the
	// manifest wrote it when it was last applied (before environment overrides, secrets by
	// their reference): the next environment in the order holds back a change until the
	// lockfile of this one records its digest. Empty otherwise.
	Promotion string    `json:"promotion,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}
