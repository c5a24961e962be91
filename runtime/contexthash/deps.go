package contexthash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kiln-dev/kiln/internal/safefile"
)

// Deps is the digest of a custom_build's deps: each file's bytes and each directory's
// context hash (with ignore applied), under its path relative to root ('/'-separated). It
// also returns how many files that covers and the newest mtime among them, so that a check
// after the build (VerifyDeps) can see an edit made since.
func (c *Cache) Deps(root string, deps, ignore []string) (digest string, files int, newest time.Time, err error) {
	digest, paths, newest, err := c.DepFiles(root, deps, ignore)
	return digest, len(paths), newest, err
}

// DepFiles is Deps, with the absolute paths of the files it covers instead of their number
// (for Touch).
func (c *Cache) DepFiles(root string, deps, ignore []string) (digest string, files []string, newest time.Time, err error) {
	h := sha256.New()
	for _, dep := range deps {
		rel, rerr := filepath.Rel(root, dep)
		if rerr != nil {
			rel = dep
		}
		rel = filepath.ToSlash(rel)
		st, err := os.Stat(dep)
		if err != nil {
			return "", nil, newest, fmt.Errorf("custom_build dep %s: %v", rel, err)
		}
		if st.IsDir() {
			w, err := c.walk(Spec{Dir: dep, Ignore: ignore})
			if err != nil {
				return "", nil, newest, err
			}
			d, list := w.digest()
			for _, f := range list {
				files = append(files, filepath.Join(dep, filepath.FromSlash(f)))
			}
			for _, e := range w.entries {
				if e.kind == kindFile && e.key.mtime > newest.UnixNano() {
					newest = time.Unix(0, e.key.mtime)
				}
			}
			fmt.Fprintf(h, "%s %s\n", rel, d)
			continue
		}
		sum, err := fileDigest(dep)
		if err != nil {
			return "", nil, newest, fmt.Errorf("custom_build dep %s: %v", rel, err)
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
		files = append(files, dep)
		fmt.Fprintf(h, "%s %x\n", rel, sum)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files, newest, nil
}

// VerifyDeps is Verify for a custom_build's deps (see Deps).
func (c *Cache) VerifyDeps(root string, deps, ignore []string, want string, since time.Time) error {
	got, _, newest, err := c.Deps(root, deps, ignore)
	if err != nil {
		return err
	}
	if !since.IsZero() && !newest.Before(since.Add(-MtimeSlack)) {
		return &ChangedError{Why: fmt.Sprintf("a dep was modified at %s, after the deps were hashed", newest.Format("15:04:05.000"))}
	}
	if got != want {
		return &ChangedError{Why: fmt.Sprintf("the deps' content changed since they were hashed (%s, now %s)", short(want), short(got))}
	}
	return nil
}

// fileDigest is the SHA-256 of a regular file's bytes, streamed: a dep may be a large
// binary. A FIFO or device is refused instead of read forever.
func fileDigest(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, _, err := safefile.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}
