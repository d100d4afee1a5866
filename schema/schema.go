// Package schema holds the JSON Schema of flowsync's manifest (embedded, so editors and the
// binary read the same file) and validates a YAML document against it.
//
// Invariants: Validate never panics on any yaml.Node tree, reports every problem at once (leaf
// errors only, one per unknown field or missing field), and gives each problem the line and
// column of the YAML node it is about. The compiled schema is built once and never changes.
//
// fast.go is a hand-written mirror of the schema for the common, valid entry, kept for one
// measured reason: on the 10,000 entries of the bench manifest, the compiled schema alone takes
// 0.63–0.70 s and 58 MB (1.05 M allocations) per validation, the fast path 6–19 ms and no
// allocation per entry (`go test -run '^$' -bench Validate10k ./schema/`, 2 shared CPUs, load
// ≈ 24), and a whole offline plan of 10,000 entries has a 0.5 s budget. It only ever answers
// "valid" or "ask the schema": every message still comes from the schema, and
// TestFastEquivalence and FuzzFastConnection hold the two to the same verdicts.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// JSON is the manifest's JSON Schema (draft 7), as shipped in schema/manifest.schema.json.
//
//go:embed manifest.schema.json
var JSON []byte

// URL is the schema's $id.
const URL = "https://github.com/flowsync/flowsync/schema/manifest.schema.json"

// Problem is one way a document breaks the schema. Path reads like
// connections[3].auth.params.bucketName; it is empty for the document itself.
type Problem struct {
	Line, Col int
	Path      string
	Message   string
}

// compiled is the schema compiled once, plus the decoded schema document used to name the
// fields a mapping accepts.
type compiled struct {
	schema *jsonschema.Schema
	item   *jsonschema.Schema // one connections entry
	doc    any
}

var load = sync.OnceValues(func() (*compiled, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft7
	if err := c.AddResource(URL, bytes.NewReader(JSON)); err != nil {
		return nil, err
	}
	s, err := c.Compile(URL)
	if err != nil {
		return nil, err
	}
	item, err := c.Compile(URL + "#/properties/connections/items")
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(JSON, &doc); err != nil {
		return nil, err
	}
	return &compiled{schema: s, item: item, doc: doc}, nil
})

// Validate checks the document rooted at root (a document node or its content) against the
// schema and returns every problem, sorted by line, column and path. A nil result means valid.
func Validate(root *yaml.Node) []Problem {
	return validate(root, true)
}

// validate is Validate, with the fast path or (for tests) without it.
func validate(root *yaml.Node, useFast bool) []Problem {
	c, err := load()
	if err != nil {
		// The embedded schema is tested; this cannot happen in a released binary.
		return []Problem{{Line: 1, Col: 1, Message: "internal error: " + err.Error()}}
	}
	root = content(root)
	if root == nil {
		return []Problem{{Line: 1, Col: 1, Message: "the manifest is empty"}}
	}
	// The fast path vouches for the document and for each connections entry it recognises
	// as valid; only the rest is converted and run through the compiled schema, which
	// stays the source of every message.
	var list *yaml.Node
	if useFast {
		list = connectionsList(root)
	}
	fast, valid := fastEntries(root, list)
	if valid {
		return nil
	}
	conv := converter{budget: MaxAliasExpansion, list: list, fast: fast}
	v := conv.value(root, 0)
	if conv.err != nil {
		return []Problem{{Line: conv.errNode.Line, Col: conv.errNode.Column, Message: conv.err.Error()}}
	}
	rest, items := splitConnections(v)
	return c.collect(root, c.validateAll(rest, items, fast))
}

// fastEntries runs the fast path over the connections list: fast[i] is true for each entry it
// vouches for (nil when it vouches for none, or for no list); valid is true when it vouches
// for the whole document.
func fastEntries(root, list *yaml.Node) (fast []bool, valid bool) {
	if list == nil {
		return nil, false
	}
	slow := false
	for i, item := range list.Content {
		if !FastConnection(item) {
			if fast == nil {
				fast = make([]bool, len(list.Content))
				for j := range i {
					fast[j] = true
				}
			}
			slow = true
			continue
		}
		if fast != nil {
			fast[i] = true
		}
	}
	if slow {
		return fast, false
	}
	if fastRoot(root) {
		return nil, true
	}
	fast = make([]bool, len(list.Content))
	for i := range fast {
		fast[i] = true
	}
	return fast, false
}

// splitConnections takes the connections out of the converted document v: the entries are
// validated one by one against the entry schema, spread over the CPUs (a manifest may hold
// thousands, and the validator's cost is per node), and the rest with an empty list.
func splitConnections(v any) (rest any, items []any) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	list, ok := m["connections"].([]any)
	if !ok || len(list) == 0 {
		return v, nil
	}
	r := make(map[string]any, len(m))
	for k, x := range m {
		r[k] = x
	}
	r["connections"] = []any{}
	return r, list
}

