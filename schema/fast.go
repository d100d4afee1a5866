package schema

import (
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/flowsync/flowsync/s3source"
)

// This file is a hand-written mirror of manifest.schema.json for the common, valid case.
// Why it earns its place: validating the 10,000 entries of the bench manifest takes 4 ms and
// 0.25 MB with it, 69 ms and 58 MB with the compiled schema alone (go test ./schema -bench
// Validate10k, 2-core machine, 2026-12-06), and plan runs it on every manifest.
// manifest.schema.json stays the single source of truth: the fast path only answers "valid"
// or "maybe not", and Validate runs the compiled schema on everything the fast path does not
// vouch for, so every message still comes from the schema. The fast path must never call
// valid what the schema rejects; TestFastMirrorsSchema pins the schema it was written
// against, and TestFastEquivalence/FuzzFastConnection compare it with the compiled schema.
//
// Conventions: a YAML node stands for the JSON value the converter in schema.go gives it. A
// mapping becomes an object whose duplicate keys keep the last value; a scalar becomes what
// Scalar returns. Aliases (and other node kinds) are never vouched for.

// fastString returns the string a scalar converts to, if it converts to a string.
func fastString(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.ShortTag() {
	case "!!str":
		return n.Value, true
	case "!!null":
		return "", false
	case "!!bool", "!!int", "!!float":
		s, ok := Scalar(n).(string)
		return s, ok
	}
	return n.Value, true
}

// fastFields collects the values of a mapping's keys, the last one winning like a JSON
// object built from it. known lists the accepted keys; vals[i] receives the value of known[i].
// It reports false for an unknown key, a non-scalar or alias key, or a node not a mapping.
func fastFields(n *yaml.Node, known []string, vals []*yaml.Node) bool {
	if n.Kind != yaml.MappingNode || len(n.Content)%2 != 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return false
		}
		j := 0
		for j < len(known) && known[j] != k.Value {
			j++
		}
		if j == len(known) {
			return false
		}
		vals[j] = n.Content[i+1]
	}
	return true
}

// runeLen is the length the schema's minLength and maxLength count: code points.
func runeLen(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.RuneCountInString(s)
		}
	}
	return len(s)
}

var itemFields = []string{"name", "description", "connectionSpec", "auth", "formerNames"}

// FastConnection reports whether the schema certainly accepts n as a connections entry
// (#/properties/connections/items). False means "run the schema", not "invalid".
func FastConnection(n *yaml.Node) bool {
	var v [5]*yaml.Node
	if !fastFields(n, itemFields, v[:]) || v[0] == nil {
		return false
	}
	return fastName(v[0]) &&
		(v[1] == nil || fastDescription(v[1])) &&
		(v[2] == nil || fastConnectionSpec(v[2])) &&
		(v[3] == nil || fastAuth(v[3])) &&
		(v[4] == nil || fastFormerNames(v[4]))
}

// name: string, 1 to 256 code points, ^[^\u0000-\u001F\u007F-\u009F]*$
func fastName(n *yaml.Node) bool {
	name, ok := fastString(n)
	if !ok || !printable(name) {
		return false
	}
	l := runeLen(name)
	return l >= 1 && l <= 256
}

// formerNames: an array of names.
func fastFormerNames(n *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode {
		return false
	}
	for _, item := range n.Content {
		if !fastName(item) {
			return false
		}
	}
	return true
}

// printable matches ^[^\u0000-\u001F\u007F-\u009F]*$ (invalid UTF-8 reads as U+FFFD, as in
// Go's regexp).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7F {
			return false
		}
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				if r < 0x20 || r >= 0x7F && r <= 0x9F {
					return false
				}
			}
			return true
		}
	}
	return true
}

// #/definitions/description: string, at most 4096 code points.
func fastDescription(n *yaml.Node) bool {
	s, ok := fastString(n)
	return ok && runeLen(s) <= 4096
}

var specFields = []string{"id", "version"}

// #/definitions/connectionSpec: object, only id (required, string) and version (string).
func fastConnectionSpec(n *yaml.Node) bool {
	var v [2]*yaml.Node
	if !fastFields(n, specFields, v[:]) || v[0] == nil {
		return false
	}
	if _, ok := fastString(v[0]); !ok {
		return false
	}
	if v[1] != nil {
		if _, ok := fastString(v[1]); !ok {
			return false
		}
	}
	return true
}

var authFields = []string{"specName", "params"}

// #/definitions/auth: object, only specName (enum) and params.
func fastAuth(n *yaml.Node) bool {
	var v [2]*yaml.Node
	if !fastFields(n, authFields, v[:]) {
		return false
	}
	if v[0] != nil {
		s, ok := fastString(v[0])
		if !ok || s != s3source.AccessKey && s != s3source.IAMRoleBased {
			return false
		}
	}
	return v[1] == nil || fastParams(v[1])
}

