package view

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
)

// awsRegions are the regions the distinct-creates plan cycles through.
var awsRegions = []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "eu-central-1", "ca-central-1", "sa-east-1"}

// distinctCreatePlan is n new entries as a real onboarding has them: each its own bucket,
// folder, region and description.
func distinctCreatePlan(t *testing.T, n int) *reconcile.Changeset {
	t.Helper()
	want := genDesired(n, "")
	for i := range want {
		want[i].Description = fmt.Sprintf("landing bucket of team %03d", i+1)
		want[i].Params["folderPath"] = reconcile.Param{Value: fmt.Sprintf("events/team-%03d", i+1), Known: true}
		want[i].Params["serviceUrl"] = reconcile.Param{Value: "https://s3." + awsRegions[i%len(awsRegions)] + ".amazonaws.com/", Known: true}
	}
	lock, err := lockfile.New(lockfile.Target{OrgID: "org@AdobeOrg", Sandbox: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	cs := reconcile.Plan(want, lock, nil, reconcile.Options{})
	cs.Manifest, cs.Sandbox, cs.OrgID = "onboarding.yaml", "prod", "org@AdobeOrg"
	return cs
}

// rotationPlan is a session-token rotation of n recorded connections.
func rotationPlan(n int) *reconcile.Changeset {
	cs := &reconcile.Changeset{Manifest: "onboarding.yaml", Sandbox: "prod", OrgID: "org@AdobeOrg"}
	for i := range n {
		cs.Changes = append(cs.Changes, reconcile.Change{
			Name: fmt.Sprintf("name-%03d", i+1), Action: reconcile.Update, Reason: reconcile.ReasonManifest,
			ID:     fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1),
			Fields: []reconcile.FieldChange{{Path: "auth.params.s3SessionToken", Sensitive: true}},
		})
	}
	return cs
}

// oneDefaultPlan is one changed default on n recorded connections.
func oneDefaultPlan(n int) *reconcile.Changeset {
	cs := rotationPlan(n)
	for i := range cs.Changes {
		cs.Changes[i].Fields = []reconcile.FieldChange{{Path: "description", Before: "Managed by flowsync", After: "Managed by the platform team"}}
	}
	return cs
}

// TestPlanReviewScales: the plans a reviewer meets most, in text and markdown, fit the line
// counts SPEC "Reviewing at scale" gives, the count line and the target first.
func TestPlanReviewScales(t *testing.T) {
	tests := []struct {
		golden   string
		cs       func(t *testing.T) *reconcile.Changeset
		maxLines int
	}{
		{"plan_rotation200", func(*testing.T) *reconcile.Changeset { return rotationPlan(200) }, 60},
		{"plan_distinct500", func(t *testing.T) *reconcile.Changeset { return distinctCreatePlan(t, 500) }, 120},
		{"plan_default500", func(*testing.T) *reconcile.Changeset { return oneDefaultPlan(500) }, 20},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "markdown"} {
			t.Run(tt.golden+"_"+format, func(t *testing.T) {
				got := renderPlan(t, format, false, tt.cs(t))
				if again := renderPlan(t, format, false, tt.cs(t)); again != got {
					t.Fatal("two renderings of the same plan differ")
				}
				checkGolden(t, tt.golden+"_"+format, got)
				lines := strings.Count(got, "\n")
				t.Logf("%s %s: %d lines, %d bytes", tt.golden, format, lines, len(got))
				if lines > tt.maxLines {
					t.Errorf("%d lines, want at most %d", lines, tt.maxLines)
				}
				if len(got) >= markdownLimit {
					t.Errorf("%d bytes, want under %d", len(got), markdownLimit)
				}
				first := "Plan: "
				if format == "markdown" {
					first = mdHeading + "**Plan: "
					if !strings.Contains(got, "\n\nManifest **onboarding.yaml** · sandbox **prod** · org org@AdobeOrg. Compared with ") {
						t.Errorf("the manifest and sandbox are not named:\n%s", got)
					}
				}
				if !strings.HasPrefix(got, first) {
					t.Errorf("the count line is not first:\n%s", got)
				}
			})
		}
	}
}

// TestPlanDistinctCreatesTable: creates past the first few are rows of name, bucket, folder
// and region (derived from serviceUrl), in text and in markdown.
func TestPlanDistinctCreatesTable(t *testing.T) {
	text := renderPlan(t, "text", false, distinctCreatePlan(t, 500))
	if !regexp.MustCompile(`(?m)^    name-004 +bucket-004 +events/team-004 +ap-southeast-2$`).MatchString(text) {
		t.Errorf("no row for name-004 in the text plan:\n%s", text)
	}
	md := renderPlan(t, "markdown", false, distinctCreatePlan(t, 500))
	for _, want := range []string{"| name | bucket | folder | region |\n", "| name-004 | bucket-004 | events/team-004 | ap-southeast-2 |\n",
		"each row also with its own description"} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown plan lacks %q:\n%s", want, md)
		}
	}
}

// planNames are the entry names a rendered plan mentions, in order, each once.
var planNameRE = regexp.MustCompile(`(?:name|acme)-[a-z0-9]+`)

