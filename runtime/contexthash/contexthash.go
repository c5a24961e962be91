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
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

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
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files, nil
}

// walk lists the included entries of the context and their digests.
func (c *Cache) walk(s Spec) (*walker, error) {
	excludes, err := Excludes(s)
	if err != nil {
		return nil, err
	}
	root, err := contextDir(s)
	if err != nil {
		return nil, err
	}
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, err
	}
	w := &walker{root: root, pm: pm, cache: c, now: time.Now()}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			w.negations = append(w.negations, strings.Split(p.String(), string(filepath.Separator)))
		}
	}
	if _, err := w.walkDir("", patternmatcher.MatchInfo{}, false); err != nil {
		return nil, err
	}
	if err := w.hashContents(); err != nil {
		return nil, err
	}
	sort.Slice(w.entries, func(i, j int) bool { return w.entries[i].rel < w.entries[j].rel })
	return w, nil
}

type walker struct {
	root      string
	pm        *patternmatcher.PatternMatcher
	negations [][]string // the "!" patterns, split into segments
	cache     *Cache
	now       time.Time
	entries   []*entry
	toHash    []*entry
}

// walkDir walks the directory rel (whose own match state is info) and
// reports whether it included anything inside it. excluded tells whether
// the directory itself is excluded, in which case permission errors are
// ignored as BuildKit does.
func (w *walker) walkDir(rel string, info patternmatcher.MatchInfo, excluded bool) (bool, error) {
	if testHookReadDir != nil {
		testHookReadDir(rel)
	}
	abs := filepath.Join(w.root, filepath.FromSlash(rel))
	f, err := os.Open(abs)
	if err == nil {
		var des []os.DirEntry
		des, err = f.ReadDir(-1)
		f.Close()
		if err == nil {
			return w.walkEntries(rel, abs, des, info)
		}
	}
	if excluded && errors.Is(err, fs.ErrPermission) {
		return false, nil
	}
	if errors.Is(err, fs.ErrNotExist) && rel != "" {
		return false, nil // removed while walking
	}
	return false, err
}

func (w *walker) walkEntries(rel, abs string, des []os.DirEntry, info patternmatcher.MatchInfo) (bool, error) {
	included := false
	for _, de := range des {
		name := de.Name()
		if name == ".git" {
			// Excluded by the trailing **/.git patterns whatever comes
			// before them: never walked.
			continue
		}
		crel := name
		if rel != "" {
			crel = rel + "/" + name
		}
		excluded, cinfo, err := w.pm.MatchesUsingParentResults(crel, info)
		if err != nil {
			return false, err
		}
		cabs := filepath.Join(abs, name)
		if de.IsDir() {
			if excluded && !w.mayReinclude(crel) {
				continue
			}
			inner, err := w.walkDir(crel, cinfo, excluded)
			if err != nil {
				return false, err
			}
			if !excluded || inner {
				// An excluded directory is still sent when something
				// inside it is (as fsutil does).
				w.entries = append(w.entries, &entry{rel: crel, kind: kindDir})
				included = true
			}
			continue
		}
		if excluded {
			continue
		}
		fi, err := os.Lstat(cabs)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return false, err
		}
		e := &entry{rel: crel}
		switch m := fi.Mode(); {
		case m.IsRegular():
			e.kind = kindFile
			e.exec = m.Perm()&0o111 != 0
			e.size = fi.Size()
			e.key = keyOf(cabs, fi)
			if !w.cache.lookup(e) {
				w.toHash = append(w.toHash, e)
			}
		case m&fs.ModeSymlink != 0:
			e.kind = kindSymlink
			if e.target, err = os.Readlink(cabs); err != nil {
				return false, err
			}
			e.target = filepath.ToSlash(e.target)
		case m.IsDir():
			// Replaced by a directory since ReadDir: walk it as one.
			if _, err := w.walkDir(crel, cinfo, false); err != nil {
				return false, err
			}
			e.kind = kindDir
		default:
			e.kind = kindOther
			e.mode = m
		}
		w.entries = append(w.entries, e)
		included = true
	}
	return included, nil
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
	f, err := os.Open(filepath.Join(w.root, filepath.FromSlash(e.rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return err
	}
	if n != e.size {
		return errorf("%s changed while being hashed", e.rel)
	}
	h.Sum(e.digest[:0])
	if w.cache != nil {
		w.cache.reads.Add(1)
		if w.now.Sub(time.Unix(0, e.key.mtime)) > racyWindow {
			w.cache.store(e)
		}
	}
	return nil
}
