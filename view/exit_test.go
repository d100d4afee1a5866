package view

import (
	"bytes"
	"encoding/json"
	"testing"
)

// WithExit adds how the run ended after the document's last key and bumps its version,
// keeping the rest byte for byte as the view wrote it (indentation, key order, [] and {},
// <, > and & unescaped).
func TestWithExit(t *testing.T) {
	var doc bytes.Buffer
	if err := writeJSON(&doc, struct {
		FormatVersion string         `json:"format_version"`
		Results       []string       `json:"results"`
		Stats         map[string]int `json:"stats"`
		Note          string         `json:"note"`
	}{"1.4", []string{}, map[string]int{}, "a <b> & c"}); err != nil {
		t.Fatal(err)
	}
	got, ok := WithExit(doc.Bytes(), Exit{Code: 130, Message: "interrupted: what finished is saved in m.lock.json\n", Hints: []string{" run it again ", ""}, Interrupted: true})
	if !ok {
		t.Fatal("not one JSON object")
	}
	want := `{
  "format_version": "1.6",
  "results": [],
  "stats": {},
  "note": "a <b> & c",
  "exit_code": 130,
  "interrupted": true,
  "message": "interrupted: what finished is saved in m.lock.json",
  "hints": [
    "run it again"
  ]
}
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	check, _ := WithExit([]byte(`{"format_version": "1.0"}`), Exit{Code: 2})
	var v struct {
		FormatVersion string   `json:"format_version"`
		Hints         []string `json:"hints"`
	}
	if err := json.Unmarshal(check, &v); err != nil || v.FormatVersion != "1.1" || v.Hints == nil {
		t.Errorf("check document: %s (%v)", check, err)
	}
	for _, bad := range []string{``, `[]`, `{"a": 1} {"b": 2}`, `{"a": `} {
		if out, ok := WithExit([]byte(bad), Exit{Code: 1}); ok || string(out) != bad {
			t.Errorf("WithExit(%q) = %q, %v; want it unchanged and false", bad, out, ok)
		}
	}
}
