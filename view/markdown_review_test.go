package view

import (
	"regexp"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/reconcile"
)

// A name or value that would mention someone in a pull-request comment (@everyone, @org/team)
// is shown as written but pings nobody; an @ inside a word (an org id) is left alone.
func TestMarkdownMentionsEscaped(t *testing.T) {
	cs := &reconcile.Changeset{Manifest: "m.yaml", Sandbox: "prod", OrgID: "5C1328435BF324E90A49402A@AdobeOrg",
		Changes: []reconcile.Change{{Name: "@everyone", Action: reconcile.Create, Reason: reconcile.ReasonManifest,
			Fields: []reconcile.FieldChange{{Path: "description", After: "ask @org/team"}}}},
		Unmanaged: []reconcile.Unmanaged{{Name: "x @here", IDs: []string{"id-1"}}},
	}
	got := renderPlan(t, "markdown", false, cs)
	// GitHub's mentions: an @ at the start or after a non-word character, then a letter or
	// digit, outside code (fenced blocks and code spans are never mentions).
	prose := regexp.MustCompile("(?s)```.*?```|`[^`]*`").ReplaceAllString(got, "")
	if m := regexp.MustCompile(`(?m)(^|[^\p{L}\p{N}_])@[\p{L}\p{N}]`).FindAllString(prose, -1); len(m) > 0 {
		t.Errorf("mentions left in the markdown plan: %q\n%s", m, got)
	}
	for _, want := range []string{"@\u2060everyone", "x @\u2060here", "5C1328435BF324E90A49402A@AdobeOrg"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// A sensitive param a replace removes is said the same way in markdown as in text.
func TestMarkdownSensitiveRemovedAsText(t *testing.T) {
	cs := &reconcile.Changeset{Manifest: "m.yaml", Sandbox: "prod", Refreshed: true,
		Changes: []reconcile.Change{{Name: "acme-eu", ID: "id-1", Action: reconcile.Replace, Reason: reconcile.ReasonManifest,
			Fields: []reconcile.FieldChange{
				{Path: "auth.specName", Before: "Access Key", After: "IAMRole Based"},
				{Path: "auth.params.s3SecretKey", Sensitive: true, Removed: true},
			}}},
	}
	text := renderPlan(t, "text", false, cs)
	md := renderPlan(t, "markdown", false, cs)
	if !strings.Contains(text, "auth.params.s3SecretKey: (sensitive value removed)") {
		t.Fatalf("text:\n%s", text)
	}
	if !strings.Contains(md, "auth.params.s3SecretKey: (sensitive value removed)") || strings.Contains(md, "(sensitive value changed)") {
		t.Errorf("markdown does not say what text says (sensitive value removed):\n%s", md)
	}
}
