// Package filewatch watches directory trees and single files for changes, over inotify (through
// fsnotify), and delivers the changes in coalesced batches.
//
// A Watcher holds a set of roots (see SetRoots). It sets one inotify watch per directory it
// watches, and none inside ignored trees: an ignored directory is neither walked nor watched,
// unless a "!" pattern could re-include something inside it. Directories created later are
// watched at once, and the files made in them before the watch existed are reported all the
// same. Changes are gathered until nothing new has happened for Options.Debounce, or for at most
// Options.MaxLatency, then sent as one Batch. When the kernel's event queue overflows, the
// Watcher rescans its roots, compares them with the state it recorded, and reports every path
// that changed (Batch.Rescanned): no change is dropped silently.
//
// Idle, a Watcher costs no CPU: there is no polling, and its timers run only while a batch is
// pending.
package filewatch

import (
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Root is a directory tree, or a single file, to watch.
type Root struct {
	// Path is the directory or file. It need not exist: a missing path is reported when it
	// appears. A relative path is relative to the current directory.
	Path string
	// Ignore holds .dockerignore-syntax patterns, relative to Path, of what not to report
	// (for a build context: contexthash.Excludes). An ignored directory is not watched unless
	// a "!" pattern could match inside it. Ignore does not apply when Path is a file.
	Ignore []string
}

// Options configures a Watcher. The zero value is ready to use.
type Options struct {
	// Debounce is the quiet period: a batch is sent once no change has arrived for this long.
	// Default 20ms: an editor's save (a temp file, a rename, a backup removed) takes a few
	// ms, and every ms here is a ms of every live update.
	Debounce time.Duration
	// MaxLatency bounds how long a change waits: a batch is sent at most this long after its
	// first change, even while changes keep coming. Default 500ms.
	MaxLatency time.Duration
	// Ignore holds extra .dockerignore-syntax patterns applied to every directory root:
	// watch_settings(ignore=) and the lines of .kilnignore and .tiltignore (ReadIgnoreFile).
	// Relative patterns are relative to IgnoreDir, as in Tilt.
	Ignore []string
	// IgnoreDir is the directory the Ignore patterns are relative to: the project directory.
	// Default: the current directory.
	IgnoreDir string
}

// DefaultDebounce and DefaultMaxLatency are the defaults of Options.
const (
	DefaultDebounce   = 20 * time.Millisecond
	DefaultMaxLatency = 500 * time.Millisecond
)

// Batch is one coalesced set of changes.
type Batch struct {
	// Paths are absolute, sorted and without duplicates: files and directories created,
	// written, removed or renamed (both names of a rename), and files whose mode or mtime
	// changed. They start with the Root.Path they are under, as given (made absolute): a root
	// given through a symlink keeps that name.
	Paths []string
	// Seen[i] is when the watcher received the latest event for Paths[i], or found it
	// changed in a rescan: that change was made no later than Seen[i], so whatever read the
	// path after Seen[i] already had it.
	Seen []time.Time
	// Rescanned is true when the kernel dropped events (an inotify queue overflow) and the
	// roots were rescanned: Paths then also holds every difference the rescan found.
	Rescanned bool
	// Err reports what could not be watched (an unreadable directory, the inotify watch limit
	// reached: a *LimitError). Changes there may go unseen until it is fixed.
	Err error
}

// ErrClosed is returned by SetRoots and SetIgnore after Close.
var ErrClosed = errors.New("filewatch: watcher closed")

// Watcher watches a set of roots. Its methods are safe for concurrent use.
type Watcher struct {
	opts    Options
	fs      *fsnotify.Watcher
	env     env
	batches chan Batch
	kick    chan struct{}
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
	armed   atomic.Bool // a batch is pending and its timers run (for tests)

	mu        sync.Mutex // guards everything below
	closed    bool
	global    *rules               // Options.Ignore (nil when empty)
	roots     []*root              // in SetRoots order
	byName    map[string]*root     // the first root of each name, for Vouch
	failed    bool                 // something could not be watched: Vouch vouches for nothing
	dirs      map[string]*dir      // the watched directories, by absolute path
	pending   map[string]time.Time // paths for the next batch, with when each was last reported
	errs      []error              // errors for the next batch
	activity  int                  // counts reports, to restart the quiet period
	overflow  bool                 // events were lost: rescan before the next batch
	rescanGen int                  // marks the directories a rescan has visited
}

// env holds what tests replace: the limits read from /proc and the call that adds a watch.
type env struct {
	limits   func() (limits, error)
	addWatch func(w *Watcher, path string) error
}

var defaultEnv = env{
	limits:   readLimits,
	addWatch: func(w *Watcher, path string) error { return w.fs.Add(path) },
}

// New starts a Watcher with no roots. It fails with a *LimitError when the user has no inotify
// instance left (fs.inotify.max_user_instances).
func New(opts Options) (*Watcher, error) { return newWatcher(opts, defaultEnv) }

func newWatcher(opts Options, e env) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxLatency <= 0 {
		opts.MaxLatency = DefaultMaxLatency
	}
	if opts.MaxLatency < opts.Debounce {
		opts.MaxLatency = opts.Debounce
	}
	if opts.IgnoreDir == "" {
		opts.IgnoreDir = "."
	}
	ignoreDir, err := filepath.Abs(opts.IgnoreDir)
	if err != nil {
		return nil, err
	}
	opts.IgnoreDir = canonical(ignoreDir)
	global, err := newRules(opts.IgnoreDir, opts.Ignore)
	if err != nil {
		return nil, err
	}
	if err := checkInstances(e); err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if lerr := instanceError(e, err); lerr != nil {
			return nil, lerr
		}
		return nil, err
	}
	w := &Watcher{
		opts:    opts,
		fs:      fsw,
		env:     e,
		batches: make(chan Batch),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		global:  global,
		dirs:    map[string]*dir{},
		pending: map[string]time.Time{},
	}
	go w.loop()
	return w, nil
}

