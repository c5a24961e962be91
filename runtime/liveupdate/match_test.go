package liveupdate

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web/src/a.js", "web/src/lib/b.js", "web/package.json"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	lu := &plan.LiveUpdate{Steps: []plan.LiveUpdateStep{
		{Kind: plan.StepFallBackOn, Paths: []string{"web/package.json"}},
		{Kind: plan.StepSync, Local: "web", Remote: "/app"},
		{Kind: plan.StepSync, Local: "web/src/lib", Remote: "/opt/lib"},
		{Kind: plan.StepRun, Command: &plan.Command{Argv: []string{"sh", "-c", "reload"}}, Triggers: []string{"web/src/lib"}},
		{Kind: plan.StepRun, Command: &plan.Command{Argv: []string{"true"}}},
	}}
	abs := func(rel string) string { return filepath.Join(dir, rel) }

	c, ok := Match(dir, lu, []string{abs("web/src/a.js"), abs("web/src/lib/b.js"), abs("web/src/gone.js"), abs("web/src")})
	if !ok {
		t.Fatal("files inside the syncs must live-update")
	}
	if want := map[string]string{abs("web/src/a.js"): "/app/src/a.js", abs("web/src/lib/b.js"): "/opt/lib/b.js"}; !reflect.DeepEqual(c.Copies, want) {
		t.Errorf("copies = %v, want %v (the most specific sync wins; directories are skipped)", c.Copies, want)
	}
	if !reflect.DeepEqual(c.Deletes, []string{"/app/src/gone.js"}) {
		t.Errorf("deletes = %v", c.Deletes)
	}
	if len(c.Runs) != 2 || c.Runs[0].Argv[2] != "reload" {
		t.Errorf("runs = %v, want the triggered reload and the untriggered step", c.Runs)
	}
	c, _ = Match(dir, lu, []string{abs("web/src/a.js")})
	if len(c.Runs) != 1 {
		t.Errorf("a change outside the trigger ran %v", c.Runs)
	}
	if _, ok := Match(dir, lu, []string{abs("web/package.json")}); ok {
		t.Error("fall_back_on must rebuild")
	}
	if _, ok := Match(dir, lu, []string{abs("web/src/a.js"), abs("Dockerfile")}); ok {
		t.Error("a file outside every sync must rebuild")
	}
	if _, ok := Match(dir, nil, []string{abs("web/src/a.js")}); ok {
		t.Error("no live_update: rebuild")
	}
}

func TestWriteTar(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("hello"), 0o640)
	var buf bytes.Buffer
	if err := writeTar(&buf, map[string]string{a: "/app/a.txt", filepath.Join(dir, "vanished"): "/app/v"}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr)
	if h.Name != "app/a.txt" || h.Mode != 0o640 || string(body) != "hello" {
		t.Errorf("entry %s mode %o body %q", h.Name, h.Mode, body)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("a file removed before the copy must be left out, got %v", err)
	}
}

// A restart_container step with triggers (docker_build_with_restart(trigger=)) restarts only
// for a change to one of them; without triggers, every change restarts.
func TestMatchRestartTriggers(t *testing.T) {
	dir := t.TempDir()
	abs := func(rel string) string { return filepath.Join(dir, rel) }
	lu := &plan.LiveUpdate{Steps: []plan.LiveUpdateStep{
		{Kind: plan.StepSync, Local: "app", Remote: "/app"},
		{Kind: plan.StepRestartContainer, Triggers: []string{"app/bin"}},
	}}
	if c, ok := Match(dir, lu, []string{abs("app/static/index.html")}); !ok || c.Restart {
		t.Errorf("a change outside the restart's triggers: ok=%v restart=%v, want a sync with no restart", ok, c.Restart)
	}
	if c, ok := Match(dir, lu, []string{abs("app/static/index.html"), abs("app/bin/server")}); !ok || !c.Restart {
		t.Errorf("a change to a trigger: ok=%v restart=%v, want a restart", ok, c.Restart)
	}
	lu.Steps[1].Triggers = nil
	if c, _ := Match(dir, lu, []string{abs("app/static/index.html")}); !c.Restart {
		t.Error("a restart_container() with no triggers restarts on every change")
	}
}
