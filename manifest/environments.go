package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/flowsync/flowsync/names"
	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/schema"
	"gopkg.in/yaml.v3"
)

// AllEnvironments is the --env word for every environment of a manifest (validate and plan).
const AllEnvironments = "all"

// Environment is one sandbox of a manifest with environments: its target and its entries,
// each with the manifest's defaults, the environment's defaults, the entry and the
// environment's override of it merged in that order.
type Environment struct {
	Name        string
	Target      Target
	Pos         Pos          // of its name under environments
	Connections []Connection // file order; the entries it excludes are left out
	Excluded    []string     // names of the entries it leaves out (exclude: true), file order
}

// mergeLayers deep-merges mapping layers, lowest first (defaults, an environment's defaults,
// the entry, the environment's override of it); layers[entry] is the connection entry, and
// every layer may be nil. A later layer wins; connectionSpec and auth merge field by field
// and auth.params key by key (a reference is one value, never merged with another; region
// and serviceUrl are one param). The params of a layer whose auth.specName in effect differs
// from the final one are not inherited: they belong to another way of signing in. The
// params are appended to arena, which mergeLayers returns grown.
func mergeLayers(layers []*yaml.Node, entry int, arena []param) (merged, []param) {
	m := merged{entry: layers[entry]}
	m.nameKey, m.name = get(layers[entry], "name")
	var auths [4]*yaml.Node
	for i, l := range layers {
		var authKey *yaml.Node
		authKey, auths[i] = get(l, "auth")
		_, spec := get(l, "connectionSpec")
		if _, v := get(l, "description"); v != nil {
			m.description = v
		}
		if _, v := get(spec, "id"); v != nil {
			m.specID = v
		}
		if _, v := get(spec, "version"); v != nil {
			m.specVersion = v
		}
		if _, v := get(auths[i], "specName"); v != nil {
			m.specName = v
		}
		if i == entry {
			m.authKey = authKey
			m.paramsKey, _ = get(auths[i], "params")
		}
	}
	final, finalSet := str(m.specName)
	start := len(arena)
	// find returns the index in arena of an earlier param named name, or -1. Params are few:
	// a valid entry has at most six.
	find := func(name string) int {
		for j := start; j < len(arena); j++ {
			if arena[j].name == name {
				return j
			}
		}
		return -1
	}
	cur, curSet := "", false
	for i := range layers {
		_, sn := get(auths[i], "specName")
		if v, ok := str(sn); ok {
			cur, curSet = v, true
		}
		_, params := get(auths[i], "params")
		if curSet && finalSet && cur != final || params == nil || params.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(params.Content); j += 2 {
			k := params.Content[j]
			pr := param{name: k.Value, key: k, value: params.Content[j+1], inherited: i < entry}
			if pr.name == s3source.ParamRegion {
				pr.name, pr.region = s3source.ParamServiceURL, true
			}
			// A duplicate key (reported by prepare) keeps its first place, its last value.
			if idx := find(pr.name); idx >= 0 {
				arena[idx] = pr
			} else {
				arena = append(arena, pr)
			}
		}
	}
	m.params = arena[start:len(arena):len(arena)]
	return m, arena
}

// checkRegion refuses region and serviceUrl in one params mapping: region is shorthand for
// serviceUrl.
func (p *parser) checkRegion(params *yaml.Node, at string) {
	rk, _ := get(params, s3source.ParamRegion)
	uk, _ := get(params, s3source.ParamServiceURL)
	if rk != nil && uk != nil {
		p.add(rk, at+"."+s3source.ParamRegion, fmt.Sprintf("region is shorthand for serviceUrl (line %d): set one of them, not both", uk.Line))
	}
}

// envMerged is one environment's entries, merged by checkEnvironments for build.
type envMerged struct {
	key, target *yaml.Node
	entries     []merged // by index in connections; zero for an excluded entry or a non-mapping
	excluded    []bool
}

// envProblem is a problem of a merged entry, found in one or more environments.
type envProblem struct {
	d    Diagnostic
	envs []string
}

