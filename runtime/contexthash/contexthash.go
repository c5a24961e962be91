// Package contexthash computes the content hash of a Docker build context:
// the files the build would send, as selected by Docker's .dockerignore
// rules, hashed without depending on where the context lives, on mtimes or on
// walk order. A persistent Cache keyed by file identity and stat data makes
// re-hashing an unchanged context cost only a walk and lstat calls.
package contexthash

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/safefile"
	"github.com/moby/patternmatcher"
)

// Spec describes a build context.
type Spec struct {
	Dir string // context directory (made absolute)
	// Dockerfile is the path of the Dockerfile (may be outside Dir; relative
	// paths are relative to Dir), "" when the Dockerfile is given inline. It
	// only serves to find <Dockerfile>.dockerignore: the Dockerfile's bytes
	// are hashed only if it is inside Dir and not excluded.
	Dockerfile string
	Ignore     []string // extra exclude patterns (.dockerignore syntax)
	Only       []string // if non-empty, include only these paths (relative to Dir)
	// Patterns, when non-nil, is the final exclude list as Excludes returned it for an earlier
	// hash (plan.Image.Excludes): .dockerignore, Ignore and Only are then not consulted, so
	// that a re-hash covers exactly the files the first one did.
	Patterns []string
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("contexthash: "+format, args...)
}

// Entry kinds in the hashed listing.
const (
	kindFile    = 'f'
	kindDir     = 'd'
	kindSymlink = 'l'
	kindOther   = 'o' // devices, fifos, sockets: type only
)

type entry struct {
	rel    string // slash-separated, relative to the context
	kind   byte
	exec   bool
	mode   fs.FileMode // type bits, for kindOther
	size   int64
	target string   // symlink target
	digest [32]byte // file content digest
	key    fileKey  // for files: stat identity, the cache key
}

// hashVersion starts the hashed listing; change it when the format changes.
const hashVersion = "kiln contexthash v1\n"

// racyWindow: files modified less than this long before a hash are not
// cached, because a later write within the filesystem's timestamp
// granularity could leave size and mtime unchanged.
const racyWindow = 2 * time.Second

// testHookReadDir, if set, is called with the relative path of every
// directory the walk opens ("" for the context root).
var testHookReadDir func(rel string)

// Hash returns "sha256:<hex>" over the included entries of the context and
// the sorted relative paths of the included files and symlinks (directories
// are hashed but not listed). It applies exactly the patterns Excludes
// returns, with BuildKit's matching rules, and never opens a directory that
// no pattern could re-include anything from. c may be nil (no caching).
func (c *Cache) Hash(s Spec) (digest string, files []string, err error) {
	w, err := c.walk(s)
	if err != nil {
		return "", nil, err
	}
	digest, files = w.digest()
	return digest, files, nil
}

