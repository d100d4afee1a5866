package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/s3source"
)

// decodeStrict decodes one JSON value holding only known fields, and nothing after it.
func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("request body: unexpected data after the JSON value")
	}
	return nil
}

type createBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Auth        *struct {
		SpecName string            `json:"specName"`
		Params   map[string]string `json:"params"`
	} `json:"auth"`
	ConnectionSpec *s3source.Spec `json:"connectionSpec"`
}

func (s *Server) create(c *call) {
	var b createBody
	if err := decodeStrict(c.body, &b); err != nil {
		c.badRequest("", err.Error())
		return
	}
	var nc flowapi.NewConnection
	if b.Name == nil {
		c.badRequest("", "name: is required")
		return
	}
	nc.Name = *b.Name
	if b.Description != nil {
		nc.Description = *b.Description
	}
	if b.ConnectionSpec == nil {
		c.badRequest("", "connectionSpec: is required")
		return
	}
	nc.ConnectionSpec = *b.ConnectionSpec
	if b.Auth == nil {
		c.badRequest("", "auth: is required")
		return
	}
	if b.Auth.Params == nil {
		c.badRequest("", "auth.params: is required")
		return
	}
	nc.Auth = flowapi.Auth{SpecName: b.Auth.SpecName, Params: b.Auth.Params}
	for _, err := range []error{
		validateName(nc.Name),
		validateDescription(nc.Description),
		validateSpec(nc.ConnectionSpec.ID, nc.ConnectionSpec.Version),
		validateAuth(nc.Auth.SpecName, nc.Auth.Params, nil),
	} {
		if err != nil {
			c.badRequest("", err.Error())
			return
		}
	}

	// The digests, id and sandbox id need no lock: only the etag and the store do.
	params, digests := s.store.splitSecrets(nc.Auth.Params)
	id, sbID := newUUID(), s.sandboxID(c.sc)
	user := c.user + "@AdobeID"
	s.mu.Lock()
	rec := s.buildRecord(c.sc, creation{nc: nc, params: params, digests: digests, id: id, sandboxID: sbID, user: user, client: c.user}, time.Now())
	s.store.put(rec)
	s.mu.Unlock()

	if s.dropAfterCommit(c, rec.conn.ID) {
		return
	}
	if s.chance(math.Float64frombits(s.noID.Load())) {
		// Created, but the answer names nothing: the client cannot tell which connection.
		s.countFault(FaultNoID)
		writeJSON(c.w, http.StatusCreated, struct{}{})
		return
	}
	c.w.Header().Set("Location", APIPrefix+"/connections/"+rec.conn.ID)
	writeJSON(c.w, http.StatusCreated, flowapi.Ref{ID: rec.conn.ID, ETag: rec.conn.ETag})
}

func (c *call) notFound(id string) {
	c.serviceError(http.StatusNotFound, "1101-404", "Resource not found",
		fmt.Sprintf("The requested resource is not found. Connection with id %q does not exist.", id))
}

func (s *Server) get(c *call, id string) {
	s.mu.Lock()
	r := s.store.get(c.sc, id)
	s.mu.Unlock()
	if r == nil {
		c.notFound(id)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"items": []flowapi.Connection{r.view()}})
}

