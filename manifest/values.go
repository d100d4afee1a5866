package manifest

import (
	"fmt"
	"unicode/utf8"

	"github.com/flowsync/flowsync/s3source"
	"github.com/flowsync/flowsync/schema"
)

// valueProblem is the one check of an auth param's value, whether written as a literal or
// read from a reference: "" when v may be sent as param name, else what is wrong with it,
// worded to follow "the value of {file: x}" and never quoting v (it may be a secret).
func valueProblem(name, v string) string {
	if msg := textProblem(v); msg != "" {
		return msg
	}
	if msg := literalProblem(name, v); msg != "" {
		return msg // the more specific
	}
	return schema.ParamProblem(name, v)
}

// textProblem refuses what no param may hold: invalid UTF-8 and control characters (a line
// break in a folder path, a credentials file where a key was expected).
func textProblem(v string) string {
	if !utf8.ValidString(v) {
		return "is not valid UTF-8 text"
	}
	for i, r := range v {
		if r < 0x20 || r >= 0x7F && r <= 0x9F {
			if r == '\n' || r == '\r' {
				return fmt.Sprintf("holds a line break (at byte %d): a value is one line", i)
			}
			return fmt.Sprintf("holds control character U+%04X (at byte %d)", r, i)
		}
	}
	return ""
}

// literalProblem holds the rules of a param value that the schema cannot say; for a literal
// they are checked where it is written (checkValues; a bucket name by checkBucket, which
// also warns and suggests), for a reference's value by valueProblem.
func literalProblem(name, v string) string {
	switch name {
	case s3source.ParamBucketName:
		if verdict, err := s3source.ClassifyBucketName(v); verdict == s3source.BucketInvalid {
			return err.Error() // a legacy us-east-1 name is accepted
		}
	case s3source.ParamFolderPath:
		return folderProblem(v)
	}
	return ""
}
