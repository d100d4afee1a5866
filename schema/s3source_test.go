package schema

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/flowsync/flowsync/s3source"
)

// The schema's auth block says what s3source says: the auth spec names, the params, and
// that a secret param is a reference only.
func TestSchemaAgreesWithS3Source(t *testing.T) {
	var doc struct {
		Definitions struct {
			Auth struct {
				Properties struct {
					SpecName struct {
						Enum []string `json:"enum"`
					} `json:"specName"`
					Params struct {
						Properties map[string]struct {
							Type    any    `json:"type"`
							Pattern string `json:"pattern"`
						} `json:"properties"`
					} `json:"params"`
				} `json:"properties"`
			} `json:"auth"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(JSON, &doc); err != nil {
		t.Fatal(err)
	}
	auth := doc.Definitions.Auth.Properties
	if len(auth.Params.Properties) == 0 {
		t.Fatal("no #/definitions/auth/properties/params/properties in the schema")
	}
	if !slices.Equal(auth.SpecName.Enum, s3source.AuthNames()) {
		t.Errorf("specName enum %q, s3source %q", auth.SpecName.Enum, s3source.AuthNames())
	}
	var names []string
	for name, p := range auth.Params.Properties {
		names = append(names, name)
		if name == s3source.ParamRegion {
			if p.Type != "string" || p.Pattern != s3source.RegionPattern {
				t.Errorf("region: schema type %v pattern %q, s3source.RegionPattern %q", p.Type, p.Pattern, s3source.RegionPattern)
			}
			continue
		}
		if refOnly := p.Type == "object"; refOnly != s3source.Secret(name) {
			t.Errorf("%s: schema type %v, s3source.Secret %v", name, p.Type, s3source.Secret(name))
		}
	}
	// region is the manifest's shorthand for serviceUrl, never sent: a string of
	// s3source.RegionPattern's shape.
	want := append(s3source.ParamNames(), s3source.ParamRegion)
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("schema params %q, s3source %q", names, want)
	}
}
