package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/schema"
	"gopkg.in/yaml.v3"
)

// Load reads the manifest at path and parses it.
func Load(path string) (*Manifest, error) {
	data, err := regular.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a manifest. path is used in diagnostics as given and its
// directory anchors {file: PATH} references. On any problem it returns Diagnostics holding
// every problem found.
func Parse(path string, data []byte) (*Manifest, error) {
	p := &parser{file: path}
	root := p.decode(data)
	if root == nil {
		return nil, p.diags
	}
	root = p.prepare(root)
	if root == nil {
		return nil, p.diags
	}
	p.check(root)
	if len(p.diags) > 0 {
		p.diags.sort()
		return nil, p.diags
	}
	m := p.build(root)
	p.warns.sort()
	m.Warnings = p.warns
	return m, nil
}

type parser struct {
	file  string
	diags Diagnostics
	warns Diagnostics
	// steps is the path of the node being walked, rendered only when a problem is reported.
	steps []step
	// entries are the connections merged with defaults by check, reused by build.
	entries []merged
	// superseded holds paths whose schema problems a more specific check already reported.
	superseded []string
	// environments is set when the manifest has environments (instead of target); envs are
	// then their entries merged, by checkEnvironments, for build.
	environments bool
	envs         []envMerged
}

func (p *parser) add(n *yaml.Node, path, msg string) {
	p.diags = append(p.diags, Diagnostic{File: p.file, Pos: posOf(n), Path: path, Message: msg})
}

// supersede reports a problem and hides the schema's problems at path and below it.
func (p *parser) supersede(n *yaml.Node, path, msg string) {
	p.add(n, path, msg)
	p.superseded = append(p.superseded, path)
}

// step is one hop of a path: a mapping key, or a list index when index >= 0.
type step struct {
	key   string
	index int
}

func (p *parser) pushKey(k string) { p.steps = append(p.steps, step{key: k, index: -1}) }
func (p *parser) pushIndex(i int)  { p.steps = append(p.steps, step{index: i}) }
func (p *parser) pop()             { p.steps = p.steps[:len(p.steps)-1] }

// path renders the current steps as connections[3].auth.params.bucketName.
func (p *parser) path() string {
	path := ""
	for _, s := range p.steps {
		if s.index >= 0 {
			path += "[" + strconv.Itoa(s.index) + "]"
		} else {
			path = schema.JoinPath(path, s.key)
		}
	}
	return path
}

// entryPath is the path of connections entry i, or of defaults when i < 0.
func entryPath(i int) string {
	if i < 0 {
		return "defaults"
	}
	return "connections[" + strconv.Itoa(i) + "]"
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode parses exactly one YAML document.
func (p *parser) decode(data []byte) (root *yaml.Node) {
	if !p.scanText(data) {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			p.diags = Diagnostics{{File: p.file, Message: fmt.Sprintf("invalid YAML: %v", r)}}
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "", "the manifest is empty")
			return nil
		}
		p.yamlError(err, data)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		n := &extra
		if len(extra.Content) > 0 {
			n = extra.Content[0]
		}
		p.add(n, "", "a manifest is one YAML document, but another one starts here")
		return nil
	case !errors.Is(err, io.EOF):
		p.yamlError(err, data)
		return nil
	}
	if len(doc.Content) == 0 {
		p.add(nil, "", "the manifest is empty")
		return nil
	}
	return doc.Content[0]
}

// yamlError reports a decoder error at the line where the structure breaks (breakLine), with
// what is wrong there, else where the decoder says.
func (p *parser) yamlError(err error, data []byte) {
	msg := err.Error()
	var pos Pos // unknown: the diagnostic then names the file alone, never a made-up 1:1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		pos = Pos{Line: line, Col: 1}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if line, col, what := breakLine(data); line > 0 {
		pos = Pos{Line: line, Col: col}
		if what != "" {
			msg = what + " (" + msg + ")"
		}
	}
	p.diags = append(p.diags, Diagnostic{File: p.file, Pos: pos, Message: "invalid YAML: " + msg})
}

