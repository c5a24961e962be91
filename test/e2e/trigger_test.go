//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWatchTriggerAndWait: under kiln watch, a manual resource with auto_init=False waits
// until kiln trigger runs it; a change to its deps waits for a trigger too; kiln wait returns
// once resources are ready and names what is not at its timeout.
func TestWatchTriggerAndWait(t *testing.T) {
	c := connect(t)
	runs := filepath.Join(t.TempDir(), "runs.txt")
	dir := writeProject(t, map[string]string{
		"src.txt":  "one\n",
		"auto.txt": "one\n",
		"Kilnfile": "local_resource('stamp', cmd='echo run >> " + runs + "', deps=['src.txt'], auto_init=False, trigger_mode=TRIGGER_MODE_MANUAL)\n" +
			"local_resource('auto', cmd='echo auto', deps=['auto.txt'])\n",
	})
	runCount := func() int {
		b, err := os.ReadFile(runs)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "run\n")
	}
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 2*time.Minute)

	if r := kiln(t, nil, "wait", "--for=ready", "auto", "-f", dir, "--timeout", "30s"); r.code != 0 {
		t.Errorf("kiln wait for auto:\n%s", r)
	}
	if r := kiln(t, nil, "wait", "--for=ready", "stamp", "-f", dir, "--timeout", "2s"); r.code != 1 || !strings.Contains(r.stderr, "stamp (skipped)") {
		t.Errorf("kiln wait for stamp, which auto_init=False skips, must time out naming it:\n%s", r)
	}
	if n := runCount(); n != 0 {
		t.Fatalf("stamp ran %d times before any trigger", n)
	}
	// A local command's output goes into kiln logs, as a container's does.
	if r := kiln(t, nil, "logs", "auto", "--file", dir); r.code != 0 || !regexp.MustCompile(`(?m)^auto\s+│ auto$`).MatchString(r.stdout) {
		t.Errorf("kiln logs auto has no line of its output:\n%s", r)
	}

	if r := kiln(t, nil, "trigger", "stamp", "-f", dir); r.code != 0 {
		t.Fatalf("kiln trigger stamp:\n%s", r)
	}
	if r := kiln(t, nil, "wait", "--for=ready", "stamp", "-f", dir, "--timeout", "60s"); r.code != 0 {
		t.Errorf("kiln wait for stamp after kiln trigger:\n%s", r)
	}
	if n := runCount(); n != 1 {
		t.Errorf("stamp ran %d times after one trigger, want 1", n)
	}

	// A change to a manual resource's deps does not run it: it waits for a trigger.
	if err := os.WriteFile(filepath.Join(dir, "src.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.waitFor("trigger_mode is manual", time.Minute)
	checkGetResources(t, dir, map[string]string{"stamp": "waiting for trigger", "auto": "ready"})
	if n := runCount(); n != 1 {
		t.Errorf("stamp ran %d times after its deps changed, want 1 (manual)", n)
	}
	if r := kiln(t, nil, "trigger", "stamp", "-f", dir); r.code != 0 {
		t.Fatalf("kiln trigger stamp:\n%s", r)
	}
	w.waitFor("kiln trigger stamp) done", time.Minute)
	if n := runCount(); n != 2 {
		t.Errorf("stamp ran %d times after a second trigger, want 2", n)
	}
	if r := kiln(t, nil, "wait", "--for=ready", "--all", "-f", dir, "--timeout", "30s"); r.code != 0 {
		t.Errorf("kiln wait --all:\n%s", r)
	}

	if r := kiln(t, nil, "trigger", "nope", "-f", dir); r.code != 1 || !strings.Contains(r.stderr, `no resource named "nope"`) {
		t.Errorf("kiln trigger of an unknown resource:\n%s", r)
	}
	if r := kiln(t, nil, "wait", "--for=ready", "nope", "-f", dir, "--timeout", "5s"); r.code != 1 || !strings.Contains(r.stderr, `no resource named "nope"`) {
		t.Errorf("kiln wait for an unknown resource:\n%s", r)
	}
}
