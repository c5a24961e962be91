package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/kiln-dev/kiln/internal/testgit"
)

func kiln(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestExtCommands: a project loads an extension from a local git repo through ext://; the lock
// is written, a changed repo is not picked up until `kiln ext update` (which shows the diff),
// CI refuses the update, and after `kiln ext vendor` the project renders with no repo and no cache.
func TestExtCommands(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CI", "")
	repo := t.TempDir()
	testgit.Commit(t, repo, map[string]string{"namespace/Tiltfile": "def ns(name):\n    k8s_yaml(encode_yaml({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name}}))\n"})
	project := t.TempDir()
	testenv.WriteFiles(t, project, map[string]string{"Kilnfile": "v1alpha1.extension_repo(name='default', url='file://" + repo + "')\nload('ext://namespace', 'ns')\nns('one')\n"})

	out, errOut, code := kiln(t, "render", "-f", project)
	if code != 0 || !strings.Contains(out, "name: one") {
		t.Fatalf("render: %d %s %s", code, out, errOut)
	}
	lockBefore, err := os.ReadFile(filepath.Join(project, "kiln.lock"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ = kiln(t, "ext", "list", "-f", project)
	if !strings.Contains(out, "namespace") || !strings.Contains(out, "h1:") {
		t.Errorf("ext list:\n%s", out)
	}

	testgit.Commit(t, repo, map[string]string{"namespace/Tiltfile": "# v2\ndef ns(name):\n    k8s_yaml(encode_yaml({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name + '-v2'}}))\n"})
	out, _, _ = kiln(t, "render", "-f", project)
	if !strings.Contains(out, "name: one\n") {
		t.Errorf("the lock did not pin the old code:\n%s", out)
	}
	t.Setenv("CI", "true")
	if _, errOut, code := kiln(t, "ext", "update", "-f", project); code == 0 || !strings.Contains(errOut, "refuses") {
		t.Errorf("CI=true ext update: %d %s", code, errOut)
	}
	t.Setenv("CI", "")
	out, errOut, code = kiln(t, "ext", "update", "namespace", "-f", project)
	if code != 0 || !strings.Contains(out, "+# v2") || !strings.Contains(out, "--- a/namespace/Tiltfile") {
		t.Fatalf("ext update: %d\n%s\n%s", code, out, errOut)
	}
	lockAfter, _ := os.ReadFile(filepath.Join(project, "kiln.lock"))
	if bytes.Equal(lockBefore, lockAfter) {
		t.Error("ext update did not change kiln.lock")
	}

	if out, errOut, code := kiln(t, "ext", "vendor", "-f", project); code != 0 || !strings.Contains(out, "kiln_modules/namespace") {
		t.Fatalf("ext vendor: %d %s %s", code, out, errOut)
	}
	os.RemoveAll(repo)
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	t.Setenv("CI", "true")
	out, errOut, code = kiln(t, "render", "-f", project)
	if code != 0 || !strings.Contains(out, "name: one-v2") {
		t.Fatalf("vendored render with no repo and no cache: %d %s %s", code, out, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(project, "kiln.lock")); !bytes.Equal(after, lockAfter) {
		t.Errorf("a render from the vendored copy changed kiln.lock:\n%s", after)
	}

	// A vendored copy edited by hand no longer matches the lock: refused, with what to do.
	vendored := filepath.Join(project, "kiln_modules", "namespace", "Tiltfile")
	text, err := os.ReadFile(vendored)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vendored, append(text, []byte("\n# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = kiln(t, "render", "-f", project)
	if code == 0 || !strings.Contains(errOut, "vendored copy kiln_modules/namespace has changed") || !strings.Contains(errOut, "kiln ext update namespace") {
		t.Fatalf("an edited vendored copy: exit %d, stderr %s; want the mismatch named with how to accept it", code, errOut)
	}
}

func TestUnifiedDiff(t *testing.T) {
	got := unifiedDiff("x/Tiltfile", "a\nb\nc\n", "a\nB\nc\nd\n")
	want := "--- a/x/Tiltfile\n+++ b/x/Tiltfile\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
	if got != want {
		t.Errorf("diff =\n%s\nwant\n%s", got, want)
	}
}
