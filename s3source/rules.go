package s3source

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckBucketName reports the first S3 bucket naming rule that b breaks, or nil. The error
// names the rule, never the value.
func CheckBucketName(b string) error {
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
	if IPShaped(b) {
		return fmt.Errorf("bucket names are not shaped like an IP address")
	}
	return nil
}

// IPShaped reports whether s is shaped like an IPv4 address (^\d+\.\d+\.\d+\.\d+$), which
// a bucket name must not be.
func IPShaped(s string) bool {
	dots, digits := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && digits > 0 && dots < 3:
			dots++
			digits = 0
		default:
			return false
		}
	}
	return dots == 3 && digits > 0
}

// Flaw is the folder path rule a component breaks.
type Flaw int

// Flaws of a folder path component, in the order ComponentFlaw checks them.
const (
	NoFlaw  Flaw = iota
	Empty        // "" (a//b)
	DotName      // "." or ".."
	TooLong      // more than MaxComponent characters
	BadChar      // one of " \ : | < > * ?
)

// MaxComponent is the longest folder path component, in characters (Unicode code points:
// 200 × "ß" is 200 characters, 400 bytes).
const MaxComponent = 255

// ForbiddenChars are the characters no folder path component holds.
const ForbiddenChars = "\"\\:|<>*?"

// ComponentFlaw reports the first rule the folder path component c breaks.
func ComponentFlaw(c string) Flaw {
	switch {
	case c == "":
		return Empty
	case c == "." || c == "..":
		return DotName
	case len(c) > MaxComponent && utf8.RuneCountInString(c) > MaxComponent:
		return TooLong
	case strings.ContainsAny(c, ForbiddenChars):
		return BadChar
	}
	return NoFlaw
}

// FolderError is the first rule a folder path breaks. Component counts from 1; it is 0
// when the path has no component at all.
type FolderError struct {
	Component int
	Flaw      Flaw
	Name      string // the component when Flaw is DotName
}

func (e *FolderError) Error() string {
	switch e.Flaw {
	case Empty:
		if e.Component == 0 {
			return "folder path has no component"
		}
		return fmt.Sprintf("folder path component %d is empty", e.Component)
	case DotName:
		return fmt.Sprintf("folder path component %d is %q", e.Component, e.Name)
	case TooLong:
		return fmt.Sprintf("folder path component %d is longer than %d characters", e.Component, MaxComponent)
	default:
		return fmt.Sprintf(`folder path component %d holds one of " \ : | < > * ?`, e.Component)
	}
}

// CheckFolderPath checks each component of a folder path ("a/b/c", one leading and one
// trailing slash allowed) and returns a *FolderError for the first one that breaks a rule.
func CheckFolderPath(f string) error {
	f = strings.TrimPrefix(f, "/")
	f = strings.TrimSuffix(f, "/")
	if f == "" {
		return &FolderError{Flaw: Empty}
	}
	for i, c := range strings.Split(f, "/") {
		if flaw := ComponentFlaw(c); flaw != NoFlaw {
			return &FolderError{Component: i + 1, Flaw: flaw, Name: c}
		}
	}
	return nil
}
