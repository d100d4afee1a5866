package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// schemaRules is the SHA-256 of manifest.schema.json without its descriptions and title:
// the rules fast.go was written to mirror. If this test fails, the schema's rules changed:
// update fast.go to mirror them (the schema stays the source of truth), then this hash.
const schemaRules = "dbb5635978950bcd6f512d21c098bebb0b365329f3ebf486cf959cc1e96872be"

func TestFastMirrorsSchema(t *testing.T) {
	var doc any
	if err := json.Unmarshal(JSON, &doc); err != nil {
		t.Fatal(err)
	}
	var strip func(v any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				if k != "description" && k != "title" {
					out[k] = strip(e)
				}
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = strip(e)
			}
			return out
		}
		return v
	}
	b, err := json.Marshal(strip(doc))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != schemaRules {
		t.Errorf("the schema's rules changed (rules hash %s): make fast.go mirror manifest.schema.json again, then update schemaRules", got)
	}
}

// TestFastPatterns checks the hand-written matchers against the schema's own patterns.
func TestFastPatterns(t *testing.T) {
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	pattern := func(ptr string) *regexp.Regexp {
		s := c.schemaAt(URL + "#" + ptr + "/pattern")
		return regexp.MustCompile(s["pattern"].(string))
	}
	checks := []struct {
		re *regexp.Regexp
		fn func(string) bool
	}{
		{pattern("/properties/connections/items/properties/name"), printable},
		{pattern("/definitions/auth/properties/params/properties/serviceUrl"), serviceURL},
		{pattern("/definitions/auth/properties/params/properties/folderPath"), folderPath},
		{pattern("/definitions/reference/properties/env"), envName},
		{pattern("/definitions/target/properties/orgId"), orgID},
		{pattern("/definitions/auth/properties/params/properties/region"), region},
		{pattern("/properties/promotion/items"), environmentName},
		{regexp.MustCompile(environmentNamePattern), environmentName},
	}
	bucket := pattern("/definitions/auth/properties/params/properties/bucketName")
	sandbox := pattern("/definitions/target/properties/sandbox")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50000 {
		s := randomString(rng, i)
		for j, ch := range checks {
			if got, want := ch.fn(s), ch.re.MatchString(s); got != want {
				t.Fatalf("matcher %d on %q: %v, pattern %s says %v", j, s, got, ch.re, want)
			}
		}
		if got, want := bucketName(s), bucket.MatchString(s) && runeLen(s) >= 3 && runeLen(s) <= 255; got != want {
			t.Fatalf("bucketName(%q) = %v, schema says %v", s, got, want)
		}
		if got, want := sandboxName(s), sandbox.MatchString(s) && runeLen(s) >= 1 && runeLen(s) <= 256; got != want {
			t.Fatalf("sandboxName(%q) = %v, schema says %v", s, got, want)
		}
	}
}

func randomString(rng *rand.Rand, i int) string {
	prefixes := []string{"", "https://", "https:/", "http://", "a", "A", "_", "1", "-"}
	suffixes := []string{"", "@AdobeOrg", "@adobeorg", "/", "-", "\n"}
	alphabet := []string{"a", "z", "A", "Z", "0", "9", "-", "_", "/", "?", "#", "@", ".", " ", "\t", "\n", "\r", "\f", "\v", ":", "|", "<", ">", "*", "\"", "\\", "\x00", "\x1f", "\x7f", "\u0085", "\u00a0", "é", "\xff", "\u2028"}
	var b strings.Builder
	b.WriteString(prefixes[rng.IntN(len(prefixes))])
	n := rng.IntN(8)
	if i%50 == 0 {
		n = rng.IntN(300)
	}
	for range n {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	b.WriteString(suffixes[rng.IntN(len(suffixes))])
	return b.String()
}

// itemValid is what the compiled schema says of n as one connections entry.
func itemValid(t testing.TB, n *yaml.Node) bool {
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	conv := converter{budget: MaxAliasExpansion}
	v := conv.value(n, 0)
	if conv.err != nil {
		return false
	}
	return c.item.Validate(v) == nil
}

// Snippets of YAML that random entries are made of: valid and invalid values of each kind.
var (
	anyValues = []string{`x`, `""`, `12`, `1.5`, `true`, `null`, `~`, `[a]`, `{}`, `'12'`, `!!str 12`,
		`2001-12-14`, `!!binary aGk=`, `!custom x`, `"a\tb"`, `"\u0085"`, `é`, `{env: X}`, `{file: f}`}
	refValues = []string{`{env: S3_KEY}`, `{env: _x9}`, `{file: secret.txt}`, `{file: ""}`, `{env: 1A}`,
		`{env: A-B}`, `{env: A, file: b}`, `{env: A, env: B}`, `{env: 1A, env: B}`, `{environment: X}`,
		`{env: 12}`, `{file: 12}`, `{env: ""}`, `{file: ~}`, `{env: [A]}`}
	fieldValues = map[string][]string{
		"name":           {`acme`, `bucket-00001`, `"a b"`, `""`, `"a\tb"`, strings.Repeat("n", 256), strings.Repeat("n", 257), `"é\u0085"`, `"\u00a0"`, `2024`},
		"formerNames":    {`[acme-eu]`, `[]`, `[a, "b c"]`, `[""]`, `acme`, `["a\tb"]`, `[12]`, `[{a: b}]`, `[[a]]`, "[" + strings.Repeat("n", 257) + "]", `~`},
		"description":    {`generated entry`, `""`, strings.Repeat("d", 4096), strings.Repeat("d", 4097), `{env: D}`},
		"specName":       {`Access Key`, `IAMRole Based`, `Access key`, `""`},
		"id":             {`ecadc60c-7455-4d87-84dc-2a0e293d997b`, `other`, `1`},
		"version":        {`"1.0"`, `1.0`, `"2.0"`},
		"s3AccessKey":    {`AKIA123`, `""`, `"a"`},
		"s3SecretKey":    {`wJalr`, `""`},
		"s3SessionToken": {`Fwo`},
		"serviceUrl":     {`https://s3.eu-west-1.amazonaws.com/`, `https://s3.x.com`, `http://s3.x.com/`, `https://`, `https:///x`, `https://a@b/`, `https://a/b@c?d#e`, `"https://a/b c"`, `"https://a\t/"`, `https://a?b`},
		"bucketName":     {`acme-bucket`, `ab`, `abc`, strings.Repeat("b", 63), strings.Repeat("b", 64), strings.Repeat("b", 255), strings.Repeat("b", 256), `Acme`, `acme-`, `-acme`, `acme_b`, `logs.example.com`, `"a b"`, `a/b`, `192.168.5.4`, `12345`, `"123"`},
		"region":         {`eu-west-1`, `us-gov-west-1`, `eu-west`, `EU-WEST-1`, `{env: R}`, `""`},
		"folderPath":     {`events/2026`, `""`, `events/../x`, `"a|b"`, `"a:b"`, `'a"b'`, `a*b`, `"a\\b"`, `"a?b"`},
	}
	connectionKeys = []string{"name", "description", "connectionSpec", "auth", "formerNames"}
	paramKeys      = []string{"s3AccessKey", "s3SecretKey", "s3SessionToken", "serviceUrl", "bucketName", "folderPath", "region"}
)

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }

// pickMostlyFirst favours the first (valid) choice, so that about half the entries are valid.
func pickMostlyFirst(rng *rand.Rand, xs []string) string {
	if rng.IntN(10) < 8 {
		return xs[0]
	}
	return pick(rng, xs)
}

// randomValue is a value for key: usually one of its own, sometimes anything.
func randomValue(rng *rand.Rand, key string) string {
	switch r := rng.IntN(20); {
	case r == 0 && rng.IntN(3) == 0:
		return pick(rng, anyValues)
	case r == 1 && rng.IntN(3) == 0 && key != "auth" && key != "connectionSpec" && key != "params":
		return pick(rng, refValues)
	}
	switch key {
	case "auth":
		return randomMapping(rng, []string{"specName", "params"}, "specname")
	case "params":
		return randomMapping(rng, paramKeys, "bucket")
	case "connectionSpec":
		return randomMapping(rng, []string{"id", "version"}, "name")
	case "s3SecretKey", "s3SessionToken", "s3AccessKey", "serviceUrl", "bucketName", "folderPath", "region":
		if rng.IntN(3) == 0 {
			return pickMostlyFirst(rng, refValues)
		}
	}
	return pickMostlyFirst(rng, fieldValues[key])
}

// randomMapping writes a flow mapping of some of keys, now and then with a duplicate key, an
// unknown key or a key missing.
func randomMapping(rng *rand.Rand, keys []string, unknown string) string {
	var parts []string
	for _, k := range keys {
		if rng.IntN(4) == 0 && k != "name" || k == "name" && rng.IntN(30) == 0 {
			continue
		}
		parts = append(parts, k+": "+randomValue(rng, k))
		if rng.IntN(60) == 0 {
			parts = append(parts, k+": "+randomValue(rng, k))
		}
	}
	if rng.IntN(60) == 0 {
		parts = append(parts, unknown+": x")
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return "{" + strings.Join(parts, ", ") + "}"
}

func randomConnection(rng *rand.Rand) string {
	if rng.IntN(50) == 0 {
		return pick(rng, anyValues)
	}
	return randomMapping(rng, connectionKeys, "descripton")
}

// TestFastEquivalence compares the fast path with the compiled schema on random entries,
// valid and not: it must say valid exactly when the schema does (never when the schema
// says invalid), and Validate must report the same problems with and without it.
func TestFastEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 2000
	if testing.Short() {
		n = 500
	}
	valid := 0
	for range n {
		src := randomConnection(rng)
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			continue // duplicate-free flow YAML the generator cannot write
		}
		node := content(&doc)
		fast, want := FastConnection(node), itemValid(t, node)
		if fast != want {
			t.Fatalf("FastConnection(%s) = %v, schema says valid=%v", src, fast, want)
		}
		if want {
			valid++
		}
	}
	if valid < n/10 || valid > n*9/10 {
		t.Errorf("%d of %d random entries valid: the generator is lopsided", valid, n)
	}

	// Whole documents: the same problems, fast path or not.
	for i := range 300 {
		src := randomDocument(rng, i)
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			continue // a flow value the generator wrote that YAML reads otherwise in context
		}
		if diff := cmp.Diff(validate(&doc, false), validate(&doc, true)); diff != "" {
			t.Fatalf("Validate with the fast path (-without +with):\n%s\ndocument:\n%s", diff, src)
		}
	}
}

