package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"

	"github.com/flowsync/flowsync/s3source"
)

// step is one hop of an instance location: a mapping key or a list index.
type step struct {
	key   string
	index int // -1 for a mapping key
}

// located is the YAML node an instance location names.
type located struct {
	steps []step
	key   *yaml.Node // the mapping key holding the value; nil for the root and list items
	value *yaml.Node
}

// locate follows a JSON pointer from root through the YAML tree.
func locate(root *yaml.Node, pointer string) located {
	loc := located{value: root}
	if pointer == "" {
		return loc
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n := content(loc.value)
		if n == nil {
			return loc
		}
		switch n.Kind {
		case yaml.MappingNode:
			var k, v *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if keyString(n.Content[i]) == tok {
					k, v = n.Content[i], n.Content[i+1]
				}
			}
			if v == nil {
				return loc
			}
			loc.steps = append(loc.steps, step{key: tok, index: -1})
			loc.key, loc.value = k, v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return loc
			}
			loc.steps = append(loc.steps, step{index: i})
			loc.key, loc.value = nil, n.Content[i]
		default:
			return loc
		}
	}
	return loc
}

// Path renders steps as connections[3].auth.params.bucketName.
func pathOf(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if plainKey(s.key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		} else {
			fmt.Fprintf(&b, "[%s]", strconv.Quote(s.key))
		}
	}
	return b.String()
}

// JoinPath appends a mapping key to a path, quoting keys that would read ambiguously.
func JoinPath(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '<' || r == '>') {
			return false
		}
	}
	return true
}

func (l located) pos() (int, int) {
	n := l.value
	if l.key != nil {
		n = l.key
	}
	return n.Line, n.Column
}

// problems turns one leaf validation error into problems with positions and human messages.
func (c *compiled) problems(root *yaml.Node, ve *jsonschema.ValidationError) []Problem {
	loc := locate(root, ve.InstanceLocation)
	kw := ve.KeywordLocation[strings.LastIndexByte(ve.KeywordLocation, '/')+1:]
	parent := c.schemaAt(ve.AbsoluteKeywordLocation)
	n := content(loc.value)
	path := pathOf(loc.steps)
	field := ""
	if len(loc.steps) > 0 && loc.steps[len(loc.steps)-1].index < 0 {
		field = loc.steps[len(loc.steps)-1].key
	}
	// Problems about a value point at the value; a missing field points at its parent's key.
	line, col := loc.value.Line, loc.value.Column
	one := func(msg string) []Problem {
		return []Problem{{Line: line, Col: col, Path: path, Message: msg}}
	}

	if strings.HasPrefix(ve.KeywordLocation, "/oneOf") && path == "" {
		// target or environments: the root's oneOf, whichever branch failed. Without either,
		// the problem reads as it did before environments existed.
		if k := bothTargetAndEnvironments(n); k != nil {
			return []Problem{{Line: k.Line, Col: k.Column, Path: "environments", Message: "set target (one sandbox) or environments (several), not both"}}
		}
		return []Problem{{Line: line, Col: col, Path: "target", Message: "required field is missing"}}
	}
	switch kw {
	case "additionalProperties":
		if n == nil || n.Kind != yaml.MappingNode {
			return one(ve.Message)
		}
		return unknownFields(n, parent, path)

	case "required":
		return missingFields(loc, n, parent, path)

	case "type":
		return one(typeMessage(field, parent, n))

	case "const":
		if field == "version" {
			return one("this flowsync reads manifest version 1")
		}
		return one(fmt.Sprintf("must be %v", parent["const"]))

	case "enum":
		var opts []string
		for _, e := range parent["enum"].([]any) {
			opts = append(opts, strconv.Quote(fmt.Sprint(e)))
		}
		return one("must be " + orList(opts))

	case "pattern":
		if parent["pattern"] == environmentNamePattern {
			return one(environmentNameMessage)
		}
		return one(patternMessage(field, n))

	case "minLength", "maxLength":
		return one(lengthMessage(kw, field, parent, n))

	case "minProperties", "maxProperties":
		if isReference(parent) {
			return one("a secret reference has exactly one key: {env: NAME} or {file: PATH}")
		}
	}
	return one(ve.Message)
}

