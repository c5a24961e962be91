//go:build !unix

package filewatch

import (
	"io/fs"
	"os"
	"path/filepath"
)

// dirHandle is an open directory.
type dirHandle struct {
	path string
	ino  uint64
}

// openDir lists the directory p.
func openDir(p string) (*dirHandle, []fs.DirEntry, error) {
	ents, err := readDirEntries(p)
	if err != nil {
		return nil, nil, err
	}
	return &dirHandle{path: p}, ents, nil
}

func (h *dirHandle) close() {}

func (h *dirHandle) stat(name string) (entry, error) { return lstatPath(filepath.Join(h.path, name)) }

func lstatPath(p string) (entry, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return entry{}, err
	}
	e := entry{size: fi.Size(), mode: uint32(fi.Mode())}
	switch {
	case fi.Mode().IsRegular():
		e.kind = kindFile
	case fi.IsDir():
		e.kind, e.size = kindDir, 0
		e.fp = mix(uint64(fi.Mode()), 0, 0, 0)
		return e, nil
	default:
		e.kind = kindOther
	}
	e.mtime = fi.ModTime().UnixNano()
	e.fp = mix(uint64(fi.Mode()), uint64(e.mtime), 0, 0)
	return e, nil
}

func inode(p string) (uint64, error) {
	_, err := os.Stat(p)
	return 0, err
}