// scanText reports, at its line and column, the first thing in data that a YAML file cannot
// hold: bytes that are not UTF-8, or a control character (NUL, DEL, C1) other than tab and
// line breaks. The YAML decoder would report them without a position.
func (p *parser) scanText(data []byte) bool {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		msg := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("invalid YAML: byte 0x%02X is not UTF-8 text: save the file as UTF-8", data[i])
		case r == '\n':
			line, col = line+1, 1
			i += size
			continue
		case r == 0xFEFF && i == 0: // a byte order mark: not a column
			i += size
			continue
		case r == '\t' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F:
			msg = fmt.Sprintf("invalid YAML: control character U+%04X is not allowed in a YAML file", r)
		}
		if msg != "" {
			p.diags = append(p.diags, Diagnostic{File: p.file, Pos: Pos{Line: line, Col: col}, Message: msg})
			return false
		}
		col++
		i += size
	}
	return true
}

// prepare rejects YAML features a manifest does not use (duplicate or non-string keys, merge
// keys, custom tags) and expands aliases into a plain tree, within schema.MaxAliasExpansion.
func (p *parser) prepare(root *yaml.Node) *yaml.Node {
	aliases := false
	p.walk(root, 0, &aliases)
	if len(p.diags) > 0 {
		p.diags.sort()
		return nil
	}
	if !aliases {
		return root
	}
	budget := schema.MaxAliasExpansion
	out, ok := p.expand(root, 0, nil, &budget)
	if !ok {
		return nil
	}
	return out
}

// walk checks the tree below n: depth, tags, keys (plain strings, no merge keys, no
// duplicates). aliases is set when an alias is seen.
func (p *parser) walk(n *yaml.Node, depth int, aliases *bool) {
	if depth > schema.MaxDepth {
		p.add(n, p.path(), fmt.Sprintf("the document nests deeper than %d levels", schema.MaxDepth))
		return
	}
	if tag := n.ShortTag(); n.Kind != yaml.AliasNode && !strings.HasPrefix(tag, "!!") {
		p.add(n, p.path(), fmt.Sprintf("YAML tag %s is not supported (a secret reference is {env: NAME} or {file: PATH})", n.Tag))
	}
	switch n.Kind {
	case yaml.AliasNode:
		*aliases = true
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.pushIndex(i)
			p.walk(c, depth+1, aliases)
			p.pop()
		}
	case yaml.MappingNode:
		p.walkMapping(n, depth, aliases)
	}
}

// walkMapping checks a mapping's keys and walks its values.
func (p *parser) walkMapping(n *yaml.Node, depth int, aliases *bool) {
	// Small mappings (all of a valid manifest's) find duplicates by looking back.
	var first map[string]*yaml.Node
	if len(n.Content) > 32 {
		first = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := plainKey(n.Content[i]), n.Content[i+1]
		if k == nil {
			kn := n.Content[i]
			if kn.Kind == yaml.AliasNode && kn.Alias != nil {
				kn = kn.Alias
			}
			if kn.Kind != yaml.ScalarNode {
				p.add(kn, p.path(), "mapping keys must be plain strings")
			} else {
				p.add(kn, p.path(), "YAML merge keys (<<) are not supported: put shared fields in defaults")
			}
			continue
		}
		var f *yaml.Node
		if first != nil {
			f = first[k.Value]
			if f == nil {
				first[k.Value] = k
			}
		} else {
			for j := 0; j < i; j += 2 {
				if e := plainKey(n.Content[j]); e != nil && e.Value == k.Value {
					f = e
					break
				}
			}
		}
		p.pushKey(k.Value)
		if f != nil {
			p.add(k, p.path(), fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, f.Line))
		} else {
			p.walk(v, depth+1, aliases)
		}
		p.pop()
	}
}

// expand returns n with every alias replaced by a copy of what it names, within budget
// nodes. origin is the outermost alias being expanded, where a problem points; nil outside
// aliases.
func (p *parser) expand(n *yaml.Node, depth int, origin *yaml.Node, budget *int) (*yaml.Node, bool) {
	if origin != nil {
		*budget--
	}
	if *budget < 0 || depth > schema.MaxDepth {
		p.add(origin, "", schema.ErrAliasExpansion.Error())
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			p.add(n, "", "unknown YAML alias")
			return nil, false
		}
		if origin == nil {
			origin = n
		}
		return p.expand(n.Alias, depth+1, origin, budget)
	}
	if len(n.Content) == 0 {
		return n, true
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		var ok bool
		if c.Content[i], ok = p.expand(e, depth+1, origin, budget); !ok {
			return nil, false
		}
	}
	return &c, true
}

