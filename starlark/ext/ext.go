// Package ext resolves Tilt-style extensions, load('ext://NAME'): it finds the extension's
// directory (vendored, cached, or fetched with go-git from its extension repo), pins it in
// kiln.lock beside the project file and checks the content against the lock. The Starlark
// host calls it; builtins register repos and extensions with AddRepo and AddExtension.
package ext

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultRepoURL is the repo named "default", as in Tilt.
const DefaultRepoURL = "https://github.com/tilt-dev/tilt-extensions"

// DefaultFetchTimeout bounds one repository fetch.
const DefaultFetchTimeout = 60 * time.Second

// Repo is an extension repo: v1alpha1.extension_repo().
type Repo struct {
	Name, URL, Ref, LoadHost, GitSubpath string
	At                                   string // file:line of the call
}

// Extension is a named extension: v1alpha1.extension().
type Extension struct {
	Name, RepoName, RepoPath string
	Args                     []string
	At                       string
}

// Options configure a Resolver.
type Options struct {
	// ProjectDir holds kiln.lock, kiln_modules/ and tilt_modules/.
	ProjectDir string
	// CacheDir is kiln's cache directory; fetched extensions live under CacheDir/ext/tilt_modules.
	CacheDir string
	// Frozen refuses any change to kiln.lock (CI=true, --frozen).
	Frozen bool
	// Offline refuses any fetch and never writes the lock (kiln down).
	Offline bool
	// Update names the extensions whose lock entries are ignored and re-resolved; All updates every one.
	Update    map[string]bool
	UpdateAll bool
	// Getenv reads KILN_EXTENSION_REPO, TILT_EXTENSION_REPO, HOME, XDG_CONFIG_HOME (nil: os.Getenv).
	Getenv func(string) string
	// FetchTimeout bounds each fetch (0: DefaultFetchTimeout).
	FetchTimeout time.Duration
	// BeforeWrite, if set, sees every changed extension before the lock is written; an error stops the write.
	BeforeWrite func([]Change) error
}

// Change is an extension whose lock entry changes.
type Change struct {
	Name             string
	OldHash, NewHash string
	OldDir, NewDir   string // OldDir "" when the old code is not at hand
}

// Resolver resolves the ext:// loads of one evaluation.
type Resolver struct {
	opts  Options
	mu    sync.Mutex
	repos map[string]*Repo
	exts  map[string]*Extension
	old   *Lock
	next  *Lock
	// dirs are the old code directories of updated extensions, for Change.
	oldDirs map[string]string
	used    map[string]bool
	// loaded are the names a load('ext://…') asked for; order is registration order.
	loaded map[string]bool
	order  []string
}

// New returns a resolver for opts, reading kiln.lock when there is one.
func New(opts Options) (*Resolver, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	old, err := ReadLock(LockPath(opts.ProjectDir))
	if err != nil {
		return nil, err
	}
	r := &Resolver{opts: opts, repos: map[string]*Repo{}, exts: map[string]*Extension{}, old: old,
		next: old.clone(), oldDirs: map[string]string{}, used: map[string]bool{}, loaded: map[string]bool{}}
	if opts.UpdateAll {
		r.next = &Lock{Version: lockVersion}
	}
	r.repos["default"] = &Repo{Name: "default", URL: DefaultRepoURL}
	return r, nil
}

