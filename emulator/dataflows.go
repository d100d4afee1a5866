package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flowsync/flowsync/flowapi"
)

// What uses a base connection: source connections (each of one base connection) and the
// dataflows (flows) that read them. The API serves both read-only (GET /sourceConnections,
// GET /flows); they are made through the admin interface (DataflowsPath, AttachDataflow), as
// a user of the real service makes them in its UI. A base connection a flow reads through one
// of its source connections cannot be deleted (400 1418-400).

// DataflowsPath is the admin route that attaches a dataflow to a base connection: POST with
// a Dataflow as JSON answers 201 with an Attached; DELETE DataflowsPath/{flowId} detaches it
// (the flow and its source connection go). Served with Options.Control, without auth, like
// the other control routes.
const DataflowsPath = "/_emulator/dataflows"

// Dataflow is what AttachDataflow makes: a source connection of BaseConnectionID and a flow
// reading it.
type Dataflow struct {
	OrgID            string              `json:"orgId"`
	Sandbox          string              `json:"sandbox"`
	BaseConnectionID string              `json:"baseConnectionId"`
	Name             string              `json:"name"`              // the flow's; its source connection is "NAME source"
	State            string              `json:"state,omitempty"`   // enabled (default) or disabled
	LastRun          *flowapi.RunDetails `json:"lastRun,omitempty"` // nil: never ran
}

// Attached names what AttachDataflow made.
type Attached struct {
	SourceConnectionID string `json:"sourceConnectionId"`
	FlowID             string `json:"flowId"`
}

type sourceRec struct {
	scope   scope
	src     flowapi.SourceConnection
	created uint64
}

type flowRec struct {
	scope   scope
	flow    flowapi.Flow
	created uint64
}

// dataflows holds the source connections and flows, indexed both ways so that the in-use
// test of a delete is O(flows of that connection).
type dataflows struct {
	seq        uint64
	sources    map[string]*sourceRec
	flows      map[string]*flowRec
	srcOfBase  map[string][]string // base connection id -> source connection ids
	flowsOfSrc map[string][]string // source connection id -> flow ids
}

func (d *dataflows) init() {
	d.sources = map[string]*sourceRec{}
	d.flows = map[string]*flowRec{}
	d.srcOfBase = map[string][]string{}
	d.flowsOfSrc = map[string][]string{}
}

func (d *dataflows) putSource(r *sourceRec) {
	d.sources[r.src.ID] = r
	d.srcOfBase[r.src.BaseConnectionID] = append(d.srcOfBase[r.src.BaseConnectionID], r.src.ID)
}

func (d *dataflows) putFlow(r *flowRec) {
	d.flows[r.flow.ID] = r
	for _, sid := range r.flow.SourceConnectionIDs {
		d.flowsOfSrc[sid] = append(d.flowsOfSrc[sid], r.flow.ID)
	}
}

// usedBy returns the flows reading a source connection of base connection id.
func (d *dataflows) usedBy(id string) []string {
	var out []string
	for _, sid := range d.srcOfBase[id] {
		out = append(out, d.flowsOfSrc[sid]...)
	}
	return out
}

// removeFlow deletes flow id and every source connection no other flow reads.
func (d *dataflows) removeFlow(id string) bool {
	f := d.flows[id]
	if f == nil {
		return false
	}
	delete(d.flows, id)
	for _, sid := range f.flow.SourceConnectionIDs {
		d.flowsOfSrc[sid] = slices.DeleteFunc(d.flowsOfSrc[sid], func(x string) bool { return x == id })
		if len(d.flowsOfSrc[sid]) > 0 {
			continue
		}
		delete(d.flowsOfSrc, sid)
		if s := d.sources[sid]; s != nil {
			base := s.src.BaseConnectionID
			d.srcOfBase[base] = slices.DeleteFunc(d.srcOfBase[base], func(x string) bool { return x == sid })
			if len(d.srcOfBase[base]) == 0 {
				delete(d.srcOfBase, base)
			}
			delete(d.sources, sid)
		}
	}
	return true
}

