package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// head is a valid manifest up to "connections:" (line 11); entries start on line 12.
const head = `version: 1
target:
  orgId: 5C1328435BF324E90A49402A@AdobeOrg
  sandbox: prod
defaults:
  auth:
    specName: Access Key
    params:
      s3AccessKey: {env: S3_ACCESS_KEY}
      s3SecretKey: {env: S3_SECRET_KEY}
connections:
`

// entry is a valid connection entry at line 12 plus whatever params are given (from line 17).
func entry(name string, params ...string) string {
	s := "  - name: " + name + "\n    auth:\n      params:\n        serviceUrl: https://s3.eu-west-1.amazonaws.com/\n        bucketName: acme-bucket\n"
	for _, p := range params {
		s += "        " + p + "\n"
	}
	return s
}

func diagLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error is %T, not Diagnostics: %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseProblems(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"malformed YAML", "version: 1\ntarget:\n  orgId: [\n", []string{
			"m.yaml:3:10: invalid YAML: the [ opened here is never closed (with ]) (did not find expected node content)",
		}},
		{"tab indentation", "version: 1\ntarget:\n\torgId: x\n", []string{
			"m.yaml:3:1: invalid YAML: a tab in the indentation: YAML indents with spaces only (found character that cannot start any token)",
		}},
		{"empty file", "", []string{"m.yaml:1:1: the manifest is empty"}},
		{"comments only", "# nothing\n", []string{"m.yaml:1:1: the manifest is empty"}},
		{"two documents", head + entry("a") + "---\nversion: 1\n", []string{
			"m.yaml:18:1: a manifest is one YAML document, but another one starts here",
		}},
		{"not a mapping", "- a\n- b\n", []string{"m.yaml:1:1: must be a mapping, not a list"}},
		{"duplicate names", head + entry("acme") + entry("other") + entry("acme"), []string{
			"m.yaml:22:11: connections[2].name: duplicate name \"acme\": first used at line 12",
		}},
		{"duplicate key", head + "  - name: a\n    name: b\n", []string{
			"m.yaml:13:5: connections[0].name: duplicate key \"name\" (first at line 12)",
		}},
		{"bucket too short", head + strings.Replace(entry("a"), "acme-bucket", "ab", 1), []string{
			"m.yaml:16:21: connections[0].auth.params.bucketName: bucket names are 3 to 63 characters long, this one has 2",
		}},
		{"bucket ends with hyphen", head + strings.Replace(entry("a"), "acme-bucket", "acme-", 1), []string{
			`m.yaml:16:21: connections[0].auth.params.bucketName: bucket names start and end with a letter or a digit (did you mean "acme"?)`,
		}},
		{"bucket with a space", head + strings.Replace(entry("a"), "acme-bucket", `"Team Logs"`, 1), []string{
			`m.yaml:16:21: connections[0].auth.params.bucketName: bucket names hold only lowercase letters, digits, dots and hyphens (did you mean "team-logs"?)`,
		}},
		{"bucket with adjacent dots", head + strings.Replace(entry("a"), "acme-bucket", "logs..example.com", 1), []string{
			`m.yaml:16:21: connections[0].auth.params.bucketName: bucket names hold no two adjacent dots (did you mean "logs.example.com"?)`,
		}},
		{"bucket reserved prefix", head + strings.Replace(entry("a"), "acme-bucket", "xn--logs", 1), []string{
			`m.yaml:16:21: connections[0].auth.params.bucketName: bucket names do not start with "xn--" (reserved by AWS) (did you mean "xn-logs"?)`,
		}},
		{"bucket reserved suffix", head + strings.Replace(entry("a"), "acme-bucket", "logs.mrap", 1), []string{
			`m.yaml:16:21: connections[0].auth.params.bucketName: bucket names do not end with ".mrap" (reserved by AWS) (did you mean "logs"?)`,
		}},
		{"bucket IP-shaped", head + strings.Replace(entry("a"), "acme-bucket", "192.168.5.4", 1), []string{
			"m.yaml:16:21: connections[0].auth.params.bucketName: bucket names are not shaped like an IP address",
		}},
		{"bucket a number", head + strings.Replace(entry("a"), "acme-bucket", "12345", 1), []string{
			"m.yaml:16:21: connections[0].auth.params.bucketName: must be a string or a secret reference ({env: NAME} or {file: PATH}), not a number",
		}},
		{"literal secret key", head + entry("a", "s3SecretKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), []string{
			"m.yaml:17:22: connections[0].auth.params.s3SecretKey: a secret must never be committed: use {env: NAME} or {file: PATH}",
		}},
		{"literal session token", head + entry("a", "s3SessionToken: FwoGZXIvYXdzE"), []string{
			"m.yaml:17:25: connections[0].auth.params.s3SessionToken: a secret must never be committed: use {env: NAME} or {file: PATH}",
		}},
		{"literal secret in defaults", strings.Replace(head, "{env: S3_SECRET_KEY}", "hunter2", 1) + entry("a"), []string{
			"m.yaml:10:20: defaults.auth.params.s3SecretKey: a secret must never be committed: use {env: NAME} or {file: PATH}",
		}},
		{"unknown field at root", "versoin: 1\n" + head + entry("a"), []string{
			"m.yaml:1:1: versoin: unknown field: did you mean \"version\"?",
		}},
		{"unknown field in target", strings.Replace(head, "  sandbox: prod\n", "  sandbox: prod\n  region: eu\n", 1) + entry("a"), []string{
			"m.yaml:5:3: target.region: unknown field: expected one of orgId, sandbox",
		}},
		{"unknown field in defaults", strings.Replace(head, "defaults:\n", "defaults:\n  name: x\n", 1) + entry("a"), []string{
			"m.yaml:6:3: defaults.name: unknown field: expected one of auth, connectionSpec, description",
		}},
		{"unknown field in connection", head + entry("a") + "    descripton: x\n", []string{
			"m.yaml:17:5: connections[0].descripton: unknown field: did you mean \"description\"?",
		}},
		{"unknown field in auth", head + "  - name: a\n    auth:\n      specname: Access Key\n", []string{
			"m.yaml:14:7: connections[0].auth.specname: unknown field: did you mean \"specName\"?",
		}},
		{"unknown field in params", head + entry("a", "bucket: x"), []string{
			"m.yaml:17:9: connections[0].auth.params.bucket: unknown field: did you mean \"bucketName\"?",
		}},
		{"unknown field in connectionSpec", head + entry("a") + "    connectionSpec: {id: ecadc60c-7455-4d87-84dc-2a0e293d997b, name: s3}\n", []string{
			"m.yaml:17:64: connections[0].connectionSpec.name: unknown field: expected one of id, version",
		}},
		{"unknown field in reference", head + entry("a", "s3SessionToken: {environment: TOKEN}"), []string{
			"m.yaml:17:26: connections[0].auth.params.s3SessionToken.environment: unknown field: a secret reference is {env: NAME} or {file: PATH}",
		}},
		{"reference with two keys", head + entry("a", "s3SessionToken: {env: TOKEN, file: token.txt}"), []string{
			"m.yaml:17:25: connections[0].auth.params.s3SessionToken: a secret reference has exactly one key: {env: NAME} or {file: PATH}",
		}},
		{"reference outside params", head + entry("a") + "    description: {env: DESCRIPTION}\n", []string{
			"m.yaml:17:18: connections[0].description: secret references ({env: NAME}, {file: PATH}) are allowed only under auth.params",
		}},
		{"reference as target", strings.Replace(head, "  sandbox: prod\n", "  sandbox: {env: SANDBOX}\n", 1) + entry("a"), []string{
			"m.yaml:4:12: target.sandbox: secret references ({env: NAME}, {file: PATH}) are allowed only under auth.params",
		}},
		{"reference as specName", head + "  - name: a\n    auth:\n      specName: {file: spec.txt}\n", []string{
			"m.yaml:14:17: connections[0].auth.specName: secret references ({env: NAME}, {file: PATH}) are allowed only under auth.params",
		}},
		{"version 2", strings.Replace(head, "version: 1", "version: 2", 1) + entry("a"), []string{
			"m.yaml:1:10: version: this flowsync reads manifest version 1",
		}},
		{"version as string", strings.Replace(head, "version: 1", `version: "1"`, 1) + entry("a"), []string{
			"m.yaml:1:10: version: this flowsync reads manifest version 1",
		}},
		{"version missing", strings.Replace(head, "version: 1\n", "", 1) + entry("a"), []string{
			`m.yaml:1:1: version: required field is missing: add "version: 1"`,
		}},
		{"another connection spec", head + entry("a") + "    connectionSpec: {id: b7bf2577-4520-42c9-bae9-cad01560f7bc, version: \"1.0\"}\n", []string{
			"m.yaml:17:26: connections[0].connectionSpec.id: flowsync manages the Amazon S3 source only (connection spec ecadc60c-7455-4d87-84dc-2a0e293d997b): leave connectionSpec out",
		}},
		{"another spec version", head + entry("a") + "    connectionSpec: {id: ecadc60c-7455-4d87-84dc-2a0e293d997b, version: \"2.0\"}\n", []string{
			`m.yaml:17:73: connections[0].connectionSpec.version: flowsync manages version "1.0" of the Amazon S3 source: leave connectionSpec out`,
		}},
		{"unquoted spec version", head + entry("a") + "    connectionSpec: {id: ecadc60c-7455-4d87-84dc-2a0e293d997b, version: 1.0}\n", []string{
			`m.yaml:17:73: connections[0].connectionSpec.version: must be a string, not a number: quote it ("1.0")`,
		}},
		{"access key needs secret key", strings.Replace(head, "      s3SecretKey: {env: S3_SECRET_KEY}\n", "", 1) + entry("a"), []string{
			"m.yaml:13:7: connections[0].auth.params.s3SecretKey: required by Access Key: set it here or in defaults.auth.params",
		}},
		{"access key needs both", "version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: dev}\nconnections:\n  - name: a\n    auth: {specName: Access Key}\n", []string{
			"m.yaml:5:5: connections[0].auth.params.s3AccessKey: required by Access Key: set it here or in defaults.auth.params",
			"m.yaml:5:5: connections[0].auth.params.s3SecretKey: required by Access Key: set it here or in defaults.auth.params",
		}},
		{"IAM role needs bucket", head + "  - name: a\n    auth:\n      specName: IAMRole Based\n", []string{
			"m.yaml:13:5: connections[0].auth.params.bucketName: required by IAMRole Based: set it here or in defaults.auth.params",
		}},
		{"IAM role takes only bucket and folder", head + "  - name: a\n    auth:\n      specName: IAMRole Based\n      params:\n        bucketName: acme\n        serviceUrl: https://s3.eu-west-1.amazonaws.com/\n", []string{
			"m.yaml:17:9: connections[0].auth.params.serviceUrl: IAMRole Based takes only bucketName and folderPath",
		}},
		{"IAM role inherits a key from defaults without specName", "version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: dev}\ndefaults:\n  auth:\n    params: {s3AccessKey: AKIA}\nconnections:\n  - name: a\n    auth: {specName: IAMRole Based, params: {bucketName: acme}}\n", []string{
			"m.yaml:5:14: connections[0].auth.params.s3AccessKey: IAMRole Based takes only bucketName and folderPath (this one comes from defaults)",
		}},
		{"no specName anywhere", "version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: dev}\nconnections:\n  - name: a\n", []string{
			`m.yaml:4:5: connections[0].auth.specName: required field is missing: set it here or in defaults ("Access Key" or "IAMRole Based")`,
		}},
		{"unknown specName", head + "  - name: a\n    auth: {specName: Access key}\n", []string{
			`m.yaml:13:22: connections[0].auth.specName: must be "Access Key" or "IAMRole Based"`,
		}},
		{"bad env name", head + entry("a", "s3SessionToken: {env: 1TOKEN}"), []string{
			"m.yaml:17:31: connections[0].auth.params.s3SessionToken.env: must be an environment variable name: letters, digits and underscores, not starting with a digit",
		}},
		{"env name with dash", head + entry("a", "s3SessionToken: {env: S3-TOKEN}"), []string{
			"m.yaml:17:31: connections[0].auth.params.s3SessionToken.env: must be an environment variable name: letters, digits and underscores, not starting with a digit",
		}},
		{"empty file reference", head + entry("a", `s3SessionToken: {file: ""}`), []string{
			"m.yaml:17:32: connections[0].auth.params.s3SessionToken.file: must not be empty",
		}},
		{"folderPath dot-dot", head + entry("a", "folderPath: events/../secrets"), []string{
			`m.yaml:17:21: connections[0].auth.params.folderPath: folder path components must not be ".."`,
		}},
		{"folderPath dot", head + entry("a", "folderPath: ./events"), []string{
			`m.yaml:17:21: connections[0].auth.params.folderPath: folder path components must not be "."`,
		}},
		{"folderPath long component", head + entry("a", "folderPath: events/"+long), []string{
			"m.yaml:17:21: connections[0].auth.params.folderPath: folder path components are at most 255 characters, not 256",
		}},
		{"folderPath bad character", head + entry("a", `folderPath: "events/a|b"`), []string{
			`m.yaml:17:21: connections[0].auth.params.folderPath: folder paths must not contain any of " \ : | < > * ?`,
		}},
		{"uppercase sandbox", strings.Replace(head, "sandbox: prod", "sandbox: Prod", 1) + entry("a"), []string{
			`m.yaml:4:12: target.sandbox: sandbox names are lowercase letters, digits and hyphens: write "prod"`,
		}},
		{"bad org id", strings.Replace(head, "5C1328435BF324E90A49402A@AdobeOrg", "5C1328435BF324E90A49402A", 1) + entry("a"), []string{
			"m.yaml:3:10: target.orgId: must be an IMS org id such as 5C1328435BF324E90A49402A@AdobeOrg",
		}},
		{"target missing", "version: 1\nconnections: []\n", []string{
			"m.yaml:1:1: target: required field is missing",
		}},
		{"sandbox missing", "version: 1\ntarget:\n  orgId: A1@AdobeOrg\nconnections: []\n", []string{
			"m.yaml:2:1: target.sandbox: required field is missing",
		}},
		{"name missing", head + "  - description: x\n", []string{
			"m.yaml:12:5: connections[0].name: required field is missing",
		}},
		{"name empty", head + entry(`""`), []string{
			"m.yaml:12:11: connections[0].name: must not be empty",
		}},
		{"name too long", head + entry(strings.Repeat("n", 257)), []string{
			"m.yaml:12:11: connections[0].name: must be 1 to 256 characters long, not 257",
		}},
		{"name with control character", head + entry(`"a\tb"`), []string{
			"m.yaml:12:11: connections[0].name: names are printable text: no control characters",
		}},
		{"name a number", head + entry("2024"), []string{
			`m.yaml:12:11: connections[0].name: must be a string, not a number: quote it ("2024")`,
		}},
		{"plain http serviceUrl", head + strings.Replace(entry("a"), "https://", "http://", 1), []string{
			"m.yaml:15:21: connections[0].auth.params.serviceUrl: must be an https:// URL such as https://s3.us-east-1.amazonaws.com/",
		}},
		{"merge key", head + "  - &e\n    name: a\n  - <<: *e\n    name: b\n", []string{
			"m.yaml:14:5: connections[1]: YAML merge keys (<<) are not supported: put shared fields in defaults",
		}},
		{"custom tag", head + entry("a", "s3SessionToken: !env TOKEN"), []string{
			"m.yaml:17:25: connections[0].auth.params.s3SessionToken: YAML tag !env is not supported (a secret reference is {env: NAME} or {file: PATH})",
		}},
		{"billion laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n", []string{
			"m.yaml:6:12: YAML aliases expand to too many values",
		}},
		{"several problems at once", strings.Replace(head, "sandbox: prod", "sandbox: PROD", 1) +
			entry("a", "s3SessionToken: token") + entry("a") + strings.Replace(entry("c"), "acme-bucket", "10.0.0.1", 1), []string{
			`m.yaml:4:12: target.sandbox: sandbox names are lowercase letters, digits and hyphens: write "prod"`,
			"m.yaml:17:25: connections[0].auth.params.s3SessionToken: a secret must never be committed: use {env: NAME} or {file: PATH}",
			`m.yaml:18:11: connections[1].name: duplicate name "a": first used at line 12`,
			"m.yaml:27:21: connections[2].auth.params.bucketName: bucket names are not shaped like an IP address",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted the manifest: %+v", m)
			}
			if diff := cmp.Diff(tt.want, diagLines(t, err)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nsource:\n%s", diff, numbered(tt.src))
			}
		})
	}
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d| %s\n", i+1, l)
	}
	return b.String()
}
