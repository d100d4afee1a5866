package view

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var s3Spec = flowservice.Spec{ID: "ecadc60c-7455-4d87-84dc-2a0e293d997b", Version: "1.0"}

const (
	longBefore = "Amazon S3 landing bucket for ACME Europe: daily customer profile exports, retained for thirty days, owned by the data platform team."
	longAfter  = "Amazon S3 landing bucket for ACME Europe: hourly customer profile exports, retained for thirty days, owned by the data platform team (eu-west-1)."
)

func desired(name string, params map[string]reconcile.Param) *reconcile.Desired {
	return &reconcile.Desired{Name: name, Description: "", Spec: s3Spec, SpecName: "Amazon S3", Params: params}
}

// sampleChangeset covers every action, drift, a missing connection, a heal, sensitive fields,
// a long-string diff, notes, unmanaged connections and unread secrets.
func sampleChangeset() *reconcile.Changeset {
	return &reconcile.Changeset{
		Manifest: "on boarding.yaml", Sandbox: "prod", OrgID: "5C1328435BF324E90A49402A@AdobeOrg",
		Refreshed:      true,
		SecretsUnknown: true,
		Changes: []reconcile.Change{
			{
				Name: "acme-ap", Action: reconcile.Create, Reason: reconcile.ReasonManifest,
				Fields: []reconcile.FieldChange{
					{Path: "description", After: "ACME Asia-Pacific"},
					{Path: "auth.params.bucketName", After: "acme-ap-landing"},
					{Path: "auth.params.s3SessionToken", Sensitive: true},
				},
				Desired: desired("acme-ap", nil),
			},
			{
				Name: "acme-br", Action: reconcile.Create, Reason: reconcile.ReasonMissing,
				Fields:  []reconcile.FieldChange{{Path: "auth.params.bucketName", After: "acme-br-landing"}},
				Notes:   []string{"deleted outside flowsync (was 0f6b2d1e-5a4c-4e1b-9d3a-7c2e8f1a0b9c): it will be created again"},
				Desired: desired("acme-br", nil),
				Prior:   &lockfile.Entry{ID: "0f6b2d1e-5a4c-4e1b-9d3a-7c2e8f1a0b9c"},
			},
			{
				Name: "acme-ca", Action: reconcile.Create, Reason: reconcile.ReasonMissing, Heal: true,
				Fields:  []reconcile.FieldChange{{Path: "auth.params.bucketName", After: "acme-ca-landing"}},
				Notes:   []string{"an earlier create was interrupted before its outcome was known: flowsync looks the name up before creating again"},
				Desired: desired("acme-ca", nil),
			},
			{
				Name: "acme-eu", Action: reconcile.Update, Reason: reconcile.ReasonManifest,
				ID: "7c1e9a4b-2f3d-4c5e-8a6b-1d2e3f4a5b6c", ETag: `"0a00b1c2-0000-0200-0000-65f0a1b20000"`,
				Fields: []reconcile.FieldChange{
					{Path: "description", Before: longBefore, After: longAfter},
					{Path: "auth.params.bucketName", Before: "acme-eu", After: "acme-eu-landing"},
					{Path: "auth.params.s3SessionToken", Sensitive: true},
				},
				Notes:   []string{"etag moved with no visible change: the service rewrote the connection"},
				Desired: desired("acme-eu", nil),
			},
			{
				Name: "acme-jp", Action: reconcile.Update, Reason: reconcile.ReasonDrift,
				ID: "3b4c5d6e-7f80-4912-a3b4-c5d6e7f80912",
				Fields: []reconcile.FieldChange{
					{Path: "description", Before: "edited in the UI", After: "ACME Japan", Drift: true},
					{Path: "auth.params.folderPath", Before: "oops", Removed: true},
				},
				Desired: desired("acme-jp", nil),
			},
			{Name: "acme-kr", Action: reconcile.NoOp, Reason: reconcile.ReasonManifest, ID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"},
			{
				Name: "acme-mx", Action: reconcile.Replace, Reason: reconcile.ReasonManifest,
				ID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
				Fields: []reconcile.FieldChange{
					{Path: "specName", Before: "Amazon S3", After: "Amazon S3 (legacy)"},
				},
				Desired: desired("acme-mx", nil),
			},
			{Name: "acme-old", Action: reconcile.Orphan, Reason: reconcile.ReasonOrphan, ID: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
			{Name: "acme-retired", Action: reconcile.Delete, Reason: reconcile.ReasonOrphan, ID: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"},
			{Name: "acme-us", Action: reconcile.NoOp, Reason: reconcile.ReasonManifest, ID: "4c5d6e7f-8091-4a2b-b3c4-d5e6f7809a1b"},
		},
		Unmanaged: []reconcile.Unmanaged{
			{Name: "acme-za", IDs: []string{"6d7e8f90-a1b2-4c3d-8e4f-5a6b7c8d9e0f", "8f90a1b2-c3d4-4e5f-a6b7-c8d9e0f1a2b3"}},
		},
	}
}

func noChangeset() *reconcile.Changeset {
	cs := &reconcile.Changeset{}
	for _, n := range []string{"acme-eu", "acme-jp", "acme-us"} {
		cs.Changes = append(cs.Changes, reconcile.Change{Name: n, Action: reconcile.NoOp, Reason: reconcile.ReasonManifest, ID: n + "-id"})
	}
	return cs
}

func renderPlan(t *testing.T, format string, color bool, cs *reconcile.Changeset) string {
	t.Helper()
	var out, errOut bytes.Buffer
	v, err := NewPlanView(format, IO{Out: &out, Err: &errOut, Color: color})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Plan(cs); err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if errOut.Len() != 0 {
		t.Errorf("plan view wrote to stderr: %q", errOut.String())
	}
	return out.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cli -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		golden string
		format string
		color  bool
		cs     func() *reconcile.Changeset
	}{
		{"plan_text", "text", false, sampleChangeset},
		{"plan_text_color", "text", true, sampleChangeset},
		{"plan_json", "json", false, sampleChangeset},
		{"plan_markdown", "markdown", false, sampleChangeset},
		{"plan_nochanges_text", "text", false, noChangeset},
		{"plan_nochanges_json", "json", false, noChangeset},
		{"plan_nochanges_markdown", "markdown", false, noChangeset},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			first := renderPlan(t, tt.format, tt.color, tt.cs())
			second := renderPlan(t, tt.format, tt.color, tt.cs())
			if diff := cmp.Diff(first, second); diff != "" {
				t.Fatalf("two renderings of the same plan differ (-first +second):\n%s", diff)
			}
			checkGolden(t, tt.golden, first)
			if !tt.color && strings.Contains(first, "\x1b[") {
				t.Error("plain output contains an ANSI escape")
			}
		})
	}
}