// unknownFields reports each key of the mapping n that parent does not declare.
func unknownFields(n *yaml.Node, parent map[string]any, path string) []Problem {
	known := propertyNames(parent)
	props, _ := parent["properties"].(map[string]any)
	_, named := parent["patternProperties"].(map[string]any)
	var out []Problem
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := keyString(n.Content[i])
		if _, ok := props[k]; ok {
			continue
		}
		msg := "unknown field"
		if named {
			if environmentNameRe.MatchString(k) {
				continue
			}
			msg = environmentNameMessage
		} else if isReference(parent) {
			msg += ": a secret reference is {env: NAME} or {file: PATH}"
		} else if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		} else if len(known) > 0 {
			msg += ": expected one of " + strings.Join(known, ", ")
		}
		kn := n.Content[i]
		out = append(out, Problem{Line: kn.Line, Col: kn.Column, Path: JoinPath(path, k), Message: msg})
	}
	return out
}

// missingFields reports each field parent requires that the mapping n lacks, at n's key.
func missingFields(loc located, n *yaml.Node, parent map[string]any, path string) []Problem {
	present := map[string]bool{}
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			present[keyString(n.Content[i])] = true
		}
	}
	var out []Problem
	req, _ := parent["required"].([]any)
	for _, r := range req {
		name, _ := r.(string)
		if present[name] {
			continue
		}
		msg := "required field is missing"
		if path == "" && name == "version" {
			msg += ": add \"version: 1\""
		}
		l, c := loc.pos()
		out = append(out, Problem{Line: l, Col: c, Path: JoinPath(path, name), Message: msg})
	}
	return out
}

// lengthMessage says how long a string must be (kw: minLength or maxLength).
func lengthMessage(kw, field string, parent map[string]any, n *yaml.Node) string {
	got := 0
	if n != nil {
		got = len([]rune(n.Value))
	}
	minL, _ := toInt(parent["minLength"])
	maxL, hasMax := toInt(parent["maxLength"])
	switch {
	case field == s3source.ParamBucketName:
		return fmt.Sprintf("bucket names are 3 to 63 characters long (legacy us-east-1 names up to 255), not %d", got)
	case got == 0:
		return "must not be empty"
	case hasMax && minL > 0:
		return fmt.Sprintf("must be %d to %d characters long, not %d", minL, maxL, got)
	case kw == "maxLength":
		return fmt.Sprintf("must be at most %d characters long, not %d", maxL, got)
	default:
		return fmt.Sprintf("must be at least %d characters long, not %d", minL, got)
	}
}

// schemaAt returns the schema object that holds the keyword at an absolute keyword location.
func (c *compiled) schemaAt(abs string) map[string]any {
	ptr := abs[strings.IndexByte(abs, '#')+1:]
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		ptr = ptr[:i]
	}
	cur := c.doc
	if ptr != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch x := cur.(type) {
			case map[string]any:
				cur = x[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(x) {
					return nil
				}
				cur = x[i]
			default:
				return nil
			}
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

func propertyNames(s map[string]any) []string {
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func isReference(s map[string]any) bool {
	props, _ := s["properties"].(map[string]any)
	_, env := props["env"]
	_, file := props["file"]
	return env && file && len(props) == 2
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x), true
	case int:
		return x, true
	}
	if s, ok := v.(interface{ String() string }); ok {
		i, err := strconv.Atoi(s.String())
		return i, err == nil
	}
	return 0, false
}

func orList(opts []string) string {
	switch len(opts) {
	case 0:
		return "one of nothing"
	case 1:
		return opts[0]
	}
	return strings.Join(opts[:len(opts)-1], ", ") + " or " + opts[len(opts)-1]
}

