package filewatch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestCreateWriteRemoveRename(t *testing.T) {
	d := tempDir(t)
	a, b, c := filepath.Join(d, "a.txt"), filepath.Join(d, "b.txt"), filepath.Join(d, "c.txt")
	write(t, a, "a")
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	write(t, b, "new") // created
	r.wait(b)
	r.only(b)
	r.reset()

	f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND, 0) // written, not created
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("more")
	f.Close()
	r.wait(a)
	r.only(a)
	r.reset()

	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	r.wait(b)
	r.only(b)
	r.reset()

	if err := os.Rename(a, c); err != nil {
		t.Fatal(err)
	}
	r.wait(a, c)
	r.only(a, c)
}

func TestChmodReportedOnlyWhenModeChanges(t *testing.T) {
	d := tempDir(t)
	a, sentinel := filepath.Join(d, "a.sh"), filepath.Join(d, "sentinel")
	write(t, a, "echo")
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	if err := os.Chmod(a, 0o644); err != nil { // the same mode: nothing changed
		t.Fatal(err)
	}
	write(t, sentinel, "x")
	r.wait(sentinel)
	r.absent(a)

	if err := os.Chmod(a, 0o755); err != nil {
		t.Fatal(err)
	}
	r.wait(a)
}

func TestNewNestedDirectoriesAreWatchedWithTheirFiles(t *testing.T) {
	d := tempDir(t)
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	// Everything is created before the watcher can add a watch on a/ or a/b/ (the loop is
	// held): the files must be found by walking the new directories.
	var want []string
	w.mu.Lock()
	for i := range 20 {
		p := filepath.Join(d, "a", "b", fmt.Sprintf("c%d", i%4), fmt.Sprintf("f%d.txt", i))
		write(t, p, "x")
		want = append(want, p)
	}
	w.mu.Unlock()
	r.wait(want...)
	r.wait(filepath.Join(d, "a"), filepath.Join(d, "a/b"), filepath.Join(d, "a/b/c0"))

	// The new directories are watched: a later write deep inside is seen.
	got := watched(w, d)
	for _, sub := range []string{"", "/a", "/a/b", "/a/b/c0", "/a/b/c3"} {
		if !slices.Contains(got, d+sub) {
			t.Errorf("%s is not watched; watched: %v", d+sub, got)
		}
	}
	r.reset()
	late := filepath.Join(d, "a/b/c3/late.txt")
	write(t, late, "late")
	r.wait(late)
}

func TestDirectoryRemovedMovedAndRenamed(t *testing.T) {
	d, outside := tempDir(t), tempDir(t)
	write(t, filepath.Join(d, "gone/x/1.txt"), "1")
	write(t, filepath.Join(d, "gone/2.txt"), "2")
	write(t, filepath.Join(d, "away/3.txt"), "3")
	write(t, filepath.Join(d, "old/sub/4.txt"), "4")
	write(t, filepath.Join(outside, "in/sub/5.txt"), "5")
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	if err := os.RemoveAll(filepath.Join(d, "gone")); err != nil {
		t.Fatal(err)
	}
	r.wait(filepath.Join(d, "gone"), filepath.Join(d, "gone/x"), filepath.Join(d, "gone/x/1.txt"), filepath.Join(d, "gone/2.txt"))

	// Moved out of the root: no event names the files inside, they are reported all the same.
	if err := os.Rename(filepath.Join(d, "away"), filepath.Join(outside, "away")); err != nil {
		t.Fatal(err)
	}
	r.wait(filepath.Join(d, "away"), filepath.Join(d, "away/3.txt"))

	// Moved in: walked and watched.
	if err := os.Rename(filepath.Join(outside, "in"), filepath.Join(d, "in")); err != nil {
		t.Fatal(err)
	}
	r.wait(filepath.Join(d, "in"), filepath.Join(d, "in/sub/5.txt"))

	// Renamed inside the root: later events carry the new name, never the old one.
	if err := os.Rename(filepath.Join(d, "old"), filepath.Join(d, "new")); err != nil {
		t.Fatal(err)
	}
	r.wait(filepath.Join(d, "old/sub/4.txt"), filepath.Join(d, "new/sub/4.txt"))
	r.reset()
	write(t, filepath.Join(d, "new/sub/4.txt"), "changed")
	write(t, filepath.Join(d, "in/sub/5.txt"), "changed")
	r.wait(filepath.Join(d, "new/sub/4.txt"), filepath.Join(d, "in/sub/5.txt"))
	r.only(filepath.Join(d, "new/sub/4.txt"), filepath.Join(d, "in/sub/5.txt"))
	for _, p := range watched(w, d) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("watch left on %s: %v", p, err)
		}
	}
}

