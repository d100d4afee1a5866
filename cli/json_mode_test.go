package cli

import "testing"

// --output json is read from the arguments as given, whatever the order of the flags, and
// only for the commands that have --output (generate's -o names a file).
func TestJSONMode(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--bogus", "-f", "m.yaml", "--output", "json"}, "1.4"},
		{[]string{"plan", "-f", "m.yaml", "--output=json"}, "1.4"},
		{[]string{"--endpoint", "emulator", "apply", "-o", "json", "--yes"}, "1.4"},
		{[]string{"apply", "-ojson"}, "1.4"},
		{[]string{"check", "-o=json"}, "1.0"},
		{[]string{"plan", "--output", "json", "--output", "text"}, ""},
		{[]string{"plan", "--output", "markdown"}, ""},
		{[]string{"plan", "--", "--output", "json"}, ""},
		{[]string{"generate", "-o", "json"}, ""},
		{[]string{"validate", "--output", "json"}, ""},
		{[]string{"--output", "json"}, ""},
	} {
		if got := jsonMode(tt.args); got != tt.want {
			t.Errorf("jsonMode(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
