package builtins

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/filewatch"
	"github.com/kiln-dev/kiln/runtime/inputwatch"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// TestMemoFollowsEdits evaluates under a real file watcher, as kiln watch does: what the
// watcher vouches for is reused, and every edit it reports is seen by the next evaluation,
// including those to ignore files that a context's own watch leaves out.
func TestMemoFollowsEdits(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := func(label string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, labels: {tier: " + label + "}}\n" +
			"spec:\n  selector: {matchLabels: {app: app}}\n  template:\n    metadata: {labels: {app: app}}\n" +
			"    spec: {containers: [{name: app, image: example/app}]}\n"
	}
	write("Kilnfile", "docker_build('example/app', 'ctx', dockerfile='build/Dockerfile')\nk8s_yaml('k8s.yaml')\n")
	write("build/Dockerfile", "FROM scratch\nCOPY . /app\n")
	write("ctx/a.txt", "a")
	write("ctx/ignored.txt", "ignored")
	write("ctx/.dockerignore", ".dockerignore\nignored.txt\n") // it excludes itself
	write("k8s.yaml", manifest("one"))
	dateBack(dir)

	wp := watchProject(t, dir)
	p := wp.p
	evaluate := func() *plan.Plan { p = wp.evaluate(); return p }
	edit := wp.edit
	w := wp.w
	opts := wp.opts
	tag := func() string { return p.Images[0].Tag }

	evaluate() // the first evaluation whose inputs were watched before it read them
	if n := w.Memo().Len(); n == 0 {
		t.Fatal("nothing was kept for the next evaluation")
	}
	first := tag()
	if evaluate(); tag() != first {
		t.Fatalf("an evaluation with nothing changed gave tag %s, want %s", tag(), first)
	}
	// The context was not walked this time; the digests of its files stay in the hash cache
	// all the same, for kiln run and for the check after a build.
	if c, err := contexthash.Open(opts.CacheDir); err != nil || c.Len() == 0 {
		t.Fatalf("the hash cache lost the context's files after an evaluation that reused its hash (%d entries, %v)", c.Len(), err)
	}

	edit("k8s.yaml", manifest("two"))
	if y, _ := evaluate().RenderYAML(); !strings.Contains(string(y), "tier: two") {
		t.Errorf("the edited manifest was not read again:\n%s", y)
	}

	edit("ctx/a.txt", "A")
	evaluate()
	afterEdit := tag()
	if afterEdit == first {
		t.Error("an edit in the context kept the tag")
	}

	// The .dockerignore excludes itself: the context's watch does not report it, its own does.
	edit("ctx/.dockerignore", ".dockerignore\n")
	evaluate()
	afterIgnore := tag()
	if afterIgnore == afterEdit {
		t.Error("an edit to the context's .dockerignore kept the tag")
	}
	if slices.Contains(p.Images[0].Excludes, "ignored.txt") {
		t.Errorf("excludes %v still have the line removed", p.Images[0].Excludes)
	}

	// The Dockerfile's own ignore file, outside the context, appears.
	edit("build/Dockerfile.dockerignore", "a.txt\n")
	evaluate()
	if tag() == afterIgnore {
		t.Error("a new <Dockerfile>.dockerignore outside the context kept the tag")
	}
	if !slices.Contains(p.Images[0].Excludes, "a.txt") {
		t.Errorf("excludes %v do not come from build/Dockerfile.dockerignore", p.Images[0].Excludes)
	}

	// Whatever the memo kept, a fresh evaluation without it agrees.
	fresh, err := Evaluate(dir, Options{Subcommand: "watch", Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Images[0].Tag != tag() {
		t.Errorf("the watched evaluation's tag %s differs from a fresh one's %s", tag(), fresh.Images[0].Tag)
	}
}

// watchedProject evaluates a project under a real file watcher over its inputs, as kiln watch
// does: each evaluation's inputs are watched before the next one reads them.
type watchedProject struct {
	tb   testing.TB
	dir  string
	opts Options
	w    *inputwatch.Watcher
	p    *plan.Plan // the last evaluation's
}

func watchProject(tb testing.TB, dir string) *watchedProject {
	tb.Helper()
	wp := &watchedProject{tb: tb, dir: dir, opts: Options{Subcommand: "watch", Stdout: io.Discard, Stderr: io.Discard, CacheDir: tb.TempDir()}}
	p, err := Evaluate(dir, wp.opts)
	if err != nil {
		tb.Fatal(err)
	}
	if wp.w, err = inputwatch.New(p, filewatch.Options{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { wp.w.Close() })
	if err := wp.w.SetPlan(p); err != nil {
		tb.Fatal(err)
	}
	wp.opts.Memo = wp.w.Memo()
	wp.p = p
	return wp
}

// evaluate evaluates the project again and watches the new plan's inputs, as the engine does
// once it took the plan.
func (wp *watchedProject) evaluate() *plan.Plan {
	wp.tb.Helper()
	p, err := Evaluate(wp.dir, wp.opts)
	if err != nil {
		wp.tb.Fatal(err)
	}
	if err := wp.w.SetPlan(p); err != nil {
		wp.tb.Fatal(err)
	}
	wp.p = p
	return p
}

// edit writes the file rel and waits for the watcher's batch that reports it, which the
// engine receives before it evaluates.
func (wp *watchedProject) edit(rel, text string) {
	wp.tb.Helper()
	path := filepath.Join(wp.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		wp.tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		wp.tb.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-wp.w.Batches():
			if !ok {
				wp.tb.Fatal("the watcher closed")
			}
			if slices.Contains(b.Paths, path) {
				return
			}
		case <-timeout:
			wp.tb.Fatalf("the watcher did not report %s", rel)
		}
	}
}
