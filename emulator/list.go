package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/flowsync/flowsync/flowapi"
)

// filter is one parsed `property` query parameter, e.g. name==acme-eu or id!=a,b.
type filter struct {
	prop   string
	negate bool
	values []string // any of (==) or none of (!=)
}

// resource is one listable collection: which properties its filters take (true: a comma
// separated list of values, comma = OR; false: the whole value, since a name may hold a
// comma) and where its pages live.
type resource struct {
	path  string // "/connections"
	props map[string]bool
}

// The listable collections.
var (
	connectionsResource = resource{"/connections", map[string]bool{
		"id":                     true,
		"name":                   false,
		"connectionSpec.id":      true,
		"connectionSpec.version": true,
		"state":                  true,
		"auth.specName":          false,
	}}
	sourceConnectionsResource = resource{"/sourceConnections", map[string]bool{
		"id":                true,
		"name":              false,
		"baseConnectionId":  true,
		"connectionSpec.id": true,
	}}
	flowsResource = resource{"/flows", map[string]bool{
		"id":                    true,
		"name":                  false,
		"state":                 true,
		"sourceConnectionIds[]": true, // a property inside an array is named with []
		"targetConnectionIds[]": true,
	}}
)

func (rs resource) known() string { return strings.Join(slices.Sorted(maps.Keys(rs.props)), ", ") }

func parseFilter(p string, rs resource) (filter, error) {
	i := strings.Index(p, "==")
	j := strings.Index(p, "!=")
	neg := false
	if i < 0 || (j >= 0 && j < i) {
		i, neg = j, true
	}
	if i <= 0 {
		return filter{}, fmt.Errorf("property filter %q: want PROPERTY==VALUE or PROPERTY!=VALUE", p)
	}
	prop, val := p[:i], p[i+2:]
	multi, ok := rs.props[prop]
	if !ok {
		if strings.ContainsAny(prop, "<>~=!") {
			return filter{}, fmt.Errorf("property filter %q: unsupported operator (want == or !=)", p)
		}
		if rs.props[prop+"[]"] {
			return filter{}, fmt.Errorf("property filter %q: %s is an array: filter on %s[]", p, prop, prop)
		}
		return filter{}, fmt.Errorf("property filter %q: unknown property %q (known: %s)", p, prop, rs.known())
	}
	vals := []string{val}
	if multi {
		vals = strings.Split(val, ",")
	}
	for _, v := range vals {
		if v == "" {
			return filter{}, fmt.Errorf("property filter %q: empty value", p)
		}
		if prop == "state" && v != "enabled" && v != "disabled" {
			return filter{}, fmt.Errorf("property filter %q: state is enabled or disabled", p)
		}
	}
	return filter{prop: prop, negate: neg, values: vals}, nil
}

// matchValues reports whether an item whose property holds have (one value, or the elements
// of an array) passes f: == wants one of f's values among them, != none.
func (f filter) matchValues(have ...string) bool {
	for _, v := range have {
		if slices.Contains(f.values, v) {
			return !f.negate
		}
	}
	return f.negate
}

func (f filter) match(c *flowapi.Connection) bool {
	var v string
	switch f.prop {
	case "id":
		v = c.ID
	case "name":
		v = c.Name
	case "connectionSpec.id":
		v = c.ConnectionSpec.ID
	case "connectionSpec.version":
		v = c.ConnectionSpec.Version
	case "state":
		v = c.State
	case "auth.specName":
		v = c.Auth.SpecName
	}
	return f.matchValues(v)
}

var orderFields = []string{"name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"}

// sortRecords orders recs by orderby (one of orderFields), ties broken by creation order
// (then id), so that pages are stable; a descending order is the exact reverse.
func sortRecords(recs []*record, orderby string) {
	desc := strings.HasPrefix(orderby, "-")
	field := strings.TrimPrefix(orderby, "-")
	slices.SortFunc(recs, func(a, b *record) int {
		var c int
		switch field {
		case "name":
			c = strings.Compare(a.conn.Name, b.conn.Name)
		case "updatedAt":
			c = cmp.Compare(a.conn.UpdatedAt, b.conn.UpdatedAt)
		default:
			c = cmp.Compare(a.conn.CreatedAt, b.conn.CreatedAt)
		}
		if c == 0 {
			c = cmp.Compare(a.created, b.created)
		}
		if c == 0 {
			c = strings.Compare(a.conn.ID, b.conn.ID)
		}
		if desc {
			c = -c // the exact reverse of the ascending order
		}
		return c
	})
}