func TestPlanTextNoOpsNotListed(t *testing.T) {
	got := renderPlan(t, "text", false, sampleChangeset())
	for _, name := range []string{"acme-kr", "acme-us"} {
		if strings.Contains(got, name) {
			t.Errorf("no-op %s is listed:\n%s", name, got)
		}
	}
	if !strings.Contains(got, "Plan: 3 to create, 2 to update, 1 to replace, 1 to delete, 1 orphaned (kept), 2 unchanged, 1 unmanaged.\n") {
		t.Errorf("count line missing:\n%s", got)
	}
}

func TestNewViewUnknownFormat(t *testing.T) {
	_, err := NewPlanView("yaml", IO{})
	if err == nil || err.Error() != `unknown output format "yaml": valid formats are text, json, markdown` {
		t.Errorf("NewPlanView(yaml) error = %v", err)
	}
	_, err = NewApplyView("markdown", IO{})
	if err == nil || err.Error() != `unknown output format "markdown": valid formats are text, json` {
		t.Errorf("NewApplyView(markdown) error = %v", err)
	}
}

// canaryChangeset carries a secret value wherever a careless view could find it: in the
// desired params and, against the contract, in a sensitive field's Before and After.
func canaryChangeset(secret string) *reconcile.Changeset {
	params := map[string]reconcile.Param{
		"s3SessionToken": {Value: secret, Sensitive: true, Known: true},
		"bucketName":     {Value: "acme-canary", Known: true},
	}
	long := strings.Repeat("x", 70)
	return &reconcile.Changeset{
		Changes: []reconcile.Change{
			{
				Name: "canary-create", Action: reconcile.Create, Reason: reconcile.ReasonManifest,
				Fields: []reconcile.FieldChange{
					{Path: "auth.params.s3SessionToken", After: secret, Sensitive: true},
				},
				Desired: desired("canary-create", params),
			},
			{
				Name: "canary-update", Action: reconcile.Update, Reason: reconcile.ReasonDrift, ID: "id-1",
				Fields: []reconcile.FieldChange{
					{Path: "auth.params.s3SessionToken", Before: secret + "-old", After: secret, Sensitive: true, Drift: true},
					{Path: "auth.params.s3SecretKey", Before: long + secret, After: long + secret + "2", Sensitive: true},
				},
				Desired: desired("canary-update", params),
			},
			{
				Name: "canary-replace", Action: reconcile.Replace, Reason: reconcile.ReasonManifest, ID: "id-2",
				Fields: []reconcile.FieldChange{
					{Path: "auth.params.s3SessionToken", Before: secret, After: secret, Sensitive: true},
				},
				Desired: desired("canary-replace", params),
			},
		},
	}
}

