package flowservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// The client's traffic checked against Adobe's published OpenAPI 3.0.1 spec of Flow Service
// (../shared/flowservice/flow-service-sources.openapi.yaml, read-only: loaded, never
// edited) and against the request-level facts of ../shared/flowservice/API.md.
//
// A full apply (creates of both auth specs, description update and add, session-token
// rotation and removal, whole-params change, replace, prune) plus a paginated refresh, a
// FindByName lookup, a GET by id and a small-page filtered List run through the real client
// against the emulator; the emulator's OnRequest hook records every request, and each one is
// then routed in the spec and validated with openapi3filter.ValidateRequest.
//
// The spec's known quirks are handled explicitly, each where it applies:
//   - Quirk 1 (PATCH body): the spec models ONE PatchInstruction object with an upper-case op
//     enum; the service takes an RFC 6902 array of lower-case ops. checkPatchBody.
//   - Quirk 2 (trailing slash): PATCH and DELETE are declared at
//     /connections/{BASE_CONNECTION_ID}/, GET at /connections/{BASE_CONNECTION_ID}. specURL.
//   - Quirk 3 (PatchInstruction.value): declared `type: object` and required, yet the
//     documented paths /description and /auth/params/<param> take a string and RFC 6902
//     "remove" has no value. checkPatchBody.
//   - Quirk 4 (property filters): declared `style: form, explode: false` (one comma-separated
//     value) while API.md documents a repeatable, ANDed parameter. checkPropertyFilters.
//   - Quirk 5 (x-sandbox-name): listConnections does not declare the header at all, and the
//     other operations declare it without `required: true`; API.md: "`x-sandbox-name` | the
//     all-lowercase sandbox name … (the service rejects a call without it: `2105-400`)", so
//     checkAPIFacts asserts it on every request, whatever the spec says.
//
// No other mismatch between the client's requests and the spec was found.

const (
	oaOrg     = "5C1328435BF324E90A49402A@AdobeOrg"
	oaSandbox = "prod"
	oaAPIKey  = "flowsync-openapi-test"
	oaToken   = "openapi-test-access-token"
	// specHost is the spec's server (//{environment}.adobe.io/data/foundation/flowservice
	// with its default environment): captured loopback requests are routed as if sent there.
	specHost = "platform.adobe.io"
)

// captured is one request as the emulator received it.
type captured struct {
	Method string
	URL    url.URL // path and query as received (no host: server side)
	Header http.Header
	Body   []byte
}

func (c captured) String() string {
	return c.Method + " " + c.URL.RequestURI()
}

