package filewatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher"
)

// root is one watched Root, resolved.
type root struct {
	key    string   // name and patterns: what makes two roots the same
	name   string   // Root.Path made absolute: the name its paths are reported under
	path   string   // name with its symlinks resolved: the name it is watched under
	ignore []string // Root.Ignore as given
	rules  []*rules // Root.Ignore (base path), then Options.Ignore when it can apply

	deep   bool   // path is a directory, watched with its tree
	anchor string // the directory watched for it: path when deep; else the parent of the file, or the nearest existing ancestor of a missing path
	file   entry  // !deep: the state of path, when fileOK
	fileOK bool
}

// owner is a root's interest in one watched directory.
type owner struct {
	r *root
	// deep: the directory is inside r's tree (else it is only r's anchor).
	deep bool
	// info holds, per r.rules, the directory's match results, which its children start from
	// (patternmatcher.MatchesUsingParentResults, as BuildKit walks a context).
	info []patternmatcher.MatchInfo
}

// dir is one watched directory.
type dir struct {
	path    string
	ino     uint64
	parent  *dir            // when the parent directory is watched too
	sub     map[string]*dir // the watched subdirectories, by name
	entries map[string]entry
	owners  []owner
	gen     int // the last rescan that visited it
}

// entry is the recorded state of a file or directory that some deep owner reports.
type entry struct {
	size   int64
	mtime  int64  // nanoseconds; 0 for a directory
	fp     uint64 // fingerprint of the mode, and for a non-directory its mtime, ctime and inode
	sum    uint64 // content hash (hasSum): computed by a rescan when fp changed but size did not
	mode   uint32 // permission and type bits
	kind   kind
	hasSum bool
}

type kind uint8

const (
	kindFile kind = iota // regular file
	kindDir
	kindOther // symlink, FIFO, socket, device
)

func (w *Watcher) newRoot(r Root) (*root, error) {
	if r.Path == "" {
		return nil, errors.New("filewatch: a root needs a path")
	}
	name, err := filepath.Abs(r.Path)
	if err != nil {
		return nil, err
	}
	p := canonical(name)
	nr := &root{name: name, path: p, ignore: slices.Clone(r.Ignore)}
	own, err := newRules(p, r.Ignore)
	if err != nil {
		return nil, err
	}
	key := []string{name}
	if own != nil {
		nr.rules = append(nr.rules, own)
		key = append(key, own.patterns...)
	}
	if w.global != nil && w.global.covers(p) {
		nr.rules = append(nr.rules, w.global)
		key = append(key, "\x01")
		key = append(key, w.global.patterns...)
	}
	nr.key = strings.Join(key, "\x00")
	return nr, nil
}

// rootOwner is the deep owner of r's own directory.
func rootOwner(r *root) owner {
	o := owner{r: r, deep: true}
	if len(r.rules) == 0 {
		return o
	}
	o.info = make([]patternmatcher.MatchInfo, len(r.rules))
	for i, rl := range r.rules {
		if rel, ok := rl.rel(r.path); ok { // the root lies inside the base of these rules
			_, o.info[i], _ = rl.match(rel, patternmatcher.MatchInfo{})
		}
	}
	return o
}

// classify decides, for the entry name of the directory dirPath watched by owners, whether
// some deep owner reports it and, for a directory, which owners watch inside it.
func classify(owners []owner, dirPath, name string, isDir bool) (report bool, subs []owner) {
	if builtinIgnored(name) {
		return false, nil
	}
	var p string
	for _, o := range owners {
		if !o.deep {
			continue
		}
		if len(o.r.rules) == 0 {
			report = true
			if isDir {
				subs = append(subs, owner{r: o.r, deep: true})
			}
			continue
		}
		if p == "" {
			p = join(dirPath, name)
		}
		ignored, prune := false, false
		var info []patternmatcher.MatchInfo
		if isDir {
			info = make([]patternmatcher.MatchInfo, len(o.r.rules))
		}
		for i, rl := range o.r.rules {
			rel, ok := rl.rel(p)
			if !ok {
				continue
			}
			m, mi, err := rl.match(rel, o.info[i])
			if err != nil {
				continue // patterns are checked by newRules
			}
			if isDir {
				info[i] = mi
			}
			if m {
				ignored = true
				if !isDir || !rl.mayReinclude(rel) {
					prune = true
				}
			}
		}
		if !ignored {
			report = true
		}
		if isDir && !prune {
			subs = append(subs, owner{r: o.r, deep: true, info: info})
		}
	}
	return report, subs
}

