// Package s3source holds the facts of the one source flowsync manages, Adobe Experience
// Platform's Amazon S3 source: its connection spec, its auth specs with their params (which
// are required, which are secret) and the S3 naming rules the service applies to params.
// The manifest, its schema checks, the client, the emulator and reconcile all read them here.
//
// Invariants: nothing here changes at run time; functions that return slices return copies,
// so no caller can change what another sees.
package s3source

import "slices"

// The Amazon S3 source's connection spec.
const (
	SpecID      = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
	SpecVersion = "1.0"
)

// Spec is a connection spec reference, as the service writes it and the lockfile keeps it.
type Spec struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// ConnectionSpec returns the Amazon S3 source's connection spec, the only one flowsync manages.
func ConnectionSpec() Spec { return Spec{ID: SpecID, Version: SpecVersion} }

// Auth spec names of the S3 source (auth.specName).
const (
	AccessKey    = "Access Key"
	IAMRoleBased = "IAMRole Based"
)

// Auth param names.
const (
	ParamAccessKey    = "s3AccessKey"
	ParamSecretKey    = "s3SecretKey"
	ParamSessionToken = "s3SessionToken"
	ParamServiceURL   = "serviceUrl"
	ParamBucketName   = "bucketName"
	ParamFolderPath   = "folderPath"
)

// Param is one auth param an auth spec takes.
type Param struct {
	Name     string
	Required bool
	// Secret: the service never answers its value in clear, and a manifest must give it as
	// a secret reference.
	Secret bool
}

// AuthSpec is one auth spec of the S3 source: its name and the params it takes, in the
// documented order.
type AuthSpec struct {
	Name   string
	Params []Param
}

// authSpecs are the auth specs of the S3 source, as Adobe documents them.
var authSpecs = []AuthSpec{
	{Name: AccessKey, Params: []Param{
		{Name: ParamAccessKey, Required: true},
		{Name: ParamSecretKey, Required: true, Secret: true},
		{Name: ParamSessionToken, Secret: true},
		{Name: ParamServiceURL},
		{Name: ParamBucketName},
		{Name: ParamFolderPath},
	}},
	{Name: IAMRoleBased, Params: []Param{
		{Name: ParamBucketName, Required: true},
		{Name: ParamFolderPath},
	}},
}

// AuthSpecs returns every auth spec of the S3 source, in documented order.
func AuthSpecs() []AuthSpec {
	out := make([]AuthSpec, len(authSpecs))
	for i, a := range authSpecs {
		out[i] = AuthSpec{Name: a.Name, Params: slices.Clone(a.Params)}
	}
	return out
}

// AuthNames returns the auth spec names, in documented order.
func AuthNames() []string {
	out := make([]string, len(authSpecs))
	for i, a := range authSpecs {
		out[i] = a.Name
	}
	return out
}

// Auth returns the auth spec called name.
func Auth(name string) (AuthSpec, bool) {
	for _, a := range authSpecs {
		if a.Name == name {
			return AuthSpec{Name: a.Name, Params: slices.Clone(a.Params)}, true
		}
	}
	return AuthSpec{}, false
}

// Takes reports whether the auth spec takes the param called name.
func (a AuthSpec) Takes(name string) bool {
	return slices.ContainsFunc(a.Params, func(p Param) bool { return p.Name == name })
}

// Required returns the names of the params the auth spec requires, in documented order.
func (a AuthSpec) Required() []string {
	var out []string
	for _, p := range a.Params {
		if p.Required {
			out = append(out, p.Name)
		}
	}
	return out
}

// ParamNames returns the name of every param of any auth spec, in documented order.
func ParamNames() []string {
	var out []string
	for _, a := range authSpecs {
		for _, p := range a.Params {
			if !slices.Contains(out, p.Name) {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

// KnownParam reports whether name is a param of any auth spec.
func KnownParam(name string) bool {
	for _, a := range authSpecs {
		if a.Takes(name) {
			return true
		}
	}
	return false
}

// Secret reports whether the param called name is secret in any auth spec: the service
// never answers its value in clear and flowsync never shows or records it.
func Secret(name string) bool {
	for _, a := range authSpecs {
		for _, p := range a.Params {
			if p.Name == name && p.Secret {
				return true
			}
		}
	}
	return false
}
