package filewatch

import (
	"errors"
	"hash/maphash"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/fsnotify/fsnotify"
	"github.com/kiln-dev/kiln/internal/safefile"
)

// handle applies one fsnotify event to the recorded state and reports what changed.
func (w *Watcher) handle(ev fsnotify.Event) {
	if ev.Name == "" { // fsnotify sends an empty event with an overflow
		return
	}
	p := filepath.Clean(ev.Name)
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	if d := w.dirs[p]; d != nil {
		// About a watched directory itself: removed or moved away (seen from its own watch
		// or its parent's), or created again under the same name.
		if gone {
			w.lost(d)
		} else if ev.Has(fsnotify.Create) {
			if ino, err := inode(p); err == nil && ino == d.ino {
				return // the directory already watched
			}
			w.lost(d)
		}
	}
	if p == "/" {
		return
	}
	parent := w.dirs[filepath.Dir(p)]
	if parent == nil {
		return // the root directory itself, or an event from a watch just removed
	}
	name := filepath.Base(p)
	if !parent.allDeep() {
		for _, o := range slices.Clone(parent.owners) { // resolve may change them
			if !o.deep {
				w.anchorEvent(o.r, p, ev)
			}
		}
	}
	if !parent.hasDeep() || builtinIgnored(name) {
		return
	}
	switch {
	case gone:
		if _, had := parent.entries[name]; had {
			delete(parent.entries, name)
			w.report(p)
		}
	case ev.Has(fsnotify.Create), ev.Has(fsnotify.Write):
		w.refresh(parent, name, true)
	case ev.Has(fsnotify.Chmod):
		w.refresh(parent, name, false)
	}
}

// refresh records the entry name of d as it is now. It reports it when always, or when its
// state changed; a new directory is watched and walked, and all it holds is reported.
func (w *Watcher) refresh(d *dir, name string, always bool) {
	p := join(d.path, name)
	old, had := d.entries[name]
	e, err := lstatPath(p)
	if err != nil { // gone already
		if had {
			delete(d.entries, name)
			w.report(p)
		}
		return
	}
	rep, subs := classify(d.owners, d.path, name, e.kind == kindDir)
	if rep {
		if had && old.size == e.size && old.fp == e.fp && old.kind == e.kind {
			e.sum, e.hasSum = old.sum, old.hasSum
		}
		d.entries[name] = e
		if always || !had || visible(old, e) {
			w.report(p)
		}
	}
	if len(subs) > 0 && w.dirs[p] == nil {
		if err := w.addTree(p, subs, true); err != nil {
			w.fail(err)
		}
	}
}

// anchorEvent handles an event in the anchor directory of r (a file, or a missing path).
func (w *Watcher) anchorEvent(r *root, p string, ev fsnotify.Event) {
	if p != r.path && !isInside(r.path, p) {
		return // another name in the same directory
	}
	attrOnly := ev.Op == fsnotify.Chmod
	if p != r.path && attrOnly {
		return
	}
	old, oldOK := r.file, r.fileOK
	changed, err := w.resolve(r, true)
	if err != nil {
		w.fail(err)
	}
	if attrOnly && !r.deep && oldOK && r.fileOK {
		changed = visible(old, r.file)
	}
	if changed || (p == r.path && !attrOnly) {
		w.report(r.path)
	}
}

// rescan compares every watched tree with the recorded state, after the kernel dropped events:
// it reports each difference, watches the directories that appeared and forgets the ones gone.
// A file whose size is the same but whose mtime, ctime, inode or mode differs is compared by
// content when its hash is known from an earlier rescan; otherwise it counts as changed (and
// its hash is recorded for the next time).
func (w *Watcher) rescan() {
	w.rescanGen++
	var tops []*dir
	for _, d := range w.dirs {
		if d.parent == nil {
			tops = append(tops, d)
		}
	}
	sort.Slice(tops, func(i, j int) bool { return tops[i].path < tops[j].path })
	for _, d := range tops {
		w.rescanTree(d)
	}
	for _, r := range w.roots {
		if r.deep {
			if d := w.dirs[r.path]; d != nil && d.ownerIndex(r) >= 0 {
				continue
			}
		} else if e, err := lstatPath(r.path); err == nil && r.fileOK && e.kind != kindDir {
			if w.differs(r.file, &e, r.path) {
				w.report(r.path)
			}
			r.file = e // with its hash: resolve keeps it
		}
		if changed, err := w.resolve(r, true); err != nil {
			w.fail(err)
		} else if changed {
			w.report(r.path)
		}
	}
}

