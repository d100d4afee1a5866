package names

import "testing"

func TestNamesThatReadTheSame(t *testing.T) {
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	for _, tt := range []struct {
		a, b  string
		same  bool // Same: equal in NFC
		clash bool // same Key: may not be two entries
	}{
		{nfc, nfd, true, true},
		{"acme-eu", "acme\u200b-eu", false, true},       // zero-width space
		{"acme-eu", "\u202eacme-eu", false, true},       // right-to-left override
		{"acme-eu", "acme-eu\u2066\u2069", false, true}, // isolates
		{"acme-eu", "acme-eu\ufe0f", false, true},       // variation selector
		{"acme-eu", "acme-eu\u00ad", false, true},       // soft hyphen
		{"acme-eu", "acme-EU", false, false},
		{"acme-eu", "acme-eu ", false, false},
		{"ß", "ss", false, false},
	} {
		if got := Same(tt.a, tt.b); got != tt.same {
			t.Errorf("Same(%+q, %+q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
		if got := Key(tt.a) == Key(tt.b); got != tt.clash {
			t.Errorf("Key(%+q) == Key(%+q) is %v, want %v", tt.a, tt.b, got, tt.clash)
		}
		if got := Clash(tt.a, tt.b) != ""; got != tt.clash {
			t.Errorf("Clash(%+q, %+q) = %q", tt.a, tt.b, Clash(tt.a, tt.b))
		}
	}
	if Normalize(nfd) != nfc || Normalize(Normalize(nfd)) != nfc {
		t.Errorf("Normalize is not NFC or not idempotent")
	}
	if got := Clash("acme-eu", "acme\u200b-eu"); got != "the same name but for invisible characters (U+200B)" {
		t.Errorf("Clash names the character badly: %q", got)
	}
}

func FuzzKey(f *testing.F) {
	f.Add("cafe\u0301")
	f.Add("a\u200bb")
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent on %+q", s)
		}
		if Key(s) != Key(n) {
			t.Fatalf("Key(%+q) != Key(Normalize)", s)
		}
	})
}
