// Package flowservice is the HTTP client of Adobe Experience Platform's Flow Service
// /connections API, and of the read-only /sourceConnections and /flows lists that say what
// uses a connection.
//
// Invariants: every request carries Authorization, x-api-key, x-gw-ims-org-id and
// x-sandbox-name; PATCH always carries If-Match with the quoted etag; every non-2xx answer
// becomes a *Error; a secret value never appears in an error, a log line or a String().
package flowservice

import "github.com/flowsync/flowsync/flowapi"

// The API's data, defined in flowapi so that code which plans and applies changes can use it
// without depending on this package's HTTP code.
type (
	Spec             = flowapi.Spec
	Auth             = flowapi.Auth
	NewConnection    = flowapi.NewConnection
	Connection       = flowapi.Connection
	Ref              = flowapi.Ref
	PatchOp          = flowapi.PatchOp
	SourceConnection = flowapi.SourceConnection
	Flow             = flowapi.Flow
	RunDetails       = flowapi.RunDetails

	ConnectionSpec = flowapi.ConnectionSpec
	AuthSpec       = flowapi.AuthSpec
	ParamsSchema   = flowapi.ParamsSchema
	ParamSchema    = flowapi.ParamSchema
)
