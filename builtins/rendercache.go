package builtins

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
)

// renderCache remembers helm() and kustomize() output between evaluations. An entry holds the
// output and the stat of every file the render read, and of their directories (a directory's
// mtime changes when a file is added or removed). The entry is used only while every stat still
// matches, so an unchanged chart or kustomization costs a few lstat calls instead of a render.
//
// What it keeps is private (renderdisk.go): one 0600 file per entry in a 0700 directory, named
// by a hash of the render's arguments, which hold helm set= values. A render that contains a
// Secret is not cached at all: its data would sit on disk in the clear, and a key to encrypt it
// would have to sit beside it. Such charts render on every evaluation.
type renderCache struct {
	dir     string // the entry directory; "" keeps entries in memory only
	mu      sync.Mutex
	entries map[string]*renderEntry // by hashed key: those read or written by this process

	maxEntries int   // eviction bounds on the directory, least recently used first
	maxBytes   int64 // (see evict)
}

type renderEntry struct {
	Output []byte
	Files  []string
	Stats  []fileStat
}

type fileStat struct {
	Path        string
	Size, MTime int64
	Ino         uint64
	Mode        uint32
}

// racyWindow: files changed this recently are not cached; a second change within the
// filesystem's timestamp granularity could leave their stat unchanged.
const racyWindow = 2 * time.Second

// hashKey names an entry: the render's arguments (chart, set= values, flags) never reach the
// disk in the clear.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func statFile(path string) (fileStat, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileStat{Path: path}, false
	}
	st := fileStat{Path: path, Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ino = sys.Ino
	}
	return st, true
}

// get returns the cached output for key if none of its inputs changed.
func (c *renderCache) get(key string) ([]byte, []string, bool) {
	h := hashKey(key)
	c.mu.Lock()
	e := c.entries[h]
	c.mu.Unlock()
	if e == nil {
		if e = c.load(h); e == nil {
			return nil, nil, false
		}
		c.mu.Lock()
		c.entries[h] = e
		c.mu.Unlock()
	}
	for _, want := range e.Stats {
		if got, _ := statFile(want.Path); got != want {
			return nil, nil, false
		}
	}
	c.touch(h)
	return e.Output, e.Files, true
}

// put stores a render's output with the stat of its inputs, unless the output holds a
// Secret or an input changed too recently to trust its stat.
func (c *renderCache) put(key string, output []byte, files []string, roots ...string) {
	if holdsSecret(output) {
		return
	}
	paths := map[string]bool{}
	for _, f := range append(files, roots...) {
		paths[f] = true
		paths[filepath.Dir(f)] = true
	}
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	e := &renderEntry{Output: output, Files: files}
	recent := time.Now().Add(-racyWindow).UnixNano()
	for _, p := range keys {
		st, _ := statFile(p)
		if st.MTime > recent {
			return
		}
		e.Stats = append(e.Stats, st)
	}
	h := hashKey(key)
	c.mu.Lock()
	c.entries[h] = e
	c.mu.Unlock()
	c.store(h, e)
}

// holdsSecret reports whether rendered YAML has a core Secret in it, or cannot be read (and
// so might).
func holdsSecret(output []byte) bool {
	objs, err := k8syaml.DecodeObjects("render", output)
	if err != nil {
		return true
	}
	for _, o := range objs {
		if o.Kind() == "Secret" && o.Group() == "" {
			return true
		}
	}
	return false
}
