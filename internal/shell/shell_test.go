package shell

import (
	"os/exec"
	"testing"
)

// Every quoted word reaches a real shell's argument list unchanged.
func TestQuoteRoundTrips(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"plain", "", "a b", "it's", "$HOME", "café-*", "--x=1", "a\nb", `"\`} {
		out, err := exec.Command(sh, "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) = %s: the shell read %q", s, Quote(s), out)
		}
	}
	if got := Quote("m.yaml"); got != "m.yaml" {
		t.Errorf("Quote(m.yaml) = %s, want it bare", got)
	}
}