// Batches returns the channel of batches. It is closed by Close. A batch waits, gathering more
// changes, for as long as the receiver is busy: the Watcher never blocks on it.
func (w *Watcher) Batches() <-chan Batch { return w.batches }

// SetRoots makes roots the set of watched roots. Roots already watched (same path and same
// patterns) keep their watches and state; new ones are walked and watched, and the watches of
// the ones left out are removed. What the new roots hold when SetRoots returns is the baseline:
// it is not reported, so compute what depends on those files (context hashes) after SetRoots
// returns, not before. Before adding any watch it counts the directories it will watch and fails
// with a *LimitError, changing nothing, when fs.inotify.max_user_watches is too low.
func (w *Watcher) SetRoots(roots []Root) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	next := make([]*root, 0, len(roots))
	seen := map[string]bool{}
	current := make(map[string]*root, len(w.roots))
	for _, r := range w.roots {
		current[givenKey(r.name, r.ignore)] = r
	}
	for _, r := range roots {
		// A root watched already is kept as it is: resolving its path again (symlinks) would
		// cost an lstat per path component, for every root, on every re-evaluation.
		nr := current[givenKey(absPath(r.Path), r.Ignore)]
		if nr == nil {
			var err error
			if nr, err = w.newRoot(r); err != nil {
				return err
			}
		}
		if !seen[nr.key] {
			seen[nr.key] = true
			next = append(next, nr)
		}
	}
	return w.setRootsLocked(next)
}