func (d *dir) ownerIndex(r *root) int {
	for i, o := range d.owners {
		if o.r == r {
			return i
		}
	}
	return -1
}

func (d *dir) hasDeep() bool {
	for _, o := range d.owners {
		if o.deep {
			return true
		}
	}
	return false
}

func (d *dir) allDeep() bool {
	for _, o := range d.owners {
		if !o.deep {
			return false
		}
	}
	return true
}

// missing returns the owners whose root does not own d yet.
func (d *dir) missing(owners []owner) []owner {
	var out []owner
	for _, o := range owners {
		if d.ownerIndex(o.r) < 0 {
			out = append(out, o)
		}
	}
	return out
}

// walkTask is a directory to visit, with the owners that watch it.
type walkTask struct {
	path   string
	owners []owner
	fresh  bool // addTree: not watched yet
}

// countRoot returns how many directories resolving r would add watches to.
func (w *Watcher) countRoot(r *root) int {
	if st, err := os.Stat(r.path); err == nil && st.IsDir() {
		return w.countTree(r.path, []owner{rootOwner(r)})
	}
	if w.dirs[nearestDir(filepath.Dir(r.path))] == nil {
		return 1
	}
	return 0
}

// countTree counts the directories not watched yet that addTree(p, owners) would watch.
func (w *Watcher) countTree(p string, owners []owner) int {
	n := 0
	walk(walkTask{path: p, owners: owners},
		func(t *walkTask) bool {
			if d := w.dirs[t.path]; d != nil {
				t.owners = d.missing(t.owners)
				return len(t.owners) > 0
			}
			n++
			return true
		},
		func(t walkTask) (struct{}, []walkTask) {
			ents, err := readDirEntries(t.path)
			if err != nil {
				return struct{}{}, nil
			}
			var subs []walkTask
			for _, de := range ents {
				if !de.IsDir() {
					continue
				}
				if _, o := classify(t.owners, t.path, de.Name(), true); len(o) > 0 {
					subs = append(subs, walkTask{path: join(t.path, de.Name()), owners: o})
				}
			}
			return struct{}{}, subs
		},
		func(struct{}) bool { return true })
	return n
}

// listed is what a walk worker found in one directory.
type listed struct {
	task     walkTask
	fresh    bool  // the directory was not watched before: the worker added its watch
	watchErr error // adding the watch failed
	listErr  error
	ino      uint64
	dirs     []string // the names of its subdirectories
	entries  []named  // the entries some owner reports
}

type named struct {
	name string
	e    entry
}

// addTree watches the directory p for owners, and below it every directory they don't
// ignore. Each directory is listed after its watch is added, so that nothing created meanwhile
// is missed. With report, every path found is reported: p was created after the start. It
// returns a *LimitError when the watch limit is reached; other failures go to the next batch.
//
// The watches, listings and stats run on worker goroutines; the state changes only here.
func (w *Watcher) addTree(p string, owners []owner, report bool) error {
	var limitErr error
	walk(walkTask{path: p, owners: owners},
		func(t *walkTask) bool {
			if limitErr != nil {
				return false
			}
			if d := w.dirs[t.path]; d != nil {
				t.owners = d.missing(t.owners)
				return len(t.owners) > 0
			}
			t.fresh = true
			return true
		},
		w.listForAdd,
		func(l listed) bool {
			if err := w.install(l, report); err != nil && limitErr == nil {
				limitErr = err
			}
			return limitErr == nil
		})
	return limitErr
}