// checkEnvironments checks each environment: its defaults and overrides where they are
// written, each override's name against the entries (seen, by names.Key), and every entry
// as the environment merges it. A problem of a merged entry that several environments share
// is reported once, naming them.
func (p *parser) checkEnvironments(root, defaults *yaml.Node, seen map[string]*yaml.Node) {
	_, envs := get(root, "environments")
	_, list := get(root, "connections")
	if envs == nil || envs.Kind != yaml.MappingNode {
		return
	}
	var problems []*envProblem
	byDiag := map[Diagnostic]*envProblem{}
	arena := []param(nil)
	for i := 0; i+1 < len(envs.Content); i += 2 {
		k, v := envs.Content[i], envs.Content[i+1]
		path := schema.JoinPath("environments", k.Value)
		if k.Value == AllEnvironments {
			p.add(k, path, `"all" cannot name an environment: --env all means every environment`)
		}
		_, envDefaults := get(v, "defaults")
		p.checkValuesAt(envDefaults, path+".defaults")
		overrides := p.checkOverrides(v, path, seen)
		em := envMerged{key: k}
		_, em.target = get(v, "target")
		if list != nil && list.Kind == yaml.SequenceNode {
			em.entries = make([]merged, len(list.Content))
			em.excluded = make([]bool, len(list.Content))
			for idx, item := range list.Content {
				if item.Kind != yaml.MappingNode {
					continue
				}
				var ov *yaml.Node
				if _, nv := get(item, "name"); nv != nil {
					ov = overrides[names.Key(nv.Value)]
				}
				if excluded(ov) {
					em.excluded[idx] = true
					continue
				}
				layers := [...]*yaml.Node{defaults, envDefaults, item, ov}
				em.entries[idx], arena = mergeLayers(layers[:], 2, arena)
				start := len(p.diags)
				p.checkMerged(em.entries[idx], idx)
				for _, d := range p.diags[start:] {
					if ep := byDiag[d]; ep != nil {
						ep.envs = append(ep.envs, k.Value)
						continue
					}
					ep := &envProblem{d: d, envs: []string{k.Value}}
					byDiag[d] = ep
					problems = append(problems, ep)
				}
				p.diags = p.diags[:start]
			}
		}
		p.envs = append(p.envs, em)
	}
	for _, ep := range problems {
		d := ep.d
		if len(ep.envs) == 1 {
			d.Message += " (in environment " + ep.envs[0] + ")"
		} else {
			d.Message += " (in environments " + strings.Join(ep.envs, ", ") + ")"
		}
		p.diags = append(p.diags, d)
	}
}

// checkOverrides checks an environment's overrides: each names an entry, and its values are
// checked where they are written. It returns them by names.Key of the entry's name.
func (p *parser) checkOverrides(env *yaml.Node, path string, seen map[string]*yaml.Node) map[string]*yaml.Node {
	_, oc := get(env, "connections")
	if oc == nil || oc.Kind != yaml.MappingNode {
		return nil
	}
	out := make(map[string]*yaml.Node, len(oc.Content)/2)
	for i := 0; i+1 < len(oc.Content); i += 2 {
		k, v := oc.Content[i], oc.Content[i+1]
		at := schema.JoinPath(path+".connections", k.Value)
		key := names.Key(k.Value)
		if seen[key] == nil {
			p.supersede(k, at, fmt.Sprintf("no entry of connections is named %q: an override names the entry it changes", k.Value))
			continue
		}
		out[key] = v
		p.checkValuesAt(v, at)
	}
	return out
}

// excluded reports whether an override says exclude: true.
func excluded(override *yaml.Node) bool {
	_, x := get(override, "exclude")
	return x != nil && x.Kind == yaml.ScalarNode && schema.Scalar(x) == true
}

