package flowapi

import (
	"encoding/json"
	"fmt"
	"sort"
)

// ConnectionSpec is the service's own description of a source (GET /connectionSpecs/{id}):
// among other things, the auth specs a connection of that source may use.
type ConnectionSpec struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Version  string     `json:"version"`
	AuthSpec []AuthSpec `json:"authSpec"`
}

// AuthSpec is one auth spec of a connection spec: Name is the specName a connection uses
// ("Access Key"), Spec a draft-07 JSON Schema of the connection's auth.params.
type AuthSpec struct {
	Name string          `json:"name"`
	Type string          `json:"type,omitempty"`
	Spec json.RawMessage `json:"spec,omitempty"`
}

// ParamsSchema is what flowsync reads of an auth spec's JSON Schema: the params it lists,
// which are required, and which are secret (format: password).
type ParamsSchema struct {
	Properties map[string]ParamSchema `json:"properties"`
	Required   []string               `json:"required"`
}

// ParamSchema is one param of a ParamsSchema.
type ParamSchema struct {
	Type   any    `json:"type,omitempty"` // "string", or a list of types
	Format string `json:"format,omitempty"`
}

// Secret reports whether the schema marks the param as secret (format: password).
func (p ParamSchema) Secret() bool { return p.Format == "password" }

// Params decodes the auth spec's JSON Schema. A spec that is absent, not an object, or
// whose properties or required list have the wrong shape is an error.
func (a AuthSpec) Params() (ParamsSchema, error) {
	var s ParamsSchema
	if len(a.Spec) == 0 || string(a.Spec) == "null" {
		return s, fmt.Errorf("auth spec %q has no spec (JSON Schema of its params)", a.Name)
	}
	if err := json.Unmarshal(a.Spec, &s); err != nil {
		return s, fmt.Errorf("auth spec %q: its spec is not a JSON Schema of params: %w", a.Name, err)
	}
	if s.Properties == nil {
		s.Properties = map[string]ParamSchema{}
	}
	return s, nil
}

// ParamNames returns the params the schema lists, sorted.
func (s ParamsSchema) ParamNames() []string {
	out := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsRequired reports whether the schema requires param.
func (s ParamsSchema) IsRequired(param string) bool {
	for _, r := range s.Required {
		if r == param {
			return true
		}
	}
	return false
}

// Auth returns the auth spec called name.
func (cs *ConnectionSpec) Auth(name string) (AuthSpec, bool) {
	for _, a := range cs.AuthSpec {
		if a.Name == name {
			return a, true
		}
	}
	return AuthSpec{}, false
}