// AttachDataflow makes a source connection of base connection df.BaseConnectionID (which
// must exist in df's org and sandbox) and an enabled or disabled flow reading it.
func (s *Server) AttachDataflow(df Dataflow) (Attached, error) {
	if df.State == "" {
		df.State = "enabled"
	}
	if df.State != "enabled" && df.State != "disabled" {
		return Attached{}, fmt.Errorf("state %q: want enabled or disabled", df.State)
	}
	if strings.TrimSpace(df.Name) == "" {
		return Attached{}, errors.New("name: is required")
	}
	if df.LastRun != nil && df.LastRun.State == "" {
		return Attached{}, errors.New("lastRun.state: is required")
	}
	sc := scope{df.OrgID, df.Sandbox}
	s.mu.Lock()
	defer s.mu.Unlock()
	base := s.store.get(sc, df.BaseConnectionID)
	if base == nil {
		return Attached{}, fmt.Errorf("baseConnectionId %q: no such connection in org %q, sandbox %q", df.BaseConnectionID, df.OrgID, df.Sandbox)
	}
	d := &s.store.flows
	now := time.Now().UnixMilli()
	d.seq++
	src := &sourceRec{scope: sc, created: d.seq, src: flowapi.SourceConnection{
		ID: newUUID(), Name: df.Name + " source", BaseConnectionID: base.conn.ID,
		ConnectionSpec: base.conn.ConnectionSpec, State: "enabled", CreatedAt: now,
	}}
	d.seq++
	flow := &flowRec{scope: sc, created: d.seq, flow: flowapi.Flow{
		ID: newUUID(), Name: df.Name, State: df.State,
		SourceConnectionIDs: []string{src.src.ID}, TargetConnectionIDs: []string{newUUID()},
		LastRunDetails: df.LastRun, CreatedAt: now,
	}}
	d.putSource(src)
	d.putFlow(flow)
	s.store.dirty = true
	return Attached{SourceConnectionID: src.src.ID, FlowID: flow.flow.ID}, nil
}

// DetachDataflow deletes flow id and its source connections that no other flow reads; it
// reports whether the flow existed.
func (s *Server) DetachDataflow(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.store.flows.removeFlow(id) {
		return false
	}
	s.store.dirty = true
	return true
}

