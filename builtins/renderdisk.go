package builtins

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kiln-dev/kiln/internal/cachefile"
)

// renderCacheVersion names the entry format. Entries live in CACHE/render/VERSION/, so a
// format change starts from an empty directory instead of decoding another format's bytes;
// the directories of other versions are removed.
const renderCacheVersion = "v2"

// renderMagic starts every entry file: a file without it (torn, or written by something else)
// is a miss, and is removed.
const renderMagic = "kiln render cache " + renderCacheVersion + "\n"

// The entry directory holds at most this many entries and bytes; beyond, the least recently
// used go. A render is a few kB to a few MB of YAML.
const (
	defaultMaxRenderEntries = 256
	defaultMaxRenderBytes   = 64 << 20
)

// openRenderCache opens the render cache under cacheDir, kiln's cache directory ("" for a
// cache in memory only). A directory that cannot be made private gives a memory-only cache.
func openRenderCache(cacheDir string) *renderCache {
	c := &renderCache{entries: map[string]*renderEntry{}, maxEntries: defaultMaxRenderEntries, maxBytes: defaultMaxRenderBytes}
	if cacheDir == "" {
		return c
	}
	// Before v2 the cache was one world-readable file, Secrets and set= values included.
	os.Remove(filepath.Join(cacheDir, "render.gob"))
	os.Remove(filepath.Join(cacheDir, "render.gob.tmp"))
	root := filepath.Join(cacheDir, "render")
	dir := filepath.Join(root, renderCacheVersion)
	if cachefile.PrivateDir(root) != nil || cachefile.PrivateDir(dir) != nil {
		return c
	}
	if others, err := os.ReadDir(root); err == nil {
		for _, o := range others {
			if o.Name() != renderCacheVersion {
				os.RemoveAll(filepath.Join(root, o.Name()))
			}
		}
	}
	c.dir = dir
	return c
}

// load reads the entry named h from disk, or returns nil.
func (c *renderCache) load(h string) *renderEntry {
	if c.dir == "" {
		return nil
	}
	path := filepath.Join(c.dir, h)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	e := &renderEntry{}
	if !bytes.HasPrefix(data, []byte(renderMagic)) || gob.NewDecoder(bytes.NewReader(data[len(renderMagic):])).Decode(e) != nil {
		os.Remove(path)
		return nil
	}
	return e
}

// store writes an entry to disk. A failure only costs a render next time.
func (c *renderCache) store(h string, e *renderEntry) {
	if c.dir == "" {
		return
	}
	var buf bytes.Buffer
	buf.WriteString(renderMagic)
	if gob.NewEncoder(&buf).Encode(e) != nil {
		return
	}
	_ = cachefile.WriteAtomic(filepath.Join(c.dir, h), buf.Bytes())
}

// touch marks an entry used now: eviction goes by modification time.
func (c *renderCache) touch(h string) {
	if c.dir != "" {
		now := time.Now()
		_ = os.Chtimes(filepath.Join(c.dir, h), now, now)
	}
}

// save ends an evaluation's use of the cache: it evicts the least recently used entries
// beyond the bounds, and temporary files a crash left.
func (c *renderCache) save() {
	if c.dir == "" {
		return
	}
	list, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	for _, d := range list {
		fi, err := d.Info()
		if err != nil {
			continue
		}
		if cachefile.IsTemp(d.Name()) {
			if time.Since(fi.ModTime()) > time.Hour { // not another kiln's write in progress
				os.Remove(filepath.Join(c.dir, d.Name()))
			}
			continue
		}
		files = append(files, file{d.Name(), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].used.Equal(files[j].used) {
			return files[i].used.Before(files[j].used)
		}
		return files[i].name < files[j].name
	})
	for len(files) > c.maxEntries || total > c.maxBytes {
		os.Remove(filepath.Join(c.dir, files[0].name))
		total -= files[0].size
		files = files[1:]
	}
}