// pageToken is the content of a continuationToken: where the next page starts and the
// query it continues. It is base64url JSON: opaque to clients, not a secret.
type pageToken struct {
	Offset     int      `json:"o"`
	Limit      int      `json:"l"`
	Properties []string `json:"p,omitempty"`
	OrderBy    string   `json:"ob"`
	Scope      string   `json:"s"`           // org and sandbox the token was issued for
	Resource   string   `json:"r,omitempty"` // the collection it lists ("": /connections)
}

func scopeKey(sc scope) string { return sc.org + "/" + sc.sandbox }

func (t pageToken) encode() string {
	data, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodePageToken(s string) (pageToken, error) {
	var t pageToken
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(data, &t)
	}
	if err != nil || t.Offset < 0 || t.Limit < 1 || t.Limit > MaxListLimit || !slices.Contains(orderFields, t.OrderBy) {
		return pageToken{}, fmt.Errorf("continuationToken: not a token this service issued")
	}
	return t, nil
}

var listParams = []string{"limit", "continuationToken", "orderby", "property", "count"}

// single returns the one value of query parameter name, or an error when it is repeated.
func single(q url.Values, name string) (string, bool, error) {
	vs, ok := q[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", false, fmt.Errorf("query parameter %s: given %d times, at most once", name, len(vs))
	}
	return vs[0], true, nil
}

func (s *Server) list(c *call) {
	lq, bad := parseListQuery(c.r.URL.RawQuery, scopeKey(c.sc), connectionsResource)
	if bad != nil {
		c.badRequest(bad.code, bad.msg)
		return
	}
	recs := s.query(c.sc, lq.filters)
	if lq.count {
		writeJSON(c.w, http.StatusOK, map[string]int{"count": len(recs)})
		return
	}
	tok := lq.tok
	sortRecords(recs, tok.OrderBy)
	start := min(tok.Offset, len(recs))
	end := min(start+tok.Limit, len(recs))
	items := make([]flowapi.Connection, 0, end-start)
	for _, r := range recs[start:end] {
		items = append(items, r.view())
	}
	out := map[string]any{"items": items}
	if end < len(recs) {
		next := tok
		next.Offset = end
		out["_links"] = map[string]any{
			"next": map[string]string{"href": "/connections?continuationToken=" + next.encode()},
		}
	}
	writeJSON(c.w, http.StatusOK, out)
}

// listQuery is a checked GET /connections query: count only, or the page tok describes.
type listQuery struct {
	count   bool
	tok     pageToken // filters, order, limit and offset of the page to answer
	filters []filter  // tok.Properties, parsed
}

// badQuery is a query the service answers 400 with code (empty: the generic validation code).
type badQuery struct{ code, msg string }

func badQueryf(format string, a ...any) *badQuery { return &badQuery{msg: fmt.Sprintf(format, a...)} }

// listArgs are the query's parameters, each given at most once.
type listArgs struct {
	limit, token, orderby          string
	hasLimit, hasToken, hasOrderBy bool
	count                          bool
	properties                     []string
}