func TestRootDirectoryRemovedAndRecreated(t *testing.T) {
	parent := tempDir(t)
	d := filepath.Join(parent, "ctx")
	write(t, filepath.Join(d, "a.txt"), "a")
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	r.wait(d, filepath.Join(d, "a.txt"))
	r.reset()
	write(t, filepath.Join(d, "sub/b.txt"), "b")
	r.wait(d, filepath.Join(d, "sub/b.txt"))
	r.reset()
	write(t, filepath.Join(d, "sub/c.txt"), "c")
	r.wait(filepath.Join(d, "sub/c.txt"))
}

func TestFileRoot(t *testing.T) {
	d := tempDir(t)
	kilnfile, sibling := filepath.Join(d, "Kilnfile"), filepath.Join(d, "other.txt")
	write(t, kilnfile, "k8s_yaml('a.yaml')")
	w := newTestWatcher(t, Options{}, Root{Path: kilnfile})
	r := record(t, w)

	write(t, sibling, "x") // same directory, not watched for
	// An editor's atomic save: write a temporary file, rename it over the original.
	tmp := filepath.Join(d, ".Kilnfile.tmp")
	write(t, tmp, "k8s_yaml('b.yaml')")
	if err := os.Rename(tmp, kilnfile); err != nil {
		t.Fatal(err)
	}
	r.wait(kilnfile)
	r.only(kilnfile)
	r.reset()

	if err := os.Remove(kilnfile); err != nil {
		t.Fatal(err)
	}
	r.wait(kilnfile)
	r.reset()
	write(t, kilnfile, "again")
	r.wait(kilnfile)
	if n := len(watched(w, d)); n != 1 {
		t.Errorf("a file root needs one watch (its directory), got %d", n)
	}
}

func TestMissingRootIsReportedWhenItAppears(t *testing.T) {
	d := tempDir(t)
	file := filepath.Join(d, "gen/out/manifest.yaml")
	tree := filepath.Join(d, "later")
	w := newTestWatcher(t, Options{}, Root{Path: file}, Root{Path: tree})
	r := record(t, w)

	write(t, file, "kind: ConfigMap") // creates gen/ and gen/out/ too
	r.wait(file)
	write(t, filepath.Join(tree, "x/y.txt"), "y")
	r.wait(tree, filepath.Join(tree, "x/y.txt"))
	r.reset()
	write(t, filepath.Join(tree, "x/z.txt"), "z")
	r.wait(filepath.Join(tree, "x/z.txt"))
	r.absent(filepath.Join(d, "gen"), filepath.Join(d, "gen/out"))
	// Only the anchors remain watched: gen/out for the file, later/ and later/x for the tree.
	if got, want := watched(w, d), []string{filepath.Join(d, "gen/out"), tree, filepath.Join(tree, "x")}; !slices.Equal(got, want) {
		t.Errorf("watched %v, want %v", got, want)
	}
}

func TestBurstIsOneBatch(t *testing.T) {
	d := tempDir(t)
	w := newTestWatcher(t, Options{Debounce: 150 * time.Millisecond, MaxLatency: 5 * time.Second}, Root{Path: d})
	r := record(t, w)
	var want []string
	for i := range 300 {
		p := filepath.Join(d, fmt.Sprintf("f%03d.txt", i))
		write(t, p, "x")
		want = append(want, p)
	}
	r.wait(want...)
	time.Sleep(300 * time.Millisecond) // nothing else may follow
	bs := r.all()
	if len(bs) != 1 {
		t.Fatalf("a burst of 300 files gave %d batches, want 1", len(bs))
	}
	if !slices.Equal(bs[0].Paths, want) || bs[0].Rescanned {
		t.Errorf("batch = %d paths (rescanned %v), want the %d sorted files", len(bs[0].Paths), bs[0].Rescanned, len(want))
	}
}

