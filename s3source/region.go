package s3source

import (
	"regexp"
	"strings"
)

// ParamRegion is the manifest's shorthand for ParamServiceURL: `region: eu-west-1` under
// auth.params means `serviceUrl: https://s3.eu-west-1.amazonaws.com/`. It is never sent: the
// service knows serviceUrl only.
const ParamRegion = "region"

// RegionPattern is the shape of an AWS region name: two letters for the partition's area, an
// optional -gov or -iso* partition marker, a direction or place word, and a digit, as in
// us-east-1, ap-southeast-2, us-gov-west-1, cn-north-1, eu-central-2, il-central-1,
// mx-central-1 or us-isob-east-1. It checks the shape, not a list: a region AWS opens after
// this release is accepted.
const RegionPattern = `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`

var regionRe = regexp.MustCompile(RegionPattern)

// ValidRegion reports whether r has the shape of an AWS region name.
func ValidRegion(r string) bool { return regionRe.MatchString(r) }

// RegionEndpoint is the S3 endpoint of region r, as serviceUrl takes it:
// https://s3.eu-west-1.amazonaws.com/, or https://s3.cn-north-1.amazonaws.com.cn/ in the
// China partition. r must be a ValidRegion.
func RegionEndpoint(r string) string {
	suffix := "amazonaws.com"
	if len(r) > 3 && r[:3] == "cn-" {
		suffix = "amazonaws.com.cn"
	}
	return "https://s3." + r + "." + suffix + "/"
}

// RegionOf is the region of an S3 endpoint RegionEndpoint gives (either partition), and
// whether serviceURL is one.
func RegionOf(serviceURL string) (string, bool) {
	host, ok := strings.CutPrefix(strings.TrimSuffix(serviceURL, "/"), "https://s3.")
	if !ok {
		return "", false
	}
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		if r, ok := strings.CutSuffix(host, suffix); ok && ValidRegion(r) {
			return r, true
		}
	}
	return "", false
}
