package emulator

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/flowservice"
)

// authSpec is what one auth specName of the S3 connection spec accepts.
type authSpec struct {
	required, optional []string
}

func (a authSpec) allows(p string) bool {
	return slices.Contains(a.required, p) || slices.Contains(a.optional, p)
}

// authSpecs are the auth specs of the Amazon S3 source (flowservice.S3SpecID).
var authSpecs = map[string]authSpec{
	"Access Key": {
		required: []string{"s3AccessKey", "s3SecretKey"},
		optional: []string{"s3SessionToken", "serviceUrl", "bucketName", "folderPath"},
	},
	"IAMRole Based": {
		required: []string{"bucketName"},
		optional: []string{"folderPath"},
	},
}

// knownParam reports whether p is a param of any auth spec.
func knownParam(p string) bool {
	for _, a := range authSpecs {
		if a.allows(p) {
			return true
		}
	}
	return false
}

const maxNameLen = 256

func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("name: is required and must not be empty")
	}
	if n := utf8.RuneCountInString(name); n > maxNameLen {
		return fmt.Errorf("name: is %d characters long, at most %d are allowed", n, maxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("name: holds the non-printable character %U", r)
		}
	}
	return nil
}

func validateDescription(d string) error {
	if len(d) > 4096 {
		return fmt.Errorf("description: is %d bytes long, at most 4096 are allowed", len(d))
	}
	for _, r := range d {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return fmt.Errorf("description: holds the control character %U", r)
		}
	}
	return nil
}

func validateSpec(id, version string) error {
	if id == "" {
		return fmt.Errorf("connectionSpec.id: is required")
	}
	if version == "" {
		return fmt.Errorf("connectionSpec.version: is required")
	}
	if id != flowservice.S3SpecID {
		return fmt.Errorf("connectionSpec.id: connection spec %q is not known (the emulator knows only Amazon S3, %s)", id, flowservice.S3SpecID)
	}
	if version != flowservice.S3SpecVersion {
		return fmt.Errorf("connectionSpec.version: version %q of connection spec %s is not known (want %q)", version, id, flowservice.S3SpecVersion)
	}
	return nil
}

// validateAuth checks the auth of an S3 connection: params holds values in clear, kept the
// names of secret params whose value is kept as a digest. A message never holds a value.
func validateAuth(specName string, params map[string]string, kept map[string]bool) error {
	if specName == "" {
		return fmt.Errorf("auth.specName: is required (%q or %q)", "Access Key", "IAMRole Based")
	}
	a, ok := authSpecs[specName]
	if !ok {
		return fmt.Errorf("auth.specName: %q is not an auth spec of Amazon S3 (want %q or %q)", specName, "Access Key", "IAMRole Based")
	}
	names := make([]string, 0, len(params)+len(kept))
	for p := range params {
		names = append(names, p)
	}
	for p := range kept {
		if _, dup := params[p]; !dup {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	for _, p := range names {
		if !a.allows(p) {
			return fmt.Errorf("auth.params.%s: is not a param of auth spec %q", p, specName)
		}
	}
	for _, p := range a.required {
		if _, ok := params[p]; !ok && !kept[p] {
			return fmt.Errorf("auth.params.%s: is required by auth spec %q", p, specName)
		}
	}
	for _, p := range names {
		v, ok := params[p]
		if !ok {
			continue
		}
		if err := validateParam(p, v); err != nil {
			return fmt.Errorf("auth.params.%s: %w", p, err)
		}
	}
	return nil
}

func validateParam(p, v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(v) > 8192 {
		return fmt.Errorf("is longer than 8192 bytes")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("holds a control character")
		}
	}
	switch p {
	case "bucketName":
		return validateBucket(v)
	case "folderPath":
		return validateFolder(v)
	case "serviceUrl":
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("must be an absolute http(s) URL such as https://s3.eu-west-1.amazonaws.com/")
		}
	}
	return nil
}

// validateBucket applies the S3 bucket naming rules of flowservice/API.md.
func validateBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket names are 3 to 63 characters long, this one has %d", len(b))
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("bucket names hold only lowercase letters, digits and hyphens")
		}
	}
	if first, last := b[0], b[len(b)-1]; first == '-' || last == '-' {
		return fmt.Errorf("bucket names start and end with a letter or a digit")
	}
	if net.ParseIP(b) != nil {
		return fmt.Errorf("bucket names are not shaped like an IP address")
	}
	return nil
}

// validateFolder checks each component of a folder path ("a/b/c", one leading and one
// trailing slash allowed).
func validateFolder(f string) error {
	f = strings.TrimPrefix(f, "/")
	f = strings.TrimSuffix(f, "/")
	if f == "" {
		return fmt.Errorf("folder path has no component")
	}
	for i, c := range strings.Split(f, "/") {
		switch {
		case c == "":
			return fmt.Errorf("folder path component %d is empty", i+1)
		case c == "." || c == "..":
			return fmt.Errorf("folder path component %d is %q", i+1, c)
		case len(c) > 255:
			return fmt.Errorf("folder path component %d is longer than 255 characters", i+1)
		case strings.ContainsAny(c, "\"\\:|<>*?"):
			return fmt.Errorf(`folder path component %d holds one of " \ : | < > * ?`, i+1)
		}
	}
	return nil
}
