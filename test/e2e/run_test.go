//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// kilnBinary builds cmd/kiln once per test process: the e2e tests run kiln as a user does,
// statically linked as make build makes it (restart_container() runs it in containers).
// With KILN_E2E_RACE=1 (make test sets it) the kiln under test is built with the race
// detector, which needs cgo; the static build is then only the supervisor put in containers
// (KILN_SUPERVISOR), and a race report makes kiln exit 66, failing the test.
var kilnBinary = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := func(out string, env []string, flags ...string) error {
		cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, "./cmd/kiln")...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %v ./cmd/kiln: %v\n%s", flags, err, msg)
		}
		return nil
	}
	static := filepath.Join(os.TempDir(), "kiln-e2e-bin", "kiln")
	if err := build(static, []string{"CGO_ENABLED=0"}); err != nil {
		return "", err
	}
	if os.Getenv("KILN_E2E_RACE") != "1" {
		return static, nil
	}
	raced := filepath.Join(os.TempDir(), "kiln-e2e-bin", "kiln-race")
	if err := build(raced, []string{"CGO_ENABLED=1"}, "-race"); err != nil {
		return "", err
	}
	os.Setenv("KILN_SUPERVISOR", static)               // inherited by every kiln the tests start
	os.Setenv("GORACE", "exitcode=66 halt_on_error=1") // a race fails the command at once
	return raced, nil
})

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// kilnResult is one kiln invocation.
type kilnResult struct {
	code           int
	stdout, stderr string
}

func (r kilnResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// kiln runs the kiln binary with args against the e2e cluster's context.
func kiln(t testing.TB, env []string, args ...string) kilnResult {
	t.Helper()
	bin, err := kilnBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("kiln %v: %v", args, err)
	}
	return kilnResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

var summaryLine = regexp.MustCompile(`(?m)^context \S+: (\d+) built, (\d+) loaded, (\d+) pruned`)

// counts reads "N built, M loaded, P pruned" from kiln run's summary.
func counts(t testing.TB, r kilnResult) (built, loaded, pruned int) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no summary line in kiln run output:\n%s", r)
	}
	built, _ = strconv.Atoi(m[1])
	loaded, _ = strconv.Atoi(m[2])
	pruned, _ = strconv.Atoi(m[3])
	return
}

// writeProject writes files (path → content) under a new temp dir.
func writeProject(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, text := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyDir copies an example into a temp dir, so runs don't write into the repo.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	cmd := exec.Command("cp", "-a", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", src, err, out)
	}
	return dst
}