var paramFields = []string{s3source.ParamAccessKey, s3source.ParamSecretKey, s3source.ParamSessionToken, s3source.ParamServiceURL, s3source.ParamBucketName, s3source.ParamFolderPath, s3source.ParamRegion}

// #/definitions/auth/properties/params: object of the six params, each a string of its form
// or a secret reference (s3SecretKey and s3SessionToken: a reference only), and region, a
// string only.
func fastParams(n *yaml.Node) bool {
	var v [7]*yaml.Node
	if !fastFields(n, paramFields, v[:]) {
		return false
	}
	for i, p := range v {
		if p == nil {
			continue
		}
		if p.Kind == yaml.MappingNode {
			if i == 6 || !fastReference(p) {
				return false
			}
			continue
		}
		s, ok := fastString(p)
		if !ok {
			return false
		}
		switch i {
		case 0: // s3AccessKey: minLength 1
			ok = runeLen(s) >= 1
		case 1, 2: // s3SecretKey, s3SessionToken: type object
			ok = false
		case 3:
			ok = serviceURL(s)
		case 4:
			ok = bucketName(s)
		case 5:
			ok = folderPath(s)
		case 6:
			ok = region(s)
		}
		if !ok {
			return false
		}
	}
	return true
}

var referenceFields = []string{"env", "file"}

// #/definitions/reference as an object: exactly one of env (a variable name) or file
// (a non-empty string).
func fastReference(n *yaml.Node) bool {
	var v [2]*yaml.Node
	if !fastFields(n, referenceFields, v[:]) {
		return false
	}
	if (v[0] == nil) == (v[1] == nil) {
		return false // none (minProperties 1) or both (maxProperties 1)
	}
	if v[0] != nil {
		s, ok := fastString(v[0])
		return ok && envName(s)
	}
	s, ok := fastString(v[1])
	return ok && runeLen(s) >= 1
}

func lowerDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func alnum(c byte) bool { return lowerDigit(c) || c >= 'A' && c <= 'Z' }

// serviceURL matches ^https://[^\s/?#@]+(/[^\s]*)?$ (\s is [\t\n\f\r ]).
func serviceURL(s string) bool {
	const prefix = "https://"
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix {
		return false
	}
	host := true
	for i := len(prefix); i < len(s); i++ {
		switch c := s[i]; c {
		case '\t', '\n', '\f', '\r', ' ':
			return false
		case '/':
			if host && i == len(prefix) {
				return false
			}
			host = false
		case '?', '#', '@':
			if host {
				return false
			}
		}
	}
	return true
}

// bucketName matches ^[A-Za-z0-9._-]*$ with 3 to 255 code points: what a bucket name of any
// age is made of (s3source says which are valid today).
func bucketName(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// folderPath matches ^[^"\\:|<>*?]*$.
func folderPath(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\\', ':', '|', '<', '>', '*', '?':
			return false
		}
	}
	return true
}

// envName matches ^[A-Za-z_][A-Za-z0-9_]*$.
func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// orgID matches ^[A-Za-z0-9]+@AdobeOrg$.
func orgID(s string) bool {
	const suffix = "@AdobeOrg"
	if len(s) <= len(suffix) || s[len(s)-len(suffix):] != suffix {
		return false
	}
	for i := 0; i < len(s)-len(suffix); i++ {
		if !alnum(s[i]) {
			return false
		}
	}
	return true
}

