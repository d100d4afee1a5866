package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envsManifest writes a manifest of n entries in three environments (dev and stage override
// every entry's bucket, prod takes the entries as written) and returns its path.
func envsManifest(tb testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nenvironments:\n")
	for _, env := range []string{"dev", "stage", "prod"} {
		fmt.Fprintf(&b, "  %s:\n    target: {orgId: 5C1328435BF324E90A49402A@AdobeOrg, sandbox: %s}\n", env, env)
		fmt.Fprintf(&b, "    defaults:\n      auth: {params: {s3AccessKey: AKIA%s, s3SecretKey: {env: %s_SECRET}}}\n", strings.ToUpper(env), strings.ToUpper(env))
		if env == "prod" {
			continue
		}
		b.WriteString("    connections:\n")
		for i := range n {
			fmt.Fprintf(&b, "      bucket-%05d: {auth: {params: {bucketName: bucket-%05d-%s}}}\n", i, i, env)
		}
	}
	b.WriteString("promotion: [dev, stage, prod]\ndefaults:\n  description: Managed by flowsync\n  auth: {specName: Access Key}\nconnections:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: bucket-%05d, auth: {params: {bucketName: bucket-%05d, folderPath: events/%d, region: eu-west-1}}}\n", i, i, i%7)
	}
	path := filepath.Join(tb.TempDir(), "connections.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// singleManifest writes the entries of envsManifest as a manifest without environments (the
// prod environment's view of them) and returns its path.
func singleManifest(tb testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("version: 1\ntarget: {orgId: 5C1328435BF324E90A49402A@AdobeOrg, sandbox: prod}\n")
	b.WriteString("defaults:\n  description: Managed by flowsync\n  auth: {specName: Access Key, params: {s3AccessKey: AKIAPROD, s3SecretKey: {env: PROD_SECRET}}}\nconnections:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: bucket-%05d, auth: {params: {bucketName: bucket-%05d, folderPath: events/%d, region: eu-west-1}}}\n", i, i, i%7)
	}
	path := filepath.Join(tb.TempDir(), "single.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkPlanEnvs is an offline plan of a manifest of 3 environments × 1,000 entries:
// one environment (--env prod) and all three (--env all), text output; and, to compare, the
// same 1,000 entries in a manifest without environments. The budget: all three in at
// most 3× the time of one.
//
//	go test -run '^$' -bench PlanEnvs -benchtime 20x ./cli/
func BenchmarkPlanEnvs(b *testing.B) {
	path := envsManifest(b, 1000)
	secrets := map[string]string{"DEV_SECRET": "d", "STAGE_SECRET": "s", "PROD_SECRET": "p", "NO_COLOR": "1"}
	env := func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }
	single := singleManifest(b, 1000)
	for _, which := range []string{"single", "prod", "all"} {
		args := []string{"plan", "-f", path, "--env", which}
		if which == "single" {
			args = []string{"plan", "-f", single}
		}
		b.Run(which, func(b *testing.B) {
			for b.Loop() {
				code := Main(context.Background(), args,
					IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Env: env})
				if code != 0 {
					b.Fatalf("plan --env %s: exit %d", which, code)
				}
			}
		})
	}
}

// The manifest of the benchmark is valid and plans every environment.
func TestPlanEnvsManifest(t *testing.T) {
	path := envsManifest(t, 20)
	var out strings.Builder
	env := func(k string) (string, bool) {
		if strings.HasSuffix(k, "_SECRET") {
			return "x", true
		}
		return "", false
	}
	var errb strings.Builder
	if code := Main(context.Background(), []string{"plan", "-f", path, "--env", "all"}, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: env}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"=== environment dev: sandbox dev", "=== environment stage: sandbox stage", "=== environment prod: sandbox prod", "bucket-00003-stage"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan --env all lacks %q", want)
		}
	}
}
