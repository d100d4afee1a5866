package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

var actions = map[string]reconcile.Action{
	"create":  reconcile.Create,
	"update":  reconcile.Update,
	"replace": reconcile.Replace,
	"delete":  reconcile.Delete,
}

// Meta is what a plan file records besides the changes.
type Meta struct {
	FlowsyncVersion string
	ManifestPath    string
	ManifestSHA256  string
	Env             string // the environment planned, "" without environments
	LockfilePath    string
	// LockfileFromManifest is LockfilePath relative to the manifest's directory, slash-separated.
	LockfileFromManifest string
	LockfileExists       bool
	Options              Options
}

// ErrSecretsUnknown is returned by Build for a plan made without reading the secrets: it
// cannot say which secret values apply would send.
var ErrSecretsUnknown = errors.New("a plan made with --no-secrets cannot be saved: apply --plan needs the digests of the secrets it sends")

// Build makes the plan file of cs, planned against lock (whose salt keys every digest; for a
// lockfile that does not exist yet, the salt of the new one apply will start).
func Build(cs *reconcile.Changeset, lock *lockfile.File, meta Meta) (*File, error) {
	if cs.SecretsUnknown {
		return nil, ErrSecretsUnknown
	}
	only := slices.Clone(meta.Options.Only)
	if only == nil {
		only = []string{}
	}
	f := &File{
		FormatVersion:   FormatVersion,
		FlowsyncVersion: meta.FlowsyncVersion,
		Manifest:        Manifest{Path: meta.ManifestPath, SHA256: meta.ManifestSHA256, Env: meta.Env},
		Lockfile: Lockfile{Path: meta.LockfilePath, FromManifest: meta.LockfileFromManifest,
			Exists: meta.LockfileExists, Serial: lock.Serial, Salt: lock.Salt},
		Target:  lock.Target,
		Options: Options{Prune: meta.Options.Prune, Only: only, Refresh: cs.Refreshed, SkipPromotion: meta.Options.SkipPromotion},
		Changes: []Change{},
	}
	dg := newDigester(lock.Salt)
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		switch {
		case !ch.Action.Sends():
			continue
		case ch.Blocked:
			f.Summary.Blocked++
		case ch.Action == reconcile.Create:
			f.Summary.Create++
		case ch.Action == reconcile.Update:
			f.Summary.Update++
		case ch.Action == reconcile.Replace:
			f.Summary.Replace++
		case ch.Action == reconcile.Delete:
			f.Summary.Delete++
		}
		c, err := buildChange(ch, dg)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", ch.Action, ch.Name, err)
		}
		f.Changes = append(f.Changes, c)
	}
	return f, nil
}

func buildChange(ch *reconcile.Change, dg *digester) (Change, error) {
	c := Change{
		Name:        ch.Name,
		Action:      ch.Action.String(),
		Reason:      string(ch.Reason),
		ID:          ch.ID,
		ETag:        ch.ETag,
		RenamedFrom: ch.RenamedFrom,
		LookupFirst: ch.Heal,
		Resend:      ch.Resend,
		Resolved:    ch.Resolved,
		Recorded:    recordedOf(ch.Prior),
		Fields:      make([]Field, 0, len(ch.Fields)),
		Notes:       append([]string{}, ch.Notes...),
		Secrets:     map[string]string{},
	}
	for _, fc := range ch.Fields {
		jf := Field{Path: fc.Path, Sensitive: fc.Sensitive, Drift: fc.Drift}
		if !fc.Sensitive {
			if ch.Action != reconcile.Create {
				jf.Before = &fc.Before
			}
			if ch.Action != reconcile.Delete {
				jf.After = &fc.After
			}
		}
		c.Fields = append(c.Fields, jf)
	}
	if d := ch.Desired; d != nil {
		for k, p := range d.Params {
			if p.Sensitive {
				if !p.Known {
					return Change{}, ErrSecretsUnknown
				}
				c.Secrets[k] = dg.digest(p.Value)
			}
		}
	}
	if ch.Blocked {
		// Never attempted: no request to record, and none apply --plan may send.
		c.Blocked, c.Requests = true, []Request{}
		for _, d := range ch.UsedBy {
			c.UsedBy = append(c.UsedBy, Dataflow{ID: d.ID, Name: d.Name, State: d.State, LastRun: d.LastRun, LastRunAt: d.LastRunAt})
		}
		return c, nil
	}
	reqs, err := requestsOf(ch, dg)
	if err != nil {
		return Change{}, err
	}
	c.Requests = reqs
	return c, nil
}

