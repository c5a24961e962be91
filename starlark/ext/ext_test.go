package ext

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testgit"
)

// gitRepo makes a git repository in a temp dir holding files; commit adds a commit.
func gitRepo(t testing.TB, files map[string]string) (dir string, commit func(map[string]string) string) {
	t.Helper()
	dir = t.TempDir()
	testgit.Commit(t, dir, files)
	return dir, func(files map[string]string) string { return testgit.Commit(t, dir, files) }
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func newResolver(t *testing.T, project, cache string, e env, mod func(*Options)) *Resolver {
	t.Helper()
	opts := Options{ProjectDir: project, CacheDir: cache, Getenv: e.get, FetchTimeout: 20 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const nsExt = "def namespace_create(name):\n    k8s_yaml(blob('kind: Namespace'))\n"

func TestFetchFileURLWritesLockThenWorksOffline(t *testing.T) {
	repoDir, _ := gitRepo(t, map[string]string{"namespace/Tiltfile": nsExt, "README.md": "x"})
	project, cache := t.TempDir(), t.TempDir()
	e := env{"KILN_EXTENSION_REPO": "file://" + repoDir, "HOME": t.TempDir()}

	r := newResolver(t, project, cache, e, nil)
	f, err := r.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f, string(filepath.Separator)+"tilt_modules"+string(filepath.Separator)) {
		t.Errorf("cached extension %s is not under a tilt_modules directory", f)
	}
	if data, _ := os.ReadFile(f); string(data) != nsExt {
		t.Errorf("cached Tiltfile = %q", data)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	lock, err := ReadLock(LockPath(project))
	if err != nil {
		t.Fatal(err)
	}
	le := lock.Extensions["namespace"]
	if le == nil || !strings.HasPrefix(le.Hash, "h1:") || le.Path != "namespace" || le.Repo != "file://"+repoDir {
		t.Fatalf("lock entry = %+v", le)
	}
	if len(lock.Repos) != 1 || len(lock.Repos[0].Commit) != 40 {
		t.Fatalf("lock repos = %+v", lock.Repos)
	}
	before, _ := os.ReadFile(LockPath(project))

	// The repo is gone: the lock and the cache are enough.
	if err := os.RemoveAll(repoDir); err != nil {
		t.Fatal(err)
	}
	r2 := newResolver(t, project, cache, e, func(o *Options) { o.Frozen = true })
	if _, err := r2.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1"); err != nil {
		t.Fatalf("offline from the lock: %v", err)
	}
	if err := r2.Finish(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(LockPath(project))
	if string(before) != string(after) {
		t.Errorf("a satisfied lock was rewritten:\n%s\n---\n%s", before, after)
	}

	// A tampered cached copy is refused, naming what to run.
	if err := os.WriteFile(f, []byte("fail('evil')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r3 := newResolver(t, project, cache, e, nil)
	_, err = r3.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1")
	if err == nil || !strings.Contains(err.Error(), "ext://namespace has changed") || !strings.Contains(err.Error(), "kiln ext update namespace") {
		t.Fatalf("tampered cache: err = %v", err)
	}
}

func TestFrozenRefusesLockChange(t *testing.T) {
	repoDir, _ := gitRepo(t, map[string]string{"namespace/Tiltfile": nsExt})
	project, cache := t.TempDir(), t.TempDir()
	e := env{"KILN_EXTENSION_REPO": "file://" + repoDir, "HOME": t.TempDir()}
	r := newResolver(t, project, cache, e, func(o *Options) { o.Frozen = true })
	_, err := r.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1")
	if err == nil || !strings.Contains(err.Error(), "--frozen refuses") || !strings.Contains(err.Error(), "kiln ext update namespace") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(LockPath(project)); err == nil {
		t.Error("a frozen evaluation wrote kiln.lock")
	}
}

func TestInsteadOfAndLoadHost(t *testing.T) {
	repoDir, _ := gitRepo(t, map[string]string{"sub/color/Tiltfile": "def color(s):\n    return s\n"})
	home := t.TempDir()
	cfg := "[url \"file://" + repoDir + "\"]\n\tinsteadOf = https://git.example.invalid/exts\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	project, cache := t.TempDir(), t.TempDir()
	r := newResolver(t, project, cache, env{"HOME": home}, nil)
	if err := r.AddRepo(Repo{Name: "corp", URL: "https://git.example.invalid/exts", LoadHost: "corp.example", GitSubpath: "sub"}); err != nil {
		t.Fatal(err)
	}
	f, err := r.Resolve(context.Background(), "corp.example/color", "", "Kilnfile:2:1")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(f)) != "color" {
		t.Errorf("resolved %s", f)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	lock, _ := ReadLock(LockPath(project))
	if le := lock.Extensions["corp.example/color"]; le == nil || le.Repo != "https://git.example.invalid/exts" || le.Path != "color" || le.Subpath != "sub" {
		t.Fatalf("lock = %s", lock.Bytes())
	}
}

func TestUpdateReportsChangeAndPinsNewCommit(t *testing.T) {
	repoDir, commit := gitRepo(t, map[string]string{"namespace/Tiltfile": nsExt})
	project, cache := t.TempDir(), t.TempDir()
	e := env{"KILN_EXTENSION_REPO": "file://" + repoDir, "HOME": t.TempDir()}
	r := newResolver(t, project, cache, e, nil)
	if _, err := r.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	newCommit := commit(map[string]string{"namespace/Tiltfile": nsExt + "# v2\n"})

	// Without update, the lock keeps the old commit.
	r2 := newResolver(t, project, cache, e, nil)
	f, err := r2.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1")
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(f); strings.Contains(string(data), "v2") {
		t.Error("the lock did not pin the old commit")
	}

	var changes []Change
	r3 := newResolver(t, project, cache, e, func(o *Options) {
		o.Update = map[string]bool{"namespace": true}
		o.BeforeWrite = func(c []Change) error { changes = c; return nil }
	})
	if _, err := r3.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1"); err != nil {
		t.Fatal(err)
	}
	if err := r3.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].OldDir == "" || changes[0].NewDir == "" || changes[0].OldHash == changes[0].NewHash {
		t.Fatalf("changes = %+v", changes)
	}
	lock, _ := ReadLock(LockPath(project))
	if lock.Repos[0].Commit != newCommit {
		t.Errorf("lock commit %s, want %s", lock.Repos[0].Commit, newCommit)
	}
}

func TestFetchTimeoutNamesLoadAndRemedy(t *testing.T) {
	project, cache := t.TempDir(), t.TempDir()
	// A URL nothing answers: the context's deadline stops it.
	r := newResolver(t, project, cache, env{"HOME": t.TempDir()}, func(o *Options) { o.FetchTimeout = time.Nanosecond })
	_, err := r.Resolve(context.Background(), "namespace", "", "Kilnfile:3:1")
	if err == nil || !strings.Contains(err.Error(), "KILN_EXTENSION_REPO") || !strings.Contains(err.Error(), "kiln ext vendor") {
		t.Fatalf("err = %v", err)
	}
}

func TestVendoredFirstAndOfflineRefusesFetch(t *testing.T) {
	project, cache := t.TempDir(), t.TempDir()
	vend := filepath.Join(project, "kiln_modules", "namespace", "Tiltfile")
	os.MkdirAll(filepath.Dir(vend), 0o755)
	os.WriteFile(vend, []byte(nsExt), 0o644)
	r := newResolver(t, project, cache, env{}, func(o *Options) { o.Offline = true })
	f, err := r.Resolve(context.Background(), "namespace", "", "Kilnfile:1:1")
	if err != nil || f != vend {
		t.Fatalf("f = %s, err = %v", f, err)
	}
	_, err = r.Resolve(context.Background(), "other", "", "Kilnfile:2:1")
	if err == nil || !strings.Contains(err.Error(), "never fetches") {
		t.Fatalf("offline fetch: err = %v", err)
	}
}

func TestLockDeterministic(t *testing.T) {
	l := &Lock{Version: 1, Extensions: map[string]*LockedExtension{
		"b": {Repo: "u2", Path: "b", Hash: "h1:b"}, "a": {Repo: "u1", Path: "a", Hash: "h1:a", Loads: []string{"b"}}}}
	l.setRepo("u2", "", "2")
	l.setRepo("u1", "", "1")
	want := `{
  "version": 1,
  "repos": [
    {
      "url": "u1",
      "ref": "",
      "commit": "1"
    },
    {
      "url": "u2",
      "ref": "",
      "commit": "2"
    }
  ],
  "extensions": {
    "a": {
      "repo": "u1",
      "ref": "",
      "path": "a",
      "hash": "h1:a",
      "loads": [
        "b"
      ]
    },
    "b": {
      "repo": "u2",
      "ref": "",
      "path": "b",
      "hash": "h1:b"
    }
  }
}
`
	if got := string(l.Bytes()); got != want {
		t.Errorf("lock =\n%s", got)
	}
}