// serveDataflows is the admin route DataflowsPath.
func (s *Server) serveDataflows(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(strings.TrimSuffix(r.URL.Path, "/"), DataflowsPath+"/"); ok {
		if r.Method != http.MethodDelete {
			w.Header().Set("Allow", "DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !s.DetachDataflow(id) {
			http.Error(w, "no flow "+id, http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var df Dataflow
	if err := decodeStrict(readLimited(r.Body), &df); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a, err := s.AttachDataflow(df)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func readLimited(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, 1<<16))
	return b
}

// listSources serves GET /sourceConnections.
func (s *Server) listSources(c *call) {
	s.listOf(c, sourceConnectionsResource, func(filters []filter) []listed {
		var out []listed
		for _, r := range s.store.flows.sources {
			if r.scope == c.sc && passes(filters, sourceValues(&r.src)) {
				out = append(out, listed{r.created, r.src.Name, r.src.CreatedAt, r.src})
			}
		}
		return out
	})
}

// listFlows serves GET /flows.
func (s *Server) listFlows(c *call) {
	s.listOf(c, flowsResource, func(filters []filter) []listed {
		var out []listed
		for _, r := range s.store.flows.flows {
			if r.scope == c.sc && passes(filters, flowValues(&r.flow)) {
				out = append(out, listed{r.created, r.flow.Name, r.flow.CreatedAt, r.flow})
			}
		}
		return out
	})
}

func sourceValues(src *flowapi.SourceConnection) func(string) []string {
	return func(prop string) []string {
		switch prop {
		case "id":
			return []string{src.ID}
		case "name":
			return []string{src.Name}
		case "baseConnectionId":
			return []string{src.BaseConnectionID}
		case "connectionSpec.id":
			return []string{src.ConnectionSpec.ID}
		}
		return nil
	}
}

func flowValues(f *flowapi.Flow) func(string) []string {
	return func(prop string) []string {
		switch prop {
		case "id":
			return []string{f.ID}
		case "name":
			return []string{f.Name}
		case "state":
			return []string{f.State}
		case "sourceConnectionIds[]":
			return f.SourceConnectionIDs
		case "targetConnectionIds[]":
			return f.TargetConnectionIDs
		}
		return nil
	}
}

func passes(filters []filter, values func(string) []string) bool {
	for _, f := range filters {
		if !f.matchValues(values(f.prop)...) {
			return false
		}
	}
	return true
}

// listed is one item of a source connection or flow list, with what it is ordered by.
type listed struct {
	seq       uint64
	name      string
	createdAt int64
	item      any
}

// listOf answers a GET list of collection rs: the items match(filters) returns (called
// holding s.mu), ordered and paged like /connections.
func (s *Server) listOf(c *call, rs resource, match func([]filter) []listed) {
	lq, bad := parseListQuery(c.r.URL.RawQuery, scopeKey(c.sc), rs)
	if bad != nil {
		c.badRequest(bad.code, bad.msg)
		return
	}
	if lq.tok.OrderBy == "updatedAt" || lq.tok.OrderBy == "-updatedAt" {
		c.badRequest("", fmt.Sprintf("query parameter orderby: %q is not supported on %s (supported: name, createdAt)", lq.tok.OrderBy, rs.path))
		return
	}
	s.mu.Lock()
	items := match(lq.filters)
	s.mu.Unlock()
	if lq.count {
		writeJSON(c.w, http.StatusOK, map[string]int{"count": len(items)})
		return
	}
	tok := lq.tok
	desc := strings.HasPrefix(tok.OrderBy, "-")
	byName := strings.TrimPrefix(tok.OrderBy, "-") == "name"
	slices.SortFunc(items, func(a, b listed) int {
		c := 0
		if byName {
			c = strings.Compare(a.name, b.name)
		}
		if c == 0 {
			c = cmpUint(a.seq, b.seq)
		}
		if desc {
			c = -c
		}
		return c
	})
	start := min(tok.Offset, len(items))
	end := min(start+tok.Limit, len(items))
	page := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		page = append(page, it.item)
	}
	out := map[string]any{"items": page}
	if end < len(items) {
		next := tok
		next.Offset = end
		out["_links"] = map[string]any{
			"next": map[string]string{"href": rs.path + "?continuationToken=" + next.encode()},
		}
	}
	writeJSON(c.w, http.StatusOK, out)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- persistence ----

type stateDataflows struct {
	SourceConnections []stateSource `json:"sourceConnections,omitempty"`
	Flows             []stateFlow   `json:"flows,omitempty"`
}

type stateSource struct {
	OrgID            string                   `json:"orgId"`
	Sandbox          string                   `json:"sandbox"`
	SourceConnection flowapi.SourceConnection `json:"sourceConnection"`
	Created          uint64                   `json:"created"`
}

type stateFlow struct {
	OrgID   string       `json:"orgId"`
	Sandbox string       `json:"sandbox"`
	Flow    flowapi.Flow `json:"flow"`
	Created uint64       `json:"created"`
}

// saveDataflows returns the dataflows in creation order; the caller holds s.mu.
func (d *dataflows) save() stateDataflows {
	var out stateDataflows
	for _, r := range d.sources {
		out.SourceConnections = append(out.SourceConnections, stateSource{r.scope.org, r.scope.sandbox, r.src, r.created})
	}
	for _, r := range d.flows {
		out.Flows = append(out.Flows, stateFlow{r.scope.org, r.scope.sandbox, r.flow, r.created})
	}
	slices.SortFunc(out.SourceConnections, func(a, b stateSource) int { return cmpUint(a.Created, b.Created) })
	slices.SortFunc(out.Flows, func(a, b stateFlow) int { return cmpUint(a.Created, b.Created) })
	return out
}

// load puts the saved dataflows back; the caller holds s.mu. Every flow must read known
// source connections.
func (d *dataflows) load(in stateDataflows) error {
	for _, r := range in.SourceConnections {
		sc := scope{r.OrgID, r.Sandbox}
		if r.SourceConnection.ID == "" || d.sources[r.SourceConnection.ID] != nil {
			return fmt.Errorf("missing or duplicate source connection id %q", r.SourceConnection.ID)
		}
		d.putSource(&sourceRec{sc, r.SourceConnection, r.Created})
		d.seq = max(d.seq, r.Created)
	}
	for _, r := range in.Flows {
		if r.Flow.ID == "" || d.flows[r.Flow.ID] != nil {
			return fmt.Errorf("missing or duplicate flow id %q", r.Flow.ID)
		}
		for _, sid := range r.Flow.SourceConnectionIDs {
			if d.sources[sid] == nil {
				return fmt.Errorf("flow %s: source connection %q is unknown", r.Flow.ID, sid)
			}
		}
		d.putFlow(&flowRec{scope{r.OrgID, r.Sandbox}, r.Flow, r.Created})
		d.seq = max(d.seq, r.Created)
	}
	return nil
}

// DetachAll detaches every dataflow reading base connection id, as DetachDataflow does, and
// returns how many there were. It is a test helper.
func (s *Server) DetachAll(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	flows := s.store.flows.usedBy(id)
	for _, f := range flows {
		s.store.flows.removeFlow(f)
	}
	if len(flows) > 0 {
		s.store.dirty = true
	}
	return len(flows)
}
