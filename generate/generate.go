// Package generate builds, from the live connections of a sandbox, the manifest and the
// lockfile that bring them under flowsync (`flowsync generate`): entries sorted by name,
// values every entry shares factored into defaults, secrets as {env: NAME} references, and a
// lockfile that records every entry as import would.
//
// Invariants: pure (no I/O, no clock): the same connections and rules give the same bytes;
// what it returns always validates as a manifest; no secret value is written (the service
// never answers them, and a param either rule calls secret becomes a reference).
package generate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// SecretRule says whether param of auth spec specName is secret (written as a reference).
type SecretRule func(specName, param string) bool

// genEntry is one live connection as a manifest entry.
type genEntry struct {
	conn   flowapi.Connection
	params map[string]string // non-secret params: literal values
	refs   map[string]string // secret params: environment variable
}

// LeftOut is a live connection generate did not write, and why.
type LeftOut struct {
	Name   string
	IDs    []string
	Reason string
}

// Result is what generate writes.
type Result struct {
	Manifest []byte
	Lock     *lockfile.File
	entries  []*genEntry // kept, sorted by name
	LeftOut  []LeftOut   // sorted by name
	EnvVars  []string    // every variable the manifest references, sorted
}

// Entries is how many connections the manifest holds.
func (r *Result) Entries() int { return len(r.entries) }

// genEntries groups live connections by name: a name held by one connection becomes an
// entry, a name held by several is left out with their ids. Entries are sorted by name.
func genEntries(conns []flowapi.Connection, secret SecretRule, required func(specName string) []string) ([]*genEntry, []LeftOut) {
	// Names that read the same (equal in NFC, or but for invisible characters) are one name
	// to flowsync: a manifest may not hold two of them.
	byKey := map[string][]flowapi.Connection{}
	for _, c := range conns {
		k := names.Key(c.Name)
		byKey[k] = append(byKey[k], c)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var entries []*genEntry
	var left []LeftOut
	for _, k := range keys {
		cs := byKey[k]
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name || cs[i].Name == cs[j].Name && cs[i].ID < cs[j].ID })
		n := cs[0].Name
		if len(cs) > 1 {
			ids := make([]string, len(cs))
			for i, c := range cs {
				ids[i] = c.ID
			}
			sort.Strings(ids)
			reason := fmt.Sprintf("%d live connections have this name", len(cs))
			for _, c := range cs[1:] {
				if c.Name != n {
					reason = fmt.Sprintf("%d live connections have names that read the same: %s", len(cs), names.Clash(n, c.Name))
					break
				}
			}
			left = append(left, LeftOut{Name: n, IDs: ids, Reason: reason})
			continue
		}
		c := cs[0]
		if c.ConnectionSpec.Version != s3source.SpecVersion {
			left = append(left, LeftOut{Name: n, IDs: []string{c.ID},
				Reason: fmt.Sprintf("connection spec version %q: flowsync manages version %s only", c.ConnectionSpec.Version, s3source.SpecVersion)})
			continue
		}
		e := &genEntry{conn: c, params: map[string]string{}, refs: map[string]string{}}
		for p, v := range c.Auth.Params {
			if secret(c.Auth.SpecName, p) {
				e.refs[p] = ""
				continue
			}
			e.params[p] = v
		}
		// A secret the auth spec requires is set on the connection, whether or not the
		// service lists it (masked) in its answer.
		for _, p := range required(c.Auth.SpecName) {
			if _, ok := e.params[p]; !ok && secret(c.Auth.SpecName, p) {
				e.refs[p] = ""
			}
		}
		entries = append(entries, e)
	}
	return entries, left
}

// assignEnvVars names the environment variable of every secret param: one variable per
// param ("S3_SECRET_KEY") for all the connections that use the same AWS access key, since an
// access key id has one secret key (and temporary credentials one session token). The service
// never answers secrets, so connections of different access keys may hold different ones:
// when the entries use several access keys, each key's variables carry it as a suffix
// ("S3_SECRET_KEY_AKIAIOSFODNN7EXAMPLE"; the access key id is not a secret, the service shows
// it). A connection with secrets but no access key gets variables of its own, named after it.
// Names are made unique with a numeric suffix. It returns every variable, sorted.
func assignEnvVars(entries []*genEntry) []string {
	const accessKey = s3source.ParamAccessKey
	keys := map[string]bool{}
	for _, e := range entries {
		if len(e.refs) > 0 && e.params[accessKey] != "" {
			keys[e.params[accessKey]] = true
		}
	}
	taken := map[string]string{} // variable → the access key (or "entry:NAME") it stands for
	for _, e := range entries {
		owner, suffix := "entry:"+e.conn.Name, envName(e.conn.Name)
		if suffix == "" {
			suffix = "CONNECTION"
		}
		if k := e.params[accessKey]; k != "" {
			owner, suffix = k, envName(k)
			if len(keys) == 1 {
				suffix = ""
			}
		}
		for _, p := range sortedKeys(e.refs) {
			base := envName(p)
			if suffix != "" {
				base += "_" + suffix
			}
			v := base
			for i := 2; taken[v] != "" && taken[v] != owner; i++ {
				v = base + "_" + strconv.Itoa(i)
			}
			taken[v] = owner
			e.refs[p] = v
		}
	}
	all := make([]string, 0, len(taken))
	for v := range taken {
		all = append(all, v)
	}
	sort.Strings(all)
	return all
}

