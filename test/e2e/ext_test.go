//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testgit"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExtensionFromGitRepo: kiln's own test extension, in a local git repo loaded through
// ext:// (a file:// extension_repo with a load_host), creates a namespace and a ConfigMap;
// the project's Deployment reads the ConfigMap and serves it. kiln run brings it up and
// writes kiln.lock; a second run with the repo deleted works from the lock and the cache;
// kiln down removes it all.
func TestExtensionFromGitRepo(t *testing.T) {
	c := connect(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	ns := "kiln-ext-" + suffix
	greeting := "hello from ext " + suffix
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	repo := t.TempDir()
	testgit.Commit(t, repo, map[string]string{
		"appenv/Tiltfile": `# kiln's test extension: a namespace and a ConfigMap of settings for the app in it.
load('ext://kiln.e2e/yamlutil', 'obj')

def app_env(namespace, **settings):
    k8s_yaml(encode_yaml(obj('v1', 'Namespace', namespace)))
    cm = obj('v1', 'ConfigMap', 'app-env', namespace)
    cm['data'] = settings
    k8s_yaml(encode_yaml(cm))
`,
		"yamlutil/Tiltfile": `def obj(api_version, kind, name, namespace=None):
    meta = {'name': name}
    if namespace:
        meta['namespace'] = namespace
    return {'apiVersion': api_version, 'kind': kind, 'metadata': meta}
`,
	})
	cache := t.TempDir()
	env := []string{"KILN_CACHE_DIR=" + cache, "CI="}
	dir := writeProject(t, map[string]string{
		"Kilnfile": fmt.Sprintf(`v1alpha1.extension_repo(name='e2e', url='file://%s', load_host='kiln.e2e')
load('ext://kiln.e2e/appenv', 'app_env')
app_env(%q, GREETING=%q)
docker_build('example.local/ext-app', 'app')
k8s_yaml('app.yaml')
`, repo, ns, greeting),
		"app/Dockerfile": "FROM " + BusyboxImage + "\nCMD [\"sh\", \"-c\", \"mkdir -p /www && echo \\\"$GREETING\\\" > /www/index.html && exec httpd -f -p 8080 -h /www\"]\n",
		"app.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: ext-app, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: ext-app}}
  template:
    metadata: {labels: {app: ext-app}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: example.local/ext-app
        envFrom: [{configMapRef: {name: app-env}}]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
`, ns),
	})

	if r := kiln(t, env, "run", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln run: %s", r)
	}
	serve(t, c, ns, "app=ext-app", 8080, greeting)
	lock, err := os.ReadFile(filepath.Join(dir, "kiln.lock"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kiln.e2e/appenv"`, `"kiln.e2e/yamlutil"`, `"h1:`} {
		if !strings.Contains(string(lock), want) {
			t.Errorf("kiln.lock lacks %s:\n%s", want, lock)
		}
	}

	// The repo is gone and CI refuses lock changes: the lock and the cache are enough.
	if err := os.RemoveAll(repo); err != nil {
		t.Fatal(err)
	}
	if r := kiln(t, append(env, "CI=true"), "run", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln run from the lock, repo deleted: %s", r)
	}

	if r := kiln(t, env, "down", "-f", dir, contextFlag(c), "--delete-namespaces"); r.code != 0 {
		t.Fatalf("kiln down: %s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := poll(ctx, time.Second, func(ctx context.Context) (bool, string, error) {
		n, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return true, "", nil
		}
		return n.DeletionTimestamp != nil, "namespace " + ns + " still there", nil
	}); err != nil {
		t.Fatal(err)
	}
}
