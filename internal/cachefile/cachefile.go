// Package cachefile writes kiln's cache files: readable by their owner only, and replaced
// atomically, so that a reader sees the old file or the new one, never a mix, and no other
// user can read (or plant) what kiln caches.
package cachefile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// PrivateDir makes dir (and any missing parent) a directory only its owner can use (0700).
// A dir that already exists must be a real directory owned by this user; one whose mode lets
// others in is tightened. Use it for directories kiln names itself, never for one a user
// chose (that could be /tmp).
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("cache directory %s belongs to another user", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// WriteAtomic replaces path with data, mode 0600. It writes a temporary file with a random
// name in the same directory (created 0700 if missing) and renames it over path: a fixed
// temporary name could be raced, or be a symbolic link someone planted.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*") // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// IsTemp reports whether name is a temporary file WriteAtomic left behind (a crash between
// create and rename), so that a cache can clear them.
func IsTemp(name string) bool {
	matched, _ := filepath.Match("*.tmp-*", name)
	return matched
}
