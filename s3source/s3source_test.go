package s3source

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestAuthSpecFacts(t *testing.T) {
	if got := AuthNames(); !slices.Equal(got, []string{"Access Key", "IAMRole Based"}) {
		t.Errorf("AuthNames() = %q", got)
	}
	ak, ok := Auth(AccessKey)
	if !ok || !slices.Equal(ak.Required(), []string{"s3AccessKey", "s3SecretKey"}) {
		t.Errorf("Access Key requires %q", ak.Required())
	}
	iam, ok := Auth(IAMRoleBased)
	if !ok || !slices.Equal(iam.Required(), []string{"bucketName"}) || iam.Takes("s3AccessKey") || !iam.Takes("folderPath") {
		t.Errorf("IAMRole Based = %+v", iam)
	}
	if _, ok := Auth("access key"); ok {
		t.Error("auth spec names are case-sensitive")
	}
	want := []string{"s3AccessKey", "s3SecretKey", "s3SessionToken", "serviceUrl", "bucketName", "folderPath"}
	if got := ParamNames(); !slices.Equal(got, want) {
		t.Errorf("ParamNames() = %q", got)
	}
	for _, p := range want {
		if !KnownParam(p) {
			t.Errorf("KnownParam(%q) = false", p)
		}
		if got := Secret(p); got != (p == "s3SecretKey" || p == "s3SessionToken") {
			t.Errorf("Secret(%q) = %v", p, got)
		}
	}
	if KnownParam("region") || Secret("region") {
		t.Error("region is not a param")
	}
}

// What a caller gets is a copy: changing it changes nothing for the next caller.
func TestFactsAreCopies(t *testing.T) {
	a := AuthSpecs()
	a[0].Params[1].Secret = false
	a[0].Name = "x"
	b, _ := Auth(AccessKey)
	b.Params[0].Required = false
	if !Secret("s3SecretKey") || AuthSpecs()[0].Name != AccessKey {
		t.Error("AuthSpecs() shares its slices")
	}
	if c, _ := Auth(AccessKey); !c.Params[0].Required {
		t.Error("Auth() shares its slices")
	}
}

