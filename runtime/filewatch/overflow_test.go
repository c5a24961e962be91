package filewatch

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rescanNow runs the rescan with the lock held by the caller, and returns what it reported.
func rescanNow(w *Watcher) []string {
	w.pending = map[string]time.Time{}
	w.rescan()
	out := sortedKeys(w.pending)
	w.pending = map[string]time.Time{}
	return out
}

func TestRescanFindsEveryDifference(t *testing.T) {
	d := tempDir(t)
	past := time.Now().Add(-time.Hour)
	for _, p := range []string{"same.txt", "grown.txt", "samesize.txt", "touched.txt", "removed.txt", "mode.sh",
		"gone/1.txt", "kept/2.txt", "ignored/3.txt", "Kilnfile"} {
		write(t, filepath.Join(d, p), "0123456789")
		os.Chtimes(filepath.Join(d, p), past, past)
	}
	w := newTestWatcher(t, Options{}, Root{Path: d, Ignore: []string{"ignored"}}, Root{Path: filepath.Join(d, "Kilnfile")})
	p := func(rel string) string { return filepath.Join(d, rel) }

	// Hold the lock: the loop sees none of the events, as when the kernel drops them.
	w.mu.Lock()
	defer w.mu.Unlock()
	write(t, p("grown.txt"), "0123456789 and more")
	write(t, p("samesize.txt"), "abcdefghij")            // same size, new content and mtime
	os.Chtimes(p("touched.txt"), time.Now(), time.Now()) // new mtime, same content
	os.Remove(p("removed.txt"))
	os.Chmod(p("mode.sh"), 0o755)
	os.RemoveAll(p("gone"))
	write(t, p("new/deep/4.txt"), "new")
	write(t, p("ignored/3.txt"), "changed, but ignored")
	write(t, p("Kilnfile"), "changed")
	got := rescanNow(w)
	want := []string{p("Kilnfile"), p("gone"), p("gone/1.txt"), p("grown.txt"), p("mode.sh"), p("new"), p("new/deep"), p("new/deep/4.txt"),
		p("removed.txt"), p("samesize.txt"), p("touched.txt")}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rescan reported\n  %v\nwant\n  %v", got, want)
	}
	if w.dirs[p("new/deep")] == nil || w.dirs[p("gone")] != nil {
		t.Error("rescan did not watch new/deep or did not forget gone")
	}

	// touched.txt now has a known content hash: touching it again is no change; a same-size
	// edit still is.
	later := time.Now().Add(time.Minute)
	os.Chtimes(p("touched.txt"), later, later)
	write(t, p("same.txt"), "9876543210")
	os.Chtimes(p("same.txt"), past, past) // same size and the old mtime: only ctime differs
	if got := rescanNow(w); strings.Join(got, " ") != p("same.txt") {
		t.Errorf("second rescan reported %v, want only %s", got, p("same.txt"))
	}
	// same.txt has a known hash now: a same-size edit keeping the mtime is found by content.
	write(t, p("same.txt"), "0000000000")
	os.Chtimes(p("same.txt"), past, past)
	if got := rescanNow(w); strings.Join(got, " ") != p("same.txt") {
		t.Errorf("third rescan reported %v, want only %s", got, p("same.txt"))
	}
	if got := rescanNow(w); len(got) != 0 {
		t.Errorf("a rescan with nothing changed reported %v", got)
	}
}

// TestRealOverflowIsRescanned fills the kernel's event queue for real: it stops the loop,
// creates more files than fs.inotify.max_queued_events, and expects every one of them to be
// reported, in a batch marked Rescanned.
func TestRealOverflowIsRescanned(t *testing.T) {
	data, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skip("no inotify queue limit to read:", err)
	}
	max, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if max <= 0 || max > 100000 {
		t.Skipf("max_queued_events = %d: too many files to create", max)
	}
	d := tempDir(t)
	existing := filepath.Join(d, "existing.txt")
	write(t, existing, "old")
	w := newTestWatcher(t, Options{}, Root{Path: d})
	r := record(t, w)

	w.mu.Lock() // the loop blocks on its next event, then fsnotify, then the kernel queue fills
	n := max + 5000
	var want []string
	for i := range n {
		p := filepath.Join(d, fmt.Sprintf("f%05d", i))
		f, err := os.Create(p)
		if err != nil {
			w.mu.Unlock()
			t.Fatal(err)
		}
		f.Close()
		want = append(want, p)
	}
	write(t, existing, "changed after the overflow")
	want = append(want, existing)
	w.mu.Unlock()

	r.wait(want...)
	rescanned := false
	for _, b := range r.all() {
		rescanned = rescanned || b.Rescanned
	}
	if !rescanned {
		t.Fatal("no batch is marked Rescanned: the queue did not overflow")
	}
}
