package filewatch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIgnoredSubtreesAreNeverWatched(t *testing.T) {
	d := tempDir(t)
	for _, p := range []string{
		"src/a/main.go", "src/b/util.go",
		"node_modules/left-pad/index.js", "node_modules/left-pad/lib/x.js", "node_modules/react/dist/r.js",
		".git/objects/ab/cdef", ".git/HEAD",
		"src/vendor/.git/HEAD", // a nested repository
		"build/out/app",
	} {
		write(t, filepath.Join(d, p), "x")
	}
	w := newTestWatcher(t, Options{}, Root{Path: d, Ignore: []string{"node_modules", "build/"}})
	r := record(t, w)

	want := []string{d, d + "/src", d + "/src/a", d + "/src/b", d + "/src/vendor"}
	if got := watched(w, d); !slices.Equal(got, want) {
		t.Fatalf("watched %v, want %v", got, want)
	}
	write(t, filepath.Join(d, "node_modules/left-pad/index.js"), "changed")
	write(t, filepath.Join(d, "node_modules/new/pkg.js"), "new")
	write(t, filepath.Join(d, ".git/index"), "changed")
	write(t, filepath.Join(d, "build/out/app2"), "x")
	sentinel := filepath.Join(d, "src/a/main.go")
	write(t, sentinel, "changed")
	r.wait(sentinel)
	r.only(sentinel)
}

func TestNegatedPatternsReinclude(t *testing.T) {
	d := tempDir(t)
	for _, p := range []string{
		"logs/app.log", "logs/keep.log",
		"node_modules/a/index.js", "node_modules/keep/index.js",
		"dist/bundle.js",
		"src/x/a.tmp", "src/x/keep.tmp",
	} {
		write(t, filepath.Join(d, p), "x")
	}
	ignore := []string{
		"logs", "!logs/keep.log", // one file of an ignored directory re-included
		"node_modules", "!node_modules/keep", // one package re-included
		"dist", "!README.md", // a negation that cannot match inside dist
		"**/*.tmp", "!src/**/keep.tmp", // re-included at any depth under src
	}
	w := newTestWatcher(t, Options{}, Root{Path: d, Ignore: ignore})
	r := record(t, w)

	want := []string{d, d + "/logs", d + "/node_modules", d + "/node_modules/keep", d + "/src", d + "/src/x"}
	if got := watched(w, d); !slices.Equal(got, want) {
		t.Errorf("watched %v, want %v", got, want)
	}

	write(t, filepath.Join(d, "logs/app.log"), "y")
	write(t, filepath.Join(d, "logs/new.txt"), "y")
	write(t, filepath.Join(d, "node_modules/a/index.js"), "y")
	write(t, filepath.Join(d, "node_modules/b.js"), "y")
	write(t, filepath.Join(d, "dist/bundle.js"), "y")
	write(t, filepath.Join(d, "src/x/a.tmp"), "y")
	reincluded := []string{
		filepath.Join(d, "logs/keep.log"),
		filepath.Join(d, "node_modules/keep/index.js"),
		filepath.Join(d, "src/x/keep.tmp"),
		filepath.Join(d, "src/x/y/keep.tmp"), // in a new directory
	}
	for _, p := range reincluded {
		write(t, p, "y")
	}
	r.wait(reincluded...)
	r.only(append(reincluded, filepath.Join(d, "src/x/y"))...)
}

func TestEditorTempFilesAreIgnored(t *testing.T) {
	d := tempDir(t)
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)
	for _, name := range []string{
		".main.go.swp", ".main.go.swx", ".main.go.swo", "4913", "main.go~", // vim
		".#main.go", "#main.go#", // emacs
		"main.go___jb_tmp___", "main.go___jb_old___", // JetBrains
	} {
		write(t, filepath.Join(d, name), "tmp")
		os.Remove(filepath.Join(d, name))
	}
	mkdir(t, filepath.Join(d, ".git/refs")) // a repository created later
	write(t, filepath.Join(d, ".git/HEAD"), "ref")
	sentinel := filepath.Join(d, "main.go")
	write(t, sentinel, "package main")
	r.wait(sentinel)
	r.only(sentinel)
	if got := watched(w, d); !slices.Equal(got, []string{d}) {
		t.Errorf("watched %v, want only the root", got)
	}
}

