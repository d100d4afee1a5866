package flowservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// GetConnectionSpec reads connection spec id. The service answers {"items":[spec]}; Adobe's
// published example answers the object itself: both are read. A spec that does not exist is
// a *Error with Status 404.
func (c *Client) GetConnectionSpec(ctx context.Context, id string) (*ConnectionSpec, error) {
	if id == "" {
		return nil, errors.New("get connection spec: empty id")
	}
	r := &request{method: http.MethodGet, path: "/connectionSpecs/" + url.PathEscape(id)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Items *[]ConnectionSpec `json:"items"`
		ConnectionSpec
	}
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		return nil, fmt.Errorf("get connection spec %s: decode answer: %w", id, err)
	}
	if answer.Items == nil {
		if answer.ID == "" {
			return nil, fmt.Errorf("get connection spec %s: the %d answer holds neither items nor a connection spec", id, resp.status)
		}
		if answer.ID != id {
			return nil, fmt.Errorf("get connection spec %s: the answer describes connection spec %s", id, answer.ID)
		}
		return &answer.ConnectionSpec, nil
	}
	for i := range *answer.Items {
		if (*answer.Items)[i].ID == id {
			return &(*answer.Items)[i], nil
		}
	}
	return nil, &Error{Method: r.method, Status: http.StatusNotFound, Message: fmt.Sprintf("connection spec %s is not in the 200 answer (%d items)", id, len(*answer.Items)), RequestID: resp.header.Get("x-request-id")}
}

// TestConnection asks the service whether it can reach the source of connection id with
// the connection's stored credentials (GET /connections/{id}/test). false is an answer, not
// an error: an expired session token, a wrong key or a missing bucket. A connection that does
// not exist is a *Error with Status 404.
func (c *Client) TestConnection(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, errors.New("test connection: empty id")
	}
	r := &request{method: http.MethodGet, path: "/connections/" + url.PathEscape(id) + "/test"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return false, err
	}
	var answer struct {
		Result *bool `json:"result"`
	}
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		return false, fmt.Errorf("test %s: decode answer: %w", id, err)
	}
	if answer.Result == nil {
		return false, fmt.Errorf("test %s: the %d answer holds no result", id, resp.status)
	}
	return *answer.Result, nil
}

// CheckAccess makes the cheapest call that proves the credentials, the org and the sandbox
// are accepted: one page of at most one connection of spec specID.
func (c *Client) CheckAccess(ctx context.Context, specID string) error {
	q := url.Values{}
	q.Set("limit", "1")
	q.Add("property", "connectionSpec.id=="+specID)
	r := &request{method: http.MethodGet, path: "/connections", query: q.Encode()}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	var page listPage[Connection]
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return fmt.Errorf("list connections: decode answer: %w", err)
	}
	return nil
}