// AddRepo registers an extension repo; a later call with the same name replaces it, as in Tilt.
func (r *Resolver) AddRepo(repo Repo) error {
	if repo.Name == "" {
		return errors.New("extension_repo: name is empty")
	}
	if repo.URL == "" {
		return fmt.Errorf("extension_repo(%q): url is empty; give a git URL (https://, file://) or a directory", repo.Name)
	}
	if strings.Contains(repo.LoadHost, "/") {
		return fmt.Errorf("extension_repo(%q): load_host %q must be a host name without '/'", repo.Name, repo.LoadHost)
	}
	if err := cleanSubpath(repo.GitSubpath); err != nil {
		return fmt.Errorf("extension_repo(%q): git_subpath: %v", repo.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repos[repo.Name] = &repo
	return nil
}

// AddExtension registers a named extension.
func (r *Resolver) AddExtension(e Extension) error {
	if e.Name == "" || e.RepoName == "" {
		return errors.New("extension: name and repo_name are required")
	}
	if e.RepoPath == "" {
		e.RepoPath = e.Name
	}
	if err := cleanSubpath(e.RepoPath); err != nil {
		return fmt.Errorf("extension(%q): repo_path: %v", e.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.exts[e.Name]; !seen {
		r.order = append(r.order, e.Name)
	}
	r.exts[e.Name] = &e
	return nil
}

func cleanSubpath(p string) error {
	if p == "" {
		return nil
	}
	c := path.Clean(p)
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q must be a relative path inside the repo", p)
	}
	return nil
}

// target is where a load name points: a repo, a path in it.
type target struct {
	repo *Repo
	path string
}

func (r *Resolver) target(name string) (target, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.exts[name]; ok {
		repo, ok := r.repos[e.RepoName]
		if !ok {
			return target{}, fmt.Errorf("extension %q (%s) names repo %q, which no v1alpha1.extension_repo() registers before this load()", name, e.At, e.RepoName)
		}
		return target{repo: r.effective(repo), path: e.RepoPath}, nil
	}
	if host, rest, ok := strings.Cut(name, "/"); ok {
		names := make([]string, 0, len(r.repos))
		for n := range r.repos {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if repo := r.repos[n]; repo.LoadHost != "" && repo.LoadHost == host {
				return target{repo: r.effective(repo), path: rest}, nil
			}
		}
	}
	return target{repo: r.effective(r.repos["default"]), path: name}, nil
}

// Upstream reports whether ext://name comes from Tilt's own extension repo: the default repo,
// not re-pointed by v1alpha1.extension_repo() or KILN_EXTENSION_REPO, and no
// v1alpha1.extension() sending the name elsewhere. Only those names can be answered by
// kiln's native versions of the same extensions.
func (r *Resolver) Upstream(name string) bool {
	t, err := r.target(name)
	return err == nil && t.repo != nil && strings.TrimSuffix(t.repo.URL, ".git") == DefaultRepoURL && t.repo.GitSubpath == ""
}

// Unloaded are the v1alpha1.extension() registrations that no load('ext://…') used, in the
// order they were made. Tilt runs each of those as a Tiltfile of its own, with its args.
func (r *Resolver) Unloaded() []Extension {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Extension
	for _, name := range r.order {
		if !r.loaded[name] {
			out = append(out, *r.exts[name])
		}
	}
	return out
}

// effective applies KILN_EXTENSION_REPO / TILT_EXTENSION_REPO to the default repo.
func (r *Resolver) effective(repo *Repo) *Repo {
	if repo.Name != "default" {
		return repo
	}
	for _, env := range []string{"KILN_EXTENSION_REPO", "TILT_EXTENSION_REPO"} {
		if v := r.opts.Getenv(env); v != "" {
			c := *repo
			c.URL, c.Ref, c.GitSubpath = v, "", ""
			return &c
		}
	}
	return repo
}

// Resolve returns the Tiltfile of the extension name (what follows ext://). loader is the load
// name of the extension doing the load ("" for a project file); at is the load()'s file:line.
func (r *Resolver) Resolve(ctx context.Context, name, loader, at string) (string, error) {
	if err := cleanSubpath(name); err != nil || name == "" || name == "." {
		return "", fmt.Errorf("ext://%s: an extension name is a relative path (ext://NAME or ext://HOST/PATH)", name)
	}
	r.noteLoad(loader, name)
	r.mu.Lock()
	r.loaded[name] = true
	r.mu.Unlock()
	for _, base := range []string{"kiln_modules", "tilt_modules"} {
		dir := filepath.Join(r.opts.ProjectDir, base, filepath.FromSlash(name))
		if f := tiltfileIn(dir); f != "" {
			if base == "kiln_modules" {
				if err := r.checkVendored(name, dir); err != nil {
					return "", err
				}
			}
			return f, nil
		}
	}
	t, err := r.target(name)
	if err != nil {
		return "", err
	}
	// Tilt's own committed layout: tilt_modules/<repo host/path>/<path>.
	if key := repoKey(t.repo.URL); key != "" {
		if f := tiltfileIn(filepath.Join(r.opts.ProjectDir, "tilt_modules", filepath.FromSlash(key), filepath.FromSlash(t.path))); f != "" {
			return f, nil
		}
	}
	dir, err := r.locate(ctx, name, t, at)
	if err != nil {
		return "", err
	}
	f := tiltfileIn(dir)
	if f == "" {
		return "", fmt.Errorf("ext://%s: %s has no Tiltfile (repo %s, path %s); check the extension's name, or its v1alpha1.extension(repo_path=)", name, dir, t.repo.URL, t.path)
	}
	return f, nil
}

// checkVendored holds a copy under kiln_modules/ (what `kiln ext vendor` wrote) to the hash
// kiln.lock pins, and keeps its lock entry. A copy the lock does not know is used as it is.
func (r *Resolver) checkVendored(name, dir string) error {
	r.mu.Lock()
	locked, ok := r.old.Extensions[name]
	r.used[name] = true
	r.mu.Unlock()
	if !ok {
		return nil
	}
	sum, err := HashDir(dir)
	if err != nil {
		return fmt.Errorf("ext://%s: hashing %s: %v", name, dir, err)
	}
	if sum != locked.Hash {
		rel, _ := filepath.Rel(r.opts.ProjectDir, dir)
		return fmt.Errorf("ext://%s: the vendored copy %s has changed: kiln.lock has %s, the files hash to %s; restore them (`kiln ext vendor` writes them again from the locked commit), or accept the change with `kiln ext update %s`", name, rel, locked.Hash, sum, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next.Extensions == nil {
		r.next.Extensions = map[string]*LockedExtension{}
	}
	e := *locked
	r.next.Extensions[name] = &e
	if rl := r.old.repo(locked.Repo, locked.Ref); rl != nil {
		r.next.setRepo(rl.URL, rl.Ref, rl.Commit)
	}
	return nil
}

func (r *Resolver) noteLoad(loader, name string) {
	if loader == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.next.Extensions[loader]; ok && !contains(e.Loads, name) {
		e.Loads = append(e.Loads, name)
		sort.Strings(e.Loads)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tiltfileIn returns dir/Tiltfile (or dir/Kilnfile) when it is a file.
func tiltfileIn(dir string) string {
	for _, n := range []string{"Tiltfile", "Kilnfile"} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// localDir reports whether url names a directory that is not a git repository: its files
// are read in place. A relative path is relative to the project directory.
func (r *Resolver) localDir(url string) (string, bool) {
	p := url
	if strings.HasPrefix(p, "file://") {
		p = strings.TrimPrefix(p, "file://")
	} else if strings.Contains(p, "://") || strings.Contains(p, "@") && strings.Contains(p, ":") {
		return "", false
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.opts.ProjectDir, p)
	}
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return "", false
	}
	if isGitDir(p) {
		return "", false
	}
	return p, true
}

func isGitDir(p string) bool {
	if st, err := os.Stat(filepath.Join(p, ".git")); err == nil && st.IsDir() {
		return true
	}
	// A bare repository.
	_, e1 := os.Stat(filepath.Join(p, "HEAD"))
	_, e2 := os.Stat(filepath.Join(p, "objects"))
	return e1 == nil && e2 == nil
}

// locate returns the extension's directory, from the lock and cache when they agree, otherwise
// fetched, and records it in the next lock.
func (r *Resolver) locate(ctx context.Context, name string, t target, at string) (string, error) {
	r.mu.Lock()
	r.used[name] = true
	locked, haveLock := r.old.Extensions[name]
	update := r.opts.UpdateAll || r.opts.Update[name]
	r.mu.Unlock()

	repoURL := t.repo.URL
	if dir, ok := r.localDir(repoURL); ok {
		extDir := filepath.Join(dir, filepath.FromSlash(t.repo.GitSubpath), filepath.FromSlash(t.path))
		return extDir, r.record(name, t, "", extDir, locked, haveLock && !update, at)
	}
	var lockedCommit string
	if haveLock && !update && locked.Repo == repoURL && locked.Ref == t.repo.Ref && locked.Path == t.path && locked.Subpath == t.repo.GitSubpath {
		if rl := r.old.repo(repoURL, t.repo.Ref); rl != nil {
			lockedCommit = rl.Commit
		}
	}
	if lockedCommit == "" && r.opts.Frozen {
		return "", fmt.Errorf("ext://%s: kiln.lock has no entry matching it (repo %s, ref %q, path %s), and CI=true or --frozen refuses to change the lock; run `kiln ext update %s` and commit kiln.lock", name, repoURL, t.repo.Ref, t.path, name)
	}
	if lockedCommit != "" {
		if tree := r.checkoutDir(repoURL, lockedCommit); exists(tree) {
			extDir := filepath.Join(tree, filepath.FromSlash(t.repo.GitSubpath), filepath.FromSlash(t.path))
			return extDir, r.record(name, t, lockedCommit, extDir, locked, true, at)
		}
	}
	if r.opts.Offline {
		return "", fmt.Errorf("ext://%s is not in kiln's cache at the commit kiln.lock pins, and this command never fetches; run `kiln ext vendor` (or any other kiln command) where %s can be reached", name, repoURL)
	}
	if r.opts.CacheDir == "" {
		return "", fmt.Errorf("ext://%s: there is no cache directory to fetch into (set KILN_CACHE_DIR), or vendor the extension under kiln_modules/%s", name, name)
	}
	if haveLock && update {
		if rl := r.old.repo(locked.Repo, locked.Ref); rl != nil {
			if tree := r.checkoutDir(locked.Repo, rl.Commit); exists(tree) {
				r.mu.Lock()
				r.oldDirs[name] = filepath.Join(tree, filepath.FromSlash(locked.Subpath), filepath.FromSlash(locked.Path))
				r.mu.Unlock()
			}
		}
	}
	fctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
	defer cancel()
	commit, tree, err := r.fetch(fctx, repoURL, t.repo.Ref, lockedCommit)
	if err != nil {
		if errors.Is(fctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("gave up after %s", r.opts.FetchTimeout)
		}
		return "", fmt.Errorf("ext://%s: fetching %s failed: %v; to work offline, vendor the extension with `kiln ext vendor` where the repo can be reached (or copy it to kiln_modules/%s), or point KILN_EXTENSION_REPO at a local mirror", name, repoURL, err, name)
	}
	extDir := filepath.Join(tree, filepath.FromSlash(t.repo.GitSubpath), filepath.FromSlash(t.path))
	return extDir, r.record(name, t, commit, extDir, locked, lockedCommit != "", at)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// record hashes the extension's directory, checks it against the lock when check is set, and
// puts it in the next lock.
func (r *Resolver) record(name string, t target, commit, dir string, locked *LockedExtension, check bool, at string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("ext://%s: repo %s has no directory %s; check the extension's name, or its v1alpha1.extension(repo_path=)", name, t.repo.URL, path.Join(t.repo.GitSubpath, t.path))
	}
	sum, err := HashDir(dir)
	if err != nil {
		return fmt.Errorf("ext://%s: hashing %s: %v", name, dir, err)
	}
	if check && locked != nil && locked.Hash != sum {
		return fmt.Errorf("ext://%s has changed: kiln.lock has %s, but %s now hashes to %s; if the change is intended, accept it with `kiln ext update %s` (it shows the diff); otherwise restore the extension's files (a fetched copy: delete %s, and kiln fetches it again)", name, locked.Hash, dir, sum, name, dir)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &LockedExtension{Repo: t.repo.URL, Ref: t.repo.Ref, Path: t.path, Subpath: t.repo.GitSubpath, Hash: sum}
	if prev, ok := r.next.Extensions[name]; ok && prev.Hash == sum {
		e.Loads = prev.Loads
	}
	if r.next.Extensions == nil {
		r.next.Extensions = map[string]*LockedExtension{}
	}
	r.next.Extensions[name] = e
	r.next.setRepo(t.repo.URL, t.repo.Ref, commit)
	return nil
}

// Finish writes kiln.lock when this evaluation changed it. Under Frozen a change is an error;
// under Offline nothing is written.
func (r *Resolver) Finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next.prune()
	if r.next.equal(r.old) || r.opts.Offline {
		return nil
	}
	var changes []Change
	for _, name := range r.next.names() {
		n := r.next.Extensions[name]
		o, had := r.old.Extensions[name]
		if had && o.Hash == n.Hash {
			continue
		}
		c := Change{Name: name, NewHash: n.Hash, OldDir: r.oldDirs[name]}
		if had {
			c.OldHash = o.Hash
		}
		c.NewDir = r.dirOf(name, n)
		changes = append(changes, c)
	}
	if r.opts.Frozen {
		return fmt.Errorf("kiln.lock would change (%s), and CI=true or --frozen refuses to change it; run `kiln ext update` and commit kiln.lock", describe(r.old, r.next))
	}
	if r.opts.BeforeWrite != nil {
		if err := r.opts.BeforeWrite(changes); err != nil {
			return err
		}
	}
	return r.next.Write(LockPath(r.opts.ProjectDir))
}

func (r *Resolver) dirOf(name string, e *LockedExtension) string {
	if dir, ok := r.localDir(e.Repo); ok {
		return filepath.Join(dir, filepath.FromSlash(e.Subpath), filepath.FromSlash(e.Path))
	}
	rl := r.next.repo(e.Repo, e.Ref)
	if rl == nil {
		return ""
	}
	return filepath.Join(r.checkoutDir(e.Repo, rl.Commit), filepath.FromSlash(e.Subpath), filepath.FromSlash(e.Path))
}

// ExtensionDir is where the locked extension's code is in the cache, for kiln ext vendor.
func (r *Resolver) ExtensionDir(ctx context.Context, name string) (string, error) {
	e, ok := r.old.Extensions[name]
	if !ok {
		return "", fmt.Errorf("kiln.lock has no extension %q", name)
	}
	if dir, ok := r.localDir(e.Repo); ok {
		return filepath.Join(dir, filepath.FromSlash(e.Subpath), filepath.FromSlash(e.Path)), nil
	}
	rl := r.old.repo(e.Repo, e.Ref)
	if rl == nil || rl.Commit == "" {
		return "", fmt.Errorf("kiln.lock has no commit for repo %s (ref %q); run `kiln ext update %s`", e.Repo, e.Ref, name)
	}
	tree := r.checkoutDir(e.Repo, rl.Commit)
	if !exists(tree) {
		if r.opts.Offline {
			return "", fmt.Errorf("%s at %s is not cached", e.Repo, rl.Commit)
		}
		fctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
		defer cancel()
		if _, _, err := r.fetch(fctx, e.Repo, e.Ref, rl.Commit); err != nil {
			return "", fmt.Errorf("fetching %s: %v", e.Repo, err)
		}
	}
	dir := filepath.Join(tree, filepath.FromSlash(e.Subpath), filepath.FromSlash(e.Path))
	sum, err := HashDir(dir)
	if err != nil {
		return "", err
	}
	if sum != e.Hash {
		return "", fmt.Errorf("ext://%s has changed: kiln.lock has %s, but %s hashes to %s; accept it with `kiln ext update %s`", name, e.Hash, dir, sum, name)
	}
	return dir, nil
}

// Lock returns the lock as read from kiln.lock.
func (r *Resolver) Lock() *Lock { return r.old }
