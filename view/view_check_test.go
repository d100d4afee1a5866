package view

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/workspace"
)

func compileCheckSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "check-json.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("check-json.schema.json", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("check-json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkReports() map[string]*CheckReport {
	target := lockfile.Target{OrgID: "ORG@AdobeOrg", Sandbox: "prod"}
	spec := &flowservice.ConnectionSpec{ID: s3source.SpecID, Name: "amazon-s3", Version: "1.0",
		AuthSpec: []flowservice.AuthSpec{{Name: "Access Key"}, {Name: "IAMRole Based"}}}
	return map[string]*CheckReport{
		"healthy": {Target: target, Files: "-f m.yaml", Spec: spec,
			Results: []health.Result{{Name: "a", ID: "id-a", Status: health.Healthy}}},
		"empty": {Target: target, Files: "-f m.yaml", Spec: spec},
		"unhealthy": {Target: target, Files: "-f m.yaml", Spec: spec,
			Comparison: health.Comparison{
				Differences: []health.Difference{
					{Kind: health.RequiredByService, AuthSpec: "Access Key", Param: "serviceUrl", Message: "auth spec \"Access Key\": the service requires param serviceUrl; flowsync treats it as optional"},
					{Kind: health.EntryMissing, AuthSpec: "Access Key", Param: "serviceUrl", Entry: "a", Message: "a: auth.params.serviceUrl is required"},
				},
				Other: []string{"OAuth"},
			},
			Results: []health.Result{
				{Name: "a", ID: "id-a", Status: health.Failing, Message: "the service answered {\"result\": false}"},
				{Name: "b", ID: "id-b", Status: health.NotFound, Message: "gone"},
				{Name: "c", ID: "id-c", Status: health.Errored, Message: "500 internal server error"},
				{Name: "d", ID: "id-d", Status: health.Healthy},
			},
			NotTested: []NotTested{{Name: "e", Reason: "not recorded in the lockfile: apply has not created it yet"}},
		},
		"no spec": {Target: target, Files: "-f m.yaml",
			Comparison: health.CompareSpec(nil, workspace.EmbeddedAuthSpecs(), nil)},
	}
}

func TestCheckJSONMatchesSchema(t *testing.T) {
	s := compileCheckSchema(t)
	for name, r := range checkReports() {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := (&jsonCheckView{io: IO{Out: &out}}).Check(r); err != nil {
				t.Fatal(err)
			}
			validateJSON(t, s, out.String())
			var again bytes.Buffer
			_ = (&jsonCheckView{io: IO{Out: &again}}).Check(r)
			if out.String() != again.String() {
				t.Error("two renderings differ")
			}
		})
	}
	// The schema is strict: an undocumented field fails it, so the test above can fail.
	var out bytes.Buffer
	_ = (&jsonCheckView{io: IO{Out: &out}}).Check(checkReports()["healthy"])
	bad := strings.Replace(out.String(), `"healthy": true,`, `"healthy": true, "surprise": 1,`, 1)
	if err := s.Validate(mustJSON(t, bad)); err == nil {
		t.Error("the schema accepts an undocumented field")
	}
}

// TestCheckJSONDocExample validates the example of docs/check-json.md against the schema.
func TestCheckJSONDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "check-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no json example in docs/check-json.md")
	}
	validateJSON(t, compileCheckSchema(t), string(m[1]))
}

func TestCheckText(t *testing.T) {
	r := checkReports()["unhealthy"]
	var out bytes.Buffer
	if err := (&textCheckView{io: IO{Out: &out}}).Check(r); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"  diff  auth spec \"Access Key\": the service requires param serviceUrl",
		"  note  the service also offers auth spec \"OAuth\", which flowsync does not manage",
		"  failing    a (id-a): the service answered",
		"  not found  b (id-b): gone",
		"  error      c (id-c): 500 internal server error",
		"  untested   e: not recorded",
		"Check: unhealthy: 2 preflight differences; 4 tested: 1 ok, 1 failing, 1 not found, 1 could not be tested.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, " d (id-d)") {
		t.Errorf("a healthy connection is listed:\n%s", got)
	}
	if strings.Contains(got, "describes the auth specs as flowsync validates them") {
		t.Errorf("says the spec matches despite differences:\n%s", got)
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		"m.yaml":          "m.yaml",
		"-":               "-",
		"dir/m.lock.json": "dir/m.lock.json",
		"my file.yaml":    "'my file.yaml'",
		"it's.yaml":       `'it'\''s.yaml'`,
		"$HOME/m.yaml":    "'$HOME/m.yaml'",
		"":                "''",
	} {
		if got := shell.Quote(in); got != want {
			t.Errorf("shell.Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
