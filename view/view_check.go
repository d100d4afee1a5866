package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/health"
	"github.com/flowsync/flowsync/workspace"
)

// CheckFormats are the values --output accepts for check.
func CheckFormats() []string { return []string{"text", "json"} }

// CheckReport is what check found; the check views render it.
type (
	CheckReport = workspace.CheckReport
	NotTested   = workspace.NotTested
)

// checkView renders what check found.
type checkView interface {
	Check(r *CheckReport) error
}

func newCheckView(format string, io IO) (checkView, error) {
	switch format {
	case "text":
		return &textCheckView{io: io}, nil
	case "json":
		return &jsonCheckView{io: io}, nil
	}
	return nil, unknownFormat(format, CheckFormats())
}

// textCheckView lists the preflight, then only the connections that are not healthy (a
// fleet of thousands is read at a glance), then one count line and what to do next.
type textCheckView struct{ io IO }

func (v *textCheckView) Check(r *CheckReport) error {
	p := palette{on: v.io.Color}
	var b strings.Builder
	b.WriteString("Preflight:\n")
	fmt.Fprintf(&b, "  %s  org %s and sandbox %s accept the credentials\n", p.green("ok  "), r.Target.OrgID, r.Target.Sandbox)
	specDiffs := 0
	for _, d := range r.Comparison.Differences {
		if d.Entry == "" {
			specDiffs++
		}
	}
	if r.Spec != nil && specDiffs == 0 {
		fmt.Fprintf(&b, "  %s  connection spec %s (%s, version %s) describes the auth specs as flowsync validates them\n",
			p.green("ok  "), r.Spec.ID, r.Spec.Name, r.Spec.Version)
	}
	for _, d := range r.Comparison.Differences {
		fmt.Fprintf(&b, "  %s  %s\n", p.yellow("diff"), d.Message)
	}
	for _, o := range r.Comparison.Other {
		fmt.Fprintf(&b, "  %s  the service also offers auth spec %q, which flowsync does not manage\n", p.dim("note"), o)
	}

	b.WriteString("Connections:\n")
	shown := 0
	for _, res := range r.Results {
		var label string
		switch res.Status {
		case health.Healthy:
			continue
		case health.Failing:
			label = p.red("failing  ")
		case health.NotFound:
			label = p.red("not found")
		default:
			label = p.red("error    ")
		}
		fmt.Fprintf(&b, "  %s  %s (%s): %s\n", label, safe(res.Name), safe(res.ID), safe(res.Message))
		shown++
	}
	for _, n := range r.NotTested {
		fmt.Fprintf(&b, "  %s  %s: %s\n", p.dim("untested "), safe(n.Name), safe(n.Reason))
		shown++
	}
	for _, f := range r.Foreign {
		fmt.Fprintf(&b, "  %s  %s (%s): %s, not by the API key in use: flowsync manages it only because the lockfile records it\n",
			p.yellow("owner    "), safe(f.Name), safe(f.Owner.ID), safe(f.Owner.Created()))
	}
	if shown == 0 {
		if len(r.Results) == 0 {
			b.WriteString("  (no recorded connection to test)\n")
		} else {
			fmt.Fprintf(&b, "  all %s recorded connections reach their source\n", thousands(len(r.Results)))
		}
	}

	diffs := len(r.Comparison.Differences)
	verdict := p.green("healthy")
	if !r.Healthy() {
		verdict = p.red("unhealthy")
	}
	fmt.Fprintf(&b, "\nCheck: %s: %s; %s.\n", verdict, plural(diffs, "preflight difference", "preflight differences"), describeResults(r))

	if r.Count(health.Failing) > 0 {
		fmt.Fprintf(&b, "\nThe failing connections' stored credentials no longer work: put fresh credentials where the manifest's secret references point, run \"flowsync apply %s\" (it sends only the changed secrets, one PATCH per connection), then run check again.\n", r.Files)
	}
	if r.Count(health.NotFound) > 0 {
		fmt.Fprintf(&b, "\nConnections not found were deleted outside flowsync: \"flowsync plan %s --refresh\" shows them created again by the next apply.\n", r.Files)
	}
	if specDiffs > 0 {
		b.WriteString("\nThe service describes the Amazon S3 source differently from the rules flowsync validates, and the service's description wins: a connection flowsync creates or updates may be refused. Fix the manifest entries listed above, or upgrade flowsync.\n")
	} else if diffs > 0 {
		b.WriteString("\nThe service would refuse the manifest entries listed above: fix them before the next apply.\n")
	}
	_, err := fmt.Fprint(v.io.Out, b.String())
	return err
}