// validateAll validates rest against the schema and each entry the fast path did not vouch
// for against the entry schema: errs[0] is rest's error, errs[1+i] entry i's.
func (c *compiled) validateAll(rest any, items []any, fast []bool) []error {
	var todo []int
	for i := range items {
		if fast == nil || i >= len(fast) || !fast[i] {
			todo = append(todo, i)
		}
	}
	errs := make([]error, 1+len(items))
	errs[0] = c.schema.Validate(rest)
	workers := min(runtime.GOMAXPROCS(0), 1+len(todo)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(todo); j += workers {
				i := todo[j]
				errs[1+i] = c.item.Validate(items[i])
			}
		})
	}
	wg.Wait()
	return errs
}

// collect turns validateAll's errors into problems, each once, sorted.
func (c *compiled) collect(root *yaml.Node, errs []error) []Problem {
	var probs []Problem
	seen := map[Problem]bool{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return []Problem{{Line: root.Line, Col: root.Column, Message: "internal error: " + err.Error()}}
		}
		prefix := ""
		if i > 0 {
			prefix = "/connections/" + strconv.Itoa(i-1)
		}
		for _, leaf := range leaves(ve, nil) {
			leaf.InstanceLocation = prefix + leaf.InstanceLocation
			for _, p := range c.problems(root, leaf) {
				if !seen[p] {
					seen[p] = true
					probs = append(probs, p)
				}
			}
		}
	}
	Sort(probs)
	return probs
}

// connectionsList returns the document's connections list (the value of its last
// "connections" key, as in the JSON object the document converts to), or nil if that is
// not a list.
func connectionsList(root *yaml.Node) *yaml.Node {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if keyString(root.Content[i]) == "connections" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	return list
}

// Sort orders problems by line, column, path and message.
func Sort(probs []Problem) {
	sort.Slice(probs, func(i, j int) bool {
		a, b := probs[i], probs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// leaves flattens a validation error tree to the errors that have no causes.
func leaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = leaves(c, out)
	}
	return out
}

// content returns the node a document node wraps, following aliases.
func content(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// MaxAliasExpansion caps how many YAML nodes aliases may expand to in one document, so a
// "billion laughs" document is rejected instead of exhausting memory.
const MaxAliasExpansion = 1 << 18

// MaxDepth caps the nesting of a document.
const MaxDepth = 100

// ErrAliasExpansion is reported when aliases expand past MaxAliasExpansion nodes.
var ErrAliasExpansion = errors.New("YAML aliases expand to too many values")

// converter turns a yaml.Node tree into the JSON values the validator takes.
type converter struct {
	// list is the document's connections list and fast the entries of it the fast path
	// vouched for: those are left out (nil) when the list is converted outside any alias.
	list    *yaml.Node
	fast    []bool
	budget  int // nodes aliases may still expand to
	aliased int // >0 while inside an alias
	err     error
	errNode *yaml.Node
}

func (c *converter) fail(n *yaml.Node, err error) any {
	if c.err == nil {
		c.err, c.errNode = err, n
	}
	return nil
}

func (c *converter) value(n *yaml.Node, depth int) any {
	if c.err != nil {
		return nil
	}
	if depth > MaxDepth {
		return c.fail(n, fmt.Errorf("the document nests deeper than %d levels", MaxDepth))
	}
	if c.aliased > 0 {
		c.budget--
		if c.budget < 0 {
			return c.fail(n, ErrAliasExpansion)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return c.fail(n, errors.New("unknown YAML alias"))
		}
		c.aliased++
		v := c.value(n.Alias, depth+1)
		c.aliased--
		return v
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[keyString(n.Content[i])] = c.value(n.Content[i+1], depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		skip := n == c.list && c.aliased == 0 && len(c.fast) == len(n.Content)
		for i, e := range n.Content {
			if skip && c.fast[i] {
				continue
			}
			s[i] = c.value(e, depth+1)
		}
		return s
	case yaml.ScalarNode:
		return Scalar(n)
	}
	return nil
}

// keyString is the JSON object key of a YAML mapping key.
func keyString(k *yaml.Node) string {
	k = content(k)
	if k == nil {
		return ""
	}
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return fmt.Sprintf("<%s key at line %d>", kindName(k), k.Line)
}

// Scalar returns the JSON value of a YAML scalar: string, int/float64, bool or nil, following
// the YAML 1.2 core schema as yaml.v3 resolves it. Other tags (timestamps, binary, custom)
// are kept as their text.
func Scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!str":
		return n.Value
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		switch x := v.(type) {
		case bool, int, int64, uint64, float64:
			return x
		}
		return n.Value
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}
