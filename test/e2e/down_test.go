//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownWithBrokenKilnfile: kiln down still removes what kiln run applied when the Kilnfile
// no longer evaluates, from the inventory kiln keeps on the cluster.
func TestDownWithBrokenKilnfile(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	svc := httpService("broken", ns)
	svc["broken/www/index.html"] = "hello from broken in " + ns + "\n"
	dir := writeProject(t, merge(svc, map[string]string{
		"Kilnfile": "docker_build('example.local/broken', 'broken')\nk8s_yaml('broken.yaml')\n",
	}))
	if r := kiln(t, nil, "run", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	if len(kilnOwned(t, c, ns)) == 0 {
		t.Fatal("kiln run applied nothing")
	}
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte("k8s_yaml('broken.yaml'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kiln(t, nil, "down", "-f", dir, contextFlag(c))
	if r.code != 0 || !strings.Contains(r.stderr, "Kilnfile:") || !strings.Contains(r.stderr, "inventory") {
		t.Fatalf("want the evaluation error, a warning and a down from the inventory:\n%s", r)
	}
	if left := kilnOwned(t, c, ns); len(left) > 0 {
		t.Fatalf("kiln down with a broken Kilnfile left %v", left)
	}
}