func TestOpenAPIConformance(t *testing.T) {
	doc, router := loadSpec(t)

	var mu sync.Mutex
	var reqs []captured
	emu, err := emulator.Start(emulator.Options{
		Seed: 1,
		OnRequest: func(r *http.Request, body []byte) {
			c := captured{Method: r.Method, URL: *r.URL, Header: r.Header.Clone(), Body: bytes.Clone(body)}
			c.URL.User = nil
			mu.Lock()
			reqs = append(reqs, c)
			mu.Unlock()
		},
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	client, err := flowservice.New(flowservice.Config{
		Endpoint: emu.Endpoint, OrgID: oaOrg, Sandbox: oaSandbox, APIKey: oaAPIKey,
		Tokens: flowservice.StaticToken(oaToken), Concurrency: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(emu.Endpoint, emulator.APIPrefix) {
		t.Fatalf("emulator endpoint %s does not carry the path prefix %s", emu.Endpoint, emulator.APIPrefix)
	}

	runScenario(t, client, emu)

	mu.Lock()
	all := append([]captured(nil), reqs...)
	mu.Unlock()
	if len(all) == 0 {
		t.Fatal("no request captured")
	}

	ops := map[string]int{}
	var listPages, continued, lookupPages int
	for _, r := range all {
		var pr problems
		checkAPIFacts(&pr, r)
		opID := validateAgainstSpec(&pr, doc, router, r)
		for _, p := range pr {
			t.Error(p)
		}
		if r.Method == http.MethodPatch {
			t.Logf("%s If-Match %s: %s", r, r.Header.Get("If-Match"), redactBody(r.Body))
		}
		ops[opID]++
		if opID == "listConnections" {
			listPages++
			if r.URL.Query().Get("continuationToken") != "" {
				continued++
			}
		}
		if opID == "getSourceConnections" && r.URL.Query().Get("continuationToken") != "" {
			lookupPages++
		}
	}
	t.Logf("validated %d requests against the spec: %v", len(all), ops)

	// The scenario must have exercised every operation flowsync uses, with pagination.
	for op, atLeast := range map[string]int{
		"createConnection":   115, // 114 in apply 1, the replace's create in apply 2
		"listConnections":    4,
		"retrieveConnection": 1,
		"patchConnection":    5,
		"deleteConnection":   2,
		// 114 ids in batches of 50, one of them two pages; 120 source connections likewise.
		"getSourceConnections": 4,
		"listFlows":            3,
	} {
		if ops[op] < atLeast {
			t.Errorf("%s: %d requests, want at least %d", op, ops[op], atLeast)
		}
	}
	if continued < 2 {
		t.Errorf("%d list requests with a continuationToken (of %d): pagination not exercised", continued, listPages)
	}
	if lookupPages < 1 {
		t.Error("no GET /sourceConnections with a continuationToken: paging of the lookups not exercised")
	}
	if ops[""] > 0 {
		t.Errorf("%d requests matched no operation of the spec", ops[""])
	}
}

// The spec takes seconds to load under the race detector: both tests share one load.
var spec struct {
	once    sync.Once
	path    string
	absent  bool
	doc     *openapi3.T
	router  routers.Router
	loadErr error
}

// loadSpec loads Adobe's spec from shared/ beside the module root and builds a router. It
// skips the test only when the file is absent.
func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	root := moduleRoot(t)
	spec.once.Do(func() {
		spec.path = filepath.Join(root, "..", "shared", "flowservice", "flow-service-sources.openapi.yaml")
		if _, err := os.Stat(spec.path); errors.Is(err, os.ErrNotExist) {
			spec.absent = true
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(spec.path)
		if err != nil {
			spec.loadErr = fmt.Errorf("load %s: %w", spec.path, err)
			return
		}
		// The spec's examples are Adobe's (Google Cloud Storage etc.): they document, they
		// are not what this test checks.
		if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
			spec.loadErr = fmt.Errorf("%s is not a valid OpenAPI document: %w", spec.path, err)
			return
		}
		spec.doc = doc
		if spec.router, err = gorillamux.NewRouter(doc); err != nil {
			spec.loadErr = fmt.Errorf("router of %s: %w", spec.path, err)
		}
	})
	if spec.absent {
		t.Skipf("Adobe's Flow Service OpenAPI spec is not at %s (it lives in shared/flowservice/ beside the repo): skipping the conformance check", spec.path)
	}
	if spec.loadErr != nil {
		t.Fatal(spec.loadErr)
	}
	return spec.doc, spec.router
}

// problems collects what one request gets wrong.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

var oaS3 = s3source.ConnectionSpec()

func accessKey(name, description, token string) reconcile.Desired {
	p := map[string]reconcile.Param{
		"s3AccessKey": {Value: "ASIAIOSFODNN7EXAMPLE", Known: true},
		"s3SecretKey": {Value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Sensitive: true, Known: true},
		"serviceUrl":  {Value: "https://s3.eu-west-1.amazonaws.com/", Known: true},
		"bucketName":  {Value: name, Known: true},
		"folderPath":  {Value: "exports/daily", Known: true},
	}
	if token != "" {
		p["s3SessionToken"] = reconcile.Param{Value: token, Sensitive: true, Known: true}
	}
	return reconcile.Desired{Name: name, Description: description, Spec: oaS3, SpecName: "Access Key", Params: p}
}

func iamRole(name, description string) reconcile.Desired {
	return reconcile.Desired{Name: name, Description: description, Spec: oaS3, SpecName: "IAMRole Based",
		Params: map[string]reconcile.Param{"bucketName": {Value: name, Known: true}}}
}

// applyOnce plans want against lock (and observed, when refreshed) and applies it with a
// journal, as the CLI does; it fails the test on any failed entry.
func applyOnce(t *testing.T, c *flowservice.Client, want []reconcile.Desired, lock *lockfile.File, lockPath string, observed *reconcile.Observed, prune bool) (*lockfile.File, reconcile.Counts) {
	t.Helper()
	cs := reconcile.Plan(want, lock, observed, reconcile.Options{Prune: prune})
	j, err := lockfile.OpenJournal(lockPath, lockfile.HeaderOf(lock))
	if err != nil {
		t.Fatal(err)
	}
	out, sum, applyErr := reconcile.Apply(context.Background(), c, cs, lock, reconcile.ApplyOptions{Concurrency: 8, Journal: j})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Results {
		if r.Err != nil {
			t.Errorf("%s %s: %v", r.Action, r.Name, r.Err)
		}
	}
	if applyErr != nil {
		t.Fatalf("apply: %v", applyErr)
	}
	if err := out.Save(lockPath); err != nil {
		t.Fatal(err)
	}
	if err := lockfile.RemoveJournal(lockPath); err != nil {
		t.Fatal(err)
	}
	return out, cs.Counts()
}

// runScenario drives every kind of call flowsync makes.
func runScenario(t *testing.T, c *flowservice.Client, emu *emulator.Running) {
	t.Helper()
	ctx := context.Background()
	lockPath := filepath.Join(t.TempDir(), "onboarding.lock.json")
	lock, err := lockfile.New(lockfile.Target{OrgID: oaOrg, Sandbox: oaSandbox})
	if err != nil {
		t.Fatal(err)
	}

	// Apply 1: 114 creates, enough for a refresh to need two pages of 100.
	const nAK = 110
	var want []reconcile.Desired
	for i := range nAK {
		want = append(want, accessKey(fmt.Sprintf("ak-%03d", i), "access key "+fmt.Sprint(i), "session-token-1"))
	}
	want = append(want,
		iamRole("iam-a", ""),
		iamRole("iam-b", "role based"),
		accessKey("replace-me", "becomes role based", "session-token-1"),
		iamRole("prune-me", "pruned next"),
	)
	lock, counts := applyOnce(t, c, want, lock, lockPath, nil, false)
	if counts[reconcile.Create] != nAK+4 {
		t.Fatalf("apply 1: %v, want %d creates", counts, nAK+4)
	}

	// Refresh as the CLI does: every live S3 connection, pages of 100 (two pages here).
	live, err := c.List(ctx, flowservice.ListOptions{Filters: []string{"connectionSpec.id==" + s3source.SpecID}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != nAK+4 {
		t.Fatalf("refresh listed %d connections, want %d", len(live), nAK+4)
	}

	// Apply 2, refreshed, with --prune.
	var want2 []reconcile.Desired
	for _, d := range want {
		switch d.Name {
		case "ak-000": // description update: replace /description
			d.Description = "changed description"
		case "ak-001": // session-token rotation: replace /auth/params/s3SessionToken
			d.Params["s3SessionToken"] = reconcile.Param{Value: "session-token-2", Sensitive: true, Known: true}
		case "ak-002": // whole-params change: replace /auth/params
			d.Params["bucketName"] = reconcile.Param{Value: "ak-002-moved", Known: true}
		case "ak-003": // session token dropped: remove /auth/params/s3SessionToken
			delete(d.Params, "s3SessionToken")
		case "iam-a": // first description: add /description
			d.Description = "now described"
		case "replace-me": // specName change: create + delete
			d = iamRole("replace-me", "role based now")
		case "prune-me": // left out of the manifest: deleted with --prune
			continue
		}
		want2 = append(want2, d)
	}
	lock, counts = applyOnce(t, c, want2, lock, lockPath, &reconcile.Observed{Connections: live}, true)
	if counts[reconcile.Update] != 5 || counts[reconcile.Replace] != 1 || counts[reconcile.Delete] != 1 {
		t.Fatalf("apply 2: %v, want 5 updates, 1 replace, 1 delete", counts)
	}

	// A lookup by name (the unknown-outcome heal path) and a GET by id.
	found, err := c.FindByName(ctx, "ak-001", oaS3)
	if err != nil || len(found) != 1 || found[0].ID != lock.Connections["ak-001"].ID {
		t.Fatalf("FindByName(ak-001) = %+v, %v", found, err)
	}
	got, err := c.Get(ctx, found[0].ID)
	if err != nil || got.Name != "ak-001" || got.ETag != lock.Connections["ak-001"].ETag {
		t.Fatalf("Get(%s) = %+v, %v", found[0].ID, got, err)
	}
	// Small pages of an ANDed filter with a comma OR (API.md: property=id==a,b).
	ids := lock.Connections["iam-a"].ID + "," + lock.Connections["iam-b"].ID + "," + lock.Connections["replace-me"].ID
	small, err := c.List(ctx, flowservice.ListOptions{Filters: []string{"connectionSpec.id==" + s3source.SpecID, "id==" + ids}, Limit: 1})
	if err != nil || len(small) != 3 {
		t.Fatalf("List(limit 1, id==%s) = %d connections, %v; want 3", ids, len(small), err)
	}

	checkLookups(t, c, emu, lock)

	// The service ends as the manifest says.
	conns := emu.Server.Connections(oaOrg, oaSandbox)
	byName := map[string]flowservice.Connection{}
	for _, conn := range conns {
		byName[conn.Name] = conn
	}
	if len(conns) != len(want2) || len(byName) != len(want2) {
		t.Errorf("service holds %d connections (%d names), want %d", len(conns), len(byName), len(want2))
	}
	if byName["replace-me"].Auth.SpecName != "IAMRole Based" || byName["ak-000"].Description != "changed description" ||
		byName["ak-002"].Auth.Params["bucketName"] != "ak-002-moved" || byName["iam-a"].Description != "now described" {
		t.Errorf("live state does not match the manifest: %+v %+v %+v %+v", byName["replace-me"], byName["ak-000"], byName["ak-002"], byName["iam-a"])
	}
	if _, ok := byName["prune-me"]; ok {
		t.Error("prune-me is still live")
	}
	if !emu.Server.SecretMatches(byName["ak-001"].ID, "s3SessionToken", "session-token-2") {
		t.Error("ak-001's session token was not rotated")
	}
	if _, ok := byName["ak-003"].Auth.Params["s3SessionToken"]; ok {
		t.Error("ak-003 still has a session token")
	}
}

// checkLookups attaches 3 dataflows to each of 40 connections and looks them up as the impact
// check does: 114 base connection ids (3 batches of at most 50), 120 source connections (a
// batch of 40 base ids answers 2 pages), then the flows reading them (3 batches).
func checkLookups(t *testing.T, c *flowservice.Client, emu *emulator.Running, lock *lockfile.File) {
	t.Helper()
	ctx := context.Background()
	var ids, rest []string // those with dataflows first: one batch holds all 40 of them
	for name, e := range lock.Connections {
		if !strings.HasPrefix(name, "ak-0") || name >= "ak-040" {
			rest = append(rest, e.ID)
		} else {
			ids = append(ids, e.ID)
			for i := range 3 {
				if _, err := emu.Server.AttachDataflow(emulator.Dataflow{OrgID: oaOrg, Sandbox: oaSandbox, BaseConnectionID: e.ID, Name: fmt.Sprintf("%s flow %d", name, i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	ids = append(ids, rest...)
	srcs, err := c.SourceConnections(ctx, ids)
	if err != nil || len(srcs) != 120 {
		t.Fatalf("SourceConnections(%d ids) = %d, %v; want 120", len(ids), len(srcs), err)
	}
	var srcIDs []string
	for _, s := range srcs {
		srcIDs = append(srcIDs, s.ID)
	}
	flows, err := c.Flows(ctx, srcIDs)
	if err != nil || len(flows) != 120 {
		t.Fatalf("Flows(%d ids) = %d, %v; want 120", len(srcIDs), len(flows), err)
	}
}

// checkAPIFacts asserts the request-level facts of API.md ("Headers (every call)").
func checkAPIFacts(pr *problems, r captured) {
	h := r.Header
	if got := h.Get("Authorization"); got != "Bearer "+oaToken {
		pr.add("%s: Authorization %q, want %q", r, got, "Bearer <token>")
	}
	if got := h.Get("x-api-key"); got != oaAPIKey {
		pr.add("%s: x-api-key %q, want %q", r, got, oaAPIKey)
	}
	if got := h.Get("x-gw-ims-org-id"); got != oaOrg {
		pr.add("%s: x-gw-ims-org-id %q, want %q", r, got, oaOrg)
	}
	if got := h.Get("x-sandbox-name"); got == "" || got != strings.ToLower(got) || got != oaSandbox {
		pr.add("%s: x-sandbox-name %q, want the all-lowercase %q", r, got, oaSandbox)
	}
	if !strings.HasPrefix(r.URL.Path, emulator.APIPrefix+"/connections/") && r.URL.Path != emulator.APIPrefix+"/connections" &&
		!strings.HasPrefix(r.URL.Path, emulator.APIPrefix+"/connectionSpecs/") &&
		r.URL.Path != emulator.APIPrefix+"/sourceConnections" && r.URL.Path != emulator.APIPrefix+"/flows" {
		pr.add("%s: path %q lost the endpoint's prefix %s", r, r.URL.Path, emulator.APIPrefix)
	}
	switch r.Method {
	case http.MethodPost, http.MethodPatch:
		mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			pr.add("%s: Content-Type %q, want application/json", r, h.Get("Content-Type"))
		}
	case http.MethodGet, http.MethodDelete:
		if len(r.Body) != 0 {
			pr.add("%s: has a %d-byte body", r, len(r.Body))
		}
	default:
		pr.add("%s: unexpected method", r)
	}
	im := h.Values("If-Match")
	if r.Method == http.MethodPatch {
		if len(im) != 1 || len(im[0]) < 3 || !strings.HasPrefix(im[0], `"`) || !strings.HasSuffix(im[0], `"`) {
			pr.add("%s: If-Match %q, want one etag with its double quotes", r, im)
		}
	} else if len(im) != 0 {
		pr.add("%s: If-Match %q on a %s (PATCH only)", r, im, r.Method)
	}
}

var connectionPath = regexp.MustCompile(`^` + regexp.QuoteMeta(emulator.APIPrefix) + `/connections/[^/]+$`)

// specURL is the URL r is routed with in the spec: the spec's server host, r's path and query.
//
// Quirk 2: the spec declares DELETE and PATCH at `/connections/{BASE_CONNECTION_ID}/` (trailing
// slash) and GET at `/connections/{BASE_CONNECTION_ID}`; API.md's operations table has
// `PATCH /connections/{id}` and `DELETE /connections/{id}`, without the slash, as the client
// sends them (asserted here). Only to find the route is the slash added for PATCH and DELETE.
func specURL(pr *problems, r captured) string {
	p := r.URL.EscapedPath()
	if r.Method == http.MethodPatch || r.Method == http.MethodDelete {
		if !connectionPath.MatchString(p) {
			pr.add("%s: want %s/connections/{id} with no trailing slash", r, emulator.APIPrefix)
		}
		p += "/"
	}
	u := "https://" + specHost + p
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// validateAgainstSpec routes r in the spec and validates it with openapi3filter; it returns
// the operation id ("" when no route matched).
func validateAgainstSpec(pr *problems, doc *openapi3.T, router routers.Router, r captured) string {
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, r.Method, specURL(pr, r), bytes.NewReader(r.Body))
	if err != nil {
		pr.add("%s: %v", r, err)
		return ""
	}
	req.Header = r.Header.Clone()
	route, pathParams, err := router.FindRoute(req)
	if err != nil {
		pr.add("%s: no route in the spec: %v", r, err)
		return ""
	}
	opts := &openapi3filter.Options{
		// The spec declares no security scheme; API.md's Authorization header is asserted
		// by checkAPIFacts. A no-op authenticator keeps any future scheme from failing here.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
	}
	if r.Method == http.MethodPatch {
		// Quirk 1: openapi3filter would check the RFC 6902 array against the one-object
		// PatchInstruction schema and always fail; the body is checked by checkPatchBody
		// instead, and everything else of the request (path, If-Match and the other
		// headers) by openapi3filter with the body skipped.
		opts.ExcludeRequestBody = true
		checkPatchBody(pr, doc, r)
	}
	switch route.Operation.OperationID {
	case "listConnections", "getSourceConnections", "listFlows":
		checkPropertyFilters(pr, r)
	}
	err = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: req, PathParams: pathParams, Route: route, Options: opts,
	})
	if err != nil {
		pr.add("%s (%s) does not conform to the spec:\n  headers: %s\n  body: %s\n  error: %v",
			r, route.Operation.OperationID, headerNames(r.Header), redactBody(r.Body), err)
	}
	if want := map[string]string{http.MethodPost: "createConnection", http.MethodPatch: "patchConnection", http.MethodDelete: "deleteConnection"}[r.Method]; want != "" && route.Operation.OperationID != want {
		pr.add("%s routed to %s, want %s", r, route.Operation.OperationID, want)
	}
	return route.Operation.OperationID
}

// checkPatchBody validates a PATCH body: the RFC 6902 array structure here, each element
// against the spec's PatchInstruction schema.
//
// Quirk 1: API.md: "PATCH body: an RFC 6902 JSON Patch **array**, ops `add`, `replace`,
// `remove` (lower case in every Adobe example; the spec's enum says upper case and models a
// single object: the service takes the array)". So the body must be a non-empty array of
// objects with only op, path and value members and a lower-case op; each element is then
// validated against PatchInstruction with op mapped to the spec's upper case.
//
// Quirk 3: PatchInstruction.value is `type: object` and required. API.md documents
// "`/name`, `/description`, `/auth/params` (replaces every param…), `/auth/params/<param>`
// (e.g. `/auth/params/s3SessionToken`, the documented session-token rotation)": only
// /auth/params takes an object; the others take a string, and an RFC 6902 "remove" has no
// value. So an element whose value is an object is validated against the whole schema;
// any other element has its op and path validated against the schema's own property schemas,
// and its value checked here: a string on a documented scalar path, absent on a remove.
func checkPatchBody(pr *problems, doc *openapi3.T, r captured) {
	ref := doc.Components.Schemas["PatchInstruction"]
	if ref == nil || ref.Value == nil {
		pr.add("the spec has no components.schemas.PatchInstruction")
		return
	}
	schema := ref.Value
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &ops); err != nil || len(ops) == 0 {
		pr.add("%s: body is not a non-empty RFC 6902 array of operations (%v): %s", r, err, redactBody(r.Body))
		return
	}
	for i, raw := range ops {
		var op, path string
		if err := json.Unmarshal(raw["op"], &op); err != nil {
			pr.add("%s: op %d: op is not a string: %v", r, i, err)
			continue
		}
		if err := json.Unmarshal(raw["path"], &path); err != nil {
			pr.add("%s: op %d: path is not a string: %v", r, i, err)
			continue
		}
		for k := range raw {
			if k != "op" && k != "path" && k != "value" {
				pr.add("%s: op %d has member %q (RFC 6902 add/replace/remove take op, path, value)", r, i, k)
			}
		}
		if op != "add" && op != "replace" && op != "remove" {
			pr.add("%s: op %d: op %q, want lower-case add, replace or remove", r, i, op)
			continue
		}
		el := map[string]any{"op": strings.ToUpper(op), "path": path}
		var value any
		rawValue, hasValue := raw["value"]
		if hasValue {
			if err := json.Unmarshal(rawValue, &value); err != nil {
				pr.add("%s: op %d: value: %v", r, i, err)
				continue
			}
			el["value"] = value
		}
		if _, isObject := value.(map[string]any); isObject {
			if path != "/auth/params" {
				pr.add("%s: op %d: object value on %s: only /auth/params takes an object", r, i, path)
			}
			if err := schema.VisitJSON(el); err != nil {
				pr.add("%s: op %d (%s %s) does not conform to PatchInstruction: %v", r, i, op, path, err)
			}
			continue
		}
		// Quirk 3: the schema minus its value member.
		for _, k := range []string{"op", "path"} {
			p := schema.Properties[k]
			if p == nil || p.Value == nil {
				pr.add("the spec's PatchInstruction has no %s property", k)
				continue
			}
			if err := p.Value.VisitJSON(el[k]); err != nil {
				pr.add("%s: op %d: %s does not conform to PatchInstruction.%s: %v", r, i, k, k, err)
			}
		}
		scalarPath := path == "/name" || path == "/description" || strings.HasPrefix(path, "/auth/params/")
		switch {
		case !scalarPath:
			pr.add("%s: op %d: path %q is not a documented patch path", r, i, path)
		case op == "remove" && hasValue:
			pr.add("%s: op %d: remove with a value", r, i)
		case op != "remove":
			if _, ok := value.(string); !ok {
				pr.add("%s: op %d: %s %s needs a string value, got %s", r, i, op, path, redactBody(rawValue))
			}
		}
	}
}

// checkPropertyFilters: Quirk 4 (also on getSourceConnections and listFlows, whose `property`
// is declared the same way; a property inside an array is named with [], as API.md says). The spec declares `property` with `style: form, explode:
// false`, i.e. one comma-separated value; API.md: "repeatable `property` filters that are
// ANDed: … `property=id==a,b` (comma = OR)". The client sends the repeated form, as the
// service takes it; openapi3filter reads only the first occurrence of a non-exploded
// parameter (and splits it at commas, where API.md's comma is an OR inside one filter), so
// every occurrence is checked here whole: field, operator "==", value.
func checkPropertyFilters(pr *problems, r captured) {
	for _, f := range r.URL.Query()["property"] {
		field, value, ok := strings.Cut(f, "==")
		if !ok || field == "" || value == "" || strings.ContainsAny(field, "=,") {
			pr.add("%s: property %q is not FIELD==VALUE", r, f)
		}
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		var n int
		if _, err := fmt.Sscan(l, &n); err != nil || n < 1 || n > 100 {
			pr.add("%s: limit %q, want 1..100 (API.md: max 100 per page)", r, l)
		}
	}
}

// headerNames lists r's header names (values may be secrets).
func headerNames(h http.Header) string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// redactBody shows a body's shape without secret values.
func redactBody(b []byte) string {
	s := string(b)
	for _, secret := range []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token-1", "session-token-2"} {
		s = strings.ReplaceAll(s, secret, "<secret>")
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// TestOpenAPIChecksCatch feeds hand-made requests to the same checks, so that a conformance
// pass above means something: correct requests pass, and each kind of mistake is caught
// by the check meant for it.
func TestOpenAPIChecksCatch(t *testing.T) {
	doc, router := loadSpec(t)
	const id = "3751be3a-601a-4437-a67f-a004667bbfc1"
	const createBody = `{"name":"n","auth":{"specName":"Access Key","params":{"s3AccessKey":"a","s3SecretKey":"b"}},"connectionSpec":{"id":"` + s3source.SpecID + `","version":"1.0"}}`
	req := func(method, target, body string, edit func(h http.Header)) captured {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+oaToken)
		h.Set("x-api-key", oaAPIKey)
		h.Set("x-gw-ims-org-id", oaOrg)
		h.Set("x-sandbox-name", oaSandbox)
		if method == http.MethodPost || method == http.MethodPatch {
			h.Set("Content-Type", "application/json")
		}
		if method == http.MethodPatch {
			h.Set("If-Match", `"00000005-0000-0200-0000-6b088ca90000"`)
		}
		if edit != nil {
			edit(h)
		}
		return captured{Method: method, URL: *u, Header: h, Body: []byte(body)}
	}
	conns := emulator.APIPrefix + "/connections"
	one := conns + "/" + id
	for _, tc := range []struct {
		name string
		r    captured
		want []string // substrings, each of which some problem must hold; none: no problem
	}{
		{"create", req("POST", conns, createBody, nil), nil},
		{"get", req("GET", one, "", nil), nil},
		{"list", req("GET", conns+"?limit=7&property=name%3D%3Dx&property=connectionSpec.id%3D%3D"+s3source.SpecID+"&continuationToken=abc", "", nil), nil},
		{"delete", req("DELETE", one, "", nil), nil},
		{"patch string", req("PATCH", one, `[{"op":"replace","path":"/description","value":"d"}]`, nil), nil},
		{"patch params", req("PATCH", one, `[{"op":"replace","path":"/auth/params","value":{"bucketName":"b"}}]`, nil), nil},
		{"patch remove", req("PATCH", one, `[{"op":"remove","path":"/auth/params/s3SessionToken"}]`, nil), nil},
		{"test", req("GET", one+"/test", "", nil), nil},
		{"connection spec", req("GET", emulator.APIPrefix+"/connectionSpecs/"+s3source.SpecID, "", nil), nil},
		{"test without x-gw-ims-org-id", req("GET", one+"/test", "", func(h http.Header) { h.Del("x-gw-ims-org-id") }),
			[]string{`parameter "x-gw-ims-org-id" in header has an error: value is required`}},
		{"connection spec without the endpoint prefix", req("GET", "/connectionSpecs/"+s3source.SpecID, "", nil),
			[]string{"lost the endpoint's prefix", "no route in the spec"}},

		{"create without x-api-key", req("POST", conns, createBody, func(h http.Header) { h.Del("x-api-key") }),
			[]string{"x-api-key \"\"", "does not conform to the spec", `parameter "x-api-key" in header has an error: value is required`}},
		{"create without connectionSpec", req("POST", conns, `{"name":"n","auth":{"specName":"Access Key","params":{}}}`, nil),
			[]string{"does not conform to the spec", `property "connectionSpec" is missing`}},
		{"create with auth without specName", req("POST", conns, `{"name":"n","auth":{"params":{}},"connectionSpec":{"id":"x","version":"1.0"}}`, nil),
			[]string{`property "specName" is missing`}},
		{"create as text/plain", req("POST", conns, createBody, func(h http.Header) { h.Set("Content-Type", "text/plain") }),
			[]string{"want application/json", "does not conform to the spec"}},
		{"list with a non-integer limit", req("GET", conns+"?limit=ten", "", nil),
			[]string{`parameter "limit" in query has an error`}},
		{"get with a capitalised sandbox", req("GET", one, "", func(h http.Header) { h.Set("x-sandbox-name", "Prod") }),
			[]string{"all-lowercase"}},
		{"get without the endpoint prefix", req("GET", "/connections/"+id, "", nil),
			[]string{"lost the endpoint's prefix", "no route in the spec"}},
		{"get without a bearer token", req("GET", one, "", func(h http.Header) { h.Del("Authorization") }),
			[]string{"Authorization \"\"", `parameter "Authorization" in header has an error: value is required`}},
		{"patch without If-Match", req("PATCH", one, `[{"op":"replace","path":"/description","value":"d"}]`, func(h http.Header) { h.Del("If-Match") }),
			[]string{"want one etag with its double quotes", `parameter "if-match" in header has an error: value is required`}},
		{"patch with an unquoted etag", req("PATCH", one, `[{"op":"replace","path":"/description","value":"d"}]`, func(h http.Header) { h.Set("If-Match", "00000005") }),
			[]string{"want one etag with its double quotes"}},
		{"patch with a trailing slash", req("PATCH", one+"/", `[{"op":"replace","path":"/description","value":"d"}]`, nil),
			[]string{"no trailing slash"}},
		{"patch body as one object", req("PATCH", one, `{"op":"replace","path":"/description","value":"d"}`, nil),
			[]string{"not a non-empty RFC 6902 array"}},
		{"patch upper-case op", req("PATCH", one, `[{"op":"REPLACE","path":"/description","value":"d"}]`, nil),
			[]string{"want lower-case add, replace or remove"}},
		{"patch move", req("PATCH", one, `[{"op":"move","from":"/name","path":"/description"}]`, nil),
			[]string{`has member "from"`, "want lower-case add, replace or remove"}},
		{"patch object on /description", req("PATCH", one, `[{"op":"replace","path":"/description","value":{"description":"d"}}]`, nil),
			[]string{"only /auth/params takes an object"}},
		{"patch params against PatchInstruction", req("PATCH", one, `[{"op":"add","path":"/auth/params","value":{"description":5}}]`, nil),
			[]string{"does not conform to PatchInstruction", `"/value/description": value must be a string`}},
		{"patch params as a string", req("PATCH", one, `[{"op":"replace","path":"/auth/params","value":"b"}]`, nil),
			[]string{"not a documented patch path"}},
		{"patch string without a value", req("PATCH", one, `[{"op":"replace","path":"/auth/params/s3SessionToken"}]`, nil),
			[]string{"needs a string value"}},
		{"patch params with an array value", req("PATCH", one, `[{"op":"replace","path":"/auth/params","value":[1]}]`, nil),
			[]string{"not a documented patch path"}},
		{"delete with a body", req("DELETE", one, `{}`, nil),
			[]string{"has a 2-byte body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pr problems
			checkAPIFacts(&pr, tc.r)
			validateAgainstSpec(&pr, doc, router, tc.r)
			all := strings.Join(pr, "\n")
			if len(tc.want) == 0 && len(pr) > 0 {
				t.Errorf("a correct request was refused:\n%s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no problem holds %q; problems:\n%s", w, all)
				}
			}
		})
	}
}
