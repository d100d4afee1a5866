package s3source

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bucket naming rules (flowservice/API.md, AWS general-purpose buckets).
const (
	MinBucketLen       = 3
	MaxBucketLen       = 63
	MaxLegacyBucketLen = 255 // us-east-1 buckets made before March 2018
)

// ReservedBucketPrefixes and ReservedBucketSuffixes are what no bucket name may start or
// end with.
var (
	ReservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	ReservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// BucketVerdict classifies a bucket name.
type BucketVerdict int

const (
	BucketValid   BucketVerdict = iota // follows the current rules
	BucketLegacy                       // breaks them only as a legacy us-east-1 name may: accepted, with a warning
	BucketInvalid                      // no bucket can have this name
)

// CheckBucketName reports the first current S3 bucket naming rule that b breaks, or nil.
// The error names the rule, never the value.
func CheckBucketName(b string) error {
	if n := len(b); n < MinBucketLen || n > MaxBucketLen {
		return fmt.Errorf("bucket names are %d to %d characters long, this one has %d", MinBucketLen, MaxBucketLen, utf8.RuneCountInString(b))
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("bucket names hold only lowercase letters, digits, dots and hyphens")
		}
	}
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return fmt.Errorf("bucket names start and end with a letter or a digit")
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket names hold no two adjacent dots")
	}
	if IPShaped(b) {
		return fmt.Errorf("bucket names are not shaped like an IP address")
	}
	for _, p := range ReservedBucketPrefixes {
		if strings.HasPrefix(b, p) {
			return fmt.Errorf("bucket names do not start with %q (reserved by AWS)", p)
		}
	}
	for _, s := range ReservedBucketSuffixes {
		if strings.HasSuffix(b, s) {
			return fmt.Errorf("bucket names do not end with %q (reserved by AWS)", s)
		}
	}
	return nil
}

// ClassifyBucketName says whether b follows the current rules, is a legacy us-east-1 name
// (capital letters, underscores or more than 63 characters, and otherwise only letters,
// digits, dots, hyphens and underscores, up to 255 characters: such buckets exist and can be
// connected), or can be no bucket's name. err is the current rule b breaks (nil when valid).
func ClassifyBucketName(b string) (BucketVerdict, error) {
	err := CheckBucketName(b)
	if err == nil {
		return BucketValid, nil
	}
	if len(b) < MinBucketLen || len(b) > MaxLegacyBucketLen {
		return BucketInvalid, err
	}
	marked := len(b) > MaxBucketLen
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 'A' && c <= 'Z' || c == '_':
			marked = true
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.':
		default:
			return BucketInvalid, err
		}
	}
	if !marked {
		return BucketInvalid, err // a lowercase name was never legacy: the current rules apply
	}
	return BucketLegacy, err
}

// SuggestBucketName returns a name close to b that follows the current rules (lower case,
// runs of other characters made one hyphen, no reserved prefix or suffix), or "" when there
// is none (nothing sensible left, or longer than 63 characters).
func SuggestBucketName(b string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(b) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			sb.WriteRune(r)
			dash = false
		case r == '.' && !dash:
			sb.WriteRune(r)
			dash = true
		case !dash:
			sb.WriteByte('-')
			dash = true
		}
	}
	s := sb.String()
	for changed := true; changed; {
		changed = false
		s = strings.Trim(s, "-.")
		for _, p := range ReservedBucketPrefixes {
			if t, ok := strings.CutPrefix(s, p); ok {
				s, changed = t, true
			}
		}
		for _, x := range ReservedBucketSuffixes {
			if t, ok := strings.CutSuffix(s, x); ok {
				s, changed = t, true
			}
		}
	}
	if len(s) > MaxBucketLen {
		return "" // cutting a name short is no suggestion
	}
	if CheckBucketName(s) != nil || s == strings.ToLower(b) && CheckBucketName(b) == nil {
		return ""
	}
	return s
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

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