func (s *Server) delete(c *call, id string) {
	s.mu.Lock()
	r := s.store.get(c.sc, id)
	switch {
	case r == nil:
		s.mu.Unlock()
		c.notFound(id)
		return
	case len(s.store.flows.usedBy(id)) > 0:
		flows := s.store.flows.usedBy(id)
		s.mu.Unlock()
		c.badRequest("1418-400", fmt.Sprintf("Connection %s cannot be deleted because the base connection is being used in one or more flows (%s). Delete the flows first.", id, strings.Join(flows, ", ")))
		return
	}
	s.store.remove(id)
	s.mu.Unlock()
	if s.dropAfterCommit(c, id) {
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// patchOp is one parsed operation of a PATCH body.
type patchOp struct {
	op    string // add, replace, remove
	field string // "name", "description", "params" (whole object) or "param"
	param string // for field "param"
	str   string
	obj   map[string]string
}

func parsePatch(data []byte) ([]patchOp, string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] != '[' {
		return nil, "", errors.New("request body: a PATCH body is a JSON array of operations (RFC 6902), not a single object")
	}
	var raw []struct {
		Op    *string         `json:"op"`
		Path  *string         `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return nil, "", err
	}
	if len(raw) == 0 {
		return nil, "", errors.New("request body: the PATCH holds no operation")
	}
	ops := make([]patchOp, 0, len(raw))
	for i, r := range raw {
		if r.Op == nil || r.Path == nil {
			return nil, "", fmt.Errorf("operation %d: op and path are required", i)
		}
		o := patchOp{op: *r.Op}
		switch o.op {
		case "add", "replace", "remove":
		default:
			return nil, "", fmt.Errorf("operation %d: op %q is not supported (want add, replace or remove, in lower case)", i, o.op)
		}
		p := *r.Path
		switch {
		case p == "/name":
			o.field = "name"
		case p == "/description":
			o.field = "description"
		case p == "/auth/params":
			o.field = "params"
		case strings.HasPrefix(p, "/auth/params/"):
			name := strings.NewReplacer("~1", "/", "~0", "~").Replace(strings.TrimPrefix(p, "/auth/params/"))
			if !s3source.KnownParam(name) {
				return nil, "1455-400", fmt.Errorf("operation %d: path %q: %q is not an auth param of Amazon S3", i, p, name)
			}
			o.field, o.param = "param", name
		case p == "/connectionSpec" || strings.HasPrefix(p, "/connectionSpec/") || p == "/auth/specName":
			return nil, "1414-400", fmt.Errorf("operation %d: path %q: the connection spec and auth spec of a connection cannot be changed; delete the connection and create a new one", i, p)
		default:
			return nil, "1455-400", fmt.Errorf("operation %d: path %q cannot be patched (paths: /name, /description, /auth/params, /auth/params/<param>)", i, p)
		}
		if o.op != "remove" {
			if r.Value == nil {
				return nil, "", fmt.Errorf("operation %d: %s %s needs a value", i, o.op, p)
			}
			var err error
			if o.field == "params" {
				err = json.Unmarshal(r.Value, &o.obj)
				if err == nil && o.obj == nil {
					err = errors.New("null")
				}
			} else {
				var v *string
				err = json.Unmarshal(r.Value, &v)
				if err == nil && v == nil {
					err = errors.New("null")
				}
				if v != nil {
					o.str = *v
				}
			}
			if err != nil {
				what := "a string"
				if o.field == "params" {
					what = "an object of strings"
				}
				return nil, "", fmt.Errorf("operation %d: the value of %s must be %s", i, p, what)
			}
		}
		ops = append(ops, o)
	}
	return ops, "", nil
}

func (s *Server) patch(c *call, id string) {
	ifMatch := c.r.Header.Values("If-Match")
	if len(ifMatch) == 0 || ifMatch[0] == "" {
		c.badRequest("1403-400", "The header 'If-Match' is missing in the request. Please provide the header and try again.")
		return
	}
	etag := ifMatch[0]
	if len(ifMatch) > 1 || len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.Contains(etag[1:len(etag)-1], `"`) {
		c.badRequest("", fmt.Sprintf("The header 'If-Match' must be the connection's etag with its double quotes, like %s; got %s", `"1700d77b-0000-0200-0000-5e3b41a10000"`, etag))
		return
	}
	ops, code, err := parsePatch(c.body)
	if err != nil {
		c.badRequest(code, err.Error())
		return
	}

	s.mu.Lock()
	r := s.store.get(c.sc, id)
	if r == nil {
		s.mu.Unlock()
		c.notFound(id)
		return
	}
	if r.conn.ETag != etag {
		cur := r.conn.ETag
		s.mu.Unlock()
		c.serviceError(http.StatusPreconditionFailed, "1404-412", "Version not matching",
			fmt.Sprintf("The supplied version %s does not match the current version %s on entity %s. Please provide the correct version and try again.", etag, cur, id))
		return
	}
	nr, err := s.applyPatch(r, ops, c.user)
	if err != nil {
		s.mu.Unlock()
		c.badRequest("", err.Error())
		return
	}
	s.store.put(nr)
	s.mu.Unlock()

	if s.dropAfterCommit(c, id) {
		return
	}
	writeJSON(c.w, http.StatusOK, flowapi.Ref{ID: id, ETag: nr.conn.ETag})
}

// applyPatch returns r changed by ops, validated, with a new etag; the caller holds s.mu.
// applyOp applies one patch operation to c and to its auth params: plain holds values in
// clear, kept the secret params whose digest is kept.
func applyOp(c *flowapi.Connection, plain map[string]string, kept map[string]bool, o patchOp) (map[string]string, map[string]bool, error) {
	switch o.field {
	case "name":
		if o.op == "remove" {
			return nil, nil, fmt.Errorf("name cannot be removed")
		}
		c.Name = o.str
	case "description":
		switch {
		case o.op != "remove":
			c.Description = o.str
		case c.Description == "":
			return nil, nil, fmt.Errorf("remove /description: the connection has no description")
		default:
			c.Description = ""
		}
	case "params":
		plain, kept = map[string]string{}, map[string]bool{}
		if o.op != "remove" {
			maps.Copy(plain, o.obj)
		}
	case "param":
		if _, inPlain := plain[o.param]; o.op == "remove" && !inPlain && !kept[o.param] {
			return nil, nil, fmt.Errorf("remove /auth/params/%s: the connection has no such param", o.param)
		}
		delete(plain, o.param)
		delete(kept, o.param)
		if o.op != "remove" {
			plain[o.param] = o.str
		}
	}
	return plain, kept, nil
}

func (s *Server) applyPatch(r *record, ops []patchOp, client string) (*record, error) {
	c := r.conn
	plain := maps.Clone(c.Auth.Params) // non-secret params, then secrets set by the patch, in clear
	if plain == nil {
		plain = map[string]string{}
	}
	kept := make(map[string]bool, len(r.digests)) // secret params whose digest is kept
	for p := range r.digests {
		kept[p] = true
	}
	for i, o := range ops {
		var err error
		if plain, kept, err = applyOp(&c, plain, kept, o); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
	}
	if err := validateName(c.Name); err != nil {
		return nil, err
	}
	if err := validateDescription(c.Description); err != nil {
		return nil, err
	}
	if err := validateAuth(c.Auth.SpecName, plain, kept); err != nil {
		return nil, err
	}
	digests := map[string]string{}
	for p := range kept {
		digests[p] = r.digests[p]
	}
	now := time.Now()
	setAt := int64(0) // the session token's: kept, set by this patch, or gone
	if kept[sessionTokenParam] {
		setAt = r.tokenSetAt
	}
	for p, v := range plain {
		if s3source.Secret(p) {
			digests[p] = s.store.digest(v)
			delete(plain, p)
			if p == sessionTokenParam {
				setAt = now.UnixMilli()
			}
		}
	}
	if len(digests) == 0 {
		digests = nil
	}
	c.Auth.Params = plain
	c.ETag = s.store.newETag(now)
	c.Version = c.ETag
	c.UpdatedAt = now.UnixMilli()
	c.UpdatedBy = client + "@AdobeID"
	c.UpdatedClient = client
	return &record{scope: r.scope, conn: c, digests: digests, created: r.created, tokenSetAt: setAt}, nil
}