// plainKey returns a mapping key (following an alias) if it is a scalar and not a merge key.
func plainKey(k *yaml.Node) *yaml.Node {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
		return nil
	}
	return k
}

// get returns the key and value nodes of key in mapping m, or nils.
func get(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// str returns the value of a string scalar.
func str(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

// reference reports whether n is shaped like a secret reference: a mapping whose only keys
// are env and file.
func reference(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "env" && k != "file" {
			return false
		}
	}
	return true
}

const refOutside = "secret references ({env: NAME}, {file: PATH}) are allowed only under auth.params"

// place says where in the manifest a node sits, for the rule that references live only as
// auth.params values.
type place int

const (
	atOther place = iota
	atRoot
	atDefaults
	atConnections
	atConnection
	atAuth
	atParams
	atParam
	atEnvironments
	atEnvironment
	atOverrides
)

func (p *parser) checkReferences(n *yaml.Node, at place) {
	if at != atParam && reference(n) {
		p.supersede(n, p.path(), refOutside)
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		next := atOther
		if at == atConnections {
			next = atConnection
		}
		for i, c := range n.Content {
			p.pushIndex(i)
			p.checkReferences(c, next)
			p.pop()
		}
	case yaml.MappingNode:
		if at == atParam {
			return // a reference, or a schema problem
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			next := atOther
			switch {
			case at == atRoot && k == "defaults":
				next = atDefaults
			case at == atRoot && k == "connections":
				next = atConnections
			case at == atRoot && k == "environments":
				next = atEnvironments
			case at == atEnvironments:
				next = atEnvironment
			case at == atEnvironment && k == "defaults":
				next = atDefaults
			case at == atEnvironment && k == "connections":
				next = atOverrides
			case at == atOverrides:
				next = atConnection
			case (at == atDefaults || at == atConnection) && k == "auth":
				next = atAuth
			case at == atAuth && k == "params":
				next = atParams
			case at == atParams:
				next = atParam
			}
			p.pushKey(k)
			p.checkReferences(n.Content[i+1], next)
			p.pop()
		}
	}
}

// check runs the schema and the rules a schema cannot say, recording every problem.
func (p *parser) check(root *yaml.Node) {
	p.checkReferences(root, atRoot)
	p.checkPromotion(root)

	_, defaults := get(root, "defaults")
	p.checkValues(defaults, -1)

	_, envs := get(root, "environments")
	p.environments = envs != nil
	_, list := get(root, "connections")
	var seen map[string]*yaml.Node // entry names by names.Key
	if list != nil && list.Kind == yaml.SequenceNode {
		seen = make(map[string]*yaml.Node, len(list.Content))
		p.entries = make([]merged, len(list.Content))
		arena := make([]param, 0, 6*len(list.Content))
		for i, item := range list.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			if _, nv := get(item, "name"); nv != nil {
				if name, ok := str(nv); ok {
					key := names.Key(name)
					if first, dup := seen[key]; dup {
						msg := fmt.Sprintf("duplicate name %q: first used at line %d", name, first.Line)
						if first.Value != name {
							msg = fmt.Sprintf("duplicate name %+q: first used at line %d as %+q, %s", name, first.Line, first.Value, names.Clash(first.Value, name))
						}
						p.add(nv, entryPath(i)+".name", msg)
					} else {
						seen[key] = nv
					}
				}
			}
			p.checkValues(item, i)
			p.entries[i], arena = merge(defaults, item, arena)
			if !p.environments {
				p.checkMerged(p.entries[i], i)
			}
		}
		p.checkFormerNames(list, seen)
	}
	if p.environments {
		p.checkEnvironments(root, defaults, seen)
	}

	probs := schema.Validate(root)
	for _, pr := range probs {
		if p.isSuperseded(pr.Path) {
			continue
		}
		p.diags = append(p.diags, Diagnostic{File: p.file, Pos: Pos{Line: pr.Line, Col: pr.Col}, Path: pr.Path, Message: pr.Message})
	}
}