func TestMaxLatencyUnderContinuousStream(t *testing.T) {
	d := tempDir(t)
	const debounce, maxLatency = 100 * time.Millisecond, 300 * time.Millisecond
	w := newTestWatcher(t, Options{Debounce: debounce, MaxLatency: maxLatency}, Root{Path: d})
	r := record(t, w)
	p := filepath.Join(d, "log.txt")
	start := time.Now()
	var firstAt time.Duration
	for time.Since(start) < 1500*time.Millisecond { // a write every 20 ms: never quiet for 100 ms
		write(t, p, time.Now().String())
		if firstAt == 0 && len(r.all()) > 0 {
			firstAt = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := len(r.all())
	if n < 3 {
		t.Fatalf("%d batches during a 1.5 s stream with a %v max latency, want at least 3", n, maxLatency)
	}
	if firstAt == 0 || firstAt > maxLatency+250*time.Millisecond {
		t.Errorf("first batch after %v, want about %v", firstAt, maxLatency)
	}
}

func TestIdleHasNoTimers(t *testing.T) {
	d := tempDir(t)
	for i := range 50 {
		write(t, filepath.Join(d, fmt.Sprintf("d%d/f.txt", i)), "x")
	}
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)
	write(t, filepath.Join(d, "x.txt"), "x")
	r.wait(filepath.Join(d, "x.txt"))
	time.Sleep(100 * time.Millisecond)
	if w.armed.Load() {
		t.Fatal("timers still armed with nothing pending")
	}
	before := cpuTime(t)
	time.Sleep(500 * time.Millisecond)
	if used := cpuTime(t) - before; used > 20*time.Millisecond {
		t.Errorf("idle for 500ms, the process used %v of CPU", used)
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestSetRootsAddsAndRemovesIncrementally(t *testing.T) {
	base := tempDir(t)
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	for _, d := range []string{a, b} {
		for i := range 5 {
			write(t, filepath.Join(d, fmt.Sprintf("s%d/f.txt", i)), "x")
		}
	}
	w := newTestWatcher(t, Options{}, Root{Path: a})
	r := record(t, w)
	if n := len(watched(w, base)); n != 6 {
		t.Fatalf("%d watches for a, want 6", n)
	}
	w.mu.Lock()
	aDir := w.dirs[filepath.Join(a, "s0")]
	w.mu.Unlock()

	write(t, filepath.Join(b, "s0/f.txt"), "y") // not watched yet
	write(t, filepath.Join(a, "s0/f.txt"), "y")
	r.wait(filepath.Join(a, "s0/f.txt"))
	r.absent(filepath.Join(b, "s0/f.txt"))

	if err := w.SetRoots([]Root{{Path: a}, {Path: b}}); err != nil {
		t.Fatal(err)
	}
	if n := len(watched(w, base)); n != 12 {
		t.Fatalf("%d watches for a and b, want 12", n)
	}
	w.mu.Lock()
	kept := w.dirs[filepath.Join(a, "s0")] == aDir
	w.mu.Unlock()
	if !kept {
		t.Error("adding b watched a again")
	}
	r.reset()
	write(t, filepath.Join(b, "s1/f.txt"), "y")
	r.wait(filepath.Join(b, "s1/f.txt"))

	if err := w.SetRoots([]Root{{Path: b}}); err != nil {
		t.Fatal(err)
	}
	if got := watched(w, a); len(got) != 0 {
		t.Errorf("a removed, still watched: %v", got)
	}
	r.reset()
	write(t, filepath.Join(a, "s1/f.txt"), "z")
	write(t, filepath.Join(b, "s2/f.txt"), "z")
	r.wait(filepath.Join(b, "s2/f.txt"))
	r.absent(filepath.Join(a, "s1/f.txt"))
}

func TestOverlappingRoots(t *testing.T) {
	p := tempDir(t)
	ctx := filepath.Join(p, "ctx")
	write(t, filepath.Join(ctx, "src/main.go"), "package main")
	write(t, filepath.Join(p, "Kilnfile"), "")
	// The project ignores ctx; the build context is ctx, which ignores nothing.
	w := newTestWatcher(t, Options{}, Root{Path: p, Ignore: []string{"ctx"}}, Root{Path: ctx}, Root{Path: filepath.Join(p, "Kilnfile")})
	r := record(t, w)
	if n := len(watched(w, p)); n != 3 {
		t.Errorf("watched %v, want 3 directories", watched(w, p))
	}
	write(t, filepath.Join(ctx, "src/main.go"), "package main // edit")
	r.wait(filepath.Join(ctx, "src/main.go"))

	if err := w.SetRoots([]Root{{Path: p, Ignore: []string{"ctx"}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := watched(w, p), []string{p}; !slices.Equal(got, want) {
		t.Errorf("watched %v, want %v", got, want)
	}
	r.reset()
	write(t, filepath.Join(ctx, "src/main.go"), "package main // again")
	write(t, filepath.Join(p, "Kilnfile"), "# edit")
	r.wait(filepath.Join(p, "Kilnfile"))
	r.absent(filepath.Join(ctx, "src/main.go"))
}

func TestCloseEndsBatches(t *testing.T) {
	d := tempDir(t)
	w := newTestWatcher(t, Options{}, Root{Path: d})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-w.Batches():
		if ok {
			t.Fatal("a batch after Close")
		}
	case <-time.After(time.Second):
		t.Fatal("Batches not closed by Close")
	}
	if err := w.SetRoots([]Root{{Path: d}}); err != ErrClosed {
		t.Errorf("SetRoots after Close = %v, want ErrClosed", err)
	}
}

func TestBusyReceiverGetsEverythingMerged(t *testing.T) {
	d := tempDir(t)
	w := newTestWatcher(t, Options{Debounce: 10 * time.Millisecond, MaxLatency: 50 * time.Millisecond}, Root{Path: d})
	// Nobody receives for a while: batches are flushed meanwhile, and must wait, merged.
	var want []string
	for i := range 3 {
		for j := range 50 {
			p := filepath.Join(d, fmt.Sprintf("round%d-%02d.txt", i, j))
			write(t, p, "x")
			want = append(want, p)
		}
		time.Sleep(150 * time.Millisecond) // longer than the max latency: several flushes
	}
	select {
	case b := <-w.Batches():
		if !slices.Equal(b.Paths, want) || b.Rescanned {
			t.Fatalf("first batch after the pause has %d paths (rescanned %v), want all %d", len(b.Paths), b.Rescanned, len(want))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no batch")
	}
	select {
	case b := <-w.Batches():
		t.Errorf("a second batch with nothing new: %v", b.Paths)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSymlinksAreNotFollowed(t *testing.T) {
	d, outside := tempDir(t), tempDir(t)
	write(t, filepath.Join(outside, "data/x.txt"), "x")
	if err := os.Symlink(filepath.Join(outside, "data"), filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	// A root may itself be a symlink to a directory: its paths keep the name given.
	alias := filepath.Join(tempDir(t), "alias")
	if err := os.Symlink(d, alias); err != nil {
		t.Fatal(err)
	}
	w := newTestWatcher(t, Options{}, Root{Path: d}, Root{Path: alias})
	r := record(t, w)
	if got := watched(w, outside); len(got) != 0 {
		t.Errorf("followed a symlink: watched %v", got)
	}
	write(t, filepath.Join(outside, "data/x.txt"), "changed behind the link")
	write(t, filepath.Join(alias, "through-alias.txt"), "y")
	r.wait(filepath.Join(alias, "through-alias.txt"))
	r.absent(filepath.Join(d, "link/x.txt"), filepath.Join(alias, "link/x.txt"))

	r.reset()
	if err := os.Remove(filepath.Join(d, "link")); err != nil { // the link itself is an entry
		t.Fatal(err)
	}
	r.wait(filepath.Join(d, "link"))
}