// SetIgnore replaces Options.Ignore (after a re-evaluation changed watch_settings(ignore=) or
// a .kilnignore changed). Directories watched before and after keep their watches and state.
func (w *Watcher) SetIgnore(patterns []string) error {
	w.mu.Lock()
	same := slices.Equal(patterns, w.opts.Ignore) && !w.closed
	w.mu.Unlock()
	if same {
		return nil
	}
	global, err := newRules(w.opts.IgnoreDir, patterns)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	old := w.global
	w.global = global
	next := make([]*root, 0, len(w.roots))
	for _, r := range w.roots {
		nr, err := w.newRoot(Root{Path: r.name, Ignore: r.ignore})
		if err != nil {
			w.global = old
			return err
		}
		next = append(next, nr)
	}
	if err := w.setRootsLocked(next); err != nil {
		w.global = old
		return err
	}
	w.opts.Ignore = slices.Clone(patterns)
	return nil
}

// givenKey identifies a root as SetRoots was given it: its absolute name and patterns.
func givenKey(name string, ignore []string) string {
	return name + "\x00" + strings.Join(ignore, "\x00")
}

// absPath is filepath.Abs, or p itself when that fails (newRoot then reports the error).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (w *Watcher) setRootsLocked(next []*root) error {
	current := map[string]*root{}
	for _, r := range w.roots {
		current[r.key] = r
	}
	var added []*root
	kept := make([]*root, 0, len(next))
	wanted := map[string]bool{}
	for _, r := range next {
		wanted[r.key] = true
		if old, ok := current[r.key]; ok {
			kept = append(kept, old)
			continue
		}
		added = append(added, r)
		kept = append(kept, r)
	}
	need := 0
	for _, r := range added {
		need += w.countRoot(r)
	}
	if need > 0 {
		if err := w.checkWatches(need); err != nil {
			return err
		}
	}
	for i, r := range added {
		if _, err := w.resolve(r, false); err != nil {
			for _, a := range added[:i+1] {
				w.release(a)
			}
			return err
		}
	}
	for _, r := range w.roots {
		if !wanted[r.key] {
			w.release(r)
		}
	}
	w.roots = kept
	w.byName = make(map[string]*root, len(kept))
	for _, r := range kept {
		if w.byName[r.name] == nil {
			w.byName[r.name] = r
		}
	}
	w.poke()
	return nil
}

// Vouch returns a token for the root named path (a Root.Path made absolute) while it is
// watched: the same token for as long as that root stays watched, nil when no root has that
// name, or when something could not be watched. It serves internal/filememo, which keeps what
// was computed from a file or tree for as long as its token stays the same. A token vouches
// only for what this Watcher reports: a root's own Ignore patterns, Options.Ignore and the
// built-in editor and VCS rules still apply inside a tree.
func (w *Watcher) Vouch(path string) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.failed {
		return nil
	}
	if r := w.byName[path]; r != nil {
		return r
	}
	return nil
}

// Close stops watching, removes every watch and closes the Batches channel. A batch not yet
// received is dropped.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.closing)
		<-w.done
		err = w.fs.Close()
	})
	return err
}

