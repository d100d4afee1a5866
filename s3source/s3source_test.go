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
		{"ab", "3 to 63"},
		{strings.Repeat("a", 64), "3 to 63"},
		{"Acme", "only lowercase"},
		{"a.b.c", "only lowercase"},
		{"-abc", "start and end"},
		{"abc-", "start and end"},
	} {
		err := CheckBucketName(tc.in)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckBucketName(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
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
