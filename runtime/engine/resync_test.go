package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestSyncLedger(t *testing.T) {
	var l syncLedger
	const img = "example/web:kiln-1"
	if s, _ := l.owed(img, "c1"); s != nil {
		t.Fatal("a container of an image never live-updated is owed something")
	}
	l.record(img, []string{"/p/a"}, []liveupdate.Target{{ContainerID: "c1"}, {ContainerID: "c2"}})
	if s, _ := l.owed(img, "c1"); s != nil {
		t.Error("a container that was synced is owed the same change")
	}
	// c3 starts from the image: it lacks /p/a, and is marked as having it once told.
	if _, paths := l.owed(img, "c3"); !reflect.DeepEqual(paths, []string{"/p/a"}) {
		t.Errorf("a new container is owed %v", paths)
	}
	if s, _ := l.owed(img, "c3"); s != nil {
		t.Error("a caught-up container is owed it again")
	}
	// A sync of /p/b into c1 only: c2 and c3 now lack /p/b.
	l.record(img, []string{"/p/b"}, []liveupdate.Target{{ContainerID: "c1"}})
	if s, _ := l.owed(img, "c1"); s != nil {
		t.Error("c1 has everything")
	}
	if _, paths := l.owed(img, "c2"); !reflect.DeepEqual(paths, []string{"/p/a", "/p/b"}) {
		t.Errorf("c2 is owed %v, want everything", paths)
	}
	// A container that was not synced before is not covered by a later partial sync.
	l.record(img, []string{"/p/c"}, []liveupdate.Target{{ContainerID: "c4"}})
	if _, paths := l.owed(img, "c4"); len(paths) != 3 {
		t.Errorf("c4 missed /p/a and /p/b, is owed %v", paths)
	}
	// A failed replay is tried again.
	l.forget(img, "c4")
	if s, _ := l.owed(img, "c4"); s == nil {
		t.Error("after forget, c4 is owed nothing")
	}
	if s, _ := l.owed("example/web:kiln-2", "c9"); s != nil {
		t.Error("a new build of the image owes nothing")
	}
}

// initial_sync() sends every file under the sync() paths, but none under fall_back_on and
// none in .git; a sync path that does not exist is nothing to send.
func TestSyncSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web/a.js", "web/lib/b.js", "web/.git/HEAD", "web/package.json", "conf/x.ini"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lu := &plan.LiveUpdate{Steps: []plan.LiveUpdateStep{
		{Kind: plan.StepInitialSync},
		{Kind: plan.StepFallBackOn, Paths: []string{"web/package.json"}},
		{Kind: plan.StepSync, Local: "web", Remote: "/app"},
		{Kind: plan.StepSync, Local: "missing", Remote: "/m"},
	}}
	got, err := syncSources(dir, lu)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "web/a.js"), filepath.Join(dir, "web/lib/b.js")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("syncSources = %v, want %v", got, want)
	}
	if !hasStep(lu, plan.StepInitialSync) || hasStep(lu, plan.StepRestartContainer) || hasStep(nil, plan.StepSync) {
		t.Error("hasStep")
	}
}

// A batch of synced files each seen before the image's inputs were hashed is in its build
// already: nothing to sync. One change seen since, a file no image syncs, a batch without
// times, or an image hashed at an unknown time, is a live update as usual.
func TestAlreadyBuilt(t *testing.T) {
	hashed := time.Unix(1000, 0)
	sync := &plan.LiveUpdate{Steps: []plan.LiveUpdateStep{{Kind: plan.StepSync, Local: "build", Remote: "/app/build"}}}
	e := &runner{plan: &plan.Plan{Dir: "/p", Images: []plan.Image{
		{Ref: "web", LiveUpdate: sync, Inputs: plan.Inputs{HashedAt: hashed}},
		{Ref: "unhashed", LiveUpdate: &plan.LiveUpdate{Steps: []plan.LiveUpdateStep{{Kind: plan.StepSync, Local: "other", Remote: "/o"}}}},
	}}, results: map[string]*ResourceResult{}}
	before, after := hashed.Add(-time.Millisecond), hashed.Add(time.Millisecond)
	for _, c := range []struct {
		name  string
		batch ChangeBatch
		want  string
	}{
		{"all seen before the hash", ChangeBatch{Paths: []string{"/p/build/a", "/p/build/b"}, Seen: []time.Time{before, before}}, "web"},
		{"one seen after", ChangeBatch{Paths: []string{"/p/build/a", "/p/build/b"}, Seen: []time.Time{before, after}}, ""},
		{"seen at the hash", ChangeBatch{Paths: []string{"/p/build/a"}, Seen: []time.Time{hashed}}, ""},
		{"no times", ChangeBatch{Paths: []string{"/p/build/a"}}, ""},
		{"outside every sync", ChangeBatch{Paths: []string{"/p/build/a", "/p/main.go"}, Seen: []time.Time{before, before}}, ""},
		{"hashed at an unknown time", ChangeBatch{Paths: []string{"/p/other/x"}, Seen: []time.Time{before}}, ""},
	} {
		got := ""
		if img := e.alreadyBuilt(c.batch); img != nil {
			got = img.Ref
		}
		if got != c.want {
			t.Errorf("%s: alreadyBuilt = %q, want %q", c.name, got, c.want)
		}
	}
	// The build of that tag failed: the containers run an older one, which lacks the change.
	e.results["image web"] = &ResourceResult{Status: "failed"}
	if img := e.alreadyBuilt(ChangeBatch{Paths: []string{"/p/build/a"}, Seen: []time.Time{before}}); img != nil {
		t.Errorf("after a failed build: alreadyBuilt = %q, want none", img.Ref)
	}
}
