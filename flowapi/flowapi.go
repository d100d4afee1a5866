// Package flowapi holds the data that Adobe Experience Platform's Flow Service /connections
// API exchanges: a connection as the service answers it, the body of a create, the answer of a
// create or patch, and JSON Patch operations. It has no behaviour and imports no network code,
// so the planning and applying code (reconcile) can speak it without depending on the HTTP
// client (flowservice).
package flowapi

import (
	"encoding/json"

	"github.com/flowsync/flowsync/s3source"
)

// Spec is a connection spec reference.
type Spec = s3source.Spec

// Auth is a connection's authentication block.
type Auth struct {
	SpecName string            `json:"specName"`
	Params   map[string]string `json:"params"`
}

// NewConnection is the body of POST /connections.
type NewConnection struct {
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	Auth           Auth   `json:"auth"`
	ConnectionSpec Spec   `json:"connectionSpec"`
}

// Connection is one item of a GET /connections answer. Values of secret params
// (s3source.Secret) in Auth.Params are opaque (masked by the service) and must not be compared.
type Connection struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	ConnectionSpec Spec   `json:"connectionSpec"`
	State          string `json:"state,omitempty"`
	Auth           Auth   `json:"auth"`
	ETag           string `json:"etag"`
	Version        string `json:"version,omitempty"`
	CreatedAt      int64  `json:"createdAt,omitempty"`
	UpdatedAt      int64  `json:"updatedAt,omitempty"`
	CreatedBy      string `json:"createdBy,omitempty"`
	UpdatedBy      string `json:"updatedBy,omitempty"`
	CreatedClient  string `json:"createdClient,omitempty"`
	UpdatedClient  string `json:"updatedClient,omitempty"`
	SandboxID      string `json:"sandboxId,omitempty"`
	SandboxName    string `json:"sandboxName,omitempty"`
	IMSOrgID       string `json:"imsOrgId,omitempty"`
}

// Ref is the answer of POST and PATCH: the connection's id and its new etag.
type Ref struct {
	ID   string `json:"id"`
	ETag string `json:"etag"`
}

// PatchOp is one RFC 6902 operation of a PATCH body (the body is a JSON array of them).
// Op is lower case: "add", "replace" or "remove".
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// SourceConnection is one item of a GET /sourceConnections answer: a source connection
// belongs to one base connection (a /connections item) by its id.
type SourceConnection struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	BaseConnectionID string `json:"baseConnectionId"`
	ConnectionSpec   Spec   `json:"connectionSpec"`
	State            string `json:"state,omitempty"`
	CreatedAt        int64  `json:"createdAt,omitempty"`
}

// Flow is one item of a GET /flows answer: a dataflow reading the source connections it lists.
// State is "enabled" or "disabled".
type Flow struct {
	ID                  string      `json:"id"`
	Name                string      `json:"name"`
	State               string      `json:"state"`
	SourceConnectionIDs []string    `json:"sourceConnectionIds"`
	TargetConnectionIDs []string    `json:"targetConnectionIds"`
	LastRunDetails      *RunDetails `json:"lastRunDetails,omitempty"`
	CreatedAt           int64       `json:"createdAt,omitempty"`
}

// RunDetails is a flow's last run: its state ("success", "failed", "inProgress", …) and when it
// started and completed (epoch milliseconds, the service's clock; 0 when not yet).
type RunDetails struct {
	ID             string `json:"id,omitempty"`
	State          string `json:"state"`
	StartedAtUTC   int64  `json:"startedAtUTC,omitempty"`
	CompletedAtUTC int64  `json:"completedAtUTC,omitempty"`
}
