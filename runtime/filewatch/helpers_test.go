package filewatch

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder gathers the batches of a Watcher in the background.
type recorder struct {
	t       *testing.T
	mu      sync.Mutex
	batches []Batch
	changed chan struct{}
}

func record(t *testing.T, w *Watcher) *recorder {
	r := &recorder{t: t, changed: make(chan struct{}, 1)}
	go func() {
		for b := range w.Batches() {
			r.mu.Lock()
			r.batches = append(r.batches, b)
			r.mu.Unlock()
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}()
	return r
}

// paths returns every path reported so far.
func (r *recorder) paths() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, b := range r.batches {
		for _, p := range b.Paths {
			out[p] = true
		}
	}
	return out
}

func (r *recorder) all() []Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// reset forgets the batches received so far.
func (r *recorder) reset() {
	r.mu.Lock()
	r.batches = nil
	r.mu.Unlock()
}

// wait waits until every path in want has been reported.
func (r *recorder) wait(want ...string) {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		got := r.paths()
		var missing []string
		for _, p := range want {
			if !got[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.t.Fatalf("not reported after 5s: %v\nreported: %v", missing, sortedKeys(got))
		}
	}
}

// absent fails if any of the paths was reported.
func (r *recorder) absent(paths ...string) {
	r.t.Helper()
	got := r.paths()
	for _, p := range paths {
		if got[p] {
			r.t.Errorf("%s was reported; reported: %v", p, sortedKeys(got))
		}
	}
}

// only fails unless the paths reported are exactly want.
func (r *recorder) only(want ...string) {
	r.t.Helper()
	got := sortedKeys(r.paths())
	sort.Strings(want)
	if !slices.Equal(got, want) {
		r.t.Errorf("reported %v, want %v", got, want)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tempDir returns a new directory without symlinks in its path.
func tempDir(t testing.TB) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newTestWatcher(t *testing.T, opts Options, roots ...Root) *Watcher {
	t.Helper()
	if opts.Debounce == 0 {
		opts.Debounce = 20 * time.Millisecond
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.SetRoots(roots); err != nil {
		t.Fatal(err)
	}
	return w
}

// write creates or replaces the file p (and its directories).
func write(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// watched returns the directories with an inotify watch, under dir.
func watched(w *Watcher, dir string) []string {
	var out []string
	for _, p := range w.fs.WatchList() {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