// checkFormerNames checks every entry's formerNames against the names (seen, by names.Key)
// and against each other: a former name may be no entry's name and claimed by one entry only,
// once. Names compare as names do (NFC, invisible characters ignored).
func (p *parser) checkFormerNames(list *yaml.Node, seen map[string]*yaml.Node) {
	claimed := map[string]*yaml.Node{} // by names.Key: the first formerNames item claiming it
	for i, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		_, fl := get(item, "formerNames")
		if fl == nil || fl.Kind != yaml.SequenceNode {
			continue // the schema reports it
		}
		for j, fn := range fl.Content {
			former, ok := str(fn)
			if !ok || former == "" {
				continue
			}
			key := names.Key(former)
			path := fmt.Sprintf("%s.formerNames[%d]", entryPath(i), j)
			if nv, ok := seen[key]; ok {
				p.add(fn, path, fmt.Sprintf("%+q is the name of the entry at line %d: a name is either an entry's or a former one, not both", former, nv.Line))
				continue
			}
			if first, dup := claimed[key]; dup {
				p.add(fn, path, fmt.Sprintf("%+q is already a former name at line %d: one connection can be renamed to one name only", former, first.Line))
				continue
			}
			claimed[key] = fn
		}
	}
}

func (p *parser) isSuperseded(path string) bool {
	for _, s := range p.superseded {
		if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") {
			return true
		}
	}
	return false
}

// checkValues checks the values written in a connection entry or in defaults, each once,
// where it was written.
func (p *parser) checkValues(m *yaml.Node, entry int) {
	p.checkValuesAt(m, entryPath(entry))
}

// checkValuesAt is checkValues for the mapping at path (an entry, defaults, an environment's
// defaults or override).
func (p *parser) checkValuesAt(m *yaml.Node, at string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	if _, spec := get(m, "connectionSpec"); spec != nil {
		if _, id := get(spec, "id"); id != nil {
			if v, ok := str(id); ok && v != s3source.SpecID {
				p.add(id, at+".connectionSpec.id", fmt.Sprintf("flowsync manages the Amazon S3 source only (connection spec %s): leave connectionSpec out", s3source.SpecID))
			}
		}
		if _, ver := get(spec, "version"); ver != nil {
			if v, ok := str(ver); ok && v != s3source.SpecVersion {
				p.add(ver, at+".connectionSpec.version", fmt.Sprintf("flowsync manages version %q of the Amazon S3 source: leave connectionSpec out", s3source.SpecVersion))
			}
		}
	}
	_, auth := get(m, "auth")
	_, params := get(auth, "params")
	if params == nil || params.Kind != yaml.MappingNode {
		return
	}
	p.checkRegion(params, at+".auth.params")
	for i := 0; i+1 < len(params.Content); i += 2 {
		name, vn := params.Content[i].Value, params.Content[i+1]
		v, ok := str(vn)
		if !ok {
			continue
		}
		path := at + ".auth.params." + name
		if msg := textProblem(v); msg != "" {
			p.supersede(vn, path, msg)
		} else if name == s3source.ParamBucketName {
			p.checkBucket(vn, path, v)
		} else if msg := literalProblem(name, v); msg != "" {
			p.supersede(vn, path, msg)
		}
	}
}

// checkBucket holds a literal bucket name to the S3 rules (s3source): a name no bucket can
// have is an error, with a suggestion that itself follows the rules; a legacy us-east-1 name
// is accepted with a warning. The schema's broader pattern is superseded either way.
func (p *parser) checkBucket(n *yaml.Node, path, v string) {
	verdict, err := s3source.ClassifyBucketName(v)
	if verdict == s3source.BucketValid {
		return
	}
	msg := err.Error()
	suggestion := s3source.SuggestBucketName(v)
	if verdict == s3source.BucketLegacy {
		msg = fmt.Sprintf("%q breaks the current S3 bucket naming rules (%s): accepted as a legacy name, which only us-east-1 buckets made before March 2018 may have", v, msg)
		if suggestion != "" {
			msg += fmt.Sprintf("; for a new bucket, did you mean %q?", suggestion)
		}
		p.warns = append(p.warns, Diagnostic{File: p.file, Pos: posOf(n), Path: path, Message: msg})
		p.superseded = append(p.superseded, path)
		return
	}
	if suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", suggestion)
	}
	p.supersede(n, path, msg)
}

