package strictjson

import (
	"errors"
	"testing"
	"time"
)

type inner struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

type doc struct {
	Version int               `json:"version"`
	Serial  int64             `json:"serial"`
	Ratio   float64           `json:"ratio,omitempty"`
	On      bool              `json:"on,omitempty"`
	At      time.Time         `json:"at,omitzero"`
	Spec    inner             `json:"spec"`
	Ptr     *inner            `json:"ptr,omitempty"`
	Tags    []string          `json:"tags,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Entries map[string]*inner `json:"entries,omitempty"`
	Any     any               `json:"any,omitempty"`
	skipped int               //lint:ignore U1000 an unexported field is no JSON field
	Ignored int               `json:"-"`
}

func TestUnmarshalSaysWhere(t *testing.T) {
	tests := []struct {
		name, data string
		line, col  int
		kind       Kind
		msg        string
	}{
		{"truncated", "{\"version\": 1,\n  \"spec\": {\"id\": \n", 2, 17, Syntax, "unexpected end of JSON input"},
		{"empty", "", 1, 1, Syntax, "unexpected end of JSON input"},
		{"bad character", "{\"version\": 1,\n  \"serial\": }", 2, 13, Syntax, "invalid character '}' looking for beginning of value"},
		{"after a multi-byte character", "{\"params\": {\"é\": \"é\" ]}", 1, 22, Syntax, "invalid character ']' after object key:value pair"},
		{"trailing data", "{\"version\": 1}\n{}", 2, 1, Syntax, "invalid character '{' after top-level value"},
		{"unknown field", "{\"version\": 1,\n  \"bogus\": true}", 2, 3, Unknown, `unknown field "bogus"`},
		{"a field in another case", "{\"SERIAL\": 3}", 1, 2, Unknown, `unknown field "SERIAL" (did you mean "serial"?)`},
		{"unknown nested field", "{\"entries\": {\"a b\": {\"id\": \"x\", \"ID\": \"y\"}}}", 1, 33, Unknown, `entries."a b": unknown field "ID" (did you mean "id"?)`},
		{"unexported field", "{\"skipped\": 1}", 1, 2, Unknown, `unknown field "skipped"`},
		{"ignored field", "{\"Ignored\": 1}", 1, 2, Unknown, `unknown field "Ignored"`},
		{"duplicate top-level key", "{\"serial\": 1, \"serial\": 2}", 1, 15, Duplicate, `the top-level object: key "serial" appears twice (JSON would keep only the last)`},
		{"duplicate map key", "{\"params\": {\"a\": \"1\",\n \"a\": \"2\"}}", 2, 2, Duplicate, `params: key "a" appears twice (JSON would keep only the last)`},
		{"duplicate key under any", "{\"any\": {\"x\": [{\"k\": 1, \"k\": 2}]}}", 1, 25, Duplicate, `any.x[0]: key "k" appears twice (JSON would keep only the last)`},
		{"string for an integer", "{\"serial\": \"7\"}", 1, 12, Type, "serial: a string where an integer (64-bit) is expected"},
		{"fraction for an integer", "{\"serial\": 1.5}", 1, 12, Type, "serial: 1.5 is not an integer (64-bit)"},
		{"integer too large", "{\"version\": 99999999999999999999}", 1, 13, Type, "version: 99999999999999999999 is not an integer (64-bit)"},
		{"number for a string", "{\"spec\": {\"id\": 7}}", 1, 17, Type, "spec.id: a number where a string is expected"},
		{"array for an object", "{\"spec\": []}", 1, 10, Type, "spec: an array where an object is expected"},
		{"object for an array", "{\"tags\": {}}", 1, 10, Type, "tags: an object where an array is expected"},
		{"string for a bool", "{\"on\": \"yes\"}", 1, 8, Type, "on: a string where true or false is expected"},
		{"bad element", "{\"tags\": [\"a\", 2]}", 1, 16, Type, "tags[1]: a number where a string is expected"},
		{"bad time", "{\"at\": \"yesterday\"}", 1, 8, Type, `at: "yesterday" is not an RFC 3339 time`},
		{"not an object", "[1]", 1, 1, Type, "the top-level object: an array where an object is expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Unmarshal([]byte(tt.data), &d)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Unmarshal = %v (%T), want *Error", err, err)
			}
			if e.Line != tt.line || e.Col != tt.col || e.Kind != tt.kind || e.Msg != tt.msg {
				t.Errorf("Unmarshal = %d:%d (kind %d) %q, want %d:%d (kind %d) %q", e.Line, e.Col, e.Kind, e.Msg, tt.line, tt.col, tt.kind, tt.msg)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	data := `{"version": 1, "serial": 9223372036854775807, "ratio": 1e3, "on": true, "at": "2026-01-02T03:04:05.123Z",
		"spec": {"id": "s", "version": "1.0"}, "ptr": null, "tags": ["a"], "params": {"A": "x", "a": "y"},
		"entries": {"e": {"id": "1"}, "f": null}, "any": {"k": [1, "two", null, {"Z": false}]}}`
	var d doc
	if err := Unmarshal([]byte(data), &d); err != nil {
		t.Fatal(err)
	}
	if d.Serial != 9223372036854775807 || d.Params["A"] != "x" || d.Params["a"] != "y" || d.Entries["e"].ID != "1" || d.At.Nanosecond() != 123e6 {
		t.Errorf("decoded %+v", d)
	}
	if err := Check([]byte(`{"any": {"k": 1}, "K": [true]}`), nil); err != nil {
		t.Errorf("Check(nil) of valid JSON = %v", err)
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncé\n\nd")
	for off, want := range map[int64][2]int{0: {1, 1}, 2: {1, 3}, 3: {2, 1}, 4: {2, 2}, 6: {2, 3}, 7: {3, 1}, 8: {4, 1}, 9: {4, 2}, 99: {4, 2}} {
		if line, col := Position(data, off); line != want[0] || col != want[1] {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", off, line, col, want[0], want[1])
		}
	}
}
