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
