package cachefile

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrivateDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("new directory has mode %o, want 700", m)
	}
	loose := filepath.Join(root, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(loose); err != nil || mode(t, loose) != 0o700 {
		t.Errorf("a 0755 directory: err %v, mode %o; want it tightened to 700", err, mode(t, loose))
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(loose, link); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(link); err == nil {
		t.Error("a symbolic link was accepted as a cache directory")
	}
}

// TestWriteAtomic: the file is replaced, not rewritten in place (a reader holding the old one
// still reads it whole), it is 0600 even where a 0644 file was, a symbolic link planted at a
// predictable temporary name is not followed, and no temporary file is left.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	for _, name := range []string{"cache.tmp", "cache.tmp-1"} {
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := WriteAtomic(path, []byte("new contents")); err != nil {
		t.Fatal(err)
	}
	if data, _ := io.ReadAll(old); string(data) != "old contents" {
		t.Errorf("the old file was changed in place: %q", data)
	}
	if data, _ := os.ReadFile(path); string(data) != "new contents" {
		t.Errorf("new contents: %q", data)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode %o, want 600", m)
	}
	if _, err := os.Lstat(victim); !os.IsNotExist(err) {
		t.Error("a planted symbolic link was followed")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if IsTemp(e.Name()) && e.Type()&os.ModeSymlink == 0 {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
