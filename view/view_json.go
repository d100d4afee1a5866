package view

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/flowsync/flowsync/reconcile"
)

// jsonFormatVersion is the version of the plan and apply JSON documents (docs/plan-json.md):
// additive changes keep 1.x, breaking ones bump the major.
const jsonFormatVersion = "1.4"

// jsonEnvFormatVersion is the version of a plan document about a manifest with environments
// (1.5 added held changes and plan --env all): a document about a manifest without them
// keeps jsonFormatVersion, byte for byte what it was.
const jsonEnvFormatVersion = "1.5"

// planFormatVersion is the format_version of cs's plan document.
func planFormatVersion(cs *reconcile.Changeset) string {
	if cs.Environment != "" {
		return jsonEnvFormatVersion
	}
	return jsonFormatVersion
}

// jsonPlanView writes the plan as one JSON document (docs/plan-json.md).
type jsonPlanView struct {
	io IO
}

type jsonPlan struct {
	FormatVersion  string          `json:"format_version"`
	Refreshed      bool            `json:"refreshed"`
	SecretsUnknown bool            `json:"secrets_unknown"`
	ImpactChecked  bool            `json:"impact_checked"`
	Summary        jsonSummary     `json:"summary"`
	Changes        []jsonChange    `json:"changes"`
	Unmanaged      []jsonUnmanaged `json:"unmanaged"`
	// Conflicts (1.4): creates refused because the name is live and recorded under no entry.
	Conflicts []jsonConflict `json:"conflicts,omitempty"`
}

// jsonConflict is a name conflict: the create (or replace) it stops, and the live
// connections of the name.
type jsonConflict struct {
	Name    string      `json:"name"`
	Refused string      `json:"refused"`
	Live    []jsonOwner `json:"live"`
}

type jsonSummary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Replace   int `json:"replace"`
	Delete    int `json:"delete"`
	Blocked   int `json:"blocked"`
	Orphan    int `json:"orphan"`
	Unchanged int `json:"unchanged"`
	Conflict  int `json:"conflict,omitempty"`
	Held      int `json:"held,omitempty"`
}

type jsonChange struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Reason string `json:"reason"`
	ID     string `json:"id,omitempty"`
	// RenamedFrom is the recorded name a rename (formerNames) moves the connection from.
	RenamedFrom string `json:"renamed_from,omitempty"`
	Heal        bool   `json:"lookup_first,omitempty"`
	Resend      bool   `json:"resend_secrets,omitempty"`
	Held        string `json:"held,omitempty"`
	// Blocked: a delete or replace not attempted because the dataflows in UsedBy use the
	// connection it would delete.
	Blocked bool           `json:"blocked,omitempty"`
	UsedBy  []jsonDataflow `json:"used_by,omitempty"`
	Fields  []jsonField    `json:"fields"`
	Notes   []string       `json:"notes"`
	// Owner (1.4): who created the connection a delete or replace removes (live state read).
	Owner *jsonOwner `json:"owner,omitempty"`
}

// jsonOwner is a live connection and who created it.
type jsonOwner struct {
	ID            string `json:"id"`
	CreatedClient string `json:"created_client,omitempty"`
	CreatedAt     string `json:"created_at,omitempty"` // RFC 3339, UTC
}

func jsonOwnerOf(o reconcile.Owner) jsonOwner {
	j := jsonOwner{ID: o.ID, CreatedClient: o.Client}
	if o.CreatedAt > 0 {
		j.CreatedAt = time.UnixMilli(o.CreatedAt).UTC().Format(time.RFC3339)
	}
	return j
}

// jsonField holds a field change. Before and After are pointers so that an absent value (a
// sensitive one, or the before of a create) is omitted rather than shown as "".
type jsonField struct {
	Path      string  `json:"path"`
	Before    *string `json:"before,omitempty"`
	After     *string `json:"after,omitempty"`
	Sensitive bool    `json:"sensitive"`
	Drift     bool    `json:"drift"`
}

type jsonDataflow struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state,omitempty"`
	LastRun   string `json:"last_run,omitempty"`
	LastRunAt string `json:"last_run_at,omitempty"` // RFC 3339, UTC
}

func jsonDataflows(ds []reconcile.Dataflow) []jsonDataflow {
	var out []jsonDataflow
	for _, d := range ds {
		jd := jsonDataflow{ID: d.ID, Name: d.Name, State: d.State, LastRun: d.LastRun}
		if d.LastRunAt > 0 {
			jd.LastRunAt = time.UnixMilli(d.LastRunAt).UTC().Format(time.RFC3339)
		}
		out = append(out, jd)
	}
	return out
}

type jsonUnmanaged struct {
	Name     string            `json:"name"`
	IDs      []string          `json:"ids"`
	Reasons  map[string]string `json:"reasons,omitempty"`
	Recorded string            `json:"recorded,omitempty"`
	Orphan   bool              `json:"orphan,omitempty"`
}

