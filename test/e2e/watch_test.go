//go:build e2e

package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watchSession is a kiln watch running in the background.
type watchSession struct {
	t              testing.TB
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	seen           int           // how much of stdout waitFor has consumed
	poll           time.Duration // how often waitFor looks (default 50 ms)
}

func startWatch(t testing.TB, args ...string) *watchSession {
	t.Helper()
	return startWatchEnv(t, nil, args...)
}

// startWatchEnv is startWatch with env (KEY=VALUE) added to kiln's environment.
func startWatchEnv(t testing.TB, env []string, args ...string) *watchSession {
	t.Helper()
	bin, err := kilnBinary()
	if err != nil {
		t.Fatal(err)
	}
	w := &watchSession{t: t}
	w.cmd = exec.Command(bin, append([]string{"watch"}, args...)...)
	if env != nil {
		w.cmd.Env = append(os.Environ(), env...)
	}
	w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
	})
	return w
}

// waitFor waits until stdout, past what earlier waits consumed, has a line containing want,
// and returns the output up to and including it.
func (w *watchSession) waitFor(want string, timeout time.Duration) string {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out := w.stdout.String()
		if i := strings.Index(out[w.seen:], want); i >= 0 {
			end := w.seen + i + len(want)
			if nl := strings.IndexByte(out[end:], '\n'); nl >= 0 {
				end += nl + 1
			}
			got := out[w.seen:end]
			w.seen = end
			return got
		}
		if w.cmd.ProcessState != nil {
			break
		}
		time.Sleep(cmp.Or(w.poll, 50*time.Millisecond))
	}
	w.t.Fatalf("kiln watch did not print %q within %s\n--- stdout\n%s--- stderr\n%s", want, timeout, w.stdout.String(), w.stderr.String())
	return ""
}

func podUID(t *testing.T, c *Cluster, ns, app string) string {
	t.Helper()
	pods, err := c.WaitPodsReady(context.Background(), ns, "app="+app)
	if err != nil {
		t.Fatal(err)
	}
	return string(pods[0].UID)
}

