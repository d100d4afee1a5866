package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// versionVar is the variable a release stamps; cli.Version reads it.
const versionVar = "github.com/flowsync/flowsync/cli.Version"

// TestReleaseStampsTheVersion: the release archives and the container image stamp the version
// into cli.Version (so version, --version and the User-Agent say it), and the archives cover
// linux, darwin and windows on amd64 and arm64, with checksums.
func TestReleaseStampsTheVersion(t *testing.T) {
	var cfg struct {
		Builds []struct {
			Env     []string `yaml:"env"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Checksum struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	data, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if strings.Join(b.Goos, ",") != "linux,darwin,windows" || strings.Join(b.Goarch, ",") != "amd64,arm64" {
		t.Errorf("targets %v × %v, want linux,darwin,windows × amd64,arm64", b.Goos, b.Goarch)
	}
	if !strings.Contains(strings.Join(b.Ldflags, " "), "-X "+versionVar+"=v{{ .Version }}") {
		t.Errorf("ldflags %q do not stamp %s", b.Ldflags, versionVar)
	}
	if !strings.Contains(strings.Join(b.Env, " "), "CGO_ENABLED=0") {
		t.Error("builds are not static (CGO_ENABLED=0)")
	}
	if cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum algorithm %q, want sha256", cfg.Checksum.Algorithm)
	}

	docker, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X " + versionVar + "=${VERSION}", "FROM gcr.io/distroless/static"} {
		if !strings.Contains(string(docker), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	license, err := os.ReadFile("LICENSE")
	if err != nil || !strings.Contains(string(license), "Apache License\n                           Version 2.0, January 2004") {
		t.Errorf("LICENSE is not the Apache License 2.0 (%v)", err)
	}
}

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	On          map[string]any            `yaml:"on"`
	Permissions map[string]string         `yaml:"permissions"`
	Env         map[string]string         `yaml:"env"`
	Jobs        map[string]map[string]any `yaml:"jobs"`
}

func readWorkflow(t *testing.T, path string) (workflow, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return w, string(data)
}

// TestPipelinesForkSafeAndPinned: the pull-request plan runs with read-only permissions (a
// fork's token is read-only, so it could not comment anyway) and hands the comment over; a
// workflow_run job with write permission posts it. No workflow installs an unpinned flowsync.
func TestPipelinesForkSafeAndPinned(t *testing.T) {
	plan, planText := readWorkflow(t, "examples/ci/plan-pr.yml")
	if _, ok := plan.On["pull_request"]; !ok {
		t.Error("plan-pr.yml does not run on pull_request")
	}
	if _, ok := plan.On["pull_request_target"]; ok {
		t.Error("plan-pr.yml runs on pull_request_target: a fork's code with a write token")
	}
	for scope, level := range plan.Permissions {
		if level != "read" && level != "none" {
			t.Errorf("plan-pr.yml asks for %s: %s; it must be read-only", scope, level)
		}
	}
	for _, want := range []string{"--no-secrets", "upload-artifact", "flowsync-plan-comment"} {
		if !strings.Contains(planText, want) {
			t.Errorf("plan-pr.yml lacks %q", want)
		}
	}
	if strings.Contains(planText, "secrets.") {
		t.Error("plan-pr.yml reads a secret")
	}

	comment, commentText := readWorkflow(t, "examples/ci/plan-pr-comment.yml")
	wr, ok := comment.On["workflow_run"].(map[string]any)
	if !ok {
		t.Fatal("plan-pr-comment.yml does not run on workflow_run")
	}
	if ws, _ := wr["workflows"].([]any); len(ws) != 1 || ws[0] != "flowsync plan" {
		t.Errorf("plan-pr-comment.yml follows %v, want the workflow named \"flowsync plan\"", wr["workflows"])
	}
	if !strings.Contains(planText, "\nname: flowsync plan\n") {
		t.Error(`plan-pr.yml is not named "flowsync plan"`)
	}
	if comment.Permissions["pull-requests"] != "write" {
		t.Error("plan-pr-comment.yml cannot write the comment")
	}
	for _, want := range []string{"actions/checkout"} {
		if strings.Contains(commentText, want) {
			t.Errorf("plan-pr-comment.yml uses %s: it must not run the pull request's code", want)
		}
	}
	for _, want := range []string{"run-id: ${{ github.event.workflow_run.id }}", "/^[0-9]+$/", "head.sha"} {
		if !strings.Contains(commentText, want) {
			t.Errorf("plan-pr-comment.yml lacks %q", want)
		}
	}

	files, err := filepath.Glob("examples/ci/*.yml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples/ci: %v, %v", files, err)
	}
	install := regexp.MustCompile(`go install \S*flowsync/flowsync@(\S+)`)
	for _, f := range files {
		_, text := readWorkflow(t, f)
		if strings.Contains(text, "@latest") || strings.Contains(text, "@main") {
			t.Errorf("%s installs something unpinned", f)
		}
		for _, m := range install.FindAllStringSubmatch(text, -1) {
			if m[1] != `${FLOWSYNC_VERSION}"` {
				t.Errorf("%s installs flowsync@%s, want the pinned FLOWSYNC_VERSION", f, m[1])
			}
		}
		if strings.Contains(text, "go install") && !regexp.MustCompile(`FLOWSYNC_VERSION: v\d+\.\d+\.\d+`).MatchString(text) {
			t.Errorf("%s does not pin FLOWSYNC_VERSION to a release", f)
		}
	}
}