// sandboxName matches ^[a-z0-9][a-z0-9-]*$ with 1 to 256 code points.
func sandboxName(s string) bool {
	if s == "" || len(s) > 256 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !lowerDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

var rootFields = []string{"version", "target", "environments", "promotion", "defaults", "connections"}

// fastRoot reports whether the schema certainly accepts the document with an empty
// connections list: its entries are checked one by one with FastConnection.
func fastRoot(n *yaml.Node) bool {
	var v [6]*yaml.Node
	if !fastFields(n, rootFields, v[:]) || v[0] == nil || v[5] == nil {
		return false
	}
	// connections: array; version: const 1
	if v[5].Kind != yaml.SequenceNode || v[0].Kind != yaml.ScalarNode || !fastOne(v[0]) {
		return false
	}
	// oneOf: target or environments, not both.
	if (v[1] == nil) == (v[2] == nil) {
		return false
	}
	if v[1] != nil && !fastTarget(v[1]) || v[2] != nil && !fastEnvironments(v[2]) ||
		v[3] != nil && !fastPromotion(v[3]) || v[4] != nil && !fastDefaults(v[4]) {
		return false
	}
	return true
}

// fastOne reports whether a scalar converts to the number 1 (version's const).
func fastOne(n *yaml.Node) bool {
	switch x := Scalar(n).(type) {
	case int:
		return x == 1
	case int64:
		return x == 1
	case uint64:
		return x == 1
	case float64:
		return x == 1
	}
	return false
}

var targetFields = []string{"orgId", "sandbox"}

// #/definitions/target: object, orgId and sandbox required.
func fastTarget(n *yaml.Node) bool {
	var t [2]*yaml.Node
	if !fastFields(n, targetFields, t[:]) || t[0] == nil || t[1] == nil {
		return false
	}
	if s, ok := fastString(t[0]); !ok || !orgID(s) {
		return false
	}
	s, ok := fastString(t[1])
	return ok && sandboxName(s)
}

var defaultsFields = []string{"description", "connectionSpec", "auth"}

// #/definitions/defaults: object of description, connectionSpec and auth.
func fastDefaults(n *yaml.Node) bool {
	var d [3]*yaml.Node
	return fastFields(n, defaultsFields, d[:]) &&
		(d[0] == nil || fastDescription(d[0])) &&
		(d[1] == nil || fastConnectionSpec(d[1])) &&
		(d[2] == nil || fastAuth(d[2]))
}

// #/properties/environments: a non-empty object whose keys are environment names and whose
// values are #/definitions/environment.
func fastEnvironments(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 || len(n.Content)%2 != 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || !environmentName(k.Value) || !fastEnvironment(n.Content[i+1]) {
			return false
		}
	}
	return true
}

var environmentFields = []string{"target", "defaults", "connections"}

// #/definitions/environment: target (required), defaults, and connections: an object of
// overrides keyed by entry name.
func fastEnvironment(n *yaml.Node) bool {
	var v [3]*yaml.Node
	if !fastFields(n, environmentFields, v[:]) || v[0] == nil || !fastTarget(v[0]) {
		return false
	}
	if v[1] != nil && !fastDefaults(v[1]) {
		return false
	}
	if c := v[2]; c != nil {
		if c.Kind != yaml.MappingNode || len(c.Content)%2 != 0 {
			return false
		}
		for i := 0; i < len(c.Content); i += 2 {
			if c.Content[i].Kind != yaml.ScalarNode || !fastOverride(c.Content[i+1]) {
				return false
			}
		}
	}
	return true
}

var overrideFields = []string{"exclude", "description", "connectionSpec", "auth"}

// #/definitions/override: exclude (boolean), description, connectionSpec and auth.
func fastOverride(n *yaml.Node) bool {
	var v [4]*yaml.Node
	if !fastFields(n, overrideFields, v[:]) {
		return false
	}
	if v[0] != nil {
		if _, ok := Scalar(v[0]).(bool); !ok || v[0].Kind != yaml.ScalarNode {
			return false
		}
	}
	return (v[1] == nil || fastDescription(v[1])) &&
		(v[2] == nil || fastConnectionSpec(v[2])) &&
		(v[3] == nil || fastAuth(v[3]))
}

// #/properties/promotion: a non-empty list of distinct environment names.
func fastPromotion(n *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return false
	}
	for i, e := range n.Content {
		s, ok := fastString(e)
		if !ok || e.ShortTag() != "!!str" || !environmentName(s) {
			return false
		}
		for _, f := range n.Content[:i] {
			if f.Value == s {
				return false
			}
		}
	}
	return true
}

// environmentName matches an environment name, ^[a-z][a-z0-9-]{0,62}$.
func environmentName(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !lowerDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// region matches ^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$ (s3source.RegionPattern).
func region(s string) bool {
	return s3source.ValidRegion(s)
}

// ParamProblem checks value, read from a secret reference, against the form the schema
// gives a literal auth param name: "" when it fits, else a message that never quotes the
// value (it may be a secret), worded to follow "the value of {env: X}".
func ParamProblem(name, value string) string {
	switch name {
	case s3source.ParamAccessKey, s3source.ParamSecretKey, s3source.ParamSessionToken:
		if value == "" {
			return "is empty"
		}
	case s3source.ParamServiceURL:
		if !serviceURL(value) {
			return "is not an https:// URL such as https://s3.us-east-1.amazonaws.com/"
		}
	case s3source.ParamBucketName:
		if !bucketName(value) {
			return "is not a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens"
		}
	case s3source.ParamFolderPath:
		if !folderPath(value) {
			return `is not a folder path: it must not contain any of " \ : | < > * ?`
		}
	}
	return ""
}