// envName is s in upper snake case, ASCII letters and digits only: s3source.ParamSecretKey →
// "S3_SECRET_KEY", "acme-marketing.eu" → "ACME_MARKETING_EU".
func envName(s string) string {
	var b strings.Builder
	prevLower, pendingSep := false, false
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if unicode.IsUpper(r) && prevLower {
				pendingSep = true
			}
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(unicode.ToUpper(r))
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		default:
			pendingSep, prevLower = true, false
		}
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// genDefaults returns what every entry shares: description, specName, and non-secret params
// with the same value in all of them (only when they share the specName, since an entry of
// another specName inherits no default params). Fewer than two entries share nothing.
type genDefaults struct {
	description *string
	specName    string
	params      map[string]string
	refs        map[string]string // secret params every entry takes from the same variable
}

func factorDefaults(entries []*genEntry) genDefaults {
	var d genDefaults
	if len(entries) < 2 {
		return d
	}
	first := entries[0].conn
	sameDesc, sameSpec := first.Description != "", true
	for _, e := range entries[1:] {
		sameDesc = sameDesc && e.conn.Description == first.Description
		sameSpec = sameSpec && e.conn.Auth.SpecName == first.Auth.SpecName
	}
	if sameDesc {
		d.description = &first.Description
	}
	if !sameSpec {
		return d
	}
	d.specName = first.Auth.SpecName
	d.params = map[string]string{}
	for p, v := range entries[0].params {
		shared := true
		for _, e := range entries[1:] {
			if w, ok := e.params[p]; !ok || w != v {
				shared = false
				break
			}
		}
		if shared {
			d.params[p] = v
		}
	}
	d.refs = map[string]string{}
	for p, v := range entries[0].refs {
		shared := true
		for _, e := range entries[1:] {
			if w, ok := e.refs[p]; !ok || w != v {
				shared = false
				break
			}
		}
		if shared {
			d.refs[p] = v
		}
	}
	return d
}

