package contexthash

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveIsPrivate: the cache names the user's project files, so Save writes it 0600 in a
// directory it creates 0700, and replaces an older, looser file rather than rewriting it.
func TestSaveIsPrivate(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	cacheDir := filepath.Join(t.TempDir(), "kiln")
	c, err := Open(cacheDir)
	must(t, err)
	hashOf(t, c, Spec{Dir: dir})
	must(t, c.Save())
	for path, want := range map[string]os.FileMode{cacheDir: 0o700, filepath.Join(cacheDir, CacheFile): 0o600} {
		fi, err := os.Stat(path)
		must(t, err)
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	must(t, os.Chmod(filepath.Join(cacheDir, CacheFile), 0o644))
	hashOf(t, c, Spec{Dir: dir})
	must(t, c.Save())
	if fi, _ := os.Stat(filepath.Join(cacheDir, CacheFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("a rewritten 0644 cache file kept mode %o", fi.Mode().Perm())
	}
}
