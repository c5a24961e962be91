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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scratchApp is a Deployment of an image FROM scratch (the goserver binary and its files,
// no shell, no tar) serving /www.
func scratchApp(name, ns string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
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
        env: [{name: STATIC_DIR, value: /www}]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`, name, ns)
}

// TestWatchLiveUpdateScratch: live update into an image with no shell and no tar (FROM
// scratch): an edit, a new file in a new directory and a delete reach the running container
// with no rebuild and no new pod. Then the container's process is killed: the kubelet
// starts a new container from the image, and kiln catches it up with every change made since
// the build.
func TestWatchLiveUpdateScratch(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"app/Dockerfile":     "FROM " + GoserverImage + "\nCOPY www /www\n",
		"app/www/index.html": "scratch one\n",
		"app/www/extra.html": "extra\n",
		"scratch.yaml":       scratchApp("scratch", ns),
		"Kilnfile": fmt.Sprintf("docker_build('example.local/scratch', 'app', live_update=[sync('app/www', '/www')])\n"+
			"k8s_yaml('scratch.yaml')\nk8s_resource('scratch', port_forwards=['%d:8080'])\n", local),
	}
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	base := fmt.Sprintf("http://localhost:%d/", local)
	if got := get(t, base+"index.html"); got != "scratch one" {
		t.Fatalf("index.html before the edit: %q", got)
	}
	uid := podUID(t, c, ns, "scratch")

	write(t, filepath.Join(dir, "app", "www", "index.html"), "scratch two\n")
	write(t, filepath.Join(dir, "app", "www", "sub", "new.html"), "new in a new directory\n")
	if err := os.Remove(filepath.Join(dir, "app", "www", "extra.html")); err != nil {
		t.Fatal(err)
	}
	waitServed(t, w, base+"index.html", "scratch two")
	waitServed(t, w, base+"sub/new.html", "new in a new directory")
	waitGone(t, w, base+"extra.html")
	if out := w.stdout.String(); strings.Contains(out, "rebuilding instead") || strings.Contains(out, "live update failed") {
		t.Fatalf("the live update into a FROM scratch image failed:\n%s", tail(out, 30))
	}
	if got := podUID(t, c, ns, "scratch"); got != uid {
		t.Errorf("the live update replaced the pod (%s → %s)", uid, got)
	}

	// Kill the container's process from the node: the kubelet restarts the container, from
	// the image, and kiln must give the new one every change since the build.
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=scratch"})
	if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Status.ContainerStatuses) != 1 {
		t.Fatalf("the scratch pod: %v, %v", pods, err)
	}
	pod := pods.Items[0]
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	dockerOutput(t, "exec", pod.Spec.NodeName, "sh", "-c",
		"kill -9 $(cat /run/containerd/io.containerd.runtime.v2.task/k8s.io/"+id+"/init.pid)")
	w.waitFor("caught up with", 2*time.Minute)
	waitServed(t, w, base+"index.html", "scratch two")
	waitServed(t, w, base+"sub/new.html", "new in a new directory")
	waitGone(t, w, base+"extra.html")
	restarted, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil || restarted.Status.ContainerStatuses[0].RestartCount < 1 {
		t.Errorf("the container did not restart (%v)", err)
	}
	t.Logf("kiln watch:\n%s", tail(w.stdout.String(), 12))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitServed waits up to 30 s for url to answer want through kiln's forward.
func waitServed(t *testing.T, w *watchSession, url, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		if got, err = try(url); err == nil && got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %q, %v; want %q\n--- kiln watch\n%s", url, got, err, want, tail(w.stdout.String(), 30))
}

// waitGone waits up to 30 s for url to answer 404.
func waitGone(t *testing.T, w *watchSession, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = try(url); err != nil && strings.Contains(err.Error(), "404") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v; want 404 Not Found\n--- kiln watch\n%s", url, err, tail(w.stdout.String(), 30))
}

// TestWatchRestartContainerScratch: restart_container() on an image FROM scratch. The server
// reads its greeting once, when it starts; a synced change to that file shows only after a
// restart. kiln's supervisor (kiln's own static binary, mounted from the node) restarts the
// program in the same container: the pod is the same, the container has not restarted, and
// the new greeting is served.
func TestWatchRestartContainerScratch(t *testing.T) {
	watchRestartScratch(t, "docker_build('example.local/restart', 'app', live_update=[sync('app/conf', '/conf'), restart_container()])\n")
}

// TestWatchDockerBuildWithRestartScratch: the same with Tilt's restart_process extension,
// which kiln answers natively (its real script would pull a helper image and needs a shell
// in the image): docker_build_with_restart on an image FROM scratch.
func TestWatchDockerBuildWithRestartScratch(t *testing.T) {
	watchRestartScratch(t, "load('ext://restart_process', 'docker_build_with_restart')\n"+
		"docker_build_with_restart('example.local/restart', 'app', entrypoint=['/goserver'], live_update=[sync('app/conf', '/conf')])\n")
}

// watchRestartScratch runs the restart test with build, the Kilnfile's image declaration.
func watchRestartScratch(t *testing.T, build string) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	app := strings.Replace(scratchApp("restart", ns), "env: [{name: STATIC_DIR, value: /www}]", "env: [{name: GREETING_FILE, value: /conf/greeting}]", 1)
	files := map[string]string{
		"app/Dockerfile":    "FROM " + GoserverImage + "\nCOPY conf /conf\n",
		"app/conf/greeting": "greeting one\n",
		"restart.yaml":      app,
		"Kilnfile":          build + fmt.Sprintf("k8s_yaml('restart.yaml')\nk8s_resource('restart', port_forwards=['%d:8080'])\n", local),
	}
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	url := fmt.Sprintf("http://localhost:%d/", local)
	if got := get(t, url); !strings.HasPrefix(got, "greeting one ") {
		t.Fatalf("before the edit: %q", got)
	}
	uid := podUID(t, c, ns, "restart")

	write(t, filepath.Join(dir, "app", "conf", "greeting"), "greeting two\n")
	out := w.waitFor("live update:", time.Minute)
	if !strings.Contains(out, "restarted") || strings.Contains(out, "rebuilding instead") {
		t.Fatalf("the live update did not restart the program:\n%s", tail(w.stdout.String(), 30))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := try(url)
		if err == nil && strings.HasPrefix(got, "greeting two ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %q, %v\n%s", got, err, tail(w.stdout.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := podUID(t, c, ns, "restart"); got != uid {
		t.Errorf("the restart replaced the pod (%s → %s)", uid, got)
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=restart"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v", err)
	}
	if n := pods.Items[0].Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Errorf("the container restarted %d times: the program should restart inside it", n)
	}
	if !strings.Contains(w.stdout.String(), "kiln supervise: restarted") {
		t.Errorf("the supervisor's restart line is not in the logs:\n%s", tail(w.stdout.String(), 30))
	}
}

// TestWatchInitialSync: initial_sync() gives a new container every file under its sync()
// paths, though the image has none of them (its Dockerfile copies nothing), FROM scratch;
// the pod serves them without any edit.
func TestWatchInitialSync(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"app/Dockerfile":        "FROM " + GoserverImage + "\n",
		"app/www/index.html":    "initial " + ns + "\n",
		"app/www/deep/page.txt": "deep page\n",
		"initial.yaml":          scratchApp("initial", ns),
		"Kilnfile": fmt.Sprintf("docker_build('example.local/initial', 'app', only=['Dockerfile'], live_update=[initial_sync(), sync('app/www', '/www')])\n"+
			"k8s_yaml('initial.yaml')\nk8s_resource('initial', port_forwards=['%d:8080'])\n", local),
	}
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	base := fmt.Sprintf("http://localhost:%d/", local)
	waitServed(t, w, base+"index.html", "initial "+ns)
	waitServed(t, w, base+"deep/page.txt", "deep page")
	// Printed once the sync is done, which may be before or after the start's update ends.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(w.stdout.String(), "initial_sync: 2 files"); {
		if time.Now().After(deadline) {
			t.Fatalf("kiln watch did not report the initial sync:\n%s", tail(w.stdout.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}

}

// TestWatchInferredSyncConvention: a convention image (kiln://NAME, built from NAME/Dockerfile)
// live-updates by the sync rules its Dockerfile's `COPY www /www` implies, with no
// live_update written: an edit is served with no new pod and no rebuild.
func TestWatchInferredSyncConvention(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	app := strings.Replace(scratchApp("conv", ns), "image: example.local/conv", "image: kiln://conv", 1)
	files := map[string]string{
		"conv/Dockerfile":     "FROM " + GoserverImage + "\nCOPY www /www\n",
		"conv/www/index.html": "convention one " + ns + "\n",
		"conv.yaml":           app,
		"Kilnfile":            fmt.Sprintf("k8s_yaml('conv.yaml')\nk8s_resource('conv', port_forwards=['%d:8080'])\n", local),
	}
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	url := fmt.Sprintf("http://localhost:%d/index.html", local)
	waitServed(t, w, url, "convention one "+ns)
	uid := podUID(t, c, ns, "conv")
	write(t, filepath.Join(dir, "conv", "www", "index.html"), "convention two "+ns+"\n")
	waitServed(t, w, url, "convention two "+ns)
	w.waitFor("live update:", 30*time.Second) // printed once every target has the files
	if out := w.stdout.String(); strings.Contains(out, "rebuilding instead") {
		t.Fatalf("the edit was not live-updated by the inferred sync:\n%s", tail(out, 30))
	}
	if got := podUID(t, c, ns, "conv"); got != uid {
		t.Errorf("the live update replaced the pod (%s → %s)", uid, got)
	}
}

// TestWatchEditWhileNoContainerRuns: an edit that lands while the image's only pod is being
// replaced (its new container still waits on an init container) does not rebuild: it waits
// in the ledger, and the new container gets it as soon as it runs.
func TestWatchEditWhileNoContainerRuns(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	svc := httpService("hold", ns)
	svc["hold.yaml"] = strings.Replace(svc["hold.yaml"], "      containers:\n", "      initContainers:\n      - {name: wait, image: example.local/hold, command: [sleep, '6']}\n      containers:\n", 1)
	svc["Kilnfile"] = fmt.Sprintf("docker_build('example.local/hold', 'hold', live_update=[sync('hold/www', '/www')])\n"+
		"k8s_yaml('hold.yaml')\nk8s_resource('hold', port_forwards=['%d:8080'])\n", local)
	dir := writeProject(t, svc)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	url := fmt.Sprintf("http://localhost:%d/", local)
	waitServed(t, w, url, "hello from hold")
	old := podUID(t, c, ns, "hold")
	if err := c.Client.CoreV1().Pods(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=hold"}); err != nil {
		t.Fatal(err)
	}
	// Wait for the replacement pod, its init container still sleeping.
	deadline := time.Now().Add(time.Minute)
	for {
		pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=hold"})
		if err == nil {
			waiting := false
			for _, p := range pods.Items {
				if string(p.UID) != old && p.DeletionTimestamp == nil && len(p.Status.InitContainerStatuses) == 1 && p.Status.InitContainerStatuses[0].State.Running != nil {
					waiting = true
				}
			}
			if waiting {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replacement pod in its init container: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	write(t, filepath.Join(dir, "hold", "www", "index.html"), "held edit "+ns+"\n")
	w.waitFor("wait for the next one", time.Minute)
	waitServed(t, w, url, "held edit "+ns)
	if out := w.stdout.String(); strings.Count(out, "build  example.local/hold") > 1 {
		t.Errorf("the held edit rebuilt the image:\n%s", tail(out, 30))
	}
}
