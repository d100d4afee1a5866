package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/s3source"
)

// The read-only calls `flowsync check` makes: the S3 connection spec, with its auth specs as
// draft-07 JSON Schemas of auth.params (secrets marked format: password), and the connection
// test, which fails once a connection's session token is older than the session-token TTL.

const sessionTokenParam = s3source.ParamSessionToken

// s3SpecName and s3ProviderID are what Adobe's catalogue calls the Amazon S3 source.
const (
	s3SpecName   = "amazon-s3"
	s3ProviderID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
)

// paramDescriptions describe the S3 auth params in the served spec.
var paramDescriptions = map[string]string{
	s3source.ParamAccessKey:    "Access key id of the AWS account or IAM user (AKIA…, or ASIA… for temporary credentials).",
	s3source.ParamSecretKey:    "Secret access key that goes with the access key id.",
	s3source.ParamSessionToken: "Session token of temporary (STS) credentials.",
	s3source.ParamServiceURL:   "Regional S3 endpoint, https://s3.REGION.amazonaws.com/, needed for region-specific buckets.",
	s3source.ParamBucketName:   "Name of the S3 bucket.",
	s3source.ParamFolderPath:   "Folder inside the bucket, needed when access is restricted to a folder.",
}

// S3ConnectionSpec is the connection spec the emulator serves for the Amazon S3 source,
// built from the auth specs it validates connections against (s3source).
func S3ConnectionSpec() flowapi.ConnectionSpec {
	cs := flowapi.ConnectionSpec{ID: s3source.SpecID, Name: s3SpecName, Version: s3source.SpecVersion}
	for _, a := range s3source.AuthSpecs() {
		props := map[string]any{}
		for _, p := range a.Params {
			prop := map[string]any{"type": "string", "description": paramDescriptions[p.Name]}
			if p.Secret {
				prop["format"] = "password"
			}
			props[p.Name] = prop
		}
		schema, _ := json.Marshal(map[string]any{
			"$schema":     "http://json-schema.org/draft-07/schema#",
			"type":        "object",
			"description": fmt.Sprintf("Auth params of an Amazon S3 connection with auth spec %q.", a.Name),
			"properties":  props,
			"required":    a.Required(),
		})
		cs.AuthSpec = append(cs.AuthSpec, flowapi.AuthSpec{Name: a.Name, Type: a.Name, Spec: schema})
	}
	return cs
}

// defaultSpecAnswer is the body of GET /connectionSpecs/{S3 id}: {"items": [spec]}, with
// the providerId Adobe's catalogue gives the source.
var defaultSpecAnswer = func() []byte {
	cs := S3ConnectionSpec()
	item := map[string]any{
		"id": cs.ID, "name": cs.Name, "providerId": s3ProviderID, "version": cs.Version,
		"authSpec": cs.AuthSpec,
		"attributes": map[string]any{
			"category": "Cloud Storage", "connectorName": "Amazon S3", "isSource": true,
		},
	}
	b, err := json.Marshal(map[string]any{"items": []any{item}})
	if err != nil {
		panic(err) // a static value: cannot fail
	}
	return b
}()

// ConnectionSpecAnswer returns the body GET /connectionSpecs/{S3 id} answers now.
func (s *Server) ConnectionSpecAnswer() []byte {
	return append([]byte(nil), *s.specAnswer.Load()...)
}

// SetConnectionSpecAnswer makes GET /connectionSpecs/{S3 id} answer body (a JSON object:
// {"items":[spec]} or the spec itself), and nil the default again. It changes only what is
// served, not how connections are validated: tests use it to show a service whose
// self-description differs from flowsync's rules.
func (s *Server) SetConnectionSpecAnswer(body []byte) error {
	if body == nil {
		s.specAnswer.Store(&defaultSpecAnswer)
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("emulator: connection spec answer: %w", err)
	}
	if v == nil {
		return errors.New("emulator: connection spec answer: want a JSON object")
	}
	b := append([]byte(nil), body...)
	s.specAnswer.Store(&b)
	return nil
}

// SetSessionTokenTTL changes Options.SessionTokenTTL while the emulator runs (0 = never).
func (s *Server) SetSessionTokenTTL(d time.Duration) {
	s.sessionTTL.Store(int64(max(d, 0)))
}

// AgeSessionToken makes the session token of connection id look set d earlier than it was,
// as if time had passed. It is a test helper and reports whether the connection has a
// session token.
func (s *Server) AgeSessionToken(id string, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store.byID[id]
	if r == nil || r.tokenSetAt == 0 {
		return false
	}
	nr := *r
	nr.tokenSetAt -= d.Milliseconds()
	s.store.put(&nr)
	return true
}

// tokenSetAt is when the session token of a record with these secret digests was set: now
// when it has one, else 0.
func tokenSetAt(digests map[string]string, nowMS int64) int64 {
	if _, ok := digests[sessionTokenParam]; ok {
		return nowMS
	}
	return 0
}

// connectionSpec answers GET /connectionSpecs/{id}: the S3 spec, or 404 for any other id.
func (s *Server) connectionSpec(c *call, id string) {
	if id != s3source.SpecID {
		c.serviceError(http.StatusNotFound, "1101-404", "Resource not found",
			fmt.Sprintf("The requested resource is not found. Connection spec with id %q does not exist (the emulator knows only Amazon S3, %s).", id, s3source.SpecID))
		return
	}
	body := *s.specAnswer.Load()
	h := c.w.Header()
	h["Content-Type"] = jsonContentType
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// test answers GET /connections/{id}/test: false when the connection's session token is
// older than the session-token TTL, true otherwise.
func (s *Server) test(c *call, id string) {
	s.mu.Lock()
	r := s.store.get(c.sc, id)
	s.mu.Unlock()
	if r == nil {
		c.notFound(id)
		return
	}
	ok := true
	if ttl := time.Duration(s.sessionTTL.Load()); ttl > 0 && r.tokenSetAt != 0 {
		ok = time.Since(time.UnixMilli(r.tokenSetAt)) < ttl
	}
	writeJSON(c.w, http.StatusOK, map[string]bool{"result": ok})
}

// routeSpec routes a request below /connectionSpecs/.
func routeSpec(method, rest string) (op, id string, status int) {
	if rest == "" || strings.Contains(rest, "/") {
		return "", "", http.StatusNotFound
	}
	if method != http.MethodGet {
		return "", "", http.StatusMethodNotAllowed
	}
	return "spec", rest, 0
}