// poke wakes the loop so that it arms its timers for what was reported outside an event
// (errors met by SetRoots).
func (w *Watcher) poke() {
	if len(w.pending) == 0 && len(w.errs) == 0 {
		return
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// report adds p to the next batch.
func (w *Watcher) report(p string) {
	w.pending[p] = time.Now()
	w.activity++
}

// fail adds err to the next batch.
func (w *Watcher) fail(err error) {
	w.errs = append(w.errs, err)
	w.failed = true
	w.activity++
}

// loop receives the events, coalesces them, and delivers the batches. Timers run only while
// a batch is pending.
func (w *Watcher) loop() {
	defer close(w.done)
	defer close(w.batches)
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	latest := time.NewTimer(time.Hour)
	latest.Stop()
	var quietC, latestC <-chan time.Time
	var ready *Batch // flushed, waiting for the receiver
	flush := func() {
		quiet.Stop()
		latest.Stop()
		quietC, latestC = nil, nil
		w.armed.Store(false)
		b, ok := w.takeBatch()
		if !ok {
			return
		}
		if ready == nil {
			ready = &b
			return
		}
		merged := mergeBatches(*ready, b)
		ready = &merged
	}
	for {
		var out chan Batch
		var next Batch
		if ready != nil {
			out, next = w.batches, *ready
		}
		w.mu.Lock()
		before := w.activity
		w.mu.Unlock()
		select {
		case <-w.closing:
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.mu.Lock()
			w.handle(ev)
			w.mu.Unlock()
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.mu.Lock()
			// An overflow, or a read error: either way events may be lost, so rescan.
			w.overflow = true
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				w.errs = append(w.errs, err)
			}
			w.activity++
			w.mu.Unlock()
		case <-w.kick:
		case <-quietC:
			flush()
			continue
		case <-latestC:
			flush()
			continue
		case out <- next:
			ready = nil
			continue
		}
		w.mu.Lock()
		active := w.activity != before || ((len(w.pending) > 0 || len(w.errs) > 0 || w.overflow) && latestC == nil)
		w.mu.Unlock()
		if active {
			quiet.Reset(w.opts.Debounce)
			quietC = quiet.C
			if latestC == nil {
				latest.Reset(w.opts.MaxLatency)
				latestC = latest.C
				w.armed.Store(true)
			}
		}
	}
}

// takeBatch rescans if events were lost, and empties what is pending into a batch.
func (w *Watcher) takeBatch() (Batch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b Batch
	if w.overflow {
		w.overflow = false
		w.rescan()
		b.Rescanned = true
	}
	if len(w.pending) == 0 && len(w.errs) == 0 && !b.Rescanned {
		return b, false
	}
	aliased := slices.ContainsFunc(w.roots, func(r *root) bool { return r.name != r.path })
	seen := make([]seenPath, 0, len(w.pending))
	var names []string
	for p, at := range w.pending {
		if !aliased {
			seen = append(seen, seenPath{p, at})
			continue
		}
		names = w.names(names[:0], p)
		for _, n := range names {
			seen = append(seen, seenPath{n, at})
		}
	}
	b.Paths, b.Seen = sortSeen(seen)
	b.Err = errors.Join(w.errs...)
	w.pending = map[string]time.Time{}
	w.errs = nil
	return b, true
}

// names appends to out the names p is reported under: p is watched under canonical names,
// and each root that holds it, and was given under another name (through a symlink), has it
// under that name.
func (w *Watcher) names(out []string, p string) []string {
	keep, claimed := false, false
	for _, r := range w.roots {
		if p != r.path && !isInside(p, r.path) {
			continue
		}
		claimed = true
		if r.name == r.path {
			keep = true
		} else {
			out = append(out, r.name+p[len(r.path):])
		}
	}
	if keep || !claimed {
		out = append(out, p)
	}
	return out
}

func mergeBatches(a, b Batch) Batch {
	seen := make([]seenPath, 0, len(a.Paths)+len(b.Paths))
	for _, x := range []Batch{a, b} {
		for i, p := range x.Paths {
			seen = append(seen, seenPath{p, x.Seen[i]})
		}
	}
	paths, times := sortSeen(seen)
	return Batch{
		Paths:     paths,
		Seen:      times,
		Rescanned: a.Rescanned || b.Rescanned,
		Err:       errors.Join(a.Err, b.Err),
	}
}

// seenPath is a changed path and when it was last reported.
type seenPath struct {
	path string
	at   time.Time
}

// sortSeen sorts the paths, and keeps each once, with the latest time it was reported.
func sortSeen(seen []seenPath) ([]string, []time.Time) {
	sort.Slice(seen, func(i, j int) bool {
		if seen[i].path != seen[j].path {
			return seen[i].path < seen[j].path
		}
		return seen[i].at.After(seen[j].at) // the latest first, which Compact keeps
	})
	seen = slices.CompactFunc(seen, func(a, b seenPath) bool { return a.path == b.path })
	paths, times := make([]string, len(seen)), make([]time.Time, len(seen))
	for i, s := range seen {
		paths[i], times[i] = s.path, s.at
	}
	return paths, times
}

// join returns dir/name for an absolute clean dir.
func join(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
