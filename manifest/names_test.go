package manifest

import (
	"strings"
	"testing"
)

// Two entries whose names read the same are one name: NFC and NFD, or a name with an
// invisible character; each is a validation error at the second, naming the first.
func TestNamesThatReadTheSameAreDuplicates(t *testing.T) {
	for name, tt := range map[string]struct{ first, second, want string }{
		"nfc and nfd": {"caf\u00e9", "cafe\u0301", `m.yaml:17:11: connections[1].name: duplicate name "cafe\u0301": first used at line 12 as "caf\u00e9", the same name once Unicode-normalised (NFC)`},
		"zero-width":  {"acme-eu", "acme\u200b-eu", `m.yaml:17:11: connections[1].name: duplicate name "acme\u200b-eu": first used at line 12 as "acme-eu", the same name but for invisible characters (U+200B)`},
		"bidi":        {"acme-eu", "acme-eu\u202c", `duplicate name "acme-eu\u202c": first used at line 12 as "acme-eu", the same name but for invisible characters (U+202C)`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(head+entry(tt.first)+entry(tt.second)))
			got := diagLines(t, err)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Fatalf("diagnostics %q, want one holding %q", got, tt.want)
			}
		})
	}
	// One entry written in NFD is kept, sent and compared in NFC.
	m, err := Parse("m.yaml", []byte(head+entry("cafe\u0301")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Connections[0].Name != "caf\u00e9" {
		t.Errorf("name %+q, want it in NFC", m.Connections[0].Name)
	}
}

// A folder path component is limited in characters, not bytes.
func TestFolderComponentCountsCharacters(t *testing.T) {
	ok := strings.Repeat("ß", 255) // 510 bytes
	if _, err := Parse("m.yaml", []byte(head+entry("a", "folderPath: "+ok+"/x"))); err != nil {
		t.Fatalf("255 characters (510 bytes) refused: %v", err)
	}
	_, err := Parse("m.yaml", []byte(head+entry("a", "folderPath: "+ok+"ß/x")))
	if got := diagLines(t, err); len(got) != 1 || !strings.HasSuffix(got[0], "folder path components are at most 255 characters, not 256") {
		t.Fatalf("256 characters: %q", got)
	}
}

// Bytes YAML cannot hold are reported where they are; an error without a known position
// never claims line 1, column 1.
func TestTextErrorsArePlaced(t *testing.T) {
	for name, tt := range map[string]struct{ src, want string }{
		"NUL":           {"version: 1\ntarget:\n  orgId: a\x00b\n", "m.yaml:3:11: invalid YAML: control character U+0000 is not allowed in a YAML file"},
		"invalid UTF-8": {"version: 1\n# caf\xe9\n", "m.yaml:2:6: invalid YAML: byte 0xE9 is not UTF-8 text: save the file as UTF-8"},
		"DEL after BOM": {"\ufeffversion: 1\x7f\n", "m.yaml:1:11: invalid YAML: control character U+007F is not allowed in a YAML file"},
		"C1":            {"version: 1\nx: \u009b\n", "m.yaml:2:4: invalid YAML: control character U+009B is not allowed in a YAML file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.src))
			if got := diagLines(t, err); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("diagnostics %q, want [%s]", got, tt.want)
			}
		})
	}
	d := Diagnostic{File: "m.yaml", Message: "invalid YAML: something"}
	if d.Error() != "m.yaml: invalid YAML: something" {
		t.Errorf("a diagnostic without a position reads %q", d.Error())
	}
}

// formerNames: kept in NFC; a former name that is an entry's name (as names compare) or that
// two entries claim is an error at the former name's own line.
func TestFormerNames(t *testing.T) {
	withFormer := func(name string, former ...string) string {
		return entry(name) + "    formerNames: [" + strings.Join(former, ", ") + "]\n"
	}
	m, err := Parse("m.yaml", []byte(head+withFormer("acme-marketing-eu", "acme-eu", "cafe\u0301")+entry("other")))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Connections[0].FormerNames; len(got) != 2 || got[0] != "acme-eu" || got[1] != "caf\u00e9" {
		t.Errorf("formerNames %+q, want [acme-eu café] in NFC", got)
	}
	if m.Connections[1].FormerNames != nil {
		t.Errorf("an entry without formerNames has %q", m.Connections[1].FormerNames)
	}
	for name, tt := range map[string]struct {
		src  string
		want []string
	}{
		"an entry's name": {head + withFormer("a", "b") + entry("b"), []string{
			`m.yaml:17:19: connections[0].formerNames[0]: "b" is the name of the entry at line 18: a name is either an entry's or a former one, not both`}},
		"its own name": {head + withFormer("a", "x", "a"), []string{
			`m.yaml:17:22: connections[0].formerNames[1]: "a" is the name of the entry at line 12: a name is either an entry's or a former one, not both`}},
		"claimed twice": {head + withFormer("a", "old") + withFormer("b", "o\u200bld"), []string{
			`m.yaml:23:19: connections[1].formerNames[0]: "o\u200bld" is already a former name at line 17: one connection can be renamed to one name only`}},
		"not a list": {head + entry("a") + "    formerNames: old\n", []string{
			`m.yaml:17:18: connections[0].formerNames: must be a list, not a string`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.src))
			got := diagLines(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
