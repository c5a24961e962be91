package builtins

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeOld writes files under dir and dates everything there an hour back.
func writeOld(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, text := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dateBack(dir)
}

// dateBack dates every file under dir an hour back: caches don't trust a stat younger than
// racyWindow, and a warm project is one whose files were not all just written.
func dateBack(dir string) {
	old := time.Now().Add(-time.Hour)
	_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
}

// chartProject writes a project whose Kilnfile renders one chart with a set= value.
func chartProject(t *testing.T, templates, set string) string {
	dir := t.TempDir()
	writeOld(t, dir, map[string]string{
		"chart/Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"chart/values.yaml":        "password: default\n",
		"chart/templates/app.yaml": templates,
		"Kilnfile":                 fmt.Sprintf("k8s_yaml(helm('chart', set=[%q]))\n", set),
	})
	return dir
}

const configMapTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: v}\n"

func evaluateWithCache(t *testing.T, dir, cacheDir string) {
	t.Helper()
	if _, err := Evaluate(dir, Options{Subcommand: "render", Stdout: io.Discard, Stderr: io.Discard, CacheDir: cacheDir}); err != nil {
		t.Fatal(err)
	}
}

// cacheBytes is every byte under the cache directory, and the regular files there.
func cacheBytes(t *testing.T, cacheDir string) ([]byte, []string) {
	var all []byte
	var files []string
	_ = filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			all = append(all, data...)
			files = append(files, p)
		}
		return nil
	})
	return all, files
}

func renderEntries(t *testing.T, cacheDir string) []string {
	t.Helper()
	entries, _ := filepath.Glob(filepath.Join(cacheDir, "render", renderCacheVersion, "*"))
	return entries
}

// TestRenderCacheIsPrivate: entries are 0600 files in a 0700 directory, the set= values in a
// render's key are not stored, the old world-readable render.gob goes, and a symbolic link
// planted at its old fixed temporary name is not written through.
func TestRenderCacheIsPrivate(t *testing.T) {
	dir := chartProject(t, configMapTemplate, "token=set-value-kept-out-of-the-cache")
	cacheDir := filepath.Join(t.TempDir(), "kiln")
	victim := filepath.Join(t.TempDir(), "victim")
	writeOld(t, cacheDir, map[string]string{"render.gob": "old cache"})
	if err := os.Symlink(victim, filepath.Join(cacheDir, "render.gob.tmp")); err != nil {
		t.Fatal(err)
	}
	evaluateWithCache(t, dir, cacheDir)

	entries := renderEntries(t, cacheDir)
	if len(entries) != 1 {
		t.Fatalf("got cache entries %q, want one", entries)
	}
	for path, want := range map[string]os.FileMode{entries[0]: 0o600, filepath.Dir(entries[0]): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want mode %o", path, fi.Mode().Perm(), want)
		}
	}
	data, files := cacheBytes(t, cacheDir)
	if bytes.Contains(data, []byte("set-value-kept-out-of-the-cache")) {
		t.Error("a set= value is stored in the cache in the clear")
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "render.gob") {
			t.Errorf("the old cache file %s is still there", f)
		}
	}
	if _, err := os.Lstat(victim); !os.IsNotExist(err) {
		t.Error("the cache wrote through a planted symbolic link")
	}
}

// TestRenderCacheHoldsNoSecret: a render with a Secret in it is not cached, so its value is in
// no cache byte, in the clear or base64; the next evaluation renders it again.
func TestRenderCacheHoldsNoSecret(t *testing.T) {
	const password = "hunter2-in-a-chart"
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: {{ .Values.password }}}\n---\n" +
		"apiVersion: v1\nkind: Secret\nmetadata: {name: db-b64}\ndata: {password: {{ .Values.password | b64enc }}}\n---\n" + configMapTemplate
	dir := chartProject(t, secret, "password="+password)
	cacheDir := t.TempDir()
	for i := 0; i < 2; i++ {
		evaluateWithCache(t, dir, cacheDir)
	}
	data, _ := cacheBytes(t, cacheDir)
	for _, form := range []string{password, base64.StdEncoding.EncodeToString([]byte(password))} {
		if bytes.Contains(data, []byte(form)) {
			t.Errorf("the cache holds the Secret's value (%s)", form)
		}
	}
	if entries := renderEntries(t, cacheDir); len(entries) != 0 {
		t.Errorf("a render with a Secret was cached: %q", entries)
	}
}

// newTestRenderCache returns a cache, its cache directory, and an input file old enough to
// cache renders of.
func newTestRenderCache(t *testing.T) (c *renderCache, cacheDir, input string) {
	dir := t.TempDir()
	writeOld(t, dir, map[string]string{"input.yaml": "x"})
	cacheDir = filepath.Join(t.TempDir(), "kiln")
	return openRenderCache(cacheDir), cacheDir, filepath.Join(dir, "input.yaml")
}

func configMap(name string) []byte {
	return []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n")
}

// TestRenderCacheEvictsLeastRecentlyUsed: beyond its bounds the cache drops the entries used
// longest ago, by count and by bytes; an entry read counts as used.
func TestRenderCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c, cacheDir, input := newTestRenderCache(t)
	c.maxEntries = 3
	for i := 0; i < 5; i++ {
		c.put(fmt.Sprint("k", i), configMap(fmt.Sprint("cm", i)), nil, input)
		time.Sleep(5 * time.Millisecond) // distinct modification times
		if i == 3 {
			if _, _, ok := c.get("k0"); !ok {
				t.Fatal("k0 missing before eviction")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.save()
	fresh := openRenderCache(cacheDir)
	var kept []string
	for i := 0; i < 5; i++ {
		if _, _, ok := fresh.get(fmt.Sprint("k", i)); ok {
			kept = append(kept, fmt.Sprint("k", i))
		}
	}
	if strings.Join(kept, ",") != "k0,k3,k4" {
		t.Errorf("kept %v, want k0 (read recently), k3 and k4", kept)
	}

	c.maxEntries = 100
	entries := renderEntries(t, cacheDir)
	fi, _ := os.Stat(entries[0])
	c.maxBytes = 2*fi.Size() + fi.Size()/2
	c.save()
	if n := len(renderEntries(t, cacheDir)); n != 2 {
		t.Errorf("%d entries within a bound of two entries' bytes, want 2", n)
	}
}

// TestRenderCacheVersion: an entry file of another format is a miss, not a decode of garbage,
// and is removed; the directories of other versions are removed when the cache opens.
func TestRenderCacheVersion(t *testing.T) {
	c, cacheDir, input := newTestRenderCache(t)
	c.put("key", configMap("a"), nil, input)
	path := filepath.Join(c.dir, hashKey("key"))
	for _, data := range [][]byte{[]byte("kiln render cache v1\n\x00\x01garbage"), []byte(renderMagic + "not gob"), nil} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fresh := openRenderCache(cacheDir)
		if _, _, ok := fresh.get("key"); ok {
			t.Errorf("an entry of another format (%q) was used", data)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("the unreadable entry %q was kept", data)
		}
	}
	stale := filepath.Join(cacheDir, "render", "v1")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	openRenderCache(cacheDir)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the directory of an older version was kept")
	}
}