func TestNoViewPrintsSecrets(t *testing.T) {
	const secret = "CANARY-SECRET-123"
	forbidden := []string{
		"CANARY", "SECRET-123",
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
		hex.EncodeToString([]byte(secret)),
		strings.ToUpper(hex.EncodeToString([]byte(secret))),
	}
	for _, format := range PlanFormats() {
		for _, color := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/color=%v", format, color), func(t *testing.T) {
				got := renderPlan(t, format, color, canaryChangeset(secret))
				for _, f := range forbidden {
					if strings.Contains(got, f) {
						t.Errorf("output contains %q:\n%s", f, got)
					}
				}
				if !strings.Contains(got, "(sensitive") && format != "json" {
					t.Errorf("output does not mark the sensitive fields:\n%s", got)
				}
			})
		}
	}
}

func compileSchema(t *testing.T, ref string) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("..", "docs", "plan-json.schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("plan-json.schema.json", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plan-json.schema.json" + ref)
	if err != nil {
		t.Fatalf("compile %s%s: %v", path, ref, err)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, doc string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("does not match docs/plan-json.schema.json: %#v\n%s", err, doc)
	}
}

func TestPlanJSONMatchesSchema(t *testing.T) {
	s := compileSchema(t, "")
	for name, cs := range map[string]func() *reconcile.Changeset{
		"sample":    sampleChangeset,
		"nochanges": noChangeset,
		"canary":    func() *reconcile.Changeset { return canaryChangeset("CANARY-SECRET-123") },
		"empty":     func() *reconcile.Changeset { return &reconcile.Changeset{} },
	} {
		t.Run(name, func(t *testing.T) {
			validateJSON(t, s, renderPlan(t, "json", false, cs()))
		})
	}
	t.Run("schema rejects a sensitive value", func(t *testing.T) {
		var v any
		doc := `{"format_version":"1.0","refreshed":false,"secrets_unknown":false,
			"summary":{"create":1,"update":0,"replace":0,"delete":0,"orphan":0,"unchanged":0},
			"changes":[{"name":"a","action":"create","reason":"manifest","notes":[],
				"fields":[{"path":"auth.params.s3SessionToken","after":"x","sensitive":true,"drift":false}]}],
			"unmanaged":[]}`
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if s.Validate(v) == nil {
			t.Error("schema accepts a sensitive field with a value")
		}
	})
}

