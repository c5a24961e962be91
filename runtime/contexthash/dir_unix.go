//go:build linux || darwin

package contexthash

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func (d *dirHandle) dirfd() int {
	if d.fd < 0 {
		d.fd = int(d.f.Fd())
	}
	return d.fd
}

func (d *dirHandle) lstat(name string) (statResult, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.dirfd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return statResult{}, &os.PathError{Op: "lstat", Path: filepath.Join(d.abs, name), Err: err}
	}
	var m fs.FileMode
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		m = fs.ModeDir
	case unix.S_IFLNK:
		m = fs.ModeSymlink
	case unix.S_IFIFO:
		m = fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m = fs.ModeSocket
	case unix.S_IFCHR:
		m = fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m = fs.ModeDevice
	default:
		m = fs.ModeIrregular
	}
	return statResult{
		kind: kindOf(m),
		exec: st.Mode&0o111 != 0,
		mode: m,
		key: fileKey{
			size:  st.Size,
			mtime: st.Mtim.Nano(),
			ino:   uint64(st.Ino),
			mode:  uint32(st.Mode),
		},
	}, nil
}

func (d *dirHandle) readlink(name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(d.dirfd(), name, buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: filepath.Join(d.abs, name), Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