// httpService is a Deployment + Service serving index.html with busybox httpd.
func httpService(name, ns string) map[string]string {
	return map[string]string{
		name + "/Dockerfile":     "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		name + "/www/index.html": "hello from " + name + "\n",
		name + ".yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: %[1]s
        image: example.local/%[1]s
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec: {selector: {app: %[1]s}, ports: [{port: 80, targetPort: 8080}]}
`, name, ns),
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// newNamespace makes a namespace for one test and deletes it at the end.
func newNamespace(t *testing.T, c *Cluster) string {
	t.Helper()
	ns, cleanup, err := c.CreateNamespace(context.Background(), "kiln-run")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return ns
}

// serve checks that a Deployment's pod answers HTTP through a port-forward.
func serve(t *testing.T, c *Cluster, ns, selector string, port int, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods, err := c.WaitPodsReady(ctx, ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	local, stop, err := c.PortForward(ctx, ns, pods[0].Name, port)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	body, err := HTTPGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/", local))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, want) {
		t.Fatalf("GET / through a port-forward to %s/%s: %q does not contain %q", ns, pods[0].Name, body, want)
	}
}

// kilnOwned lists the objects of a project kiln still has on the cluster, by label.
func kilnOwned(t *testing.T, c *Cluster, ns string) []string {
	t.Helper()
	sel := labels.SelectorFromSet(map[string]string{"app.kubernetes.io/managed-by": "kiln"}).String()
	ctx := context.Background()
	var out []string
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		out = append(out, "deployment/"+d.Name)
	}
	svcs, err := c.Client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		out = append(out, "service/"+s.Name)
	}
	cms, err := c.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if !strings.HasPrefix(cm.Name, "kiln-inventory-") {
			out = append(out, "configmap/"+cm.Name)
		}
	}
	return out
}

func connect(t *testing.T) *Cluster {
	t.Helper()
	c, err := Connect(ClusterName())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func contextFlag(c *Cluster) string { return "--context=" + c.Context }

// TestRunExamples runs every example with kiln run, checks its pods serve HTTP through a
// port-forward, then kiln down leaves no kiln-owned object behind.
func TestRunExamples(t *testing.T) {
	c := connect(t)
	examples := []struct {
		dir, ns, selector string
		port              int
		want              string
	}{
		// Each checks content the example itself serves, not just an HTTP 200.
		{"go-service", "default", "app=go-service", 8080, "Hello from go-service (up "},
		{"helm-chart", "demo", "", 8080, "<h1>helm-chart example</h1>"},
		{"kustomize", "default", "", 8080, "<h1>kustomize example</h1>"},
		{"multi-service", "default", "app=multi-service,component=frontend", 8080, "<h1>multi-service</h1>"},
	}
	for _, ex := range examples {
		ex := ex
		t.Run(ex.dir, func(t *testing.T) {
			dir := copyDir(t, filepath.Join(repoRoot(), "examples", ex.dir))
			r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
			if r.code != 0 {
				t.Fatalf("kiln run %s:\n%s", ex.dir, r)
			}
			t.Cleanup(func() {
				if r := kiln(t, nil, "down", "-f", dir, contextFlag(c), "--delete-namespaces"); r.code != 0 {
					t.Errorf("kiln down %s:\n%s", ex.dir, r)
				}
			})
			checkServing(t, c, r, ex.ns, ex.selector, ex.port, ex.want)
			if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
				t.Fatalf("kiln down:\n%s", r)
			}
			if left := kilnOwned(t, c, ex.ns); len(left) > 0 {
				t.Fatalf("kiln down left kiln-owned objects behind: %v", left)
			}
		})
	}
}

// checkServing finds a ready pod of the example (by selector, or any pod kiln's Deployments
// run in the namespace) and GETs / through a port-forward.
func checkServing(t *testing.T, c *Cluster, r kilnResult, ns, selector string, port int, want string) {
	t.Helper()
	if selector == "" {
		deps, err := c.Client.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kiln"})
		if err != nil || len(deps.Items) == 0 {
			t.Fatalf("no kiln Deployment in %s after kiln run (%v):\n%s", ns, err, r)
		}
		selector = labels.SelectorFromSet(deps.Items[0].Spec.Selector.MatchLabels).String()
		if c := deps.Items[0].Spec.Template.Spec.Containers[0]; len(c.Ports) > 0 {
			port = int(c.Ports[0].ContainerPort)
		}
	}
	serve(t, c, ns, selector, port, want)
}

// TestRunNoChangeAndRebuild: a second run with no change builds, loads and changes nothing;
// touching one service's source rebuilds that image only; removing a manifest prunes it.
func TestRunNoChangeAndRebuild(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	dir := writeProject(t, merge(httpService("alpha", ns), httpService("beta", ns), map[string]string{
		"Kilnfile": "docker_build('example.local/alpha', 'alpha')\ndocker_build('example.local/beta', 'beta')\nk8s_yaml(['alpha.yaml', 'beta.yaml'])\n",
	}))
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })

	first := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if first.code != 0 {
		t.Fatalf("first run:\n%s", first)
	}
	serve(t, c, ns, "app=alpha", 8080, "hello from alpha")
	versions := resourceVersions(t, c, ns)

	second := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if second.code != 0 {
		t.Fatalf("second run:\n%s", second)
	}
	if b, l, p := counts(t, second); b != 0 || l != 0 || p != 0 {
		t.Fatalf("an unchanged project built %d, loaded %d, pruned %d:\n%s", b, l, p, second)
	}
	if after := resourceVersions(t, c, ns); after != versions {
		t.Fatalf("an unchanged project changed objects on the cluster:\nbefore %s\nafter  %s", versions, after)
	}

	// The new content names the namespace, so that it was never built before: tags are content
	// hashes, and an image left in the engine by an earlier test run would rightly be reused.
	if err := os.WriteFile(filepath.Join(dir, "beta/www/index.html"), []byte("beta changed in "+ns+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if third.code != 0 {
		t.Fatalf("run after a change:\n%s", third)
	}
	if b, l, _ := counts(t, third); b != 1 || l != 1 {
		t.Fatalf("touching beta's source built %d and loaded %d images, want 1 and 1:\n%s", b, l, third)
	}
	if !strings.Contains(third.stdout, "example.local/beta:kiln-") || regexp.MustCompile(`build\s+example\.local/alpha:\S+: built`).MatchString(third.stdout) {
		t.Fatalf("want only beta rebuilt:\n%s", third)
	}
	serve(t, c, ns, "app=beta", 8080, "beta changed")

	// Remove beta from the project: its Deployment and Service are pruned.
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte("docker_build('example.local/alpha', 'alpha')\nk8s_yaml('alpha.yaml')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fourth := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if fourth.code != 0 {
		t.Fatalf("run after removing beta:\n%s", fourth)
	}
	if _, _, p := counts(t, fourth); p != 2 {
		t.Fatalf("want beta's Deployment and Service pruned (2), got %d:\n%s", p, fourth)
	}
	left := kilnOwned(t, c, ns)
	if strings.Contains(strings.Join(left, " "), "beta") || len(left) != 2 {
		t.Fatalf("after pruning beta, kiln owns %v; want alpha's deployment and service only", left)
	}

	if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
	if left := kilnOwned(t, c, ns); len(left) > 0 {
		t.Fatalf("kiln down left %v", left)
	}
}

// resourceVersions fingerprints the namespace's Deployments and Services.
func resourceVersions(t *testing.T, c *Cluster, ns string) string {
	t.Helper()
	ctx := context.Background()
	var parts []string
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		parts = append(parts, d.Name+"@"+d.ResourceVersion+"/gen"+strconv.FormatInt(d.Generation, 10))
	}
	svcs, err := c.Client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		parts = append(parts, s.Name+"@"+s.ResourceVersion)
	}
	return strings.Join(parts, " ")
}

// TestRunCrash: a crashing container fails the run with exit 1 and its log lines shown, with
// the values of the project's Secrets scrubbed from them.
func TestRunCrash(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	dir := writeProject(t, map[string]string{
		"crasher/Dockerfile": "FROM " + BusyboxImage + "\nCMD [\"sh\", \"-c\", \"echo starting up with token $TOKEN; echo fatal: config missing >&2; exit 3\"]\n",
		"Kilnfile":           "docker_build('example.local/crasher', 'crasher')\nk8s_yaml('app.yaml')\nci_settings(readiness_timeout='2m')\n",
		"app.yaml":           crasherYAML(ns),
	})
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 1 {
		t.Fatalf("want exit 1 for a crashing container:\n%s", r)
	}
	for _, want := range []string{"CrashLoopBackOff", "exited with code 3", "fatal: config missing",
		"starting up with token [redacted: secret " + ns + "/crasher-token:token]"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the failure should show %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.String(), "tok-"+ns) {
		t.Errorf("the Secret's value reached kiln's output:\n%s", r)
	}
}

// crasherYAML is a Deployment of example.local/crasher whose container reads a token from a
// Secret (also in the YAML), for the tests of failing containers.
func crasherYAML(ns string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: crasher, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: crasher}}
  template:
    metadata: {labels: {app: crasher}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: crasher
        image: example.local/crasher
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: crasher-token, key: token}}}]
---
apiVersion: v1
kind: Secret
metadata: {name: crasher-token, namespace: %[1]s}
stringData: {token: tok-%[1]s}
`, ns)
}