func TestPlanJSONSensitiveOmitted(t *testing.T) {
	var doc struct {
		Changes []struct {
			Fields []map[string]any `json:"fields"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(renderPlan(t, "json", false, sampleChangeset())), &doc); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, c := range doc.Changes {
		for _, f := range c.Fields {
			if f["sensitive"] == true {
				seen++
				_, hasBefore := f["before"]
				_, hasAfter := f["after"]
				if hasBefore || hasAfter {
					t.Errorf("sensitive field has a value: %v", f)
				}
			}
		}
	}
	if seen != 2 {
		t.Errorf("saw %d sensitive fields, want 2", seen)
	}
}

// bigChangeset has n deletes (never grouped: each is listed with its id), each of about 60
// bytes of markdown.
func bigChangeset(n int) *reconcile.Changeset {
	cs := &reconcile.Changeset{}
	for i := range n {
		name := fmt.Sprintf("tenant-%05d", i)
		cs.Changes = append(cs.Changes, reconcile.Change{
			Name: name, Action: reconcile.Delete, Reason: reconcile.ReasonOrphan,
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		})
	}
	return cs
}

var cutNote = regexp.MustCompile(`(?m)^… ([0-9,]+) more changes not shown \(output limited to 60,000 bytes\); run flowsync plan locally for the full list\n\z`)

func TestMarkdownLimit(t *testing.T) {
	const total = 5000
	first := renderPlan(t, "markdown", false, bigChangeset(total))
	second := renderPlan(t, "markdown", false, bigChangeset(total))
	if first != second {
		t.Fatal("two renderings differ")
	}
	if len(first) > 60_000 {
		t.Fatalf("markdown is %d bytes, limit 60,000", len(first))
	}
	m := cutNote.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("no cut note at the end:\n…%s", first[len(first)-300:])
	}
	notShown, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	shown := strings.Count(first, "\n- **tenant-")
	if shown+notShown != total || shown == 0 {
		t.Errorf("shown %d + not shown %d != %d", shown, notShown, total)
	}
	if !strings.Contains(first, " 5,000 to delete, ") {
		t.Error("the count line does not count every change")
	}
	if strings.Count(first, "<details>") != strings.Count(first, "</details>") {
		t.Error("unbalanced <details>")
	}
	if strings.Count(first, "```")%2 != 0 {
		t.Error("unbalanced code fence")
	}
}

func TestMarkdownFitsExactly(t *testing.T) {
	// At every limit around the size of the full output, the output fits and either lists
	// everything or says how much it cut.
	cs := sampleChangeset()
	var full bytes.Buffer
	if err := (&markdownPlanView{io: IO{Out: &full}, limit: 1 << 20}).Plan(cs); err != nil {
		t.Fatal(err)
	}
	for limit := full.Len() - 600; limit <= full.Len()+10; limit += 7 {
		var out bytes.Buffer
		if err := (&markdownPlanView{io: IO{Out: &out}, limit: limit}).Plan(cs); err != nil {
			t.Fatal(err)
		}
		if out.Len() > limit {
			t.Errorf("limit %d: wrote %d bytes", limit, out.Len())
		}
		cut := strings.Contains(out.String(), "not shown (output limited to")
		if cut == (out.String() == full.String()) {
			t.Errorf("limit %d: cut=%v but output equals full=%v", limit, cut, out.String() == full.String())
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	cs := &reconcile.Changeset{Changes: []reconcile.Change{{
		Name: "a|b<script>`x`*y*", Action: reconcile.Update, Reason: reconcile.ReasonManifest, ID: "id<1>",
		Fields: []reconcile.FieldChange{{Path: "description", Before: "line\n```\n<b>", After: "new|`v`"}},
		Notes:  []string{"see <a href=x>here</a>"},
	}}}
	got := renderPlan(t, "markdown", false, cs)
	for _, bad := range []string{"<script>", "<a href", "\n```\n", "id<1>"} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains unescaped %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{`**a\|b&lt;script&gt;\` + "`x\\`" + `\*y\*** (id&lt;1&gt;)`, `- description: "line\n` + "```" + `\n<b>"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestInlineDiffColor(t *testing.T) {
	got := inlineDiff(longBefore, longAfter, palette{on: true})
	if !strings.Contains(got, sgrRed+"daily"+sgrReset+sgrGreen+"hourly"+sgrReset) {
		t.Errorf("colour diff = %q", got)
	}
	if strings.Contains(got, "[-") || strings.Contains(got, "{+") {
		t.Errorf("colour diff has plain markers: %q", got)
	}
}

func sampleSummary() *reconcile.Summary {
	return &reconcile.Summary{
		Results: []reconcile.Result{
			{Name: "acme-ap", Action: reconcile.Create, ID: "7c1e9a4b-2f3d-4c5e-8a6b-1d2e3f4a5b6c"},
			{Name: "acme-br", Action: reconcile.Create, ID: "0f6b2d1e-5a4c-4e1b-9d3a-7c2e8f1a0b9c", Healed: true, Adopted: true},
			{Name: "acme-eu", Action: reconcile.Update, ID: "3b4c5d6e-7f80-4912-a3b4-c5d6e7f80912", Retries412: 1},
			{Name: "acme-jp", Action: reconcile.Update, ID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
				Err: errors.New("400 bad request: auth.params.bucketName: invalid bucket name")},
			{Name: "acme-mx", Action: reconcile.Replace, ID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"},
			{Name: "acme-retired", Action: reconcile.Delete, ID: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"},
		},
		Failed: 1,
	}
}

var sampleStats = RunStats{Duration: 2225 * time.Millisecond, Requests: 412, Throttled: 3, Retries: 2}

// fakeClock advances by step on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func runApply(t *testing.T, format string, errTTY bool) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	v, err := NewApplyView(format, IO{Out: &out, Err: &errOut, ErrTTY: errTTY})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), step: time.Second}
	switch v := v.(type) {
	case *textApplyView:
		v.progress.now = clock.now
	case *jsonApplyView:
		v.progress.now = clock.now
	}
	s := sampleSummary()
	v.Started(len(s.Results))
	// Results arrive in completion order, from several goroutines.
	var wg sync.WaitGroup
	for i := len(s.Results) - 1; i >= 0; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.Result(s.Results[i])
		}()
		wg.Wait()
	}
	v.Done(s, sampleStats)
	return out.String(), errOut.String()
}

func TestApplyText(t *testing.T) {
	stdout, stderr := runApply(t, "text", false)
	checkGolden(t, "apply_text", stdout)
	// One clock step per result, a line every two seconds; the final count is not repeated
	// when the last line already said it.
	want := "apply: 2/6 done, 0 failed\napply: 4/6 done, 1 failed\napply: 6/6 done, 1 failed\n"
	if diff := cmp.Diff(want, stderr); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	again, _ := runApply(t, "text", false)
	if again != stdout {
		t.Error("two renderings differ")
	}
}

func TestApplyTextTerminal(t *testing.T) {
	stdout, stderr := runApply(t, "text", true)
	checkGolden(t, "apply_text", stdout)
	if !strings.Contains(stderr, "apply") || strings.Contains(stderr, "done,") {
		t.Errorf("terminal progress = %q, want a bar", stderr)
	}
}

func TestApplyJSON(t *testing.T) {
	stdout, _ := runApply(t, "json", false)
	checkGolden(t, "apply_json", stdout)
	validateJSON(t, compileSchema(t, "#/$defs/apply"), stdout)
}

func TestApplyDoneWithoutSummary(t *testing.T) {
	for _, format := range ApplyFormats() {
		var out bytes.Buffer
		v, err := NewApplyView(format, IO{Out: &out, Err: &out})
		if err != nil {
			t.Fatal(err)
		}
		v.Started(0)
		v.Done(nil, RunStats{})
		if format == "json" {
			validateJSON(t, compileSchema(t, "#/$defs/apply"), out.String())
		}
	}
}

func TestPrintError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		hints []string
		want  string
	}{
		{"nil", nil, nil, ""},
		{"plain", errors.New("create acme-eu: 412 precondition failed"), nil,
			"flowsync: error: create acme-eu: 412 precondition failed\n"},
		{"hints", errors.New("no credentials"), []string{"set FLOWSYNC_ACCESS_TOKEN", "", "or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET"},
			"flowsync: error: no credentials\nflowsync: hint: set FLOWSYNC_ACCESS_TOKEN\nflowsync: hint: or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET\n"},
		{"multi-line", fmt.Errorf("load manifest: %w", errors.New("m.yaml:3:5: connections[0].name: required\nm.yaml:9:7: connections[1]: unknown field \"bucket\"\n")),
			[]string{"run flowsync validate -f m.yaml"},
			"flowsync: error: load manifest: m.yaml:3:5: connections[0].name: required\n" +
				"                 m.yaml:9:7: connections[1]: unknown field \"bucket\"\n" +
				"flowsync: hint: run flowsync validate -f m.yaml\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			PrintError(&b, tt.err, tt.hints...)
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	tests := []struct {
		name string
		tty  bool
		env  func(string) (string, bool)
		want bool
	}{
		{"terminal", true, env("TERM", "xterm-256color"), true},
		{"not a terminal", false, env(), false},
		{"NO_COLOR", true, env("NO_COLOR", "1"), false},
		{"NO_COLOR empty", true, env("NO_COLOR", ""), false},
		{"dumb", true, env("TERM", "dumb"), false},
		{"FORCE_COLOR in a CI log", false, env("FORCE_COLOR", "1"), true},
		{"CLICOLOR_FORCE in a CI log", false, env("CLICOLOR_FORCE", "1"), true},
		{"FORCE_COLOR=0", false, env("FORCE_COLOR", "0"), false},
		{"FORCE_COLOR empty", false, env("FORCE_COLOR", ""), false},
		{"CLICOLOR_FORCE=0 on a terminal", true, env("CLICOLOR_FORCE", "0"), true},
		{"FORCE_COLOR on a dumb terminal", true, env("TERM", "dumb", "FORCE_COLOR", "true"), true},
		{"NO_COLOR wins over FORCE_COLOR", false, env("NO_COLOR", "", "FORCE_COLOR", "1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ColorEnabled(tt.tty, tt.env); got != tt.want {
				t.Errorf("ColorEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 4212: "4,212", 60000: "60,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMarkdownLongValueCut(t *testing.T) {
	long := strings.Repeat("é", 5000)
	cs := &reconcile.Changeset{Changes: []reconcile.Change{{
		Name: "big", Action: reconcile.Update, Reason: reconcile.ReasonManifest, ID: "id-1",
		Fields: []reconcile.FieldChange{{Path: "description", Before: long, After: long + "!"}},
	}}}
	got := renderPlan(t, "markdown", false, cs)
	if !strings.Contains(got, `… (4,000 more characters)`) || !strings.Contains(got, `… (4,001 more characters)`) {
		t.Errorf("long values not cut:\n%.400s", got)
	}
}

func TestInlineDiffKeepsBytes(t *testing.T) {
	// Invalid UTF-8 and multi-byte runes survive the word split, and the diff is quoted.
	before := strings.Repeat("a", 61) + " \xff café"
	after := strings.Repeat("a", 61) + " \xfe café"
	if got := strings.Join(splitWords(before), ""); got != before {
		t.Errorf("splitWords loses bytes: %q", got)
	}
	got := textFieldValue(reconcile.Update, reconcile.FieldChange{Path: "d", Before: before, After: after}, palette{})
	if want := `"…` + strings.Repeat("a", diffContext-1) + ` [-\xff-]{+\xfe+} café"`; got != want {
		t.Errorf("inline diff = %s, want %s", got, want)
	}
}