// parseListQuery checks a GET query of collection rs in the org and sandbox scope.
func parseListQuery(raw, scope string, rs resource) (*listQuery, *badQuery) {
	p, bad := parseListArgs(raw)
	if bad != nil {
		return nil, bad
	}
	limit := DefaultListLimit
	if p.hasLimit {
		n, err := strconv.Atoi(p.limit)
		if err != nil || n < 1 || n > MaxListLimit {
			return nil, badQueryf("query parameter limit: %q must be an integer from 1 to %d", p.limit, MaxListLimit)
		}
		limit = n
	}
	if p.count && p.hasLimit {
		return nil, &badQuery{"1401-400", "The limit and count parameters cannot be given together in the same request. Please provide either only the limit or the count parameter and try again."}
	}
	if p.hasOrderBy && !slices.Contains(orderFields, p.orderby) {
		return nil, badQueryf("query parameter orderby: %q is not supported (supported: %s)", p.orderby, strings.Join(orderFields, ", "))
	}
	tok := pageToken{Limit: limit, Properties: p.properties, OrderBy: p.orderby, Scope: scope}
	if rs.path != connectionsResource.path {
		tok.Resource = rs.path
	}
	if !p.hasOrderBy {
		tok.OrderBy = "createdAt"
	}
	if p.hasToken {
		if p.count {
			return nil, badQueryf("count=true cannot be combined with a continuationToken")
		}
		var bad *badQuery
		if tok, bad = resumePage(p, tok); bad != nil {
			return nil, bad
		}
	}
	lq := &listQuery{count: p.count, tok: tok, filters: make([]filter, 0, len(tok.Properties))}
	for _, prop := range tok.Properties {
		f, err := parseFilter(prop, rs)
		if err != nil {
			return nil, badQueryf("%s", err)
		}
		lq.filters = append(lq.filters, f)
	}
	return lq, nil
}

// parseListArgs refuses unknown parameters and repeated ones.
func parseListArgs(raw string) (listArgs, *badQuery) {
	var p listArgs
	q, err := url.ParseQuery(raw)
	if err != nil {
		return p, badQueryf("query: %s", err)
	}
	for name := range q {
		if !slices.Contains(listParams, name) {
			return p, badQueryf("query parameter %q is not supported (supported: %s)", name, strings.Join(listParams, ", "))
		}
	}
	var count string
	var hasCount bool
	var errs [4]error
	p.limit, p.hasLimit, errs[0] = single(q, "limit")
	p.token, p.hasToken, errs[1] = single(q, "continuationToken")
	p.orderby, p.hasOrderBy, errs[2] = single(q, "orderby")
	count, hasCount, errs[3] = single(q, "count")
	for _, err := range errs {
		if err != nil {
			return p, badQueryf("%s", err)
		}
	}
	switch {
	case !hasCount, count == "false":
	case count == "true":
		p.count = true
	default:
		return p, badQueryf("query parameter count: %q is not a boolean (true or false)", count)
	}
	p.properties = q["property"]
	return p, nil
}

// resumePage is the page a continuationToken asks for. The token carries the query: filters
// or an order sent beside it must be the same; a limit beside it replaces the token's.
func resumePage(p listArgs, first pageToken) (pageToken, *badQuery) {
	t, err := decodePageToken(p.token)
	if err != nil {
		return t, badQueryf("%s", err)
	}
	if t.Scope != first.Scope {
		return t, badQueryf("continuationToken: issued for another org or sandbox")
	}
	if t.Resource != first.Resource {
		return t, badQueryf("continuationToken: issued for another collection")
	}
	if (len(p.properties) > 0 && !slices.Equal(p.properties, t.Properties)) || (p.hasOrderBy && p.orderby != t.OrderBy) {
		return t, badQueryf("continuationToken: the property and orderby parameters differ from those of the first page; send the token alone")
	}
	if p.hasLimit {
		t.Limit = first.Limit
	}
	return t, nil
}

// query returns the records of sc that pass every filter, using the name and id indexes
// when a filter allows.
func (s *Server) query(sc scope, filters []filter) []*record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var candidates []*record
	indexed := false
	for _, f := range filters {
		if f.negate {
			continue
		}
		switch f.prop {
		case "name":
			for _, r := range s.store.byName[sc][f.values[0]] {
				candidates = append(candidates, r)
			}
			indexed = true
		case "id":
			for _, id := range f.values {
				if r := s.store.get(sc, id); r != nil && !slices.Contains(candidates, r) {
					candidates = append(candidates, r)
				}
			}
			indexed = true
		}
		if indexed {
			break
		}
	}
	if !indexed {
		m := s.store.byScope[sc]
		candidates = make([]*record, 0, len(m))
		for _, r := range m {
			candidates = append(candidates, r)
		}
	}
	out := candidates[:0]
	for _, r := range candidates {
		ok := true
		for _, f := range filters {
			if !f.match(&r.conn) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}
