//go:build !(linux || darwin)

package contexthash

import (
	"os"
	"path/filepath"
)

func (d *dirHandle) lstat(name string) (statResult, error) {
	fi, err := os.Lstat(filepath.Join(d.abs, name))
	if err != nil {
		return statResult{}, err
	}
	m := fi.Mode()
	return statResult{
		kind: kindOf(m),
		exec: m.Perm()&0o111 != 0,
		mode: m.Type(),
		// No inode here: the cache relies on path, size, mtime and mode.
		key: fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: uint32(m)},
	}, nil
}

func (d *dirHandle) readlink(name string) (string, error) {
	return os.Readlink(filepath.Join(d.abs, name))
}
