package ext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Bounds on one checkout: bad or hostile repos fail instead of filling the disk.
const (
	maxFiles     = 20000
	maxTotalSize = 256 << 20
)

// repoKey is a repo URL as a relative path ("github.com/tilt-dev/tilt-extensions"), the layout
// Tilt uses under tilt_modules/. "" when the URL has no host.
func repoKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	p := path.Clean("/" + strings.TrimSuffix(u.Path, ".git"))
	return u.Host + p
}

// checkoutDir is where the tree of url at commit lives in the cache: under a directory named
// tilt_modules, which some extensions look for above themselves.
func (r *Resolver) checkoutDir(url, commit string) string {
	key := repoKey(url)
	if key == "" || strings.HasPrefix(url, "file://") {
		sum := sha256.Sum256([]byte(url))
		key = "local/" + hex.EncodeToString(sum[:8])
	}
	return filepath.Join(r.opts.CacheDir, "ext", "tilt_modules", filepath.FromSlash(key), commit)
}

// fetch fetches url with go-git, resolves ref (or, when set, the locked commit) and writes that
// commit's tree into the cache. It returns the commit and the tree's directory.
func (r *Resolver) fetch(ctx context.Context, rawURL, ref, commit string) (string, string, error) {
	fetchURL := r.insteadOf(rawURL)
	var repo *git.Repository
	var err error
	if p, ok := strings.CutPrefix(fetchURL, "file://"); ok {
		// A local repository is read in place.
		repo, err = git.PlainOpen(p)
	} else {
		repo, err = git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: fetchURL, Tags: git.AllTags})
	}
	if err != nil {
		if fetchURL != rawURL {
			return "", "", fmt.Errorf("%v (fetched as %s, through url.insteadOf in your git config)", err, fetchURL)
		}
		return "", "", err
	}
	var hash plumbing.Hash
	if commit != "" {
		hash = plumbing.NewHash(commit)
	} else {
		h, err := resolveRef(repo, ref)
		if err != nil {
			return "", "", err
		}
		hash = h
	}
	c, err := repo.CommitObject(hash)
	if err != nil {
		return "", "", fmt.Errorf("commit %s: %v", hash, err)
	}
	dir := r.checkoutDir(rawURL, hash.String())
	if exists(dir) {
		return hash.String(), dir, nil
	}
	tree, err := c.Tree()
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-*")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	if err := writeTree(ctx, tree, tmp); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !exists(dir) {
		return "", "", err
	}
	return hash.String(), dir, nil
}

func resolveRef(repo *git.Repository, ref string) (plumbing.Hash, error) {
	if ref == "" {
		h, err := repo.ResolveRevision(plumbing.Revision("HEAD"))
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("the repo has no HEAD: %v", err)
		}
		return *h, nil
	}
	for _, cand := range []string{"refs/tags/" + ref, "refs/remotes/origin/" + ref, "refs/heads/" + ref, ref} {
		if h, err := repo.ResolveRevision(plumbing.Revision(cand)); err == nil {
			if tag, err := repo.TagObject(*h); err == nil {
				if c, err := tag.Commit(); err == nil {
					return c.Hash, nil
				}
			}
			return *h, nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("ref %q is neither a branch, a tag nor a commit of the repo", ref)
}

// writeTree writes the regular files of tree under dir, bounded in count and size.
func writeTree(ctx context.Context, tree *object.Tree, dir string) error {
	files, total := 0, int64(0)
	return tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable {
			return nil // symlinks and submodules are left out
		}
		files++
		total += f.Size
		if files > maxFiles || total > maxTotalSize {
			return fmt.Errorf("the repo is larger than %d files or %d MB; point extension_repo() at a smaller repo or git_subpath", maxFiles, maxTotalSize>>20)
		}
		clean := path.Clean(f.Name)
		if strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
			return nil
		}
		p := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		mode := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, io.LimitReader(rd, f.Size)); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// insteadOf rewrites raw with the longest matching url.<base>.insteadOf of the user's git
// config (~/.gitconfig, then $XDG_CONFIG_HOME/git/config), as git does.
func (r *Resolver) insteadOf(raw string) string {
	best, bestBase := "", ""
	for _, p := range r.gitConfigFiles() {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		cfg := gitconfig.New()
		err = gitconfig.NewDecoder(io.LimitReader(f, 1<<20)).Decode(cfg)
		f.Close()
		if err != nil {
			continue
		}
		for _, sec := range cfg.Sections {
			if !strings.EqualFold(sec.Name, "url") {
				continue
			}
			for _, sub := range sec.Subsections {
				for _, o := range sub.Options {
					if strings.EqualFold(o.Key, "insteadOf") && o.Value != "" && strings.HasPrefix(raw, o.Value) && len(o.Value) > len(best) {
						best, bestBase = o.Value, sub.Name
					}
				}
			}
		}
	}
	if best == "" {
		return raw
	}
	return bestBase + strings.TrimPrefix(raw, best)
}

func (r *Resolver) gitConfigFiles() []string {
	var out []string
	if home := r.opts.Getenv("HOME"); home != "" {
		out = append(out, filepath.Join(home, ".gitconfig"))
	}
	xdg := r.opts.Getenv("XDG_CONFIG_HOME")
	if xdg == "" {
		if home := r.opts.Getenv("HOME"); home != "" {
			xdg = filepath.Join(home, ".config")
		}
	}
	if xdg != "" {
		out = append(out, filepath.Join(xdg, "git", "config"))
	}
	return out
}
