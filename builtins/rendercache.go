package builtins

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// renderCache remembers helm() and kustomize() output between evaluations. An entry holds the
// output and the stat of every file the render read, and of their directories (a directory's
// mtime changes when a file is added or removed). The entry is used only while every stat still
// matches, so an unchanged chart or kustomization costs a few lstat calls instead of a render.
type renderCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]*renderEntry
	dirty   bool
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

func openRenderCache(dir string) *renderCache {
	c := &renderCache{entries: map[string]*renderEntry{}}
	if dir == "" {
		return c
	}
	c.path = filepath.Join(dir, "render.gob")
	if data, err := os.ReadFile(c.path); err == nil {
		_ = gob.NewDecoder(bytes.NewReader(data)).Decode(&c.entries) // a bad cache is an empty one
	}
	return c
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
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e == nil {
		return nil, nil, false
	}
	for _, want := range e.Stats {
		if got, _ := statFile(want.Path); got != want {
			return nil, nil, false
		}
	}
	return e.Output, e.Files, true
}

// put stores a render's output with the stat of its inputs.
func (c *renderCache) put(key string, output []byte, files []string, roots ...string) {
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
	c.mu.Lock()
	c.entries[key] = e
	c.dirty = true
	c.mu.Unlock()
}

// save writes the cache atomically if it changed.
func (c *renderCache) save() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c.entries); err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return
	}
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, buf.Bytes(), 0o644) == nil {
		_ = os.Rename(tmp, c.path)
	}
}
