package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// names lists the "name" of every item of a list answer, following _links.next.
func (h *harness) listNames(path, query string) []string {
	h.t.Helper()
	var out []string
	next := path + "?" + query
	for range 100 {
		a := h.do("GET", next, nil, nil)
		if a.status != 200 {
			h.t.Fatalf("GET %s: %d %s", next, a.status, a.raw)
		}
		items, _ := a.body["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		links, _ := a.body["_links"].(map[string]any)
		n, _ := links["next"].(map[string]any)
		href, _ := n["href"].(string)
		if href == "" {
			return out
		}
		if !strings.HasPrefix(href, path+"?continuationToken=") {
			h.t.Fatalf("next link %q does not continue %s", href, path)
		}
		next = href
	}
	h.t.Fatal("more than 100 pages")
	return nil
}

// GET /sourceConnections and GET /flows take the documented filters (comma = OR, repeated
// property = AND, [] inside an array), page like /connections, and refuse what they do not
// know; the admin route attaches and detaches dataflows; the state file keeps them.
func TestDataflowLists(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	h := newHarness(t, Options{Control: true, StatePath: state})
	a := h.create(accessKeyConn("a"))
	b := h.create(accessKeyConn("b"))
	c := h.create(accessKeyConn("c"))
	flows := map[string]Attached{}
	for i, base := range []string{a.ID, a.ID, b.ID} {
		name := fmt.Sprintf("flow-%d", i)
		body := fmt.Sprintf(`{"orgId":%q,"sandbox":%q,"baseConnectionId":%q,"name":%q,"state":"disabled","lastRun":{"state":"success","startedAtUTC":1700000000000}}`, testOrg, testSandbox, base, name)
		if i == 0 {
			body = fmt.Sprintf(`{"orgId":%q,"sandbox":%q,"baseConnectionId":%q,"name":%q}`, testOrg, testSandbox, base, name)
		}
		code, out := h.control("POST", DataflowsPath, body)
		if code != 201 {
			t.Fatalf("attach %s: %d %s", name, code, out)
		}
		var att Attached
		if err := json.Unmarshal([]byte(out), &att); err != nil || att.FlowID == "" || att.SourceConnectionID == "" {
			t.Fatalf("attach answer %s: %v", out, err)
		}
		flows[name] = att
	}
	if code, out := h.control("POST", DataflowsPath, `{"orgId":"x","sandbox":"prod","baseConnectionId":"`+a.ID+`","name":"n"}`); code != 400 || !strings.Contains(out, "no such connection") {
		t.Errorf("attach to a connection of another org: %d %s", code, out)
	}
	if code, out := h.control("POST", DataflowsPath, `{"bogus":1}`); code != 400 {
		t.Errorf("attach with an unknown field: %d %s", code, out)
	}

	src := func(names ...string) []string { return names }
	for _, tc := range []struct{ path, query string }{
		{"/sourceConnections", "property=baseConnectionId==" + a.ID + "," + c.ID},
		{"/sourceConnections", "limit=1&property=baseConnectionId==" + a.ID + "," + b.ID},
		{"/flows", "property=sourceConnectionIds[]==" + flows["flow-0"].SourceConnectionID + "," + flows["flow-2"].SourceConnectionID},
		{"/flows", "limit=1&property=state==disabled"},
		{"/flows", "property=state==disabled&property=sourceConnectionIds[]==" + flows["flow-1"].SourceConnectionID},
	} {
		got := h.listNames(tc.path, tc.query)
		want := map[string][]string{
			"/sourceConnections?property=baseConnectionId==" + a.ID + "," + c.ID:                                                      src("flow-0 source", "flow-1 source"),
			"/sourceConnections?limit=1&property=baseConnectionId==" + a.ID + "," + b.ID:                                              src("flow-0 source", "flow-1 source", "flow-2 source"),
			"/flows?property=sourceConnectionIds[]==" + flows["flow-0"].SourceConnectionID + "," + flows["flow-2"].SourceConnectionID: src("flow-0", "flow-2"),
			"/flows?limit=1&property=state==disabled":                                                                                 src("flow-1", "flow-2"),
			"/flows?property=state==disabled&property=sourceConnectionIds[]==" + flows["flow-1"].SourceConnectionID:                   src("flow-1"),
		}[tc.path+"?"+tc.query]
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s?%s (-want +got):\n%s", tc.path, tc.query, diff)
		}
	}
	for _, q := range []string{
		"/flows?property=sourceConnectionIds==x",
		"/flows?property=baseConnectionId==x",
		"/sourceConnections?limit=101",
		"/sourceConnections?bogus=1",
		"/flows?orderby=updatedAt",
	} {
		if a := h.do("GET", q, nil, nil); a.status != 400 {
			t.Errorf("GET %s: %d %s, want 400", q, a.status, a.raw)
		}
	}
	if a := h.do("GET", "/flows", nil, func(hd http.Header) { delete(hd, "X-Sandbox-Name") }); a.status != 400 || a.code() != "2105-400" {
		t.Errorf("GET /flows without x-sandbox-name: %d %s", a.status, a.raw)
	}
	if a := h.do("POST", "/flows", "{}", nil); a.status != 405 {
		t.Errorf("POST /flows: %d, want 405", a.status)
	}
	// A token of one collection is not one of another.
	first := h.do("GET", "/flows?limit=1", nil, nil)
	href := first.body["_links"].(map[string]any)["next"].(map[string]any)["href"].(string)
	u, _ := url.Parse(href)
	if a := h.do("GET", "/sourceConnections?continuationToken="+url.QueryEscape(u.Query().Get("continuationToken")), nil, nil); a.status != 400 {
		t.Errorf("a /flows token on /sourceConnections: %d %s", a.status, a.raw)
	}

	// Delete: refused while a flow reads the connection, allowed once none does.
	if a := h.do("DELETE", "/connections/"+a.ID, nil, nil); a.status != 400 || a.code() != "1418-400" {
		t.Errorf("delete of a connection in use: %d %s", a.status, a.raw)
	}
	if a := h.do("DELETE", "/connections/"+c.ID, nil, nil); a.status != 204 {
		t.Errorf("delete of a connection nothing uses: %d %s", a.status, a.raw)
	}
	if err := h.s.Save(); err != nil {
		t.Fatal(err)
	}
	re, err := New(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	if got := re.DetachAll(a.ID); got != 2 {
		t.Errorf("after a restart, %d flows read a, want 2", got)
	}
	if code, out := h.control("DELETE", DataflowsPath+"/"+flows["flow-2"].FlowID, ""); code != 204 {
		t.Fatalf("detach: %d %s", code, out)
	}
	if got := h.listNames("/sourceConnections", "property=baseConnectionId=="+b.ID); !slices.Equal(got, nil) {
		t.Errorf("after detach, b's source connections: %q", got)
	}
	if a := h.do("DELETE", "/connections/"+b.ID, nil, nil); a.status != 204 {
		t.Errorf("delete after detach: %d %s", a.status, a.raw)
	}
}