// genManifest renders the manifest of entries under target, factoring d into defaults.
func genManifest(target lockfile.Target, entries []*genEntry, d genDefaults, header string) ([]byte, error) {
	root := mapping()
	root.HeadComment = header
	add(root, "version", scalarInt(1))
	t := mapping()
	add(t, "orgId", scalar(target.OrgID))
	add(t, "sandbox", scalar(target.Sandbox))
	add(root, "target", t)
	if d.description != nil || d.specName != "" {
		def := mapping()
		if d.description != nil {
			add(def, "description", scalar(*d.description))
		}
		if d.specName != "" {
			auth := mapping()
			add(auth, "specName", scalar(d.specName))
			if len(d.params)+len(d.refs) > 0 {
				params := mapping()
				for _, p := range sortedKeys(d.params) {
					add(params, p, scalar(d.params[p]))
				}
				for _, p := range sortedKeys(d.refs) {
					add(params, p, envRef(d.refs[p]))
				}
				add(auth, "params", params)
			}
			add(def, "auth", auth)
		}
		add(root, "defaults", def)
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range entries {
		item := mapping()
		add(item, "name", scalar(e.conn.Name))
		if e.conn.Description != "" && d.description == nil {
			add(item, "description", scalar(e.conn.Description))
		}
		auth := mapping()
		if d.specName == "" || e.conn.Auth.SpecName != d.specName {
			add(auth, "specName", scalar(e.conn.Auth.SpecName))
		}
		params := mapping()
		for _, p := range sortedKeys(e.params) {
			if _, shared := d.params[p]; shared {
				continue
			}
			add(params, p, scalar(e.params[p]))
		}
		for _, p := range sortedKeys(e.refs) {
			if _, shared := d.refs[p]; shared {
				continue
			}
			add(params, p, envRef(e.refs[p]))
		}
		if len(params.Content) > 0 {
			add(auth, "params", params)
		}
		if len(auth.Content) > 0 {
			add(item, "auth", auth)
		}
		list.Content = append(list.Content, item)
	}
	add(root, "connections", list)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// envRef is the reference {env: NAME}.
func envRef(name string) *yaml.Node {
	ref := mapping()
	ref.Style = yaml.FlowStyle
	add(ref, "env", scalar(name))
	return ref
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.ContainsAny(s, "\n") {
		n.Style = yaml.DoubleQuotedStyle // one line per value; no trailing-newline surprises
	}
	return n
}

func scalarInt(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// genLock records every entry as applied, as import does (reconcile.Import): id, etag, the
// non-secret fields as the service shows them. Each secret param gets an empty digest: "set
// on the service, value unknown". A plan that does not read secrets (--no-secrets) then
// shows no change, and one that does shows each secret as changed, so the first apply sends
// the secrets and nothing else.
func genLock(target lockfile.Target, entries []*genEntry) (*lockfile.File, error) {
	lock, err := lockfile.New(target)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		c := e.conn
		d := reconcile.Desired{Name: c.Name, Description: c.Description, Spec: c.ConnectionSpec, SpecName: c.Auth.SpecName,
			Params: make(map[string]reconcile.Param, len(e.params)+len(e.refs))}
		for k, v := range e.params {
			d.Params[k] = reconcile.Param{Value: v, Known: true}
		}
		for k := range e.refs {
			d.Params[k] = reconcile.Param{Sensitive: true}
		}
		d.Name = names.Normalize(c.Name) // the manifest's names are NFC, and so are the lockfile's
		if _, err := reconcile.Import(lock, &d, &c, false); err != nil {
			return nil, fmt.Errorf("record %s: %w", c.Name, err)
		}
		le := lock.Connections[d.Name]
		for k := range e.refs {
			if le.SecretDigests == nil {
				le.SecretDigests = map[string]string{}
			}
			le.SecretDigests[k] = ""
		}
	}
	return lock, nil
}

var entryIndex = regexp.MustCompile(`^connections\[(\d+)\]`)

// Build turns the live connections into the manifest and lockfile. An entry the
// manifest's own rules refuse (a legacy bucket name, an auth spec flowsync does not manage,
// two names equal after normalisation) is left out with the rule's message, so that what
// is written always validates.
func Build(out string, target lockfile.Target, conns []flowapi.Connection, secret SecretRule, required func(string) []string) (*Result, error) {
	entries, left := genEntries(conns, secret, required)
	header := fmt.Sprintf("Generated by \"flowsync generate\" from the live Amazon S3 connections of\norg %s, sandbox %s.\nThe service never answers secrets: each secret param is a reference to an environment\nvariable, one per param for the connections of one AWS access key. Set them before\n\"flowsync apply\", which then sends them once.", target.OrgID, target.Sandbox)
	for round := 0; ; round++ {
		assignEnvVars(entries)
		data, err := genManifest(target, entries, genDefaults{}, header)
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", out, err)
		}
		_, perr := manifest.Parse(out, data)
		var diags manifest.Diagnostics
		if perr == nil {
			break
		}
		if !errors.As(perr, &diags) || round > 3 {
			return nil, fmt.Errorf("generate %s: the manifest does not validate: %w", out, perr)
		}
		bad := map[int]string{}
		for _, d := range diags {
			sub := entryIndex.FindStringSubmatch(d.Path)
			if sub == nil {
				return nil, fmt.Errorf("generate %s: the manifest does not validate: %w", out, perr)
			}
			i, _ := strconv.Atoi(sub[1])
			if _, seen := bad[i]; !seen && i < len(entries) {
				rest := strings.TrimPrefix(strings.TrimPrefix(d.Path, sub[0]), ".")
				if rest != "" {
					rest += ": "
				}
				bad[i] = "flowsync's manifest rules refuse it: " + rest + d.Message
			}
		}
		var kept []*genEntry
		for i, e := range entries {
			if reason, ok := bad[i]; ok {
				left = append(left, LeftOut{Name: e.conn.Name, IDs: []string{e.conn.ID}, Reason: reason})
				continue
			}
			kept = append(kept, e)
		}
		entries = kept
	}
	slices.SortStableFunc(left, func(a, b LeftOut) int { return strings.Compare(a.Name, b.Name) })
	gen := &Result{entries: entries, LeftOut: left, EnvVars: assignEnvVars(entries)}
	if len(entries) == 0 {
		return gen, nil
	}
	var err error
	if gen.Manifest, err = genManifest(target, entries, factorDefaults(entries), header); err != nil {
		return nil, fmt.Errorf("generate %s: %w", out, err)
	}
	if _, err := manifest.Parse(out, gen.Manifest); err != nil {
		return nil, fmt.Errorf("generate %s: the manifest with defaults does not validate: %w", out, err)
	}
	if gen.Lock, err = genLock(target, entries); err != nil {
		return nil, err
	}
	return gen, nil
}

// Rules are which params are secret and which are required, per auth spec: what the
// service's own description (spec, nil when it gave none) says (format: password, required)
// together with flowsync's rules (s3source), which are the fallback. A param either calls
// secret is written as a reference: a masked value must never become a literal.
func Rules(spec *flowapi.ConnectionSpec) (SecretRule, func(specName string) []string) {
	service := map[string]flowapi.ParamsSchema{}
	if spec != nil {
		for _, a := range spec.AuthSpec {
			if ps, err := a.Params(); err == nil {
				service[a.Name] = ps
			}
		}
	}
	secret := func(specName, p string) bool {
		if s3source.Secret(p) {
			return true
		}
		if a, ok := s3source.Auth(specName); ok {
			for _, q := range a.Params {
				if q.Name == p && q.Secret {
					return true
				}
			}
		}
		return service[specName].Properties[p].Secret()
	}
	required := func(specName string) []string {
		var out []string
		if a, ok := s3source.Auth(specName); ok {
			out = a.Required()
		}
		for _, p := range service[specName].Required {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	return secret, required
}
