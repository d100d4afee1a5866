package emulator

import (
	"fmt"
	"net/url"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/s3source"
)

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
	if id != s3source.SpecID {
		return fmt.Errorf("connectionSpec.id: connection spec %q is not known (the emulator knows only Amazon S3, %s)", id, s3source.SpecID)
	}
	if version != s3source.SpecVersion {
		return fmt.Errorf("connectionSpec.version: version %q of connection spec %s is not known (want %q)", version, id, s3source.SpecVersion)
	}
	return nil
}

// validateAuth checks the auth of an S3 connection: params holds values in clear, kept the
// names of secret params whose value is kept as a digest. A message never holds a value.
func validateAuth(specName string, params map[string]string, kept map[string]bool) error {
	if specName == "" {
		return fmt.Errorf("auth.specName: is required (%q or %q)", s3source.AccessKey, s3source.IAMRoleBased)
	}
	a, ok := s3source.Auth(specName)
	if !ok {
		return fmt.Errorf("auth.specName: %q is not an auth spec of Amazon S3 (want %q or %q)", specName, s3source.AccessKey, s3source.IAMRoleBased)
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
		if !a.Takes(p) {
			return fmt.Errorf("auth.params.%s: is not a param of auth spec %q", p, specName)
		}
	}
	for _, p := range a.Required() {
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
	case s3source.ParamBucketName:
		// A legacy us-east-1 name (capitals, underscores, up to 255 characters) names a
		// bucket that exists: the service connects it.
		if verdict, err := s3source.ClassifyBucketName(v); verdict == s3source.BucketInvalid {
			return err
		}
		return nil
	case s3source.ParamFolderPath:
		return s3source.CheckFolderPath(v)
	case s3source.ParamServiceURL:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("must be an absolute http(s) URL such as https://s3.eu-west-1.amazonaws.com/")
		}
	}
	return nil
}