// folderProblem checks the component rules of a folder path that the schema's pattern
// cannot say.
func folderProblem(v string) string {
	for {
		c, rest, more := strings.Cut(v, "/")
		switch s3source.ComponentFlaw(c) {
		case s3source.DotName:
			return fmt.Sprintf("folder path components must not be %q", c)
		case s3source.TooLong:
			return fmt.Sprintf("folder path components are at most %d characters, not %d", s3source.MaxComponent, utf8.RuneCountInString(c))
		}
		if !more {
			break
		}
		v = rest
	}
	return ""
}

// param is one auth param after merging: where its key and value were written.
type param struct {
	name       string
	key, value *yaml.Node
	inherited  bool // came from defaults
	region     bool // written as region: value is a region name, name is serviceUrl
}

// merged is a connection entry with defaults merged under it. Nodes are the ones written,
// in the entry or in defaults, so positions point where each value came from.
type merged struct {
	entry               *yaml.Node
	nameKey, name       *yaml.Node
	description         *yaml.Node
	specID, specVersion *yaml.Node
	authKey, specName   *yaml.Node
	paramsKey           *yaml.Node
	params              []param
}

// merge deep-merges defaults under a connection entry: see mergeLayers.
func merge(defaults, entry *yaml.Node, arena []param) (merged, []param) {
	layers := [...]*yaml.Node{defaults, entry}
	return mergeLayers(layers[:], 1, arena)
}

// anchor is where a problem about the whole entry points: its params, its auth, or its name.
func (m merged) anchor() *yaml.Node {
	for _, n := range []*yaml.Node{m.paramsKey, m.authKey, m.nameKey} {
		if n != nil {
			return n
		}
	}
	return m.entry
}

func (m merged) param(name string) *param {
	for i := range m.params {
		if m.params[i].name == name {
			return &m.params[i]
		}
	}
	return nil
}

// checkMerged checks the rules that hold for an entry with its defaults.
func (p *parser) checkMerged(m merged, entry int) {
	p.checkMergedAt(m, entryPath(entry))
}

// checkMergedAt is checkMerged for the entry at path.
func (p *parser) checkMergedAt(m merged, at string) {
	if m.specName == nil {
		p.add(m.anchor(), at+".auth.specName", fmt.Sprintf("required field is missing: set it here or in defaults (%q or %q)", s3source.AccessKey, s3source.IAMRoleBased))
		return
	}
	specName, _ := str(m.specName)
	auth, ok := s3source.Auth(specName)
	if !ok {
		return // the schema's enum says so
	}
	for _, need := range auth.Required() {
		if m.param(need) == nil {
			p.add(m.anchor(), at+".auth.params."+need, fmt.Sprintf("required by %s: set it here or in defaults.auth.params", specName))
		}
	}
	for _, pr := range m.params {
		if auth.Takes(pr.name) || !s3source.KnownParam(pr.name) {
			continue // an unknown param is the schema's to report
		}
		msg := fmt.Sprintf("%s takes only %s", specName, takesList(auth))
		if pr.inherited {
			msg += " (this one comes from defaults)"
		}
		p.add(pr.key, at+".auth.params."+pr.key.Value, msg)
	}
}

// takesList names the params an auth spec takes: "bucketName and folderPath".
func takesList(a s3source.AuthSpec) string {
	names := make([]string, len(a.Params))
	for i, p := range a.Params {
		names[i] = p.Name
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// build turns a checked tree into a Manifest.
func (p *parser) build(root *yaml.Node) *Manifest {
	m := &Manifest{Path: p.file, Dir: filepath.Dir(p.file), Version: 1}
	if p.environments {
		p.buildEnvironments(root, m)
		k, _ := get(root, "environments")
		m.EnvironmentsPos = posOf(k)
		return m
	}
	_, target := get(root, "target")
	_, org := get(target, "orgId")
	_, sandbox := get(target, "sandbox")
	m.Target = Target{OrgID: org.Value, Sandbox: sandbox.Value}
	_, list := get(root, "connections")
	if list == nil {
		return m
	}
	m.Connections = make([]Connection, 0, len(list.Content))
	nrefs := 0
	for _, mg := range p.entries {
		for _, pr := range mg.params {
			if pr.value.Kind == yaml.MappingNode {
				nrefs++
			}
		}
	}
	refs := make([]Ref, nrefs) // one allocation for every reference
	for i, mg := range p.entries {
		var c Connection
		c, refs = connectionOf(i, mg, refs)
		m.Connections = append(m.Connections, c)
	}
	return m
}