func namesInOrder(out string) []string {
	var names []string
	seen := map[string]bool{}
	for _, n := range planNameRE.FindAllString(out, -1) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// TestPlanTextMarkdownSameOrder: the text and markdown plans list the same changes in the
// same order, whatever the mix.
func TestPlanTextMarkdownSameOrder(t *testing.T) {
	mixed := func(t *testing.T) *reconcile.Changeset {
		cs := distinctCreatePlan(t, 40)
		up := defaultChangedPlan(60)
		for i := range up.Changes {
			up.Changes[i].Name = fmt.Sprintf("name-u%02d", i)
		}
		cs.Changes = append(cs.Changes, up.Changes...)
		cs.Changes = append(cs.Changes,
			reconcile.Change{Name: "name-gone", Action: reconcile.Delete, ID: "id-gone"},
			reconcile.Change{Name: "name-kept", Action: reconcile.Orphan, ID: "id-kept"},
			reconcile.Change{Name: "name-spec", Action: reconcile.Replace, ID: "id-spec",
				Fields: []reconcile.FieldChange{{Path: "specName", Before: "Access Key", After: "IAMRole Based"}}})
		cs.Unmanaged = []reconcile.Unmanaged{{Name: "name-theirs", IDs: []string{"id-1"}}, {Name: "name-z", IDs: []string{"id-2"}}}
		return cs
	}
	for name, cs := range map[string]func(*testing.T) *reconcile.Changeset{
		"sample": func(*testing.T) *reconcile.Changeset { return sampleChangeset() },
		"mixed":  mixed,
		"500":    func(t *testing.T) *reconcile.Changeset { return distinctCreatePlan(t, 500) },
		"update": func(*testing.T) *reconcile.Changeset { return defaultChangedPlan(500) },
	} {
		t.Run(name, func(t *testing.T) {
			text := namesInOrder(renderPlan(t, "text", false, cs(t)))
			md := namesInOrder(renderPlan(t, "markdown", false, cs(t)))
			if diff := cmp.Diff(text, md); diff != "" {
				t.Errorf("text and markdown list other changes or another order (-text +markdown):\n%s", diff)
			}
			if len(text) == 0 {
				t.Error("no names listed")
			}
		})
	}
}

// TestMarkdownAlwaysFits: whatever the plan, the markdown stays under the limit, and the
// deletes (kept first) are the last to be cut.
func TestMarkdownAlwaysFits(t *testing.T) {
	cs := distinctCreatePlan(t, 3000)
	big := bigChangeset(3000)
	cs.Changes = append(cs.Changes, big.Changes...)
	for i := range 3000 {
		cs.Unmanaged = append(cs.Unmanaged, reconcile.Unmanaged{Name: fmt.Sprintf("zz-%04d", i), IDs: []string{"some-id"}})
	}
	got := renderPlan(t, "markdown", false, cs)
	if len(got) >= markdownLimit {
		t.Fatalf("%d bytes, want under %d", len(got), markdownLimit)
	}
	if !strings.Contains(got, "- **tenant-00000**") || !strings.Contains(got, "not shown (output limited to 60,000 bytes)") {
		t.Errorf("deletes not kept first, or no cut note:\n%s", got[len(got)-500:])
	}
	if strings.Count(got, "<details>") != strings.Count(got, "</details>") || strings.Count(got, "```")%2 != 0 {
		t.Error("unbalanced blocks")
	}
}

// TestUnmanagedGrouped: several unmanaged names are one group, counted, each with the
// import command of its real id, quoted.
func TestUnmanagedGrouped(t *testing.T) {
	cs := &reconcile.Changeset{Manifest: "my m.yaml", Lockfile: "l.json"}
	for i := range 35 {
		cs.Unmanaged = append(cs.Unmanaged, reconcile.Unmanaged{Name: fmt.Sprintf("n%02d", i), IDs: []string{fmt.Sprintf("id-%02d", i)}})
	}
	got := renderPlan(t, "text", false, cs)
	for _, want := range []string{
		"? unmanaged 35 names: live connections not owned by flowsync — never patched or deleted\n",
		"    n00: id-00; if it is this entry's, record it: flowsync import -f 'my m.yaml' --lockfile l.json -- n00 id-00\n",
		"    … and 5 more (every one: --output json)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, " ID\n") {
		t.Errorf("the placeholder ID is printed:\n%s", got)
	}
	// The command runs as printed: a shell splits it into the arguments import needs.
	odd := &reconcile.Changeset{Manifest: "it's $HOME.yaml", Unmanaged: []reconcile.Unmanaged{{Name: "a b'c", IDs: []string{"id $x"}}}}
	line := renderPlan(t, "text", false, odd)
	_, cmd, ok := strings.Cut(strings.TrimSpace(line[strings.Index(line, "? unmanaged"):]), "record it: ")
	if !ok {
		t.Fatalf("no command in %q", line)
	}
	out, err := exec.Command("sh", "-c", "printf '%s\\n' "+strings.TrimPrefix(cmd, "flowsync ")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "import\n-f\nit's $HOME.yaml\n--\na b'c\nid $x\n"
	if string(out) != want {
		t.Errorf("sh -c %q gives %q, want %q", cmd, out, want)
	}
}

// TestApplyRateOnlyWhenMeaningful: a rate is printed for a run long and large enough to have
// one, never for one request in a few microseconds.
func TestApplyRateOnlyWhenMeaningful(t *testing.T) {
	for _, tt := range []struct {
		stats RunStats
		want  string
	}{
		{RunStats{Requests: 1, Duration: 25 * time.Microsecond}, "1 request, 0 throttled.\n"},
		{RunStats{Requests: 500, Duration: 20 * time.Millisecond}, "500 requests, 0 throttled.\n"},
		{RunStats{Requests: 500, Duration: 2 * time.Second}, "500 requests, 0 throttled, 250.0 requests/s.\n"},
	} {
		var out strings.Builder
		v, _ := NewApplyView("text", IO{Out: &out, Err: &strings.Builder{}})
		v.Started(1)
		v.Done(&reconcile.Summary{Results: []reconcile.Result{{Name: "a", Action: reconcile.Create, ID: "x"}}}, tt.stats)
		if !strings.HasSuffix(out.String(), tt.want) {
			t.Errorf("%+v: got %q, want it to end with %q", tt.stats, out.String(), tt.want)
		}
	}
}
