package contexthash

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/kiln-dev/kiln/internal/cachefile"
)

// fileKey identifies a file's content by its stat data.
type fileKey struct {
	path  string // absolute
	size  int64
	mtime int64 // ns since the epoch
	ino   uint64
	mode  uint32
}

type cacheEntry struct {
	size, mtime int64
	ino         uint64
	mode        uint32
	digest      [32]byte
	seen        bool // looked up or stored since the last Save
}

// Cache maps a file's (absolute path, size, mtime, inode, mode) to the
// digest of its content, so that unchanged files are not read again. It is
// safe for concurrent use. A nil *Cache is valid and caches nothing.
type Cache struct {
	file    string // "" for a memory-only cache
	mu      sync.Mutex
	entries map[string]*cacheEntry
	reads   atomic.Int64 // files read, for tests and diagnostics
	// dirty is set when an entry was added or changed since Open or the last Save: an
	// evaluation that hashed nothing new does not rewrite the file.
	dirty bool
}

// CacheFile is the name of the cache file inside the directory given to Open.
const CacheFile = "contexthash.v1"

const cacheMagic = "kiln contexthash cache v1\n"

// DefaultDir returns the directory kiln keeps its caches in:
// $XDG_CACHE_HOME/kiln, or ~/.cache/kiln.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kiln"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "kiln"), nil
}

// Open returns the cache persisted in dir (kiln uses $XDG_CACHE_HOME/kiln or
// ~/.cache/kiln), or an empty one if there is none or it is unreadable. The
// directory is created by Save. An empty dir gives a memory-only cache.
func Open(dir string) (*Cache, error) {
	c := &Cache{entries: map[string]*cacheEntry{}}
	if dir == "" {
		return c, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c.file = filepath.Join(abs, CacheFile)
	data, err := os.ReadFile(c.file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, err
	}
	if entries, err := decodeCache(data); err == nil {
		c.entries = entries
	} // a corrupt or older cache is just a cold one
	return c, nil
}

// Reads returns how many files the cache's Hash calls have read so far.
func (c *Cache) Reads() int64 {
	if c == nil {
		return 0
	}
	return c.reads.Load()
}

// Len returns the number of cached digests.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// lookupAll fills in the digests of the cached files and returns the others.
func (c *Cache) lookupAll(files []*entry) []*entry {
	if c == nil {
		return files
	}
	missing := files[:0:0]
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range files {
		ce, ok := c.entries[e.key.path]
		if !ok || ce.size != e.key.size || ce.mtime != e.key.mtime || ce.ino != e.key.ino || ce.mode != e.key.mode {
			missing = append(missing, e)
			continue
		}
		ce.seen = true
		e.digest = ce.digest
	}
	return missing
}

func (c *Cache) store(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[e.key.path] = &cacheEntry{size: e.key.size, mtime: e.key.mtime, ino: e.key.ino, mode: e.key.mode, digest: e.digest, seen: true}
	c.dirty = true
}

// Touch marks the digests of the files at paths (absolute) as used, so that Save keeps them:
// for a context whose earlier hash was reused without a walk (kiln watch's memo).
func (c *Cache) Touch(paths []string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		if ce := c.entries[p]; ce != nil {
			ce.seen = true
		}
	}
}

// Save writes the cache atomically (temporary file + rename), readable by its owner
// only. Entries not used or added since the previous Save are dropped, which bounds the
// cache to the files of the contexts hashed in between. It is a no-op for a memory-only
// cache.
func (c *Cache) Save() error {
	if c == nil || c.file == "" {
		return nil
	}
	c.mu.Lock()
	for p, ce := range c.entries {
		if !ce.seen {
			delete(c.entries, p)
			c.dirty = true
		}
		ce.seen = false
	}
	if !c.dirty {
		// Nothing new to write, unless the file is missing or looser than it must be.
		if fi, err := os.Stat(c.file); err == nil && fi.Mode().Perm() == 0o600 {
			c.mu.Unlock()
			return nil
		}
	}
	c.dirty = false
	data := encodeCache(c.entries)
	c.mu.Unlock()

	// 0600, in a directory created 0700: the paths name the user's projects.
	return cachefile.WriteAtomic(c.file, data)
}

// The file is cacheMagic, a uvarint count, the entries (uvarint path length,
// path, varint size, varint mtime, uvarint inode, uvarint mode, 32-byte
// digest) and a CRC-32C of everything before it.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encodeCache(entries map[string]*cacheEntry) []byte {
	b := make([]byte, 0, len(cacheMagic)+len(entries)*128)
	b = append(b, cacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for p, ce := range entries {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = binary.AppendVarint(b, ce.size)
		b = binary.AppendVarint(b, ce.mtime)
		b = binary.AppendUvarint(b, ce.ino)
		b = binary.AppendUvarint(b, uint64(ce.mode))
		b = append(b, ce.digest[:]...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

var errCorrupt = errors.New("corrupt cache")

func decodeCache(data []byte) (map[string]*cacheEntry, error) {
	if len(data) < len(cacheMagic)+4 || !bytes.HasPrefix(data, []byte(cacheMagic)) {
		return nil, errCorrupt
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, errCorrupt
	}
	r := bufio.NewReader(bytes.NewReader(body[len(cacheMagic):]))
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(len(body)) {
		return nil, errCorrupt
	}
	entries := make(map[string]*cacheEntry, n)
	for i := uint64(0); i < n; i++ {
		l, err := binary.ReadUvarint(r)
		if err != nil || l > uint64(len(body)) {
			return nil, errCorrupt
		}
		p := make([]byte, l)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, errCorrupt
		}
		ce := &cacheEntry{}
		if ce.size, err = binary.ReadVarint(r); err != nil {
			return nil, errCorrupt
		}
		if ce.mtime, err = binary.ReadVarint(r); err != nil {
			return nil, errCorrupt
		}
		if ce.ino, err = binary.ReadUvarint(r); err != nil {
			return nil, errCorrupt
		}
		mode, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, errCorrupt
		}
		ce.mode = uint32(mode)
		if _, err := io.ReadFull(r, ce.digest[:]); err != nil {
			return nil, errCorrupt
		}
		entries[string(p)] = ce
	}
	return entries, nil
}
