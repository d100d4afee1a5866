package cli

import (
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/s3source"
)

// embeddedAuthSpecs are the auth specs of the Amazon S3 source as flowsync validates them
// (s3source): what check compares the service's own description with, and the offline
// fallback.
func embeddedAuthSpecs() []health.AuthSpec {
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