// describeResults is the count part of the check line: "3 tested: 2 ok, 1 failing".
func describeResults(r *CheckReport) string {
	parts := []string{thousands(r.Count(health.Healthy)) + " ok", thousands(r.Count(health.Failing)) + " failing"}
	if n := r.Count(health.NotFound); n > 0 {
		parts = append(parts, thousands(n)+" not found")
	}
	if n := r.Count(health.Errored); n > 0 {
		parts = append(parts, thousands(n)+" could not be tested")
	}
	return thousands(len(r.Results)) + " tested: " + strings.Join(parts, ", ")
}

// checkFormatVersion is the version of the check JSON document (docs/check-json.md): additive
// changes keep 1.x, breaking ones bump the major.
const checkFormatVersion = "1.0"

type jsonCheckView struct{ io IO }

type jsonCheck struct {
	FormatVersion string            `json:"format_version"`
	Healthy       bool              `json:"healthy"`
	Target        jsonCheckTarget   `json:"target"`
	Preflight     jsonPreflight     `json:"preflight"`
	Summary       jsonCheckSummary  `json:"summary"`
	Connections   []jsonCheckResult `json:"connections"`
	NotTested     []jsonNotTested   `json:"not_tested"`
	// Foreign: tested connections another API key created (present only when there are some).
	Foreign []jsonForeign `json:"created_by_other_key,omitempty"`
}

type jsonForeign struct {
	Name string `json:"name"`
	jsonOwner
}

type jsonCheckTarget struct {
	OrgID   string `json:"org_id"`
	Sandbox string `json:"sandbox"`
}

type jsonPreflight struct {
	Credentials    bool                 `json:"credentials"`
	ConnectionSpec *jsonConnectionSpec  `json:"connection_spec"`
	Differences    []jsonSpecDifference `json:"differences"`
	OtherAuthSpecs []string             `json:"other_auth_specs"`
}

type jsonConnectionSpec struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	AuthSpecs []string `json:"auth_specs"`
}

type jsonSpecDifference struct {
	Kind     string `json:"kind"`
	AuthSpec string `json:"auth_spec,omitempty"`
	Param    string `json:"param,omitempty"`
	Entry    string `json:"entry,omitempty"`
	Message  string `json:"message"`
}

type jsonCheckSummary struct {
	Tested      int `json:"tested"`
	OK          int `json:"ok"`
	Failing     int `json:"failing"`
	NotFound    int `json:"not_found"`
	Errors      int `json:"errors"`
	NotTested   int `json:"not_tested"`
	Differences int `json:"differences"`
}

type jsonCheckResult struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

type jsonNotTested struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (v *jsonCheckView) Check(r *CheckReport) error {
	doc := jsonCheck{
		FormatVersion: checkFormatVersion,
		Healthy:       r.Healthy(),
		Target:        jsonCheckTarget{OrgID: r.Target.OrgID, Sandbox: r.Target.Sandbox},
		Preflight: jsonPreflight{
			Credentials:    true,
			ConnectionSpec: specJSON(r.Spec),
			Differences:    []jsonSpecDifference{},
			OtherAuthSpecs: append([]string{}, r.Comparison.Other...),
		},
		Summary: jsonCheckSummary{
			Tested: len(r.Results), OK: r.Count(health.Healthy), Failing: r.Count(health.Failing),
			NotFound: r.Count(health.NotFound), Errors: r.Count(health.Errored),
			NotTested: len(r.NotTested), Differences: len(r.Comparison.Differences),
		},
		Connections: []jsonCheckResult{},
		NotTested:   []jsonNotTested{},
	}
	for _, d := range r.Comparison.Differences {
		doc.Preflight.Differences = append(doc.Preflight.Differences, jsonSpecDifference{
			Kind: string(d.Kind), AuthSpec: d.AuthSpec, Param: d.Param, Entry: d.Entry, Message: d.Message})
	}
	for _, res := range r.Results {
		doc.Connections = append(doc.Connections, jsonCheckResult{Name: res.Name, ID: res.ID, Status: string(res.Status), Message: res.Message})
	}
	for _, f := range r.Foreign {
		doc.Foreign = append(doc.Foreign, jsonForeign{Name: f.Name, jsonOwner: jsonOwnerOf(f.Owner)})
	}
	for _, n := range r.NotTested {
		doc.NotTested = append(doc.NotTested, jsonNotTested(n))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := v.io.Out.Write(buf.Bytes())
	return err
}

func specJSON(cs *flowservice.ConnectionSpec) *jsonConnectionSpec {
	if cs == nil {
		return nil
	}
	out := &jsonConnectionSpec{ID: cs.ID, Name: cs.Name, Version: cs.Version, AuthSpecs: []string{}}
	for _, a := range cs.AuthSpec {
		out.AuthSpecs = append(out.AuthSpecs, a.Name)
	}
	return out
}
