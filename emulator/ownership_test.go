package emulator

import (
	"net/http"
	"testing"
	"time"
)

// createdClient is the x-api-key of the creating request and stays so after another key's
// PATCH (which sets updatedClient); createdAt is the creation time. PATCH /name renames.
func TestCreatedClientAndRename(t *testing.T) {
	h := newHarness(t, Options{})
	before := time.Now().UnixMilli()
	a := h.do("POST", "/connections", accessKeyConn("shared-name"), func(hd http.Header) { hd.Set("x-api-key", "colleague-key") })
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id, _ := a.body["id"].(string)
	c := h.getConn(id)
	if c.CreatedClient != "colleague-key" || c.UpdatedClient != "colleague-key" {
		t.Errorf("createdClient %q updatedClient %q, want colleague-key", c.CreatedClient, c.UpdatedClient)
	}
	if c.CreatedAt < before || c.CreatedAt > time.Now().UnixMilli() {
		t.Errorf("createdAt %d not within the create (from %d)", c.CreatedAt, before)
	}

	p := h.do("PATCH", "/connections/"+id, `[{"op":"replace","path":"/name","value":"renamed"}]`,
		func(hd http.Header) { hd.Set("If-Match", c.ETag) })
	if p.status != http.StatusOK {
		t.Fatalf("rename: %d %s", p.status, p.raw)
	}
	r := h.getConn(id)
	if r.Name != "renamed" || r.CreatedClient != "colleague-key" || r.UpdatedClient != testAPIKey || r.CreatedAt != c.CreatedAt {
		t.Errorf("after rename by %s: %+v", testAPIKey, r)
	}
}

// CreateWithoutID commits the create and answers 201 with neither an id nor a Location.
func TestCreateWithoutID(t *testing.T) {
	h := newHarness(t, Options{CreateWithoutID: 1})
	a := h.do("POST", "/connections", accessKeyConn("no-id"), nil)
	if a.status != http.StatusCreated || a.header.Get("Location") != "" || len(a.body) != 0 {
		t.Fatalf("create: %d Location %q body %s; want 201, no Location, {}", a.status, a.header.Get("Location"), a.raw)
	}
	if n := len(h.s.Connections(testOrg, testSandbox)); n != 1 {
		t.Fatalf("%d connections after the create, want 1 (it was committed)", n)
	}
	if f := h.s.Stats().Faults[FaultNoID]; f != 1 {
		t.Errorf("%d no-id faults counted, want 1", f)
	}
	h.s.SetCreateWithoutID(0)
	h.create(accessKeyConn("with-id")) // checks id and Location
}