// TestRunRefusesNonLocalContext: a context that is not a local cluster is refused before any
// write, with a message naming it.
func TestRunRefusesNonLocalContext(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	// A kubeconfig whose "prod-cluster" context reaches the e2e cluster: if kiln wrote
	// anything, it would show.
	kubeconfig := filepath.Join(t.TempDir(), "config")
	raw, err := exec.Command("sh", "-c", "cat ${KUBECONFIG:-$HOME/.kube/config}").Output()
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.ReplaceAll(string(raw), "name: "+c.Context+"\n", "name: prod-cluster\n")
	renamed = strings.ReplaceAll(renamed, "current-context: "+c.Context, "current-context: prod-cluster")
	if err := os.WriteFile(kubeconfig, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := writeProject(t, merge(httpService("gamma", ns), map[string]string{
		"Kilnfile": "docker_build('example.local/gamma', 'gamma')\nk8s_yaml('gamma.yaml')\n",
	}))
	r := kiln(t, []string{"KUBECONFIG=" + kubeconfig}, "run", "-f", dir)
	if r.code != 1 || !strings.Contains(r.stderr, `context "prod-cluster"`) || !strings.Contains(r.stderr, "allow_k8s_contexts") {
		t.Fatalf("want a refusal naming the context:\n%s", r)
	}
	if left := kilnOwned(t, c, ns); len(left) > 0 {
		t.Fatalf("a refused run wrote %v", left)
	}
	pods, _ := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) > 0 {
		t.Fatalf("a refused run started pods: %v", podNames(pods.Items))
	}
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// benchCluster connects to the e2e cluster and makes sure the benchmarks' namespace exists.
func benchCluster(b *testing.B) (*Cluster, string) {
	b.Helper()
	c, err := Connect(ClusterName())
	if err != nil {
		b.Fatal(err)
	}
	ns := "kiln-bench"
	_, _ = c.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return c, ns
}

// BenchmarkRunNoChange measures `kiln run` on an unchanged one-service project: evaluation,
// the up-to-date checks, a no-op apply and the readiness check. Tilt's `tilt ci` takes
// 1.4-1.6 s for the same on this machine, because it rebuilds and reloads every time.
func BenchmarkRunNoChange(b *testing.B) {
	c, ns := benchCluster(b)
	dir := writeProject(b, merge(httpService("bench", ns), map[string]string{
		"Kilnfile": "docker_build('example.local/bench', 'bench')\nk8s_yaml('bench.yaml')\n",
	}))
	if r := kiln(b, nil, "run", "-f", dir, contextFlag(c)); r.code != 0 {
		b.Fatalf("first run:\n%s", r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := kiln(b, nil, "run", "-f", dir, contextFlag(c))
		if r.code != 0 {
			b.Fatalf("run:\n%s", r)
		}
		if built, loaded, _ := counts(b, r); built != 0 || loaded != 0 {
			b.Fatalf("unchanged project built %d, loaded %d", built, loaded)
		}
	}
	b.StopTimer()
	kiln(b, nil, "down", "-f", dir, contextFlag(c))
}

// TestRunKindCluster: a project that declares kind_cluster() runs against that cluster (here
// the existing e2e cluster, which kiln must reuse, not recreate), whatever the current context.
func TestRunKindCluster(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	dir := writeProject(t, merge(httpService("delta", ns), map[string]string{
		"Kilnfile": fmt.Sprintf("kind_cluster(name=%q)\ndocker_build('example.local/delta', 'delta')\nk8s_yaml('delta.yaml')\n", c.Name),
	}))
	// A kubeconfig whose current context is some other cluster: kiln must not care.
	kubeconfig := filepath.Join(t.TempDir(), "config")
	raw, err := exec.Command("sh", "-c", "cat ${KUBECONFIG:-$HOME/.kube/config}").Output()
	if err != nil {
		t.Fatal(err)
	}
	other := strings.ReplaceAll(string(raw), "current-context: "+c.Context, "current-context: some-remote-cluster")
	if err := os.WriteFile(kubeconfig, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + kubeconfig}
	t.Cleanup(func() { kiln(t, env, "down", "-f", dir) })
	r := kiln(t, env, "run", "-f", dir)
	if r.code != 0 {
		t.Fatalf("kiln run with kind_cluster(%q):\n%s", c.Name, r)
	}
	if !strings.Contains(r.stdout, "context kind-"+c.Name+":") {
		t.Fatalf("want the run on kind-%s:\n%s", c.Name, r)
	}
	serve(t, c, ns, "app=delta", 8080, "hello from delta")
}

// TestRunLocalResourceWritesImageInput: a local_resource writes a file its dependent image
// copies. kiln re-hashes that image's context after the command ran, so the image built and
// run holds the written file under a tag that names it, and the Kilnfile is evaluated once:
// its local() side effect is not repeated.
func TestRunLocalResourceWritesImageInput(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	svc := httpService("gen", ns)
	svc["Kilnfile"] = `local('echo evaluated >> evaluations.log')
local_resource('generate', cmd='echo generated in ` + ns + ` > gen/www/index.html')
docker_build('example.local/gen', 'gen')
k8s_yaml('gen.yaml')
k8s_resource('gen', resource_deps=['generate'])
`
	svc["gen/www/index.html"] = "stale\n"
	dir := writeProject(t, svc)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	serve(t, c, ns, "app=gen", 8080, "generated in "+ns)
	log, err := os.ReadFile(filepath.Join(dir, "evaluations.log"))
	if err != nil || strings.Count(string(log), "evaluated") != 1 {
		t.Errorf("the Kilnfile's local() ran %d times in one kiln run, want once (%v)", strings.Count(string(log), "evaluated"), err)
	}
	out := kiln(t, nil, "render", "-f", dir)
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "gen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; !strings.Contains(out.stdout, "image: "+img) {
		t.Errorf("the running tag %s is not the one the written file gives (kiln render):\n%s", img, out.stdout)
	}
}

// TestRunPendingContext: a build context that a local_resource makes does not exist when the
// Kilnfile is evaluated; kiln evaluates anyway (the tag is pending), hashes the context once
// the command made it, and runs the image it built, under the tag the files give.
func TestRunPendingContext(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	svc := httpService("pend", ns)
	dockerfile := svc["pend/Dockerfile"]
	delete(svc, "pend/Dockerfile")
	delete(svc, "pend/www/index.html")
	svc["make-context.sh"] = "mkdir -p pend/www && printf '" + strings.ReplaceAll(dockerfile, "\n", `\n`) + "' > pend/Dockerfile && echo made in " + ns + " > pend/www/index.html\n"
	svc["Kilnfile"] = `local_resource('make-context', cmd='sh make-context.sh')
docker_build('example.local/pend', 'pend')
k8s_yaml('pend.yaml')
k8s_resource('pend', resource_deps=['make-context'])
`
	dir := writeProject(t, svc)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	if !strings.Contains(r.stderr+r.stdout, "its tag is pending") {
		t.Errorf("kiln run did not say the tag was pending:\n%s", r)
	}
	serve(t, c, ns, "app=pend", 8080, "made in "+ns)
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "pend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := d.Spec.Template.Spec.Containers[0].Image
	if strings.Contains(img, "pending") {
		t.Fatalf("the Deployment runs %s", img)
	}
	if out := kiln(t, nil, "render", "-f", dir); !strings.Contains(out.stdout, "image: "+img) {
		t.Errorf("the running tag %s is not the one the made context gives:\n%s", img, out.stdout)
	}
}
