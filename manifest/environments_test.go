package manifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const envsSrc = `version: 1
environments:
  dev:
    target: {orgId: A1B2@AdobeOrg, sandbox: dev}
    defaults:
      description: dev default
      auth: {params: {s3AccessKey: AKIADEV, s3SecretKey: {env: DEV_SECRET}}}
    connections:
      acme-eu:
        auth:
          params:
            bucketName: acme-eu-dev
      acme-old: {exclude: true}
  prod:
    target: {orgId: A1B2@AdobeOrg, sandbox: prod}
    defaults:
      auth: {params: {s3AccessKey: AKIAPROD, s3SecretKey: {env: PROD_SECRET}}}
    connections:
      acme-eu: {description: prod only}
promotion: [dev, prod]
defaults:
  description: Managed by flowsync
  auth:
    specName: Access Key
connections:
  - name: acme-eu
    auth: {params: {bucketName: acme-eu, region: eu-west-1}}
  - name: acme-us
    description: US
    auth: {params: {bucketName: acme-us, serviceUrl: "https://s3.us-east-1.amazonaws.com/"}}
  - name: acme-old
    auth: {params: {bucketName: acme-old}}
`

func parseEnvs(t *testing.T, src string) *Manifest {
	t.Helper()
	m, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func envConn(t *testing.T, m *Manifest, env, name string) Connection {
	t.Helper()
	s, err := m.Select(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Connections {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("environment %s has no %s", env, name)
	return Connection{}
}

// Values merge in order: defaults, the environment's defaults, the entry, the override; each
// value keeps the position where it was written.
func TestEnvironmentsMerge(t *testing.T) {
	m := parseEnvs(t, envsSrc)
	if got := m.EnvironmentNames(); !cmp.Equal(got, []string{"dev", "prod"}) {
		t.Errorf("environments %q", got)
	}
	dev := envConn(t, m, "dev", "acme-eu")
	if dev.Description != "dev default" { // the environment's defaults over the manifest's
		t.Errorf("dev description %q", dev.Description)
	}
	if v := dev.Params["bucketName"]; v.Literal != "acme-eu-dev" || v.Pos != (Pos{Line: 12, Col: 25}) {
		t.Errorf("dev bucketName %+v, want the override's value at 12:25", v)
	}
	if v := dev.Params["serviceUrl"]; v.Literal != "https://s3.eu-west-1.amazonaws.com/" {
		t.Errorf("region shorthand: serviceUrl %+v", v)
	}
	if v := dev.Params["s3SecretKey"]; v.Ref == nil || v.Ref.Name != "DEV_SECRET" || v.Pos.Line != 7 {
		t.Errorf("dev secret %+v", v)
	}
	if _, ok := dev.Params["region"]; ok {
		t.Error("region is kept as a param: it is shorthand, never sent")
	}
	us := envConn(t, m, "dev", "acme-us")
	if us.Description != "US" { // the entry over the environment's defaults
		t.Errorf("dev acme-us description %q", us.Description)
	}
	prod := envConn(t, m, "prod", "acme-eu")
	if prod.Description != "prod only" || prod.Params["bucketName"].Literal != "acme-eu" || prod.Params["s3AccessKey"].Literal != "AKIAPROD" {
		t.Errorf("prod acme-eu %+v", prod)
	}
	d, _ := m.Select("dev")
	if len(d.Connections) != 2 || d.Target.Sandbox != "dev" || d.Env != "dev" {
		t.Errorf("dev: %d connections, target %v, env %q", len(d.Connections), d.Target, d.Env)
	}
	if got := m.Environments[0].Excluded; !cmp.Equal(got, []string{"acme-old"}) {
		t.Errorf("dev excludes %q", got)
	}
	p, _ := m.Select("prod")
	if len(p.Connections) != 3 {
		t.Errorf("prod: %d connections", len(p.Connections))
	}
}

// The promotion digest is the entry before any environment: equal in every environment,
// blind to overrides, environment defaults and secret values, and moved by a change of the
// entry or of the manifest's defaults.
func TestPromotionDigest(t *testing.T) {
	m := parseEnvs(t, envsSrc)
	dev, prod := envConn(t, m, "dev", "acme-eu"), envConn(t, m, "prod", "acme-eu")
	if dev.Promotion == "" || dev.Promotion != prod.Promotion {
		t.Fatalf("digests dev %q prod %q, want equal", dev.Promotion, prod.Promotion)
	}
	if other := envConn(t, m, "prod", "acme-us"); other.Promotion == dev.Promotion {
		t.Error("two entries share a digest")
	}
	if c := envConn(t, parseEnvs(t, strings.Replace(envsSrc, "promotion: [dev, prod]\n", "", 1)), "prod", "acme-eu"); c.Promotion != "" {
		t.Errorf("without promotion, a digest %q", c.Promotion)
	}
	for _, tt := range []struct {
		name, from, to string
		same           bool
	}{
		{"override", "acme-eu: {description: prod only}", "acme-eu: {description: prod version 2}", true},
		{"environment defaults", "s3AccessKey: AKIAPROD", "s3AccessKey: AKIAPROD2", true},
		{"entry", "bucketName: acme-eu, region", "bucketName: acme-eu2, region", false},
		{"manifest defaults", "description: Managed by flowsync", "description: Managed by us", false},
		{"region as serviceUrl", "region: eu-west-1}", `serviceUrl: "https://s3.eu-west-1.amazonaws.com/"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(envsSrc, tt.from) {
				t.Fatalf("%q not in the manifest", tt.from)
			}
			changed := envConn(t, parseEnvs(t, strings.Replace(envsSrc, tt.from, tt.to, 1)), "prod", "acme-eu")
			if same := changed.Promotion == prod.Promotion; same != tt.same {
				t.Errorf("digest unchanged = %v, want %v", same, tt.same)
			}
		})
	}
}

// --env must name an environment of a manifest with environments, and is refused without.
func TestSelect(t *testing.T) {
	m := parseEnvs(t, envsSrc)
	for _, env := range []string{"", "stage", "all"} {
		_, err := m.Select(env)
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Pos.Line != 2 || !strings.Contains(err.Error(), "dev, prod") {
			t.Errorf("Select(%q): %v", env, err)
		}
	}
	single := parseEnvs(t, "version: 1\ntarget: {orgId: A1B2@AdobeOrg, sandbox: prod}\nconnections: []\n")
	if s, err := single.Select(""); err != nil || s != single {
		t.Errorf("Select(\"\") of a manifest without environments: %v", err)
	}
	if _, err := single.Select("dev"); err == nil || !strings.Contains(err.Error(), "has no environments") {
		t.Errorf("Select(dev) of a manifest without environments: %v", err)
	}
	if prev, ok := m.Previous("prod", "acme-eu"); !ok || prev != "dev" {
		t.Errorf("Previous(prod, acme-eu) = %q, %v", prev, ok)
	}
	if _, ok := m.Previous("prod", "acme-old"); ok {
		t.Error("acme-old, which dev excludes, waits for dev")
	}
	if _, ok := m.Previous("dev", "acme-eu"); ok {
		t.Error("dev, first in the promotion order, waits")
	}
}

// Every bad input of environments is reported at its line, all at once.
func TestEnvironmentsProblems(t *testing.T) {
	src := strings.NewReplacer(
		"acme-old: {exclude: true}", "acme-olb: {exclude: true}",
		"bucketName: acme-eu-dev", "bucketName: ab",
		"promotion: [dev, prod]", "promotion: [dev, qa]",
		"{description: prod only}", "{auth: {params: {s3SessionToken: literal}}}",
	).Replace(envsSrc)
	_, err := Parse("m.yaml", []byte(src))
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("want diagnostics, got %v", err)
	}
	want := []string{
		"m.yaml:12:25: environments.dev.connections.acme-eu.auth.params.bucketName: ",
		`m.yaml:13:7: environments.dev.connections.acme-olb: no entry of connections is named "acme-olb"`,
		"m.yaml:19:49: environments.prod.connections.acme-eu.auth.params.s3SessionToken: a secret must never be committed",
		`m.yaml:20:18: promotion[1]: no environment is named "qa" (environments: dev, prod)`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if len(ds) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ds), len(want), got)
	}
}