// checkPromotion checks that promotion orders environments the manifest has.
func (p *parser) checkPromotion(root *yaml.Node) {
	pk, promo := get(root, "promotion")
	if promo == nil {
		return
	}
	_, envs := get(root, "environments")
	if envs == nil {
		p.supersede(pk, "promotion", "promotion orders environments, and this manifest has none: add environments, or remove promotion")
		return
	}
	if promo.Kind != yaml.SequenceNode || envs.Kind != yaml.MappingNode {
		return
	}
	var declared []string
	for i := 0; i+1 < len(envs.Content); i += 2 {
		declared = append(declared, envs.Content[i].Value)
	}
	for i, item := range promo.Content {
		if v, ok := str(item); ok && !slices.Contains(declared, v) {
			p.add(item, "promotion["+strconv.Itoa(i)+"]", fmt.Sprintf("no environment is named %q (environments: %s)", v, strings.Join(declared, ", ")))
		}
	}
}

// buildEnvironments fills m's environments from a checked tree: promotion order first, then
// the others in file order.
func (p *parser) buildEnvironments(root *yaml.Node, m *Manifest) {
	_, promo := get(root, "promotion")
	if promo != nil {
		for _, item := range promo.Content {
			m.Promotion = append(m.Promotion, item.Value)
		}
	}
	// The digests serve promotion only: without it, the lockfiles hold none.
	digests := make([]string, len(p.entries))
	for i, mg := range p.entries {
		if mg.name != nil && len(m.Promotion) > 0 {
			digests[i] = promotionDigest(mg)
		}
	}
	for _, em := range p.envs {
		_, org := get(em.target, "orgId")
		_, sandbox := get(em.target, "sandbox")
		env := Environment{Name: em.key.Value, Target: Target{OrgID: org.Value, Sandbox: sandbox.Value}, Pos: posOf(em.key)}
		for i, mg := range em.entries {
			if em.excluded[i] && p.entries[i].name != nil {
				env.Excluded = append(env.Excluded, names.Normalize(p.entries[i].name.Value))
				continue
			}
			if mg.name == nil {
				continue
			}
			c, _ := connectionOf(i, mg, nil)
			c.Promotion = digests[i]
			env.Connections = append(env.Connections, c)
		}
		m.Environments = append(m.Environments, env)
	}
	rank := func(name string) int {
		if i := slices.Index(m.Promotion, name); i >= 0 {
			return i
		}
		return len(m.Promotion)
	}
	sort.SliceStable(m.Environments, func(i, j int) bool { return rank(m.Environments[i].Name) < rank(m.Environments[j].Name) })
}

// connectionOf turns a merged entry (index i of connections) into a Connection. Its secret
// references are taken from slab while it lasts (one allocation for a whole manifest's
// references), and what is left of slab is returned.
func connectionOf(i int, mg merged, slab []Ref) (Connection, []Ref) {
	c := Connection{
		Index:          i,
		Name:           names.Normalize(mg.name.Value),
		ConnectionSpec: s3source.ConnectionSpec(),
		SpecName:       mg.specName.Value,
		Params:         make(map[string]Value, len(mg.params)),
		Pos:            posOf(mg.nameKey),
	}
	if mg.description != nil {
		c.Description = mg.description.Value
	}
	if _, fl := get(mg.entry, "formerNames"); fl != nil {
		for _, fn := range fl.Content {
			c.FormerNames = append(c.FormerNames, names.Normalize(fn.Value))
		}
	}
	for _, pr := range mg.params {
		v := Value{Pos: posOf(pr.value)}
		switch {
		case pr.value.Kind == yaml.MappingNode:
			if len(slab) == 0 {
				slab = make([]Ref, 1)
			}
			k, val := pr.value.Content[0], pr.value.Content[1]
			slab[0] = Ref{Kind: k.Value, Name: val.Value}
			v.Ref, slab = &slab[0], slab[1:]
		case pr.region:
			v.Literal = s3source.RegionEndpoint(pr.value.Value)
		default:
			v.Literal = pr.value.Value
		}
		c.Params[pr.name] = v
	}
	return c, slab
}