// TestWatch: kiln watch deploys the project, then follows edits: a changed file of one image
// rebuilds and redeploys that image only (the other service's pod keeps its UID); a resource
// added to the Kilnfile is deployed and a removed one pruned; a broken Kilnfile shows its
// error with file:line and changes nothing until it is fixed. Ctrl-C stops kiln watch at
// once and deletes nothing.
func TestWatch(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	kilnfile := func(extra string) string {
		return "docker_build('example.local/alpha', 'alpha')\ndocker_build('example.local/beta', 'beta')\nk8s_yaml(['alpha.yaml', 'beta.yaml'])\n" + extra
	}
	files := merge(httpService("alpha", ns), httpService("beta", ns), httpService("gamma", ns))
	files["alpha/www/index.html"] = "alpha one in " + ns + "\n"
	files["Kilnfile"] = kilnfile("")
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	write := func(rel, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	serve(t, c, ns, "app=alpha", 8080, "alpha one")
	betaUID := podUID(t, c, ns, "beta")
	checkGetResources(t, dir, map[string]string{"alpha": "ready", "beta": "ready", "image example.local/alpha": "ready"})

	// A file in alpha's build context: alpha is rebuilt and redeployed, beta is untouched.
	write("alpha/www/index.html", "alpha two in "+ns+"\n")
	out := w.waitFor("done in", 2*time.Minute) // the update's last line says what it ran
	if !strings.Contains(out, "update (image:example.local/alpha") || strings.Contains(out, "image:example.local/beta") {
		t.Errorf("the update after an alpha edit:\n%s", out)
	}
	serve(t, c, ns, "app=alpha", 8080, "alpha two")
	if got := podUID(t, c, ns, "beta"); got != betaUID {
		t.Errorf("beta's pod was replaced (%s → %s) by an edit of alpha", betaUID, got)
	}

	// A resource added to the Kilnfile is deployed.
	write("Kilnfile", kilnfile("docker_build('example.local/gamma', 'gamma')\nk8s_yaml('gamma.yaml')\n"))
	w.waitFor("done in", 2*time.Minute)
	serve(t, c, ns, "app=gamma", 8080, "hello from gamma")

	// A broken Kilnfile: the error with file:line, and the environment stays up.
	write("Kilnfile", kilnfile("k8s_yaml('gamma.yaml'\n"))
	w.waitFor("does not evaluate", time.Minute)
	w.waitFor("Kilnfile:", 5*time.Second) // the error names file:line
	time.Sleep(time.Second)
	serve(t, c, ns, "app=gamma", 8080, "hello from gamma")

	// An empty Kilnfile (a file caught half-written) does not tear everything down.
	write("Kilnfile", "")
	w.waitFor("declares nothing now", time.Minute)
	serve(t, c, ns, "app=gamma", 8080, "hello from gamma")

	// Fixed, without gamma: gamma is pruned.
	write("Kilnfile", kilnfile(""))
	if out := w.waitFor("done in", 2*time.Minute); !regexp.MustCompile(`[1-9]\d* pruned`).MatchString(out) {
		t.Errorf("the update after gamma left the Kilnfile pruned nothing:\n%s", out)
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "gamma", metav1.GetOptions{}); err == nil {
		t.Errorf("gamma's Deployment is still there after it left the Kilnfile")
	}

	// A manifest edited after several evaluations read it unchanged (and kept its bytes):
	// the next evaluation reads the new bytes, each time.
	beta := httpService("beta", ns)["beta.yaml"]
	for _, label := range []string{"one", "two"} {
		write("beta.yaml", strings.Replace(beta, "metadata: {name: beta, namespace: "+ns+"}",
			"metadata: {name: beta, namespace: "+ns+", labels: {edit: "+label+"}}", 1))
		w.waitFor("done in", 2*time.Minute)
		d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "beta", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Labels["edit"]; got != label {
			t.Errorf("after beta.yaml was edited to label edit=%s, the Deployment has edit=%q", label, got)
		}
	}

	// Ctrl-C: exit 0 at once, and everything stays up.
	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("kiln watch after Ctrl-C: %v\n%s", err, w.stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("kiln watch took %s to stop", d)
	}
	serve(t, c, ns, "app=alpha", 8080, "alpha two")
	if r := kiln(t, nil, "get", "resources", "-f", dir); r.code != 1 || !strings.Contains(r.stderr, "no kiln watch is running for this project") {
		t.Errorf("kiln get after kiln watch stopped:\n%s", r)
	}
}

// checkGetResources asks the project's kiln watch, through kiln get, for its resources, and
// checks the state of each named one.
func checkGetResources(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	r := kiln(t, nil, "get", "resources", "-f", dir, "-o", "json")
	if r.code != 0 {
		t.Fatalf("kiln get resources:\n%s", r)
	}
	var list struct {
		Items []struct {
			Name   string `json:"name"`
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("kiln get resources -o json: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, it := range list.Items {
		got[it.Name] = it.Status.State
	}
	for name, state := range want {
		if got[name] != state {
			t.Errorf("kiln get resources: %s is %q, want %q (all: %v)", name, got[name], state, got)
		}
	}
	table := kiln(t, nil, "get", "resources", "-f", dir)
	if table.code != 0 || !strings.Contains(table.stdout, "STATUS") {
		t.Errorf("kiln get resources (table):\n%s", table)
	}
	for name := range want {
		if !strings.Contains(table.stdout, name) {
			t.Errorf("kiln get resources (table) has no row for %s:\n%s", name, table)
		}
	}
}

// TestWatchLiveUpdate: a change inside a sync() of the image's live_update is copied into
// the running container, with no rebuild and no new pod; a deleted file is deleted there.
func TestWatchLiveUpdate(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	files := httpService("lu", ns)
	files["lu/www/index.html"] = "live one in " + ns + "\n"
	files["lu/www/extra.html"] = "extra\n"
	files["Kilnfile"] = "docker_build('example.local/lu', 'lu', live_update=[sync('lu/www', '/www')])\nk8s_yaml('lu.yaml')\n"
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })

	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	uid := podUID(t, c, ns, "lu")

	if err := os.WriteFile(filepath.Join(dir, "lu", "www", "index.html"), []byte("live two in "+ns+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "lu", "www", "extra.html")); err != nil {
		t.Fatal(err)
	}
	out := w.waitFor("live update:", time.Minute)
	if strings.Contains(out, "build  ") {
		t.Errorf("a synced change was rebuilt:\n%s", out)
	}
	serve(t, c, ns, "app=lu", 8080, "live two")
	if got := podUID(t, c, ns, "lu"); got != uid {
		t.Errorf("the live update replaced the pod (%s → %s)", uid, got)
	}
	pods, err := c.WaitPodsReady(context.Background(), ns, "app=lu")
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _, err := c.Exec(context.Background(), ns, pods[0].Name, "lu", []string{"sh", "-c", "test -e /www/extra.html && echo present || echo gone"}, nil); err != nil || strings.TrimSpace(stdout) != "gone" {
		t.Errorf("the deleted file is still in the container (%q, %v)", stdout, err)
	}
}

// TestWatchGoServiceExample runs the main example under kiln watch as a user would. The
// start compiles, builds and deploys, and does not then sync the binary it just built into
// the container again (the compile's writes are reported after the start's update). An edit
// of the Go source recompiles, and the new binary is synced into the running container,
// which re-executes it: the same pod serves the new reply.
func TestWatchGoServiceExample(t *testing.T) {
	c := connect(t)
	dir := copyDir(t, filepath.Join(repoRoot(), "examples", "go-service"))
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })

	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	serve(t, c, "default", "app=go-service", 8080, "Hello from go-service (up ")
	uid := podUID(t, c, "default", "go-service")
	if out := w.waitFor("nothing to sync; the", 10*time.Second); strings.Contains(out, "files copied") {
		t.Errorf("the start synced the binary it had just built:\n%s", out)
	}

	main := filepath.Join(dir, "cmd", "server", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	// The Deployment sets the greeting: the edit is to the reply's format.
	edited := bytes.Replace(src, []byte(`"%s (up %s)\n"`), []byte(`"%s (up %s, edited)\n"`), 1)
	if bytes.Equal(edited, src) {
		t.Fatal("the example's reply format moved: update this test")
	}
	if err := os.WriteFile(main, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := w.waitFor("live update: ", 3*time.Minute); !strings.Contains(out, "1 commands") || strings.Contains(out, "build  ") {
		t.Errorf("the recompiled binary was not live-updated with its run() step:\n%s", out)
	}
	serve(t, c, "default", "app=go-service", 8080, ", edited)")
	if got := podUID(t, c, "default", "go-service"); got != uid {
		t.Errorf("the live update replaced the pod (%s → %s)", uid, got)
	}
}

// BenchmarkLiveUpdateEdit: edit → file in the container, over 100 edits (or b.N, if more),
// under kiln watch: from the write until kiln reports the sync done (the node's agent has
// answered that the file is written). Reports p50 and p99, and logs the five slowest. Includes the watcher's 20 ms quiet period.
func BenchmarkLiveUpdateEdit(b *testing.B) {
	c, ns := benchCluster(b)
	files := httpService("lubench", ns)
	files["Kilnfile"] = "docker_build('example.local/lubench', 'lubench', live_update=[sync('lubench/www', '/www')])\nk8s_yaml('lubench.yaml')\n"
	dir := writeProject(b, files)
	defer kiln(b, nil, "down", "-f", dir, contextFlag(c))
	w := startWatch(b, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	w.poll = time.Millisecond // the measure, not the poll, should decide the figures
	page := filepath.Join(dir, "lubench", "www", "index.html")
	n := max(100, b.N)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := os.WriteFile(page, []byte(fmt.Sprintf("edit %d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
		w.waitFor("live update:", 30*time.Second)
		took = append(took, time.Since(start))
		time.Sleep(100 * time.Millisecond) // let each edit be its own batch
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Milliseconds()), "p99-ms")
	b.Logf("slowest edits: %v", took[len(took)-5:])
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	_ = w.cmd.Wait()
}
