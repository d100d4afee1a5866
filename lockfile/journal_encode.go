package lockfile

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecordJSON appends r as encoding/json's Marshal writes it (same field order,
// omitempty, sorted map keys, HTML-safe string escaping, RFC 3339 times), without reflection
// or intermediate buffers. TestRecordEncodingMatchesJSON holds it to json.Marshal.
func appendRecordJSON(b []byte, r *record) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.Name)
	if r.Op != "" {
		b = append(b, `,"op":`...)
		b = appendJSONString(b, r.Op)
	}
	if r.ID != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, r.ID)
	}
	if !r.At.IsZero() {
		b = append(b, `,"at":`...)
		var err error
		if b, err = appendJSONTime(b, r.At); err != nil {
			return b, err
		}
	}
	if r.Entry != nil {
		b = append(b, `,"entry":`...)
		var err error
		if b, err = appendEntryJSON(b, r.Entry); err != nil {
			return b, err
		}
	}
	if r.Target != nil {
		b = append(b, `,"target":{"orgId":`...)
		b = appendJSONString(b, r.Target.OrgID)
		b = append(b, `,"sandbox":`...)
		b = appendJSONString(b, r.Target.Sandbox)
		b = append(b, '}')
	}
	if r.Salt != "" {
		b = append(b, `,"salt":`...)
		b = appendJSONString(b, r.Salt)
	}
	return append(b, '}'), nil
}

func appendEntryJSON(b []byte, e *Entry) ([]byte, error) {
	b = append(b, '{')
	comma := false
	field := func(name string) {
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			b = appendJSONString(b, v)
		}
	}
	str("id", e.ID)
	str("etag", e.ETag)
	str("pending", e.Pending)
	if !e.PendingAt.IsZero() {
		field("pendingAt")
		var err error
		if b, err = appendJSONTime(b, e.PendingAt); err != nil {
			return b, err
		}
	}
	str("description", e.Description)
	str("specName", e.SpecName)
	field("connectionSpec")
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ConnectionSpec.ID)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, e.ConnectionSpec.Version)
	b = append(b, '}')
	if len(e.Params) > 0 {
		field("params")
		b = appendStringMap(b, e.Params)
	}
	if len(e.SecretDigests) > 0 {
		field("secretDigests")
		b = appendStringMap(b, e.SecretDigests)
	}
	if len(e.Retired) > 0 {
		field("retired")
		b = append(b, '[')
		for i, s := range e.Retired {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	str("promotion", e.Promotion)
	var err error
	field("createdAt")
	if b, err = appendJSONTime(b, e.CreatedAt); err != nil {
		return b, err
	}
	field("updatedAt")
	if b, err = appendJSONTime(b, e.UpdatedAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

func appendStringMap(b []byte, m map[string]string) []byte {
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds, years 0–9999).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		v, err := json.Marshal(t) // the same error Marshal gives
		return append(b, v...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONString appends s quoted as encoding/json writes it. Strings of printable ASCII
// other than " \ < > & are copied; anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			v, _ := json.Marshal(s) // a string always marshals
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
