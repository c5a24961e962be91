package contexthash

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
)

var past = time.Now().Add(-time.Hour)

// writeTree creates files under dir: "a/b" → content, "a/d/" → empty dir,
// "l@" suffix in the key makes a symlink to the value. mtimes are set in the
// past so the cache may keep them.
func writeTree(t testing.TB, dir string, tree map[string]string) {
	t.Helper()
	for p, content := range tree {
		switch {
		case strings.HasSuffix(p, "/"):
			must(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
		case strings.HasSuffix(p, "@"):
			full := filepath.Join(dir, strings.TrimSuffix(p, "@"))
			must(t, os.MkdirAll(filepath.Dir(full), 0o755))
			must(t, os.Symlink(content, full))
		default:
			full := filepath.Join(dir, p)
			must(t, os.MkdirAll(filepath.Dir(full), 0o755))
			must(t, os.WriteFile(full, []byte(content), 0o644))
			must(t, os.Chtimes(full, past, past))
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func listing(t testing.TB, s Spec) []string {
	t.Helper()
	w, err := (*Cache)(nil).walk(s)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range w.entries {
		if e.kind == kindDir {
			out = append(out, e.rel+"/")
		} else {
			out = append(out, e.rel)
		}
	}
	sort.Strings(out)
	return out
}

// countOpens records the directories the walk opens.
func countOpens(t *testing.T) *[]string {
	var mu sync.Mutex
	var opened []string
	testHookReadDir = func(rel string) {
		mu.Lock()
		opened = append(opened, rel)
		mu.Unlock()
	}
	t.Cleanup(func() { testHookReadDir = nil })
	return &opened
}

func openedUnder(opened []string, dir string) []string {
	var out []string
	for _, o := range opened {
		if o == dir || strings.HasPrefix(o, dir+"/") {
			out = append(out, o)
		}
	}
	return out
}

var sampleTree = map[string]string{
	"Dockerfile":                "FROM scratch\n",
	"main.go":                   "package main\n",
	"README.md":                 "readme",
	"CHANGES.md":                "changes",
	"debug.log":                 "log",
	"src/app.go":                "package src",
	"src/app_test.go":           "package src",
	"src/deep/x/trace.log":      "log",
	"src/deep/x/keep.log":       "kept",
	"build/out.bin":             "bin",
	"build/keep/me.txt":         "me",
	"empty/":                    "",
	"node_modules/a/index.js":   "js",
	"node_modules/b/index.js":   "js",
	"web/node_modules/c/x.js":   "js",
	"web/node_modules-old/y.js": "js",
	"web/index.js":              "js",
	".git/HEAD":                 "ref: refs/heads/main",
	".git/objects/ab/cdef":      "obj",
	"sub/.git":                  "gitdir: ../.git/modules/sub",
	"sub/file":                  "f",
	"link@":                     "main.go",
	"secrets/.env":              "x",
	"secrets/nested/.env":       "y",
	"secrets/nested/public.txt": "p",
}

func TestDockerignoreSemantics(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	writeTree(t, dir, map[string]string{".dockerignore": `
# comment
*.md
!README.md
**/*.log
!src/deep/**/keep.log
/build
!build/keep
node_modules
**/node_modules
secrets/**/.env
`})
	got := listing(t, Spec{Dir: dir})
	want := []string{
		".dockerignore", "Dockerfile", "README.md",
		"build/", "build/keep/", "build/keep/me.txt",
		"empty/", "link", "main.go",
		"secrets/", "secrets/nested/", "secrets/nested/public.txt",
		"src/", "src/app.go", "src/app_test.go", "src/deep/", "src/deep/x/", "src/deep/x/keep.log",
		"sub/", "sub/file",
		"web/", "web/index.js", "web/node_modules-old/", "web/node_modules-old/y.js",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listing:\n got %q\nwant %q", got, want)
	}
}

func TestExcludedDirNeverOpened(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	for _, tc := range []struct {
		name      string
		ignore    []string
		only      []string
		notOpened []string
		opened    []string
	}{
		{name: "plain", ignore: []string{"node_modules", "**/node_modules", "build"},
			notOpened: []string{"node_modules", "web/node_modules", "build", ".git", "sub/.git"}},
		{name: "unrelated negations", ignore: []string{"node_modules", "**/node_modules", "!src/*.go", "!web/**/*.js", "!src/deep/**"},
			notOpened: []string{"node_modules", ".git"}, opened: []string{"web/node_modules"}},
		{name: "negation inside", ignore: []string{"node_modules", "!node_modules/a"},
			notOpened: []string{"node_modules/b", ".git"}, opened: []string{"node_modules", "node_modules/a"}},
		{name: "glob negation can reach", ignore: []string{"node_modules", "!**/index.js"},
			opened: []string{"node_modules/a", "node_modules/b"}, notOpened: []string{".git"}},
		{name: "only", only: []string{"src", "main.go"}, ignore: []string{"src/deep"},
			notOpened: []string{"node_modules", "web", "build", "src/deep", ".git"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened := countOpens(t)
			s := Spec{Dir: dir, Ignore: tc.ignore, Only: tc.only}
			got := listing(t, s)
			for _, d := range tc.notOpened {
				if o := openedUnder(*opened, d); len(o) > 0 {
					t.Errorf("opened %q", o)
				}
			}
			for _, d := range tc.opened {
				if o := openedUnder(*opened, d); len(o) == 0 {
					t.Errorf("did not open %s", d)
				}
			}
			// And the result is what a walk of everything gives.
			if want := oracle(t, s); !reflect.DeepEqual(got, want) {
				t.Errorf("listing:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestOnly(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	writeTree(t, dir, map[string]string{".dockerignore": "*.md\n!README.md\n*_test.go\n!src/app_test.go\n**/trace.log\n"})
	s := Spec{Dir: dir, Only: []string{"src", "./main.go", filepath.Join(dir, "build/keep")}, Ignore: []string{"src/deep/x/keep.log"}}
	got := listing(t, s)
	want := []string{
		"build/", "build/keep/", "build/keep/me.txt",
		"main.go",
		"src/", "src/app.go", "src/app_test.go", "src/deep/", "src/deep/x/",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listing:\n got %q\nwant %q", got, want)
	}
	ex, err := Excludes(s)
	must(t, err)
	wantEx := []string{"*", "!src", "!main.go", "!build/keep",
		"!src/app_test.go", "src/**/trace.log", "main.go/**/trace.log", "build/keep/**/trace.log", "src/deep/x/keep.log",
		"**/.git", "**/.git/**"}
	if !reflect.DeepEqual(ex, wantEx) {
		t.Fatalf("excludes:\n got %q\nwant %q", ex, wantEx)
	}
	if _, err := Excludes(Spec{Dir: dir, Only: []string{"../x"}}); err == nil {
		t.Error("only outside the context: want an error")
	}
	if ex, _ := Excludes(Spec{Dir: dir, Only: []string{"."}}); ex[0] == "*" {
		t.Error(`only ["."] is the whole context`)
	}
}

func TestRestrictToOnly(t *testing.T) {
	for _, tc := range []struct {
		rules, only, want []string
	}{
		{[]string{"README.md"}, []string{"src"}, nil},
		{[]string{"!*.md"}, []string{"docs", "README.md"}, []string{"!README.md"}},
		{[]string{"!docs/*.md"}, []string{"docs"}, []string{"!docs/*.md"}},
		{[]string{"**/*.md"}, []string{"docs"}, []string{"docs/**/*.md"}},
		{[]string{"*/b/**"}, []string{"a"}, []string{"a/b/**"}},
		{[]string{"!**"}, []string{"a", "b/c"}, []string{"!a", "!a/**", "!b/c", "!b/c/**"}},
		// "src" is recorded for src, hence for all of src/app.
		{[]string{"src"}, []string{"src/app"}, []string{"src/app", "src/app/**"}},
		// "!src" is never tested on src (nothing excluded it before), so it
		// does not apply to src/app; "**/app" matches src/app itself.
		{[]string{"!src", "**/app"}, []string{"src/app"}, []string{"src/app", "src/app/**/app", "src/app/**"}},
		{[]string{"src", "!src"}, []string{"src/app"}, []string{"src/app", "src/app/**", "!src/app", "!src/app/**"}},
		// Not modelled: kept.
		{[]string{"a**b"}, []string{"x"}, []string{"a**b"}},
		{[]string{"!a"}, []string{"x*"}, []string{"!a"}},
	} {
		got, err := restrictToOnly(tc.rules, tc.only)
		must(t, err)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("restrictToOnly(%q, %q) = %q; want %q", tc.rules, tc.only, got, tc.want)
		}
	}
}

func TestDockerfileDockerignoreWins(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore":                      "a\n",
		"a":                                  "a",
		"b":                                  "b",
		"docker/app.Dockerfile":              "FROM scratch",
		"docker/app.Dockerfile.dockerignore": "b\n",
		"docker/other.Dockerfile":            "FROM scratch",
	})
	ex, err := Excludes(Spec{Dir: dir, Dockerfile: filepath.Join(dir, "docker/app.Dockerfile")})
	must(t, err)
	if ex[0] != "b" || len(ex) != 3 {
		t.Errorf("Dockerfile-specific ignore: %q", ex)
	}
	ex, err = Excludes(Spec{Dir: dir, Dockerfile: filepath.Join(dir, "docker/other.Dockerfile")})
	must(t, err)
	if ex[0] != "a" || len(ex) != 3 {
		t.Errorf("context .dockerignore: %q", ex)
	}
}

// oracle walks the whole tree, .git and excluded directories included, and
// applies the patterns as BuildKit's fsutil does: MatchesUsingParentResults
// on every path, and an excluded directory is kept iff something inside it
// is.
func oracle(t testing.TB, s Spec) []string {
	t.Helper()
	ex, err := Excludes(s)
	must(t, err)
	pm, err := patternmatcher.New(ex)
	must(t, err)
	var out []string
	var walk func(rel string, info patternmatcher.MatchInfo) bool
	walk = func(rel string, info patternmatcher.MatchInfo) bool {
		des, err := os.ReadDir(filepath.Join(s.Dir, rel))
		must(t, err)
		any := false
		for _, de := range des {
			crel := de.Name()
			if rel != "" {
				crel = rel + "/" + crel
			}
			m, ci, err := pm.MatchesUsingParentResults(crel, info)
			must(t, err)
			if de.IsDir() {
				if inner := walk(crel, ci); !m || inner {
					out = append(out, crel+"/")
					any = true
				}
			} else if !m {
				out = append(out, crel)
				any = true
			}
		}
		return any
	}
	walk("", patternmatcher.MatchInfo{})
	sort.Strings(out)
	return out
}

func TestRandomAgainstOracle(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a", "b", "c.txt", "d.md", "node_modules", ".git", "keep"}
	tree := map[string]string{}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		depth := 1 + r.Intn(4)
		var segs []string
		for j := 0; j < depth; j++ {
			segs = append(segs, names[r.Intn(len(names))])
		}
		p := strings.Join(segs, "/")
		if _, clash := tree[p]; clash {
			continue
		}
		tree[p] = p
	}
	// Keep only paths whose ancestors are not files.
	var keys []string
	for p := range tree {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for q := filepath.Dir(p); q != "."; q = filepath.Dir(q) {
			if _, isFile := tree[q]; isFile {
				delete(tree, q)
			}
		}
	}
	writeTree(t, dir, tree)

	atoms := []string{"a", "b", "*", "**", "c.txt", "*.md", "node_modules", "keep", "?", "k*"}
	for i := 0; i < 300; i++ {
		var pats []string
		for j := 0; j < 1+r.Intn(5); j++ {
			var segs []string
			for k := 0; k < 1+r.Intn(3); k++ {
				segs = append(segs, atoms[r.Intn(len(atoms))])
			}
			p := strings.Join(segs, "/")
			if r.Intn(3) == 0 {
				p = "!" + p
			}
			pats = append(pats, p)
		}
		s := Spec{Dir: dir, Ignore: pats}
		if r.Intn(4) == 0 {
			s.Only = []string{names[r.Intn(len(names))], names[r.Intn(3)] + "/" + names[r.Intn(len(names))]}
		}
		got, want := listing(t, s), oracle(t, s)
		if !reflect.DeepEqual(got, want) {
			ex, _ := Excludes(s)
			t.Fatalf("patterns %q (excludes %q):\n got %q\nwant %q", pats, ex, got, want)
		}
		if len(s.Only) > 0 {
			// Only narrows: the files are those without Only that are
			// under an Only path.
			var gotFiles, wantFiles []string
			for _, p := range got {
				if !strings.HasSuffix(p, "/") {
					gotFiles = append(gotFiles, p)
				}
			}
			for _, p := range listing(t, Spec{Dir: dir, Ignore: pats}) {
				for _, o := range s.Only {
					if !strings.HasSuffix(p, "/") && (p == o || strings.HasPrefix(p, o+"/")) {
						wantFiles = append(wantFiles, p)
						break
					}
				}
			}
			if !reflect.DeepEqual(gotFiles, wantFiles) {
				ex, _ := Excludes(s)
				t.Errorf("only %q, patterns %q (excludes %q):\n got %q\nwant %q", s.Only, pats, ex, gotFiles, wantFiles)
			}
		}
	}
}

func hashOf(t testing.TB, c *Cache, s Spec) string {
	t.Helper()
	d, _, err := c.Hash(s)
	must(t, err)
	return d
}

func TestDeterministicAcrossLocations(t *testing.T) {
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "deeper", "copy")
	writeTree(t, a, sampleTree)
	writeTree(t, b, sampleTree)
	// Different mtimes in the copy must not matter.
	must(t, os.Chtimes(filepath.Join(b, "main.go"), time.Now(), time.Now()))
	c, err := Open("")
	must(t, err)
	ha, fa, err := c.Hash(Spec{Dir: a})
	must(t, err)
	hb, fb, err := c.Hash(Spec{Dir: b})
	must(t, err)
	if ha != hb || !reflect.DeepEqual(fa, fb) {
		t.Fatalf("copies differ: %s %s", ha, hb)
	}
	if !strings.HasPrefix(ha, "sha256:") || len(ha) != len("sha256:")+64 {
		t.Fatalf("bad digest %q", ha)
	}
	for _, f := range fa {
		if strings.Contains(f, ".git") && !strings.HasSuffix(f, "sub/file") {
			t.Errorf(".git content hashed: %s", f)
		}
	}
}

func TestHashChanges(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	c, err := Open(t.TempDir())
	must(t, err)
	s := Spec{Dir: dir, Ignore: []string{"node_modules"}}
	base := hashOf(t, c, s)
	reads := c.Reads()
	if reads == 0 {
		t.Fatal("nothing read")
	}

	// Warm: nothing is read again.
	if h := hashOf(t, c, s); h != base || c.Reads() != reads {
		t.Fatalf("warm hash: %s (reads %d → %d)", h, reads, c.Reads())
	}

	// Touched but identical: re-read, same hash.
	f := filepath.Join(dir, "main.go")
	later := past.Add(time.Minute)
	must(t, os.Chtimes(f, later, later))
	if h := hashOf(t, c, s); h != base {
		t.Fatal("touching a file changed the hash")
	}
	if c.Reads() != reads+1 {
		t.Fatalf("touched file: reads %d → %d, want one more", reads, c.Reads())
	}

	// Same size, different content, same mtime as before the edit: the
	// inode or mtime must give it away; here the mtime differs.
	must(t, os.WriteFile(f, []byte("package mainX"[:len("package main\n")-1]+"!"), 0o644))
	changed := hashOf(t, c, s)
	if changed == base {
		t.Fatal("a changed file did not change the hash")
	}
	must(t, os.WriteFile(f, []byte("package main\n"), 0o644))
	if h := hashOf(t, c, s); h != base {
		t.Fatal("restoring the content did not restore the hash")
	}

	// Mode: the exec bit counts.
	must(t, os.Chmod(f, 0o755))
	if h := hashOf(t, c, s); h == base {
		t.Fatal("chmod +x did not change the hash")
	}
	must(t, os.Chmod(f, 0o644))
	if h := hashOf(t, c, s); h != base {
		t.Fatal("chmod back did not restore the hash")
	}

	// Symlink target.
	must(t, os.Remove(filepath.Join(dir, "link")))
	must(t, os.Symlink("README.md", filepath.Join(dir, "link")))
	if h := hashOf(t, c, s); h == base {
		t.Fatal("a symlink target change did not change the hash")
	}
	must(t, os.Remove(filepath.Join(dir, "link")))
	must(t, os.Symlink("main.go", filepath.Join(dir, "link")))

	// Empty directories count.
	must(t, os.Mkdir(filepath.Join(dir, "new-empty"), 0o755))
	if h := hashOf(t, c, s); h == base {
		t.Fatal("an empty directory did not change the hash")
	}
	must(t, os.Remove(filepath.Join(dir, "new-empty")))

	// Excluded and .git content does not count.
	must(t, os.WriteFile(filepath.Join(dir, "node_modules/a/new.js"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, ".git/index"), []byte("x"), 0o644))
	if h := hashOf(t, c, s); h != base {
		t.Fatal("an excluded file changed the hash")
	}

	// A rename is a change.
	must(t, os.Rename(filepath.Join(dir, "src/app.go"), filepath.Join(dir, "src/app2.go")))
	if h := hashOf(t, c, s); h == base {
		t.Fatal("a rename did not change the hash")
	}
}

func TestRecentFilesNotCached(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "fresh"), []byte("x"), 0o644))
	c, err := Open("")
	must(t, err)
	hashOf(t, c, Spec{Dir: dir})
	if c.Len() != 0 {
		t.Fatal("a file modified just now was cached")
	}
}

func TestCachePersistence(t *testing.T) {
	dir, cacheDir := t.TempDir(), filepath.Join(t.TempDir(), "kiln")
	writeTree(t, dir, sampleTree)
	other := t.TempDir()
	writeTree(t, other, map[string]string{"x": "x", "y": "y"})

	c, err := Open(cacheDir)
	must(t, err)
	h := hashOf(t, c, Spec{Dir: dir})
	hashOf(t, c, Spec{Dir: other})
	must(t, c.Save())
	n := c.Len()

	c2, err := Open(cacheDir)
	must(t, err)
	if c2.Len() != n {
		t.Fatalf("reloaded %d entries, want %d", c2.Len(), n)
	}
	if h2 := hashOf(t, c2, Spec{Dir: dir}); h2 != h || c2.Reads() != 0 {
		t.Fatalf("reloaded cache: hash %s reads %d", h2, c2.Reads())
	}
	// other was not hashed since the last save: its entries go.
	must(t, c2.Save())
	if c2.Len() != n-2 {
		t.Fatalf("after save: %d entries, want %d", c2.Len(), n-2)
	}
	c3, err := Open(cacheDir)
	must(t, err)
	if c3.Len() != n-2 {
		t.Fatalf("reloaded %d entries, want %d", c3.Len(), n-2)
	}
	if tmps, _ := filepath.Glob(filepath.Join(cacheDir, "*.tmp*")); len(tmps) > 0 {
		t.Fatalf("temporary files left: %q", tmps)
	}

	// A corrupt cache is an empty one.
	data, err := os.ReadFile(filepath.Join(cacheDir, CacheFile))
	must(t, err)
	data[len(data)/2] ^= 0xff
	must(t, os.WriteFile(filepath.Join(cacheDir, CacheFile), data, 0o644))
	c4, err := Open(cacheDir)
	must(t, err)
	if c4.Len() != 0 {
		t.Fatal("corrupt cache loaded")
	}
	if h4 := hashOf(t, c4, Spec{Dir: dir}); h4 != h {
		t.Fatal("cold hash differs")
	}
}

func TestConcurrentUse(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		tree := map[string]string{}
		for j := 0; j < 50; j++ {
			tree[fmt.Sprintf("d%d/f%d", j%5, j)] = strings.Repeat(fmt.Sprint(i, j), 100)
		}
		writeTree(t, d, tree)
	}
	c, err := Open(t.TempDir())
	must(t, err)
	want := []string{hashOf(t, nil, Spec{Dir: dirs[0]}), hashOf(t, nil, Spec{Dir: dirs[1]})}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 10; k++ {
				d, _, err := c.Hash(Spec{Dir: dirs[(g+k)%2]})
				if err != nil {
					errs <- err
					return
				}
				if d != want[(g+k)%2] {
					errs <- errors.New("wrong hash under concurrency")
					return
				}
				if k%3 == 0 {
					if err := c.Save(); err != nil {
						errs <- err
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	if _, _, err := (*Cache)(nil).Hash(Spec{Dir: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing context: %v", err)
	}
	if _, err := Excludes(Spec{Dir: t.TempDir(), Ignore: []string{"!"}}); err == nil {
		t.Error(`pattern "!": want an error`)
	}
	if _, err := Excludes(Spec{Dir: t.TempDir(), Ignore: []string{"[z-a"}}); err == nil {
		t.Error(`pattern "[z-a": want an error`)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := DefaultDir(); err != nil || d != "/xdg/kiln" {
		t.Errorf("DefaultDir() = %q, %v", d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, err := DefaultDir(); err != nil || d != "/home/u/.cache/kiln" {
		t.Errorf("DefaultDir() = %q, %v", d, err)
	}
}