// listForAdd adds the watch of a directory that needs one, lists it, classifies its entries
// and stats the reported ones. It runs on a walk worker: it reads nothing the loop changes.
func (w *Watcher) listForAdd(t walkTask) (listed, []walkTask) {
	l := listed{task: t, fresh: t.fresh}
	if t.fresh {
		if l.watchErr = w.env.addWatch(w, t.path); l.watchErr != nil {
			return l, nil
		}
	}
	h, ents, err := openDir(t.path)
	if err != nil {
		l.listErr = err
		return l, nil
	}
	defer h.close()
	l.ino = h.ino
	var subs []walkTask
	for _, de := range ents {
		name := de.Name()
		if de.IsDir() {
			l.dirs = append(l.dirs, name)
		}
		rep, o := classify(t.owners, t.path, name, de.IsDir())
		if rep {
			if e, err := h.stat(name); err == nil { // else removed since listing
				l.entries = append(l.entries, named{name, e})
			}
		}
		if len(o) > 0 {
			subs = append(subs, walkTask{path: join(t.path, name), owners: o})
		}
	}
	return l, subs
}

// install records what listForAdd found.
func (w *Watcher) install(l listed, report bool) error {
	p := l.task.path
	if l.watchErr != nil {
		if errors.Is(l.watchErr, syscall.ENOSPC) {
			return w.exhausted(p)
		}
		if !isGone(l.watchErr) {
			w.fail(fmt.Errorf("watch %s: %w", p, l.watchErr))
		}
		return nil
	}
	d := w.dirs[p]
	if l.fresh {
		d = w.newDir(p)
	}
	d.owners = append(d.owners, l.task.owners...)
	d.gen = w.rescanGen
	if l.listErr != nil {
		if isGone(l.listErr) {
			w.dropTree(d, false) // removed since: its parent's event will say so
		} else {
			w.fail(fmt.Errorf("list %s: %w", p, l.listErr))
		}
		return nil
	}
	d.ino = l.ino
	for _, name := range l.dirs {
		if c := w.dirs[join(p, name)]; c != nil && c.parent == nil {
			c.parent = d
			d.sub[name] = c
		}
	}
	for _, n := range l.entries {
		if _, had := d.entries[n.name]; !had {
			d.entries[n.name] = n.e
			if report {
				w.report(join(p, n.name))
			}
		}
	}
	return nil
}

// watch adds the inotify watch of directory p.
func (w *Watcher) watch(p string) error {
	err := w.env.addWatch(w, p)
	if errors.Is(err, syscall.ENOSPC) {
		return w.exhausted(p)
	}
	return err
}

func (w *Watcher) newDir(p string) *dir {
	d := &dir{path: p, sub: map[string]*dir{}, entries: map[string]entry{}}
	w.dirs[p] = d
	if p != "/" {
		if parent := w.dirs[filepath.Dir(p)]; parent != nil {
			d.parent = parent
			parent.sub[filepath.Base(p)] = d
		}
	}
	return d
}

// unwatch removes the watch of d, which no root needs any more.
func (w *Watcher) unwatch(d *dir) {
	_ = w.fs.Remove(d.path) // fails when the kernel has already dropped it (deleted)
	delete(w.dirs, d.path)
	if d.parent != nil {
		delete(d.parent.sub, filepath.Base(d.path))
		d.parent = nil
	}
	for _, c := range d.sub {
		c.parent = nil
	}
}

// release removes r's interest in every directory, and the watches nobody needs then.
func (w *Watcher) release(r *root) {
	if !r.deep {
		w.releaseAnchor(r)
		return
	}
	top := w.dirs[r.path]
	if top == nil {
		return
	}
	stack := []*dir{top}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i := d.ownerIndex(r)
		if i < 0 {
			continue
		}
		for _, c := range d.sub {
			stack = append(stack, c)
		}
		d.owners = slices.Delete(d.owners, i, i+1)
		if len(d.owners) == 0 {
			w.unwatch(d)
			continue
		}
		for name, e := range d.entries { // keep what the other owners report
			if rep, _ := classify(d.owners, d.path, name, e.kind == kindDir); !rep {
				delete(d.entries, name)
			}
		}
	}
}

// releaseAnchor removes r's interest in its anchor directory (r not deep).
func (w *Watcher) releaseAnchor(r *root) {
	if r.anchor == "" {
		return
	}
	if d := w.dirs[r.anchor]; d != nil {
		if i := d.ownerIndex(r); i >= 0 {
			d.owners = slices.Delete(d.owners, i, i+1)
		}
		if len(d.owners) == 0 {
			w.unwatch(d)
		}
	}
	r.anchor = ""
}

