package schema

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// TestSchemaShape checks what editors rely on: every property has a description and every
// object schema forbids unknown fields.
func TestSchemaShape(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(JSON, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if props, ok := s["properties"].(map[string]any); ok {
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties is not false", path)
			}
			for name, p := range props {
				ps := p.(map[string]any)
				if d, _ := ps["description"].(string); d == "" {
					t.Errorf("%s.%s: no description", path, name)
				}
				walk(path+"."+name, ps)
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
		if defs, ok := s["definitions"].(map[string]any); ok {
			for name, d := range defs {
				walk("#"+name, d.(map[string]any))
			}
		}
	}
	walk("", doc)
}

func TestValidate(t *testing.T) {
	src := "version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: prod, extra: 1}\nconnections:\n  - name: a\n    auth: {params: {bucketName: Ab}}\n"
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	want := []Problem{
		{Line: 2, Col: 45, Path: "target.extra", Message: "unknown field: expected one of orgId, sandbox"},
		{Line: 5, Col: 33, Path: "connections[0].auth.params.bucketName", Message: "bucket names are 3 to 63 characters long (legacy us-east-1 names up to 255), not 2"},
	}
	if diff := cmp.Diff(want, Validate(&n)); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	// A suggestion follows the rules it is offered for (not "team_logs" for "Team_Logs!").
	if err := yaml.Unmarshal([]byte("version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: prod}\nconnections:\n  - name: a\n    auth: {specName: IAMRole Based, params: {bucketName: \"Team_Logs!\"}}\n"), &n); err != nil {
		t.Fatal(err)
	}
	if got := Validate(&n); len(got) != 1 || got[0].Message != `bucket names hold only lowercase letters, digits, dots and hyphens (did you mean "team-logs"?)` {
		t.Errorf("Team_Logs!: %v", got)
	}
	if got := Validate(&yaml.Node{Kind: yaml.DocumentNode}); len(got) != 1 {
		t.Errorf("empty document: %v", got)
	}
}
