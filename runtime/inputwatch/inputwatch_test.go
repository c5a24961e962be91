package inputwatch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/filewatch"
	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestRootsWatchSharedTreesWhole(t *testing.T) {
	p := &plan.Plan{
		Dir:          "/p",
		WatchedFiles: []string{"Kilnfile", "api", "shared", "tools", "web"},
		Images: []plan.Image{
			{Ref: "web", Context: "web", Excludes: []string{"node_modules"}},
			{Ref: "api", Context: "api", Excludes: []string{"*.md"}},
			{Ref: "api-docs", Context: "api", Excludes: []string{"*.go"}}, // the same tree, other files
			{Ref: "gen", Custom: &plan.CustomBuild{Deps: []string{"tools"}}},
			{Ref: "lib", Context: "shared", Excludes: []string{"tmp"}},
		},
		LocalResources: []plan.LocalResource{{Name: "codegen", Deps: []string{"shared"}}},
	}
	got := map[string][]string{}
	for _, r := range Roots(p) {
		got[r.Path] = r.Ignore
	}
	want := map[string][]string{
		"/p/Kilnfile": nil,
		"/p/web":      {"node_modules"},
		"/p/api":      nil, // two images exclude different files of it
		"/p/tools":    nil,
		"/p/shared":   nil, // a local_resource dep as well as a context
	}
	if len(got) != len(want) {
		t.Fatalf("roots %v, want %v", got, want)
	}
	for path, ignore := range want {
		if g, ok := got[path]; !ok || !slices.Equal(g, ignore) {
			t.Errorf("root %s: ignore %v (present %v), want %v", path, g, ok, ignore)
		}
	}
}

// TestBatchDropsWhatItChanged checks that the memo has forgotten a changed file by the time
// its batch is delivered.
func TestBatchDropsWhatItChanged(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k8s.yaml")
	if err := os.WriteFile(file, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Dir: dir, WatchedFiles: []string{"k8s.yaml"}}
	w, err := New(p, filewatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetPlan(p); err != nil {
		t.Fatal(err)
	}
	_, ticket, _ := w.Memo().Get("read "+file, file)
	w.Memo().Put(ticket, []byte("one"), 3)
	if w.Memo().Len() != 1 {
		t.Fatal("the memo kept nothing for a watched file")
	}
	if err := os.WriteFile(file, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-w.Batches():
		if !slices.Contains(b.Paths, file) {
			t.Fatalf("batch %v lacks %s", b.Paths, file)
		}
		if _, _, ok := w.Memo().Get("read "+file, file); ok {
			t.Error("the batch was delivered while the memo still held the old bytes")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
}