// environmentNamePattern is the pattern of an environment's name in the schema: it is part
// of a lockfile's name (connections.dev.lock.json) and of --env.
const environmentNamePattern = "^[a-z][a-z0-9-]{0,62}$"

var environmentNameRe = regexp.MustCompile(environmentNamePattern)

const environmentNameMessage = "environment names are 1 to 63 lowercase letters, digits and hyphens, starting with a letter"

// bothTargetAndEnvironments returns the environments key of a root that has target too, or
// nil.
func bothTargetAndEnvironments(root *yaml.Node) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	var target, envs *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch keyString(root.Content[i]) {
		case "target":
			target = root.Content[i]
		case "environments":
			envs = root.Content[i]
		}
	}
	if target == nil {
		return nil
	}
	return envs
}

// SecretMessage is the problem reported for a secret param written as a literal.
const SecretMessage = "a secret must never be committed: use {env: NAME} or {file: PATH}"

func typeMessage(field string, parent map[string]any, n *yaml.Node) string {
	var want []string
	switch t := parent["type"].(type) {
	case string:
		want = []string{t}
	case []any:
		for _, x := range t {
			want = append(want, fmt.Sprint(x))
		}
	}
	if s3source.Secret(field) && (n == nil || n.Kind == yaml.ScalarNode) {
		return SecretMessage
	}
	got := "a " + kindName(n)
	if n == nil || n.Kind == yaml.ScalarNode {
		switch v := Scalar(n).(type) {
		case nil:
			got = "empty"
		case bool:
			got = "a boolean"
		case string:
			got = "a string"
		default:
			_ = v
			got = "a number"
		}
	}
	if len(want) == 2 && want[0] == "string" && want[1] == "object" {
		return fmt.Sprintf("must be a string or a secret reference ({env: NAME} or {file: PATH}), not %s", got)
	}
	if len(want) == 1 && want[0] == "string" && n != nil && n.Kind == yaml.ScalarNode && got != "empty" {
		return fmt.Sprintf("must be a string, not %s: quote it (%q)", got, n.Value)
	}
	words := map[string]string{"string": "a string", "object": "a mapping", "array": "a list", "integer": "a number", "number": "a number", "boolean": "a boolean"}
	var ws []string
	for _, w := range want {
		ws = append(ws, words[w])
	}
	return fmt.Sprintf("must be %s, not %s", orList(ws), got)
}

func patternMessage(field string, n *yaml.Node) string {
	v := ""
	if n != nil {
		v = n.Value
	}
	switch field {
	case "orgId":
		return "must be an IMS org id such as 5C1328435BF324E90A49402A@AdobeOrg"
	case "sandbox":
		msg := "sandbox names are lowercase letters, digits and hyphens"
		if l := strings.ToLower(v); l != v && sandboxRe(l) {
			msg += fmt.Sprintf(": write %q", l)
		}
		return msg
	case "name":
		return "names are printable text: no control characters"
	case s3source.ParamServiceURL:
		return "must be an https:// URL such as https://s3.us-east-1.amazonaws.com/"
	case s3source.ParamRegion:
		return "must be an AWS region name such as eu-west-1, us-gov-west-1 or ap-southeast-2"
	case s3source.ParamBucketName:
		msg := "bucket names hold only lowercase letters, digits, dots and hyphens"
		if sug := s3source.SuggestBucketName(v); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug) // a suggestion that follows the rules
		}
		return msg
	case s3source.ParamFolderPath:
		return `folder paths must not contain any of " \ : | < > * ?`
	case "env":
		return "must be an environment variable name: letters, digits and underscores, not starting with a digit"
	}
	return "has the wrong form"
}

func sandboxRe(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// suggest returns the known name closest to k, if it is a likely typo.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if strings.EqualFold(c, k) {
			return c
		}
		if len(k) >= 4 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(k)) {
			return c
		}
		if d := distance(strings.ToLower(k), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b (bytes; field names are ASCII).
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
