package manifest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// longManifest is a valid manifest of 1,000 lines (lines 1–10 the head, then entries of six
// lines each, the first at line 11), as a generated onboarding manifest looks.
func longManifest() []string {
	l := []string{"version: 1", "target:", "  orgId: 5C1328435BF324E90A49402A@AdobeOrg", "  sandbox: prod",
		"defaults:", "  auth:", "    specName: Access Key", "    params: {s3AccessKey: {env: S3_ACCESS_KEY}, s3SecretKey: {env: S3_SECRET_KEY}}",
		"# every entry its own bucket, folder and description", "connections:"}
	for i := 0; len(l) < 1000; i++ {
		l = append(l,
			fmt.Sprintf("  - name: team-%03d", i),
			fmt.Sprintf("    description: \"landing bucket of team %03d\"", i),
			"    auth:",
			"      params:",
			fmt.Sprintf("        bucketName: team-%03d-landing", i),
			fmt.Sprintf("        folderPath: 'events/%03d'", i))
	}
	return l[:1000]
}

// at returns the index of the first line from index 905 (line 906) that contains sub.
func at(l []string, sub string) int {
	for i := 905; i < len(l); i++ {
		if strings.Contains(l[i], sub) {
			return i
		}
	}
	panic("no line with " + sub)
}

var diagLine = regexp.MustCompile(`^big\.yaml:(\d+):(\d+): `)

// TestYAMLErrorLines: each common mistake at about line 906 of a 1,000-line manifest is
// reported within one line of where it is (the decoder alone says line 10, "connections:",
// for several of them), saying what is wrong.
func TestYAMLErrorLines(t *testing.T) {
	tests := []struct {
		name  string
		sub   string                // the line the mistake is made on
		edit  func(s string) string // the mistake
		exact bool                  // reported on that very line (else within one)
	}{
		{"indentation one less", "bucketName", func(s string) string { return s[1:] }, true},
		{"indentation of a key one less", "    auth:", func(s string) string { return s[1:] }, true},
		{"indentation of a key one more", "    auth:", func(s string) string { return " " + s }, true},
		{"indentation two more", "bucketName", func(s string) string { return "  " + s }, true},
		{"indentation of a later key one more", "folderPath", func(s string) string { return " " + s }, false},
		{"indentation of the first key of an entry", "description", func(s string) string { return "  " + s }, true},
		{"a tab", "bucketName", func(s string) string { return "\t" + strings.TrimLeft(s, " ") }, true},
		{"a tab after spaces", "bucketName", func(s string) string { return "    \t" + strings.TrimLeft(s, " ") }, true},
		{"a missing dash", "- name", func(s string) string { return strings.Replace(s, "- name", "name", 1) }, true},
		{"a missing dash on the first entry", "- name: team-000", func(s string) string { return strings.Replace(s, "- name", "  name", 1) }, true},
		{"an unclosed double quote", "description", func(s string) string { return strings.TrimSuffix(s, `"`) }, true},
		{"an unclosed single quote", "folderPath", func(s string) string { return strings.TrimSuffix(s, `'`) }, true},
		{"an unclosed bracket", "bucketName", func(s string) string { return strings.Replace(s, ": ", ": [", 1) }, true},
		{"an unclosed brace", "bucketName", func(s string) string { return strings.Replace(s, ": ", ": {a: ", 1) }, true},
	}
	var golden strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := longManifest()
			i := slices.IndexFunc(l, func(s string) bool { return strings.HasSuffix(s, tt.sub) }) // the first entry, line 11
			if !strings.HasSuffix(tt.sub, "-000") {
				i = at(l, tt.sub)
			}
			l[i] = tt.edit(l[i])
			_, err := Parse("big.yaml", []byte(strings.Join(l, "\n")+"\n"))
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			fmt.Fprintf(&golden, "# %s at line %d: %q\n%s\n", tt.name, i+1, l[i], got)
			m := diagLine.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("no position in %q", got)
			}
			line, _ := strconv.Atoi(m[1])
			if d := line - (i + 1); d != 0 && (tt.exact || d < -1 || d > 1) {
				t.Errorf("mistake at line %d reported at line %d: %s", i+1, line, got)
			}
		})
	}
	checkGolden(t, "yaml_errors", golden.String())
}

// TestYAMLValidPrefixUnknown: when the prefixes do not pin a line (a document that breaks
// only in its last line is found; a valid one reports nothing), breakLine makes nothing up.
func TestBreakLine(t *testing.T) {
	if line, _, _ := breakLine([]byte("a: 1\nb: 2\n")); line != 0 {
		t.Errorf("a valid document breaks at line %d", line)
	}
	if line, _, _ := breakLine(nil); line != 0 {
		t.Errorf("an empty document breaks at line %d", line)
	}
	if line, col, msg := breakLine([]byte("a: 1\nb: [1, 2\n")); line != 2 || col != 4 || !strings.Contains(msg, "never closed") {
		t.Errorf("got %d:%d %q, want 2:4 and an unclosed [", line, col, msg)
	}
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
		t.Fatalf("%v (run go test ./manifest -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
