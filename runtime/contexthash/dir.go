package contexthash

import (
	"io/fs"
	"os"
)

// dirHandle is an open directory whose entries are stat'ed relative to it
// where the platform allows (one path component to resolve, not all).
type dirHandle struct {
	f   *os.File
	abs string
	fd  int // -1 until needed
}

func openDir(abs string) (*dirHandle, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	return &dirHandle{f: f, abs: abs, fd: -1}, nil
}

func (d *dirHandle) close() { d.f.Close() }

// statResult is what the hash needs from lstat.
type statResult struct {
	kind byte
	exec bool
	mode fs.FileMode // type bits
	key  fileKey     // path left empty
}

func kindOf(m fs.FileMode) byte {
	switch {
	case m.IsRegular():
		return kindFile
	case m.IsDir():
		return kindDir
	case m&fs.ModeSymlink != 0:
		return kindSymlink
	default:
		return kindOther
	}
}