// TestREADMECommandsForCI: .ci/run runs the README's quickstart and test blocks; they are
// there, marked, in that order.
func TestREADMECommandsForCI(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	q := strings.Index(s, "<!-- ci: quickstart -->\n```sh\ngo run . apply -f examples/quickstart.yaml --endpoint emulator --yes && go run . plan ")
	tst := strings.Index(s, "<!-- ci: test -->\n```sh\ngo test -race ./...\n```")
	if q < 0 || tst < 0 || tst < q {
		t.Errorf("README: quickstart block at %d, test block at %d; want both, quickstart first", q, tst)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	c := string(ci)
	iq, it := strings.Index(c, `bash -euo pipefail -c "$quickstart"`), strings.Index(c, `bash -euo pipefail -c "$tests"`)
	if iq < 0 || it < 0 || it < iq {
		t.Errorf(".ci/run: quickstart at %d, tests at %d; want both, quickstart first", iq, it)
	}
	for _, want := range []string{"goreleaser/v2@v2.15.1 check", "actionlint@v1.7.12 examples/ci/"} {
		if !strings.Contains(c, want) {
			t.Errorf(".ci/run lacks %q", want)
		}
	}
}

// TestPipelinesEnvironments: the pipeline of a manifest with environments plans every
// environment on a pull request as plan-pr.yml does (read-only, no secret, one comment by
// plan-pr-comment.yml), and after the merge applies dev, then prod, each job committing its
// own lockfile whatever happens to it.
func TestPipelinesEnvironments(t *testing.T) {
	plan, planText := readWorkflow(t, "examples/ci/environments-plan-pr.yml")
	if _, ok := plan.On["pull_request"]; !ok || !strings.Contains(planText, "\nname: flowsync plan\n") {
		t.Error(`environments-plan-pr.yml must run on pull_request and be named "flowsync plan" (plan-pr-comment.yml posts it)`)
	}
	for scope, level := range plan.Permissions {
		if level != "read" && level != "none" {
			t.Errorf("environments-plan-pr.yml asks for %s: %s; it must be read-only", scope, level)
		}
	}
	if strings.Contains(planText, "secrets.") {
		t.Error("environments-plan-pr.yml reads a secret")
	}
	for _, want := range []string{"--env all --no-secrets --output markdown", "upload-artifact", "flowsync-plan-comment"} {
		if !strings.Contains(planText, want) {
			t.Errorf("environments-plan-pr.yml lacks %q", want)
		}
	}

	apply, applyText := readWorkflow(t, "examples/ci/environments-apply.yml")
	if _, ok := apply.On["push"]; !ok {
		t.Error("environments-apply.yml does not run on push")
	}
	dev, prod := apply.Jobs["dev"], apply.Jobs["prod"]
	if dev == nil || prod == nil || prod["needs"] != "dev" {
		t.Fatalf("environments-apply.yml: want jobs dev and prod, prod after dev (needs: dev), got %v", apply.Jobs)
	}
	for name, job := range map[string]map[string]any{"dev": dev, "prod": prod} {
		c, _ := job["concurrency"].(map[string]any)
		if g, _ := c["group"].(string); !strings.HasSuffix(g, "-"+name) || c["cancel-in-progress"] != false {
			t.Errorf("environments-apply.yml job %s: concurrency %v, want a group of its environment, never cancelled", name, job["concurrency"])
		}
	}
	for _, want := range []string{`--env "$ENV_NAME" --yes`, `lock="${MANIFEST%.*}.$ENV_NAME.lock.json"`, "if: always() && steps.apply.outcome != 'skipped'", "git pull --rebase"} {
		if strings.Count(applyText, want) != 2 {
			t.Errorf("environments-apply.yml: want %q in both jobs", want)
		}
	}
}
