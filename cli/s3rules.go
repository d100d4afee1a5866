package cli

import "github.com/flowsync/flowsync/health"

// embeddedAuthSpecs are the auth specs of the Amazon S3 source as flowsync validates them:
// what check compares the service's own description with, and the offline fallback.
func embeddedAuthSpecs() []health.AuthSpec {
	return []health.AuthSpec{
		{Name: "Access Key", Params: []health.Param{
			{Name: "s3AccessKey", Required: true},
			{Name: "s3SecretKey", Required: true, Secret: true},
			{Name: "s3SessionToken", Secret: true},
			{Name: "serviceUrl"},
			{Name: "bucketName"},
			{Name: "folderPath"},
		}},
		{Name: "IAMRole Based", Params: []health.Param{
			{Name: "bucketName", Required: true},
			{Name: "folderPath"},
		}},
	}
}