// dropTree forgets d and everything watched below it, which are gone. With report, every path
// recorded there is reported.
func (w *Watcher) dropTree(d *dir, report bool) {
	stack := []*dir{d}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if report {
			for name := range d.entries {
				w.report(join(d.path, name))
			}
		}
		for _, c := range d.sub {
			stack = append(stack, c)
		}
		w.unwatch(d)
	}
}

// lost handles the watched directory d being removed, moved away or replaced: it reports what
// was recorded in it, and resolves again the roots it held.
func (w *Watcher) lost(d *dir) {
	p := d.path
	w.dropTree(d, true)
	for _, r := range w.roots {
		if r.anchor == p || isInside(r.anchor, p) {
			if changed, err := w.resolve(r, true); err != nil {
				w.fail(err)
			} else if changed {
				w.report(r.path)
			}
		}
	}
}

// resolve watches r as it is now on disk: its tree when it is a directory, else the directory
// that will show it appearing or changing. With report, the contents of a tree that appeared
// are reported. It returns whether the state of r.path itself changed (it appeared,
// disappeared, changed type, or its size or fingerprint changed).
func (w *Watcher) resolve(r *root, report bool) (changed bool, err error) {
	for range 64 { // each round goes one level deeper, as directories appear
		st, err := os.Stat(r.path)
		if err == nil && st.IsDir() {
			if d := w.dirs[r.path]; r.deep && d != nil && d.ownerIndex(r) >= 0 {
				return false, nil
			}
			w.releaseAnchor(r)
			r.deep, r.anchor, r.fileOK = true, r.path, false
			if err := w.addTree(r.path, []owner{rootOwner(r)}, report); err != nil {
				return true, err
			}
			return true, nil
		}
		if r.deep {
			w.release(r)
			r.deep, r.anchor = false, ""
			changed = true
		}
		anchor := nearestDir(filepath.Dir(r.path))
		if d := w.dirs[anchor]; anchor != r.anchor || d == nil || d.ownerIndex(r) < 0 {
			w.releaseAnchor(r)
			if w.dirs[anchor] == nil {
				if err := w.watch(anchor); err != nil {
					return changed, err
				}
				w.newDir(anchor)
			}
			d := w.dirs[anchor]
			d.owners = append(d.owners, owner{r: r})
			r.anchor = anchor
		}
		// The anchor is watched: look again, as the path may have appeared meanwhile.
		e, err := lstatPath(r.path)
		ok := err == nil
		if ok && e.kind == kindDir {
			continue
		}
		if !ok && nearestDir(filepath.Dir(r.path)) != anchor {
			continue
		}
		if ok != r.fileOK || (ok && (e.size != r.file.size || e.fp != r.file.fp || e.kind != r.file.kind)) {
			changed = true
		} else if ok {
			e.sum, e.hasSum = r.file.sum, r.file.hasSum
		}
		r.file, r.fileOK = e, ok
		return changed, nil
	}
	return changed, fmt.Errorf("watch %s: its directories keep changing", r.path)
}

// canonical returns the absolute clean path p with the symlinks of its existing part
// resolved. One directory reached under two names would get one inotify watch, reported under
// one of the names: watching every root under its canonical name avoids that.
func canonical(p string) string {
	rest := ""
	for q := p; ; {
		if real, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(real, rest)
		}
		up := filepath.Dir(q)
		if up == q {
			return p
		}
		rest = filepath.Join(filepath.Base(q), rest)
		q = up
	}
}

// nearestDir returns p, or its nearest ancestor, that is an existing directory.
func nearestDir(p string) string {
	for {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		up := filepath.Dir(p)
		if up == p {
			return p
		}
		p = up
	}
}

// isInside reports whether p is strictly inside the directory d.
func isInside(p, d string) bool {
	_, ok := inside(p, d)
	return ok
}

// readDirEntries lists the directory p (in no particular order).
func readDirEntries(p string) ([]fs.DirEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