// promotionDigest is the digest of an entry as the manifest writes it, with the manifest's
// defaults and without any environment's: its name, description, auth.specName, connection
// spec and params, a secret reference by its text ({env: NAME} is "env:NAME"), never a value.
// Every environment of a manifest computes the same digest for an entry, so that one
// environment's lockfile can say whether another applied it. region is digested as the
// serviceUrl it stands for.
func promotionDigest(mg merged) string {
	var d struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		SpecName    string            `json:"specName"`
		Spec        s3source.Spec     `json:"connectionSpec"`
		Params      map[string]string `json:"params"`
	}
	d.Name = names.Normalize(mg.name.Value)
	d.Spec = s3source.ConnectionSpec()
	if mg.description != nil {
		d.Description = mg.description.Value
	}
	if mg.specName != nil {
		d.SpecName = mg.specName.Value
	}
	d.Params = make(map[string]string, len(mg.params))
	for _, pr := range mg.params {
		switch {
		case pr.value.Kind == yaml.MappingNode && len(pr.value.Content) == 2:
			d.Params[pr.name] = pr.value.Content[0].Value + ":" + pr.value.Content[1].Value
		case pr.region:
			d.Params[pr.name] = "literal:" + s3source.RegionEndpoint(pr.value.Value)
		default:
			d.Params[pr.name] = "literal:" + pr.value.Value
		}
	}
	b, _ := json.Marshal(d) // strings and a map of strings always marshal
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// HasEnvironments reports whether the manifest declares environments (instead of a target).
func (m *Manifest) HasEnvironments() bool { return len(m.Environments) > 0 }

// EnvironmentNames returns the names of the manifest's environments in promotion order, then
// file order.
func (m *Manifest) EnvironmentNames() []string {
	out := make([]string, len(m.Environments))
	for i, e := range m.Environments {
		out[i] = e.Name
	}
	return out
}

// EnvError is a --env that does not fit the manifest: missing, unknown, or given for a
// manifest without environments.
type EnvError struct {
	File  string
	Pos   Pos    // of environments: in the manifest, when it has them
	Env   string // as given ("" when missing)
	Names []string
}

func (e *EnvError) Error() string {
	where := e.File
	if e.Pos.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Pos.Line, e.Pos.Col)
	}
	switch {
	case len(e.Names) == 0:
		return fmt.Sprintf("--env %s: %s has no environments (it has one target): leave --env out", e.Env, e.File)
	case e.Env == "":
		return fmt.Sprintf("%s: environments: --env is required: this manifest has environments %s", where, strings.Join(e.Names, ", "))
	}
	return fmt.Sprintf("%s: environments: --env %s: no such environment: this manifest has %s", where, e.Env, strings.Join(e.Names, ", "))
}

// Select returns the manifest as environment env sees it: its target and connections, Env
// set. For a manifest without environments env must be "" and m itself is returned.
func (m *Manifest) Select(env string) (*Manifest, error) {
	if !m.HasEnvironments() {
		if env != "" {
			return nil, &EnvError{File: m.Path, Env: env}
		}
		return m, nil
	}
	for i := range m.Environments {
		e := &m.Environments[i]
		if e.Name == env {
			s := *m
			s.Env, s.Target, s.Connections = e.Name, e.Target, e.Connections
			return &s, nil
		}
	}
	return nil, &EnvError{File: m.Path, Pos: m.EnvironmentsPos, Env: env, Names: m.EnvironmentNames()}
}

// Previous returns the environment whose lockfile must record an entry before env may
// create or update it: the nearest one before env in promotion order that has the entry
// (an environment that excludes it is passed over). ok is false when nothing gates it: no
// promotion, env first in it or not in it, or no earlier environment has the entry.
func (m *Manifest) Previous(env, name string) (prev string, ok bool) {
	i := slices.Index(m.Promotion, env)
	for i--; i >= 0; i-- {
		for _, e := range m.Environments {
			if e.Name == m.Promotion[i] && !slices.Contains(e.Excluded, name) {
				return e.Name, true
			}
		}
	}
	return "", false
}