func (w *Watcher) rescanTree(top *dir) {
	stack := []*dir{top}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if w.dirs[d.path] != d || d.gen == w.rescanGen {
			continue // dropped meanwhile, or (re)walked by this rescan
		}
		d.gen = w.rescanGen
		h, ents, err := openDir(d.path)
		if err != nil || h.ino != d.ino {
			if err == nil {
				h.close()
			}
			w.replaced(d)
			continue
		}
		if d.hasDeep() {
			w.rescanDir(d, h, ents)
		}
		h.close()
		for _, c := range d.sub {
			stack = append(stack, c)
		}
	}
}

// replaced handles a watched directory found gone, or another directory in its place.
func (w *Watcher) replaced(d *dir) {
	p := d.path
	w.report(p)
	w.lost(d)
	if parent := w.dirs[filepath.Dir(p)]; parent != nil && p != "/" && parent.hasDeep() {
		w.refresh(parent, filepath.Base(p), true)
	}
}

// rescanDir compares the listing ents of d with its recorded entries.
func (w *Watcher) rescanDir(d *dir, h *dirHandle, ents []fs.DirEntry) {
	seen := make(map[string]bool, len(ents))
	for _, de := range ents {
		name := de.Name()
		p := join(d.path, name)
		rep, subs := classify(d.owners, d.path, name, de.IsDir())
		if rep {
			e, err := h.stat(name)
			if err != nil {
				continue
			}
			seen[name] = true
			old, had := d.entries[name]
			switch {
			case !had:
				w.report(p)
			case old.kind != e.kind:
				w.report(p)
				if c := w.dirs[p]; c != nil {
					w.lost(c)
				}
			case w.differs(old, &e, p):
				w.report(p)
			}
			d.entries[name] = e
		}
		if !de.IsDir() {
			continue
		}
		seen[name] = true
		if len(subs) > 0 && w.dirs[p] == nil {
			if err := w.addTree(p, subs, true); err != nil {
				w.fail(err)
			}
		}
	}
	for name := range d.entries {
		if !seen[name] {
			delete(d.entries, name)
			w.report(join(d.path, name))
		}
	}
	for name, c := range d.sub {
		if !seen[name] {
			w.lost(c)
		}
	}
}

// differs reports whether the file at p changed from old to e (its new state), hashing its
// content when only its fingerprint changed. It records the hash in e.
func (w *Watcher) differs(old entry, e *entry, p string) bool {
	if old.size != e.size || old.kind != e.kind {
		return true
	}
	if old.fp == e.fp {
		e.sum, e.hasSum = old.sum, old.hasSum
		return false
	}
	if e.kind != kindFile {
		return true
	}
	sum, err := hashFile(p)
	if err != nil {
		return true
	}
	e.sum, e.hasSum = sum, true
	return !old.hasSum || old.sum != sum
}

var hashSeed = maphash.MakeSeed()

// hashFile returns a hash of the content of the regular file p.
func hashFile(p string) (uint64, error) {
	f, _, err := safefile.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h maphash.Hash
	h.SetSeed(hashSeed)
	if _, err := io.Copy(&h, f); err != nil {
		return 0, err
	}
	return h.Sum64(), nil
}

// isGone reports whether err says the path no longer exists.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// visible reports whether an attribute change from old to e shows: the kind, size, mode or
// mtime changed (touch counts; a chmod to the same mode, a chown or a new hard link do not).
func visible(old, e entry) bool {
	return old.kind != e.kind || old.size != e.size || old.mode != e.mode || old.mtime != e.mtime
}

// mix combines stat fields into one fingerprint (splitmix64 steps).
func mix(vs ...uint64) uint64 {
	var h uint64 = 0x9e3779b97f4a7c15
	for _, v := range vs {
		h ^= v
		h += 0x9e3779b97f4a7c15
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