func TestCheckBucketName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"acme-marketing-eu", ""},
		{"abc", ""},
		{"logs.example.com", ""},
		{"a.b.c", ""},
		{"ab", "3 to 63"},
		{strings.Repeat("a", 64), "3 to 63"},
		{"Acme", "only lowercase letters, digits, dots and hyphens"},
		{"acme_eu", "only lowercase"},
		{"-abc", "start and end"},
		{"abc-", "start and end"},
		{".abc", "start and end"},
		{"a..b", "no two adjacent dots"},
		{"192.168.5.4", "IP address"},
		{"xn--abc", `do not start with "xn--"`},
		{"sthree-abc", `do not start with "sthree-"`},
		{"amzn-s3-demo-abc", `do not start with "amzn-s3-demo-"`},
		{"abc-s3alias", `do not end with "-s3alias"`},
		{"abc--ol-s3", `do not end with "--ol-s3"`},
		{"abc.mrap", `do not end with ".mrap"`},
		{"abc--x-s3", `do not end with "--x-s3"`},
		{"abc--table-s3", `do not end with "--table-s3"`},
	} {
		err := CheckBucketName(tc.in)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckBucketName(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestClassifyBucketName(t *testing.T) {
	for in, want := range map[string]BucketVerdict{
		"logs.example.com":       BucketValid,
		"Team_Logs":              BucketLegacy,
		"acme_eu":                BucketLegacy,
		"ACME":                   BucketLegacy,
		strings.Repeat("a", 64):  BucketLegacy,
		strings.Repeat("a", 255): BucketLegacy,
		strings.Repeat("a", 256): BucketInvalid,
		"ab":                     BucketInvalid,
		"a..b":                   BucketInvalid, // lowercase: the current rules apply
		"xn--abc":                BucketInvalid,
		"Team Logs":              BucketInvalid,
		"team/logs":              BucketInvalid,
	} {
		if got, err := ClassifyBucketName(in); got != want || (got == BucketValid) != (err == nil) {
			t.Errorf("ClassifyBucketName(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// A suggestion always follows the rules it is offered for.
func TestSuggestBucketName(t *testing.T) {
	for in, want := range map[string]string{
		"Team_Logs":                       "team-logs",
		"Team Logs!":                      "team-logs",
		"xn--Logs":                        "xn-logs",
		"Logs..Example.COM":               "logs.example.com",
		"logs-s3alias":                    "logs",
		"_a_":                             "",
		"192.168.5.4":                     "",
		"Acme." + strings.Repeat("x", 70): "",
	} {
		got := SuggestBucketName(in)
		if got != want {
			t.Errorf("SuggestBucketName(%q) = %q, want %q", in, got, want)
		}
		if got != "" && CheckBucketName(got) != nil {
			t.Errorf("SuggestBucketName(%q) = %q breaks the rules: %v", in, got, CheckBucketName(got))
		}
	}
}

func FuzzSuggestBucketName(f *testing.F) {
	for _, s := range []string{"Team_Logs", "xn--sthree-a", "a..b", "-s3alias", "ÄÖ.mrap"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := SuggestBucketName(s); got != "" && CheckBucketName(got) != nil {
			t.Fatalf("SuggestBucketName(%q) = %q breaks the rules: %v", s, got, CheckBucketName(got))
		}
	})
}

func TestIPShaped(t *testing.T) {
	for in, want := range map[string]bool{"192.168.5.4": true, "1.2.3.4": true, "1.2.3": false, "1.2.3.4.5": false, "1..3.4": false, "a.b.c.d": false, "1.2.3.": false, "": false} {
		if got := IPShaped(in); got != want {
			t.Errorf("IPShaped(%q) = %v", in, got)
		}
	}
}

func TestCheckFolderPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *FolderError
	}{
		{"events/2026", nil},
		{"/events/2026/", nil},
		{"/", &FolderError{Flaw: Empty}},
		{"a//b", &FolderError{Component: 2, Flaw: Empty, Name: ""}},
		{"a/../b", &FolderError{Component: 2, Flaw: DotName, Name: ".."}},
		{"a/" + strings.Repeat("x", 256), &FolderError{Component: 2, Flaw: TooLong, Name: strings.Repeat("x", 256)}},
		{"a/b?", &FolderError{Component: 2, Flaw: BadChar, Name: "b?"}},
	} {
		err := CheckFolderPath(tc.in)
		var fe *FolderError
		if tc.want == nil {
			if err != nil {
				t.Errorf("CheckFolderPath(%q) = %v", tc.in, err)
			}
			continue
		}
		if !errors.As(err, &fe) || *fe != *tc.want {
			t.Errorf("CheckFolderPath(%q) = %#v, want %#v", tc.in, err, tc.want)
		}
	}
	if got := (&FolderError{Component: 2, Flaw: DotName, Name: ".."}).Error(); got != `folder path component 2 is ".."` {
		t.Errorf("message %q", got)
	}
}

func TestRegion(t *testing.T) {
	for _, r := range []string{"us-east-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "eu-central-2", "il-central-1", "mx-central-1", "us-isob-east-1", "ca-west-1", "me-south-1"} {
		if !ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "eu-west", "EU-WEST-1", "eu-west-1a", "europe-west-1", "eu-west-12", "eu_west_1", "https://s3.eu-west-1.amazonaws.com/", "eu-west-1 "} {
		if ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = true", r)
		}
	}
	for r, want := range map[string]string{
		"eu-west-1":  "https://s3.eu-west-1.amazonaws.com/",
		"cn-north-1": "https://s3.cn-north-1.amazonaws.com.cn/",
	} {
		if got := RegionEndpoint(r); got != want {
			t.Errorf("RegionEndpoint(%q) = %q, want %q", r, got, want)
		}
	}
}