func randomDocument(rng *rand.Rand, i int) string {
	var b bytes.Buffer
	heads := []string{"version: 1\n", "version: 1.0\n", "version: 2\n", `version: "1"` + "\n", "", "version: true\n"}
	b.WriteString(pick(rng, heads))
	targets := []string{"target: {orgId: A1@AdobeOrg, sandbox: prod}\n", "target: {orgId: A1@AdobeOrg, sandbox: Prod}\n",
		"target: {orgId: A1, sandbox: prod}\n", "target: {orgId: A1@AdobeOrg}\n", "target: {orgId: A1@AdobeOrg, sandbox: prod, x: 1}\n", ""}
	b.WriteString(pick(rng, targets))
	if rng.IntN(3) == 0 {
		b.WriteString(randomEnvironments(rng))
	}
	if rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "defaults: %s\n", randomMapping(rng, []string{"description", "connectionSpec", "auth"}, "name"))
	}
	if rng.IntN(20) == 0 {
		b.WriteString("connections: x\n")
		return b.String()
	}
	b.WriteString("connections:\n")
	for range rng.IntN(6) + i%3 {
		src := randomConnection(rng)
		var n yaml.Node
		if yaml.Unmarshal([]byte(src), &n) != nil {
			continue
		}
		fmt.Fprintf(&b, "  - %s\n", src)
	}
	if i%3 == 0 {
		b.WriteString("  - &a {name: anchored}\n  - *a\n")
	}
	return b.String()
}

// randomEnvironments writes an environments block (and now and then a promotion), valid or not.
func randomEnvironments(rng *rand.Rand) string {
	names := []string{"dev", "prod", "stage-2", "Dev", "2x", "all", "a_b"}
	envTargets := []string{"{orgId: A1@AdobeOrg, sandbox: dev}", "{orgId: A1@AdobeOrg}", "{orgId: A1@AdobeOrg, sandbox: Dev}", "x"}
	overrides := []string{"{exclude: true}", "{exclude: yes}", "{exclude: 1}", "{description: d}", "{name: x}",
		"{auth: {params: {bucketName: b-dev}}}", "{auth: {params: {region: eu-west-1}}}", "{auth: {params: {s3SecretKey: x}}}", "x", "{}"}
	var b strings.Builder
	if rng.IntN(15) == 0 {
		return "environments: {}\n"
	}
	b.WriteString("environments:\n")
	for _, name := range names[:1+rng.IntN(3)] {
		if rng.IntN(6) == 0 {
			name = pick(rng, names)
		}
		fmt.Fprintf(&b, "  %s:\n    target: %s\n", name, pickMostlyFirst(rng, envTargets))
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "    defaults: %s\n", randomMapping(rng, []string{"description", "connectionSpec", "auth"}, "name"))
		}
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "    connections: {acme: %s, other: %s}\n", pickMostlyFirst(rng, overrides), pick(rng, overrides))
		}
		if rng.IntN(20) == 0 {
			b.WriteString("    extra: 1\n")
		}
	}
	if rng.IntN(2) == 0 {
		proms := []string{"[dev, prod]", "[dev]", "[]", "[dev, dev]", "[Dev]", "x", "[1]"}
		fmt.Fprintf(&b, "promotion: %s\n", pickMostlyFirst(rng, proms))
	}
	return b.String()
}

// FuzzFastConnection checks on any YAML that the fast path never vouches for what the schema
// rejects, and that Validate reports the same problems with and without it.
func FuzzFastConnection(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		f.Add([]byte(randomConnection(rng)))
	}
	for i := range 20 {
		f.Add([]byte(randomDocument(rng, i)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil {
			return
		}
		node := content(&doc)
		if node == nil {
			return
		}
		if FastConnection(node) && !itemValid(t, node) {
			t.Fatalf("FastConnection vouches for an entry the schema rejects:\n%s", data)
		}
		if diff := cmp.Diff(validate(&doc, false), validate(&doc, true)); diff != "" {
			t.Fatalf("Validate with the fast path (-without +with):\n%s", diff)
		}
	})
}

// A key that an entry takes and defaults does not (formerNames) is the schema's to report in
// defaults, never a panic of the fast path.
func TestFastDefaultsEntryOnlyKey(t *testing.T) {
	var doc yaml.Node
	src := "version: 1\ntarget: {orgId: A1@AdobeOrg, sandbox: prod}\ndefaults: {formerNames: [x]}\nconnections: []\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	probs := Validate(&doc)
	if len(probs) != 1 || probs[0].Path != "defaults.formerNames" {
		t.Errorf("problems %+v, want one at defaults.formerNames", probs)
	}
}