// digest hashes the walked listing (see Hash).
func (w *walker) digest() (digest string, files []string) {
	h := sha256.New()
	h.Write([]byte(hashVersion))
	var buf []byte
	for _, e := range w.entries {
		buf = buf[:0]
		buf = binary.AppendUvarint(buf, uint64(len(e.rel)))
		buf = append(buf, e.rel...)
		buf = append(buf, e.kind)
		switch e.kind {
		case kindFile:
			x := byte(0)
			if e.exec {
				x = 1
			}
			buf = append(buf, x)
			buf = binary.AppendUvarint(buf, uint64(e.size))
			buf = append(buf, e.digest[:]...)
			files = append(files, e.rel)
		case kindSymlink:
			buf = binary.AppendUvarint(buf, uint64(len(e.target)))
			buf = append(buf, e.target...)
			files = append(files, e.rel)
		case kindOther:
			buf = binary.AppendUvarint(buf, uint64(e.mode.Type()))
		}
		h.Write(buf)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files
}

// walk lists the included entries of the context, sorted, with their
// digests.
func (c *Cache) walk(s Spec) (*walker, error) {
	excludes := s.Patterns
	if excludes == nil {
		var err error
		if excludes, err = Excludes(s); err != nil {
			return nil, err
		}
	}
	root, err := contextDir(s)
	if err != nil {
		return nil, err
	}
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, err
	}
	w := &walker{root: root, excludes: excludes, cache: c, now: time.Now()}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			w.negations = append(w.negations, strings.Split(p.String(), string(filepath.Separator)))
		}
	}
	if err := w.run(); err != nil {
		return nil, err
	}
	if err := w.hashContents(); err != nil {
		return nil, err
	}
	slices.SortFunc(w.entries, byRel)
	// An excluded directory that was walked is part of the context iff
	// something inside it is (fsutil sends the parents of what it sends).
	var parents []*entry
	for _, d := range w.excludedDirs {
		prefix := d + "/"
		i := sort.Search(len(w.entries), func(i int) bool { return w.entries[i].rel >= prefix })
		if i < len(w.entries) && strings.HasPrefix(w.entries[i].rel, prefix) {
			parents = append(parents, &entry{rel: d, kind: kindDir})
		}
	}
	if len(parents) > 0 {
		w.entries = append(w.entries, parents...)
		slices.SortFunc(w.entries, byRel)
	}
	return w, nil
}

func byRel(a, b *entry) int { return strings.Compare(a.rel, b.rel) }

// walker walks a context with up to GOMAXPROCS goroutines, one directory
// at a time each.
type walker struct {
	root      string
	excludes  []string
	negations [][]string // the "!" patterns, split into segments
	cache     *Cache
	now       time.Time

	mu           sync.Mutex
	cond         *sync.Cond
	queue        []dirTask
	active       int // tasks being processed
	err          error
	entries      []*entry
	toHash       []*entry
	excludedDirs []string // excluded directories that were walked
}

type dirTask struct {
	rel      string                   // "" for the root
	info     patternmatcher.MatchInfo // the directory's own match state
	excluded bool
}

func (w *walker) run() error {
	w.cond = sync.NewCond(&w.mu)
	w.queue = []dirTask{{}}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		// patternmatcher is not safe for concurrent use (patterns compile
		// lazily): one per worker. MatchInfo values are interchangeable
		// between matchers of the same patterns.
		pm, err := patternmatcher.New(w.excludes)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(pm)
		}()
	}
	wg.Wait()
	return w.err
}

func (w *walker) work(pm *patternmatcher.PatternMatcher) {
	var res dirResult
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && w.active > 0 && w.err == nil {
			w.cond.Wait()
		}
		if len(w.queue) == 0 || w.err != nil {
			w.mu.Unlock()
			w.cond.Broadcast()
			return
		}
		t := w.queue[len(w.queue)-1]
		w.queue = w.queue[:len(w.queue)-1]
		w.active++
		w.mu.Unlock()

		res = dirResult{entries: res.entries[:0], toHash: res.toHash[:0], subdirs: res.subdirs[:0]}
		err := w.walkDir(pm, t, &res)

		w.mu.Lock()
		w.active--
		if err != nil && w.err == nil {
			w.err = err
		}
		w.entries = append(w.entries, res.entries...)
		w.toHash = append(w.toHash, res.toHash...)
		w.queue = append(w.queue, res.subdirs...)
		if t.excluded {
			w.excludedDirs = append(w.excludedDirs, t.rel)
		}
		w.mu.Unlock()
		w.cond.Broadcast()
	}
}

type dirResult struct {
	entries []*entry
	toHash  []*entry
	subdirs []dirTask
}