func (v *jsonPlanView) Plan(cs *reconcile.Changeset) error {
	n := countPlan(cs)
	doc := jsonPlan{
		FormatVersion:  planFormatVersion(cs),
		Refreshed:      cs.Refreshed,
		SecretsUnknown: cs.SecretsUnknown,
		ImpactChecked:  cs.ImpactChecked,
		Summary: jsonSummary{Create: n.Create, Update: n.Update, Replace: n.Replace, Delete: n.Delete, Blocked: n.Blocked,
			Orphan: n.Orphan, Unchanged: n.Unchanged, Conflict: n.Conflict, Held: n.Held},
		Changes:   []jsonChange{},
		Unmanaged: []jsonUnmanaged{},
	}
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		if ch.Action == reconcile.NoOp {
			continue
		}
		if ch.Action == reconcile.Conflict {
			jc := jsonConflict{Name: ch.Name, Refused: ch.Refused.String(), Live: []jsonOwner{}}
			for _, o := range ch.Conflicts {
				jc.Live = append(jc.Live, jsonOwnerOf(o))
			}
			doc.Conflicts = append(doc.Conflicts, jc)
			continue
		}
		a := fieldAction(ch)
		jc := jsonChange{
			Name:        ch.Name,
			Action:      a.String(),
			Held:        ch.HeldFor,
			Reason:      string(ch.Reason),
			ID:          ch.ID,
			RenamedFrom: ch.RenamedFrom,
			Heal:        ch.Heal,
			Resend:      ch.Resend,
			Blocked:     ch.Blocked,
			UsedBy:      jsonDataflows(ch.UsedBy),
			Fields:      make([]jsonField, 0, len(ch.Fields)),
			Notes:       append([]string{}, ch.Notes...),
		}
		if ch.Owner != nil && (ch.Action == reconcile.Delete || ch.Action == reconcile.Replace) {
			o := jsonOwnerOf(*ch.Owner)
			jc.Owner = &o
		}

		for _, f := range ch.Fields {
			jf := jsonField{Path: f.Path, Sensitive: f.Sensitive, Drift: f.Drift}
			if !f.Sensitive {
				if a != reconcile.Create {
					jf.Before = &f.Before
				}
				if a != reconcile.Delete && a != reconcile.Orphan && !f.Removed {
					jf.After = &f.After
				}
			}
			jc.Fields = append(jc.Fields, jf)
		}
		doc.Changes = append(doc.Changes, jc)
	}
	for _, u := range cs.Unmanaged {
		doc.Unmanaged = append(doc.Unmanaged, jsonUnmanaged{Name: u.Name, IDs: append([]string{}, u.IDs...),
			Reasons: u.Reasons, Recorded: u.Recorded, Orphan: u.Orphan})
	}
	return writeJSON(v.io.Out, doc)
}

// writeJSON writes v as indented JSON with a trailing newline, leaving <, > and & readable.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Versions of a document that carries how its run ended (WithExit): 1.6 of the plan and
// apply documents (1.5 of plan --env all included), 1.1 of the check document.
const (
	jsonExitFormatVersion  = "1.6"
	checkExitFormatVersion = "1.1"
)

// Exit is how a run that wrote its JSON document ended with a non-zero exit code: the code,
// the error's message (none for exit 2, which is a result, not a failure), the hints stderr
// prints, and whether a signal stopped it.
type Exit struct {
	Code        int
	Message     string
	Hints       []string
	Interrupted bool
}

// WithExit returns doc, one JSON object written by a view, with exit_code, interrupted,
// message (when there is one) and hints added after its last key, and its format_version
// the one that documents them (docs/plan-json.md, "Exit"). ok is false, and doc unchanged,
// when doc is not one JSON object.
func WithExit(doc []byte, e Exit) (out []byte, ok bool) {
	type member struct {
		key   string
		value json.RawMessage
	}
	var members []member
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return doc, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return doc, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return doc, false
		}
		members = append(members, member{key, v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return doc, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return doc, false // more than one document
	}
	hints := []string{}
	for _, h := range e.Hints {
		if h = strings.TrimSpace(h); h != "" {
			hints = append(hints, h)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, m := range members {
		if m.key == "format_version" {
			m.value = exitFormatVersion(m.value)
		}
		writeMember(&b, m.key, m.value)
	}
	writeMember(&b, "exit_code", e.Code)
	writeMember(&b, "interrupted", e.Interrupted)
	if e.Message != "" {
		writeMember(&b, "message", strings.TrimSpace(e.Message))
	}
	writeMember(&b, "hints", hints)
	b.Bytes()[b.Len()-1] = '}' // the last member's comma
	var indented bytes.Buffer
	if err := json.Indent(&indented, b.Bytes(), "", "  "); err != nil {
		return doc, false
	}
	indented.WriteByte('\n')
	return indented.Bytes(), true
}

// writeMember writes "key":value, to b (compact JSON, <, > and & left readable).
func writeMember(b *bytes.Buffer, key string, value any) {
	var v bytes.Buffer
	enc := json.NewEncoder(&v)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key) // a string always encodes
	b.Write(bytes.TrimRight(v.Bytes(), "\n"))
	b.WriteByte(':')
	v.Reset()
	_ = enc.Encode(value) // strings, numbers, booleans and raw JSON always encode
	_ = json.Compact(b, v.Bytes())
	b.WriteByte(',')
}

// exitFormatVersion is the format_version of a document that carries how its run ended.
func exitFormatVersion(v json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return v
	}
	if s == checkFormatVersion {
		return json.RawMessage(`"` + checkExitFormatVersion + `"`)
	}
	return json.RawMessage(`"` + jsonExitFormatVersion + `"`)
}