func recordedOf(e *lockfile.Entry) *Recorded {
	if e == nil {
		return nil
	}
	return &Recorded{ID: e.ID, ETag: e.ETag, Pending: e.Pending}
}

// requestsOf is reconcile.Requests of ch with every sensitive value replaced by its digest.
func requestsOf(ch *reconcile.Change, dg *digester) ([]Request, error) {
	reqs, err := reconcile.Requests(ch)
	if err != nil {
		return nil, err
	}
	sensitive := func(param string) bool {
		if s3source.Secret(param) {
			return true
		}
		return ch.Desired != nil && ch.Desired.Params[param].Sensitive
	}
	out := make([]Request, 0, len(reqs))
	for _, r := range reqs {
		q := Request{Method: r.Method, Path: "/connections", IfMatch: r.IfMatch, LookupFirst: r.LookupFirst}
		if r.ID != "" {
			q.Path += "/" + r.ID
		}
		var body any
		switch {
		case r.Create != nil:
			body = redactCreate(r.Create, sensitive, dg)
		case r.Patch != nil:
			if body, err = redactPatch(r.Patch, sensitive, dg); err != nil {
				return nil, err
			}
		}
		if body != nil {
			if q.Body, err = marshalBody(body); err != nil {
				return nil, err
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// digestValue stands for a sensitive value in a recorded request body.
type digestValue struct {
	HMACSHA256 string `json:"hmac_sha256"`
}

type createBody struct {
	Name           string       `json:"name"`
	Description    string       `json:"description,omitempty"`
	Auth           createAuth   `json:"auth"`
	ConnectionSpec flowapi.Spec `json:"connectionSpec"`
}

type createAuth struct {
	SpecName string         `json:"specName"`
	Params   map[string]any `json:"params"`
}

func redactParams(params map[string]string, sensitive func(string) bool, dg *digester) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if sensitive(k) {
			out[k] = digestValue{HMACSHA256: dg.digest(v)}
		} else {
			out[k] = v
		}
	}
	return out
}

func redactCreate(nc *flowapi.NewConnection, sensitive func(string) bool, dg *digester) createBody {
	return createBody{
		Name:           nc.Name,
		Description:    nc.Description,
		Auth:           createAuth{SpecName: nc.Auth.SpecName, Params: redactParams(nc.Auth.Params, sensitive, dg)},
		ConnectionSpec: nc.ConnectionSpec,
	}
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func redactPatch(ops []flowapi.PatchOp, sensitive func(string) bool, dg *digester) ([]patchOp, error) {
	out := make([]patchOp, 0, len(ops))
	for _, op := range ops {
		o := patchOp{Op: op.Op, Path: op.Path}
		switch param, isParam := strings.CutPrefix(op.Path, "/auth/params/"); {
		case op.Value == nil:
		case op.Path == "/auth/params":
			var params map[string]string
			if err := json.Unmarshal(op.Value, &params); err != nil {
				return nil, fmt.Errorf("patch %s: %w", op.Path, err)
			}
			o.Value = redactParams(params, sensitive, dg)
		case isParam && sensitive(param):
			var v string
			if err := json.Unmarshal(op.Value, &v); err != nil {
				return nil, fmt.Errorf("patch %s: %w", op.Path, err)
			}
			o.Value = digestValue{HMACSHA256: dg.digest(v)}
		default:
			o.Value = op.Value
		}
		out = append(out, o)
	}
	return out, nil
}

// marshalBody is json.Marshal without escaping <, > and &, so that the file shows values as
// the manifest has them.
func marshalBody(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// digester computes lockfile.Digest with one salt, once per distinct value: the same secret is
// usually shared by many connections. It lives for one Build or Check.
type digester struct {
	salt string
	memo map[string]string
}

func newDigester(salt string) *digester { return &digester{salt: salt, memo: map[string]string{}} }

func (d *digester) digest(value string) string {
	if s, ok := d.memo[value]; ok {
		return s
	}
	s := lockfile.Digest(d.salt, value)
	d.memo[value] = s
	return s
}
