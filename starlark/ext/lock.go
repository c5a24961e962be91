package ext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
)

// LockFile is the lock's name, beside the project file.
const LockFile = "kiln.lock"

const lockVersion = 1

// maxLockSize bounds the lock read.
const maxLockSize = 4 << 20

// Lock is kiln.lock: JSON, keys sorted, two-space indented, one trailing newline.
type Lock struct {
	Version    int                         `json:"version"`
	Repos      []*LockedRepo               `json:"repos"`
	Extensions map[string]*LockedExtension `json:"extensions"`
}

// LockedRepo pins a repo's requested ref to a commit ("" for a local directory).
type LockedRepo struct {
	URL    string `json:"url"`
	Ref    string `json:"ref"`
	Commit string `json:"commit"`
}

// LockedExtension is one load name: where it comes from, the h1: hash of its directory
// (golang.org/x/mod/sumdb/dirhash Hash1, as go.sum), and the extensions it loads.
type LockedExtension struct {
	Repo    string   `json:"repo"`
	Ref     string   `json:"ref"`
	Subpath string   `json:"git_subpath,omitempty"`
	Path    string   `json:"path"`
	Hash    string   `json:"hash"`
	Loads   []string `json:"loads,omitempty"`
}

// LockPath is the lock of the project in dir.
func LockPath(dir string) string { return filepath.Join(dir, LockFile) }

// ReadLock reads the lock at path; a missing lock is an empty one.
func ReadLock(path string) (*Lock, error) {
	l := &Lock{Version: lockVersion, Extensions: map[string]*LockedExtension{}}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxLockSize {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes; delete it and run `kiln ext update`", path, maxLockSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("%s is not a valid kiln.lock: %v; fix it or delete it and run `kiln ext update`", path, err)
	}
	if l.Version != lockVersion {
		return nil, fmt.Errorf("%s: version %d, kiln knows version %d; delete it and run `kiln ext update`", path, l.Version, lockVersion)
	}
	if l.Extensions == nil {
		l.Extensions = map[string]*LockedExtension{}
	}
	return l, nil
}

// Bytes is the lock's canonical encoding.
func (l *Lock) Bytes() []byte {
	c := l.clone()
	c.prune()
	sort.Slice(c.Repos, func(i, j int) bool {
		if c.Repos[i].URL != c.Repos[j].URL {
			return c.Repos[i].URL < c.Repos[j].URL
		}
		return c.Repos[i].Ref < c.Repos[j].Ref
	})
	if c.Repos == nil {
		c.Repos = []*LockedRepo{}
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	return append(data, '\n')
}

// Write writes the lock atomically.
func (l *Lock) Write(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kiln.lock.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(l.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (l *Lock) clone() *Lock {
	c := &Lock{Version: l.Version, Extensions: map[string]*LockedExtension{}}
	for _, r := range l.Repos {
		rc := *r
		c.Repos = append(c.Repos, &rc)
	}
	for k, e := range l.Extensions {
		ec := *e
		ec.Loads = append([]string(nil), e.Loads...)
		c.Extensions[k] = &ec
	}
	return c
}

func (l *Lock) repo(url, ref string) *LockedRepo {
	for _, r := range l.Repos {
		if r.URL == url && r.Ref == ref {
			return r
		}
	}
	return nil
}

func (l *Lock) setRepo(url, ref, commit string) {
	if r := l.repo(url, ref); r != nil {
		r.Commit = commit
		return
	}
	l.Repos = append(l.Repos, &LockedRepo{URL: url, Ref: ref, Commit: commit})
}

// prune drops repos no extension uses.
func (l *Lock) prune() {
	used := map[[2]string]bool{}
	for _, e := range l.Extensions {
		used[[2]string{e.Repo, e.Ref}] = true
	}
	kept := l.Repos[:0]
	for _, r := range l.Repos {
		if used[[2]string{r.URL, r.Ref}] {
			kept = append(kept, r)
		}
	}
	l.Repos = kept
}

func (l *Lock) names() []string {
	out := make([]string, 0, len(l.Extensions))
	for n := range l.Extensions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (l *Lock) equal(o *Lock) bool { return bytes.Equal(l.Bytes(), o.Bytes()) }

// describe says what changes from old to next, for the frozen error.
func describe(old, next *Lock) string {
	var parts []string
	for _, n := range next.names() {
		o, ok := old.Extensions[n]
		switch {
		case !ok:
			parts = append(parts, "adds ext://"+n)
		case o.Hash != next.Extensions[n].Hash:
			parts = append(parts, fmt.Sprintf("ext://%s goes from %s to %s", n, o.Hash, next.Extensions[n].Hash))
		case o.Repo != next.Extensions[n].Repo || o.Ref != next.Extensions[n].Ref || o.Path != next.Extensions[n].Path:
			parts = append(parts, "ext://"+n+" moves to "+next.Extensions[n].Repo)
		case strings.Join(o.Loads, ",") != strings.Join(next.Extensions[n].Loads, ","):
			parts = append(parts, "ext://"+n+" loads other extensions")
		}
	}
	for _, r := range next.Repos {
		if o := old.repo(r.URL, r.Ref); o != nil && o.Commit != r.Commit {
			parts = append(parts, fmt.Sprintf("%s moves from %.12s to %.12s", r.URL, o.Commit, r.Commit))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "its format")
	}
	return strings.Join(parts, "; ")
}

// HashDir is the h1: hash of the files under dir, as go.sum hashes a module.
func HashDir(dir string) (string, error) {
	return dirhash.HashDir(dir, "", dirhash.Hash1)
}
