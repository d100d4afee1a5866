package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/flowsync/flowsync/flowservice"
)

// filter is one parsed `property` query parameter, e.g. name==acme-eu or id!=a,b.
type filter struct {
	prop   string
	negate bool
	values []string // any of (==) or none of (!=)
}

// filterProps are the properties a list can be filtered on. Those with a true value take a
// comma-separated list of values (comma = OR); name and auth.specName compare
// the whole value, since a name may hold a comma.
var filterProps = map[string]bool{
	"id":                     true,
	"name":                   false,
	"connectionSpec.id":      true,
	"connectionSpec.version": true,
	"state":                  true,
	"auth.specName":          false,
}

func parseFilter(p string) (filter, error) {
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
	multi, ok := filterProps[prop]
	if !ok {
		if strings.ContainsAny(prop, "<>~=!") {
			return filter{}, fmt.Errorf("property filter %q: unsupported operator (want == or !=)", p)
		}
		return filter{}, fmt.Errorf("property filter %q: unknown property %q (known: id, name, connectionSpec.id, connectionSpec.version, state, auth.specName)", p, prop)
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

func (f filter) match(c *flowservice.Connection) bool {
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
	return slices.Contains(f.values, v) != f.negate
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
	Scope      string   `json:"s"` // org and sandbox the token was issued for
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
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		c.badRequest("", "query: "+err.Error())
		return
	}
	for name := range q {
		if !slices.Contains(listParams, name) {
			c.badRequest("", fmt.Sprintf("query parameter %q is not supported (supported: %s)", name, strings.Join(listParams, ", ")))
			return
		}
	}
	limitStr, hasLimit, err1 := single(q, "limit")
	tokStr, hasTok, err2 := single(q, "continuationToken")
	orderby, hasOrder, err3 := single(q, "orderby")
	countStr, hasCount, err4 := single(q, "count")
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			c.badRequest("", err.Error())
			return
		}
	}
	count := false
	if hasCount {
		switch countStr {
		case "true":
			count = true
		case "false":
		default:
			c.badRequest("", fmt.Sprintf("query parameter count: %q is not a boolean (true or false)", countStr))
			return
		}
	}
	limit := DefaultListLimit
	if hasLimit {
		n, err := strconv.Atoi(limitStr)
		if err != nil || n < 1 || n > MaxListLimit {
			c.badRequest("", fmt.Sprintf("query parameter limit: %q must be an integer from 1 to %d", limitStr, MaxListLimit))
			return
		}
		limit = n
	}
	if count && hasLimit {
		c.badRequest("1401-400", "The limit and count parameters cannot be given together in the same request. Please provide either only the limit or the count parameter and try again.")
		return
	}
	if hasOrder && !slices.Contains(orderFields, orderby) {
		c.badRequest("", fmt.Sprintf("query parameter orderby: %q is not supported (supported: %s)", orderby, strings.Join(orderFields, ", ")))
		return
	}
	props := q["property"]
	tok := pageToken{Limit: limit, Properties: props, OrderBy: orderby, Scope: scopeKey(c.sc)}
	if !hasOrder {
		tok.OrderBy = "createdAt"
	}
	if hasTok {
		if count {
			c.badRequest("", "count=true cannot be combined with a continuationToken")
			return
		}
		t, err := decodePageToken(tokStr)
		if err != nil {
			c.badRequest("", err.Error())
			return
		}
		if t.Scope != tok.Scope {
			c.badRequest("", "continuationToken: issued for another org or sandbox")
			return
		}
		// The token carries the query; filters or an order sent beside it must be the same.
		if (len(props) > 0 && !slices.Equal(props, t.Properties)) || (hasOrder && orderby != t.OrderBy) {
			c.badRequest("", "continuationToken: the property and orderby parameters differ from those of the first page; send the token alone")
			return
		}
		if !hasLimit {
			limit = t.Limit
		}
		tok = t
		tok.Limit = limit
	}
	filters := make([]filter, 0, len(tok.Properties))
	for _, p := range tok.Properties {
		f, err := parseFilter(p)
		if err != nil {
			c.badRequest("", err.Error())
			return
		}
		filters = append(filters, f)
	}

	recs := s.query(c.sc, filters)
	if count {
		writeJSON(c.w, http.StatusOK, map[string]int{"count": len(recs)})
		return
	}
	sortRecords(recs, tok.OrderBy)
	start := min(tok.Offset, len(recs))
	end := min(start+limit, len(recs))
	items := make([]flowservice.Connection, 0, end-start)
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