// walkDir lists one directory. Permission errors on an excluded directory
// are ignored, as BuildKit does.
func (w *walker) walkDir(pm *patternmatcher.PatternMatcher, t dirTask, res *dirResult) error {
	if testHookReadDir != nil {
		testHookReadDir(t.rel)
	}
	abs := filepath.Join(w.root, filepath.FromSlash(t.rel))
	d, err := openDir(abs)
	if err != nil {
		if t.excluded && errors.Is(err, fs.ErrPermission) {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) && t.rel != "" {
			return nil // removed while walking
		}
		return err
	}
	defer d.close()
	des, err := d.f.ReadDir(-1)
	if err != nil {
		if t.excluded && errors.Is(err, fs.ErrPermission) {
			return nil
		}
		return err
	}
	var files []*entry // regular files, looked up in the cache at the end
	for _, de := range des {
		name := de.Name()
		if name == ".git" {
			// Excluded by the trailing **/.git patterns whatever comes
			// before them: never walked.
			continue
		}
		rel := name
		if t.rel != "" {
			rel = t.rel + "/" + name
		}
		excluded, info, err := pm.MatchesUsingParentResults(rel, t.info)
		if err != nil {
			return err
		}
		if de.IsDir() {
			if excluded && !w.mayReinclude(rel) {
				continue // nothing under it can be included
			}
			res.subdirs = append(res.subdirs, dirTask{rel: rel, info: info, excluded: excluded})
			if !excluded {
				res.entries = append(res.entries, &entry{rel: rel, kind: kindDir})
			}
			continue
		}
		if excluded {
			continue
		}
		st, err := d.lstat(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while walking
			}
			return err
		}
		e := &entry{rel: rel, kind: st.kind, exec: st.exec, mode: st.mode}
		switch st.kind {
		case kindDir: // replaced by a directory since the listing
			res.subdirs = append(res.subdirs, dirTask{rel: rel, info: info})
		case kindFile:
			e.size = st.key.size
			e.key = st.key
			e.key.path = filepath.Join(abs, name)
			files = append(files, e)
		case kindSymlink:
			target, err := d.readlink(name)
			if err != nil {
				return err
			}
			e.target = filepath.ToSlash(target)
		}
		res.entries = append(res.entries, e)
	}
	res.toHash = append(res.toHash, w.cache.lookupAll(files)...)
	return nil
}

// mayReinclude reports whether some "!" pattern could match a path strictly
// inside the excluded directory rel. When it cannot, nothing inside can be
// included: a path under an excluded directory inherits the directory's
// matches (MatchesUsingParentResults), so only a negation matching the path
// itself, or a directory between, could flip it back.
func (w *walker) mayReinclude(rel string) bool {
	if len(w.negations) == 0 {
		return false
	}
	dir := strings.Split(rel, "/")
	for _, n := range w.negations {
		if mayMatchInside(n, dir) {
			return true
		}
	}
	return false
}

// hashContents computes the content digest of the files not found in the
// cache, in parallel.
func (w *walker) hashContents() error {
	n := len(w.toHash)
	if n == 0 {
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan *entry)
	)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for e := range next {
				if err := w.hashFile(e, buf); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, e := range w.toHash {
		next <- e
	}
	close(next)
	wg.Wait()
	return first
}

func (w *walker) hashFile(e *entry, buf []byte) error {
	// Listed as a regular file, but it may have been replaced since: never block on a FIFO.
	f, _, err := safefile.Open(filepath.Join(w.root, filepath.FromSlash(e.rel)))
	if err != nil {
		return errorf("context changed while being hashed: %v", err)
	}
	defer f.Close()
	h := sha256.New()
	// Hide (*os.File).WriteTo, which would ignore buf and allocate its own.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
	if err != nil {
		return err
	}
	h.Sum(e.digest[:0])
	if w.cache != nil {
		w.cache.reads.Add(1)
	}
	if n != e.size {
		// Written to while being read: hash what was read, cache
		// nothing; the write's file event will cause another hash.
		e.size = n
		return nil
	}
	if w.cache != nil && w.now.Sub(time.Unix(0, e.key.mtime)) > racyWindow {
		w.cache.store(e)
	}
	return nil
}
