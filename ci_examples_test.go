package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIExamplesKeepState: every example workflow that applies keeps the lockfile and its
// journal whatever happens to the job (the commit step runs on failure and on cancellation,
// which always() includes and !cancelled() or success() do not), retries a rejected push after
// a rebase, and serialises applies of one manifest (of one environment of it) in one
// concurrency group shared by every workflow that applies it. A saved plan is made with --refresh, so that re-planning converges.
func TestCIExamplesKeepState(t *testing.T) {
	files, err := filepath.Glob("examples/ci/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("examples/ci: %v, %v", files, err)
	}
	groups := map[string]map[string]bool{} // manifest → concurrency groups of jobs applying it
	applying := 0
	for _, f := range files {
		w, text := readWorkflow(t, f)
		for name, job := range w.Jobs {
			steps := jobSteps(job)
			if !anyStepRuns(steps, "flowsync apply") {
				continue
			}
			applying++
			manifest := w.Env["MANIFEST"]
			if env, ok := job["env"].(map[string]any); ok && env["MANIFEST"] != nil {
				manifest = fmt.Sprint(env["MANIFEST"])
			}
			if manifest == "" {
				t.Errorf("%s: job %s applies no MANIFEST", f, name)
			}
			group, cancel := concurrencyOf(job["concurrency"])
			if group == "" {
				group, cancel = concurrencyOf(workflowConcurrency(text))
			}
			if !strings.Contains(group, manifest) || cancel {
				t.Errorf("%s: job %s: concurrency group %q (cancel-in-progress %v), want one naming %s, never cancelling a run in progress", f, name, group, cancel, manifest)
			}
			// Each environment of a manifest with environments has a lockfile of its own: its
			// applies share one group, and two environments may be applied at once.
			key := manifest
			if env, ok := job["env"].(map[string]any); ok && env["ENV_NAME"] != nil {
				key += " --env " + fmt.Sprint(env["ENV_NAME"])
			}
			if groups[key] == nil {
				groups[key] = map[string]bool{}
			}
			groups[key][group] = true
			checkCommitStep(t, f+": job "+name, steps)
		}
		for _, step := range stepsOf(w) {
			run, _ := step["run"].(string)
			for _, line := range strings.Split(run, "\n") {
				if strings.Contains(line, "flowsync plan") && savesPlan.MatchString(line) && !strings.Contains(line, "--refresh") {
					t.Errorf("%s: %q saves a plan without --refresh: a change made outside flowsync is stale at every apply", f, strings.TrimSpace(line))
				}
			}
		}
	}
	if applying < 2 {
		t.Errorf("%d jobs apply; want nightly-drift.yml and saved-plan.yml", applying)
	}
	for m, gs := range groups {
		if len(gs) != 1 {
			t.Errorf("manifest %s is applied in %d concurrency groups %v: applies of one manifest must share one", m, len(gs), gs)
		}
	}
}

var savesPlan = regexp.MustCompile(`\s--out[\s=]`)

// checkCommitStep finds the step that pushes and checks that it keeps the state whatever
// happened.
func checkCommitStep(t *testing.T, where string, steps []map[string]any) {
	t.Helper()
	for _, s := range steps {
		run, _ := s["run"].(string)
		if !strings.Contains(run, "git push") {
			continue
		}
		cond, _ := s["if"].(string)
		if !strings.Contains(cond, "always()") {
			t.Errorf("%s: the commit step runs if %q: not on failure or cancellation", where, cond)
		}
		for _, want := range []string{".lock.json", ".journal", "git pull --rebase"} {
			if !strings.Contains(run, want) {
				t.Errorf("%s: the commit step lacks %q", where, want)
			}
		}
		if !regexp.MustCompile(`for \w+ in [^;]+; do\n\s*git push && exit 0`).MatchString(run) {
			t.Errorf("%s: the commit step does not retry a rejected push:\n%s", where, run)
		}
		return
	}
	t.Errorf("%s: applies and commits nothing back", where)
}

func jobSteps(job map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := job["steps"].([]any)
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func stepsOf(w workflow) []map[string]any {
	var out []map[string]any
	for _, j := range w.Jobs {
		out = append(out, jobSteps(j)...)
	}
	return out
}

func anyStepRuns(steps []map[string]any, cmd string) bool {
	for _, s := range steps {
		if run, _ := s["run"].(string); strings.Contains(run, cmd) {
			return true
		}
	}
	return false
}

// workflowConcurrency is the workflow-level concurrency group, read from the text.
func workflowConcurrency(text string) any {
	m := regexp.MustCompile(`(?m)^concurrency:\n(?:\s+#.*\n)*\s+group: (\S+)\n\s+cancel-in-progress: (\w+)`).FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	return map[string]any{"group": m[1], "cancel-in-progress": m[2] == "true"}
}

func concurrencyOf(v any) (group string, cancel bool) {
	switch c := v.(type) {
	case string:
		return c, false
	case map[string]any:
		g, _ := c["group"].(string)
		b, _ := c["cancel-in-progress"].(bool)
		return g, b
	}
	return "", false
}
