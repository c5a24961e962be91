//go:build unix

package filewatch

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// dirHandle is an open directory, to stat its entries without resolving their paths again.
type dirHandle struct {
	f   *os.File
	fd  int
	ino uint64
}

// openDir opens the directory p and lists it (in no particular order).
func openDir(p string) (*dirHandle, []fs.DirEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	h := &dirHandle{f: f, fd: int(f.Fd())}
	var st unix.Stat_t
	if err := unix.Fstat(h.fd, &st); err != nil {
		f.Close()
		return nil, nil, &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	h.ino = st.Ino
	ents, err := f.ReadDir(-1)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return h, ents, nil
}

func (h *dirHandle) close() { h.f.Close() }

// stat returns the state of the entry name, without following a symlink.
func (h *dirHandle) stat(name string) (entry, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(h.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return entry{}, &os.PathError{Op: "lstat", Path: join(h.f.Name(), name), Err: err}
	}
	return entryOf(&st), nil
}

// lstatPath returns the state of p, without following a symlink.
func lstatPath(p string) (entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return entry{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	return entryOf(&st), nil
}

// inode returns the inode number of p, following a symlink.
func inode(p string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func entryOf(st *unix.Stat_t) entry {
	e := entry{size: st.Size, mode: uint32(st.Mode)}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
		e.kind = kindFile
	case unix.S_IFDIR:
		// A directory's times change with its entries, which are recorded on their own.
		e.kind = kindDir
		e.size = 0
		e.fp = mix(uint64(st.Mode), 0, 0, 0)
		return e
	default:
		e.kind = kindOther
	}
	e.mtime = st.Mtim.Nano()
	e.fp = mix(uint64(st.Mode), uint64(e.mtime), uint64(st.Ctim.Nano()), st.Ino)
	return e
}