func TestGlobalIgnoreIsRelativeToIgnoreDir(t *testing.T) {
	project := tempDir(t)
	ctx := filepath.Join(project, "services/api")
	write(t, filepath.Join(ctx, "main.go"), "x")
	write(t, filepath.Join(ctx, "tmp/cache"), "x")
	write(t, filepath.Join(project, "services/api/gen/x.go"), "x")
	opts := Options{
		IgnoreDir: project,
		// .kilnignore-style: relative to the project, not to each root.
		Ignore: []string{"services/api/gen", "**/tmp"},
	}
	w := newTestWatcher(t, opts, Root{Path: ctx})
	r := record(t, w)
	if got, want := watched(w, project), []string{ctx}; !slices.Equal(got, want) {
		t.Errorf("watched %v, want %v", got, want)
	}
	write(t, filepath.Join(ctx, "gen/x.go"), "y")
	write(t, filepath.Join(ctx, "tmp/cache"), "y")
	write(t, filepath.Join(ctx, "main.go"), "y")
	r.wait(filepath.Join(ctx, "main.go"))
	r.only(filepath.Join(ctx, "main.go"))

	// watch_settings changed: gen is no longer ignored; what was watched keeps its watch.
	w.mu.Lock()
	before := w.dirs[ctx]
	w.mu.Unlock()
	if err := w.SetIgnore([]string{"**/tmp"}); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	after := w.dirs[ctx]
	w.mu.Unlock()
	if before != after {
		t.Error("SetIgnore watched the root again")
	}
	if got, want := watched(w, project), []string{ctx, filepath.Join(ctx, "gen")}; !slices.Equal(got, want) {
		t.Errorf("after SetIgnore watched %v, want %v", got, want)
	}
	r.reset()
	write(t, filepath.Join(ctx, "gen/x.go"), "z")
	r.wait(filepath.Join(ctx, "gen/x.go"))
}

func TestPatternBelow(t *testing.T) {
	for _, c := range []struct {
		pat, dir string
		want     bool
	}{
		{"keep.log", "logs", false},
		{"logs/keep.log", "logs", true},
		{"logs/*.log", "logs", true},
		{"logs", "logs", false}, // matches the directory itself, nothing below
		{"other/x", "logs", false},
		{"**/keep.log", "a/b", true},
		{"a/**/x", "b", false},
		{"a/**/x", "a/b/c", true},
		{"a/b*/x", "a/bc", true},
		{"a/b*/x", "a/cb", false},
		{"a/[x", "a", true}, // a bad pattern: unsure, so true
	} {
		if got := (&rules{negations: [][]string{splitPattern(c.pat)}}).mayReinclude(c.dir); got != c.want {
			t.Errorf("pattern %q under %q: %v, want %v", c.pat, c.dir, got, c.want)
		}
	}
}

func splitPattern(p string) []string { return strings.Split(p, "/") }

func TestReadIgnoreFile(t *testing.T) {
	d := tempDir(t)
	if got, err := ReadIgnoreFile(d); err != nil || len(got) != 0 {
		t.Fatalf("no files: %v, %v", got, err)
	}
	write(t, filepath.Join(d, ".kilnignore"), "# comment\n/dist\n\n*.tmp\n")
	write(t, filepath.Join(d, ".tiltignore"), "!keep.tmp\n")
	got, err := ReadIgnoreFile(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dist", "*.tmp", "!keep.tmp"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBadPatternIsAnError(t *testing.T) {
	d := tempDir(t)
	w, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetRoots([]Root{{Path: d, Ignore: []string{"a/[x"}}}); err == nil {
		t.Error("SetRoots accepted the pattern a/[x")
	}
	if _, err := New(Options{Ignore: []string{"!"}}); err == nil {
		t.Error("New accepted the pattern !")
	}
}
