//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/statusapi"
)

// counterApp is a Deployment of the image example.local/counter whose container prints "NAME count N" every 100 ms.
func counterApp(name, ns string) string {
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
        image: example.local/counter
        command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo \"%[1]s count $i\"; sleep 0.1; done"]
`, name, ns)
}

// TestWatchForwardsAndLogs: under kiln watch, kiln's own port forward serves the app on
// localhost, and after the pod is deleted the same local port serves the new pod within 1 s
// of it becoming Ready. A forward whose local port is taken is an error naming the resource
// and the port, and everything else comes up. kiln get forwards shows the URL and the state;
// kiln get discovery the pods. Logs of two resources stream into kiln watch's output and
// kiln logs, each line prefixed with its resource, with no gap or repeat in either counter.
func TestWatchForwardsAndLogs(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	files := httpService("web", ns)
	// The page names the pod that serves it, so the test can tell the old pod from the new.
	files["web/Dockerfile"] = "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"sh\", \"-c\", \"hostname > /www/host.txt; exec httpd -f -p 8080 -h /www\"]\n"
	files["counter/Dockerfile"] = "FROM " + BusyboxImage + "\n"
	files["web.yaml"] += fmt.Sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-token, namespace: %s}\nstringData: {token: %s}\n", ns, secretValue)
	files["alpha.yaml"] = counterApp("alpha", ns)
	files["beta.yaml"] = counterApp("beta", ns)
	files["Kilnfile"] = fmt.Sprintf("docker_build('example.local/web', 'web', live_update=[sync('web/www', '/www')])\ndocker_build('example.local/counter', 'counter')\n"+
		"k8s_yaml(['web.yaml', 'alpha.yaml', 'beta.yaml'])\n"+
		"k8s_resource('web', port_forwards=['%d:8080'])\nk8s_resource('alpha', port_forwards=[%d])\n", local, busyPort)
	dir := writeProject(t, files)

	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 3*time.Minute)
	out := w.stdout.String()
	url := fmt.Sprintf("http://localhost:%d/", local)
	if !strings.Contains(out, "forwarding "+url) {
		t.Errorf("kiln watch printed no link for the forward %s:\n%s", url, out)
	}
	if !strings.Contains(out, fmt.Sprintf("resource alpha: local port %d is in use", busyPort)) {
		t.Errorf("kiln watch did not name the resource and the port in use:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pods, err := c.WaitPodsReady(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, url+"host.txt"); got != pods[0].Name {
		t.Fatalf("the forward served %q, want the pod %s", got, pods[0].Name)
	}
	if got := get(t, url); got != "hello from web" {
		t.Fatalf("the forward served %q", got)
	}

	checkGetForwards(t, dir, fmt.Sprintf("web:%d", local), url, "active", ns+"/"+pods[0].Name)
	checkGetForwards(t, dir, fmt.Sprintf("alpha:%d", busyPort), "", "error", "")
	if r := kiln(t, nil, "get", "discovery", "web", "-f", dir); r.code != 0 || !strings.Contains(r.stdout, ns+"/"+pods[0].Name) || !strings.Contains(r.stdout, "Running") {
		t.Errorf("kiln get discovery web:\n%s", r)
	}
	if r := kiln(t, nil, "get", "resources", "-f", dir); r.code != 0 || !regexp.MustCompile(`(?m)^web\s+k8s\s+ready\s+1/1\s+0\s+`+regexp.QuoteMeta(url)).MatchString(r.stdout) {
		t.Errorf("kiln get resources shows no pods and forward for web:\n%s", r)
	}

	checkStoreKinds(t, dir, ns)

	// A live update into the pod, which its replacement must have too.
	if err := os.WriteFile(filepath.Join(dir, "web/www/index.html"), []byte("hello v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.waitFor("live update: 1 files copied", time.Minute)
	if got := get(t, url); got != "hello v2" {
		t.Fatalf("after the live update the forward served %q", got)
	}

	// Replace the pod: the same port serves the new one within 1 s of it being Ready.
	old := pods[0].Name
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	readyAt := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err == nil {
				for _, p := range list.Items {
					if p.Name != old && p.DeletionTimestamp == nil && PodReady(&p) {
						readyAt <- time.Now()
						return
					}
				}
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	var servedAt time.Time
	var served string
	for ctx.Err() == nil {
		if body, err := try(url + "host.txt"); err == nil && body != old {
			servedAt, served = time.Now(), body
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	var ready time.Time
	select {
	case ready = <-readyAt:
	case <-ctx.Done():
		t.Fatal("the new pod never became Ready")
	}
	if lag := servedAt.Sub(ready); lag > time.Second {
		t.Errorf("the forward served the new pod %s %s after it was Ready, want within 1 s", served, lag)
	} else {
		t.Logf("the new pod %s served %s after it was Ready", served, lag.Round(time.Millisecond))
	}
	// The new container was built before the live update: kiln syncs it in as it starts.
	for body, _ := try(url); body != "hello v2"; body, _ = try(url) {
		if time.Since(servedAt) > time.Second {
			t.Fatalf("the new pod serves %q %s after it served, want the live-updated page within 1 s\n%s", body, time.Since(servedAt), tail(w.stdout.String(), 20))
		}
		time.Sleep(25 * time.Millisecond)
	}
	w.waitFor("caught up with 1 files", 10*time.Second)

	// A change made while the pod is gone: whether it lands by a live update into the new
	// container or by a rebuild, the page served on the same port has it.
	pods, err = c.WaitPodsReady(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web/www/index.html"), []byte("hello v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for body, _ := try(url); body != "hello v3"; body, _ = try(url) {
		if ctx.Err() != nil {
			t.Fatalf("the page changed while the pod was gone never showed; it serves %q\n%s", body, tail(w.stdout.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Logs: both counters in kiln watch's output and in kiln logs, prefixed, in order.
	w.waitFor("beta count 30", time.Minute)
	checkCounter(t, "kiln watch output", w.stdout.String(), "alpha")
	checkCounter(t, "kiln watch output", w.stdout.String(), "beta")
	r := kiln(t, nil, "logs", "alpha", "beta", "--file", dir)
	if r.code != 0 {
		t.Fatalf("kiln logs:\n%s", r)
	}
	checkCounter(t, "kiln logs", r.stdout, "alpha")
	checkCounter(t, "kiln logs", r.stdout, "beta")
	var streams struct {
		Items []struct {
			Status struct {
				Resource, State string
				Lines           int
			} `json:"status"`
		} `json:"items"`
	}
	ls := kiln(t, nil, "get", "logs", "-f", dir, "-o", "json")
	if err := json.Unmarshal([]byte(ls.stdout), &streams); err != nil {
		t.Fatalf("kiln get logs -o json: %v\n%s", err, ls)
	}
	found := false
	for _, it := range streams.Items {
		found = found || it.Status.Resource == "alpha" && it.Status.State == "streaming" && it.Status.Lines >= 30
	}
	if !found {
		t.Errorf("kiln get logs has no streaming alpha stream with its lines:\n%s", ls.stdout)
	}
	if strings.Contains(w.stdout.String(), secretValue) {
		t.Errorf("kiln watch printed the Secret's value")
	}
	if strings.Contains(r.stdout, "hello from web") {
		t.Errorf("kiln logs alpha beta printed another resource's lines")
	}
	if r := kiln(t, nil, "logs", "web", "--file", dir); r.code != 0 || strings.Contains(r.stdout, "count") {
		t.Errorf("kiln logs web shows the counters' lines:\n%s", r)
	}
}

// secretValue is a Secret's value that must never reach kiln's output or its status API.
const secretValue = "kiln-e2e-secret-7f3a9c"

// checkStoreKinds checks what kiln get shows of applies and images: the YAML kiln applied and
// the server's answer, Secret values redacted everywhere, and the image's tag and why it was
// built or skipped. The API refuses a request without the token, or with a foreign Host.
func checkStoreKinds(t *testing.T, dir, ns string) {
	t.Helper()
	r := kiln(t, nil, "get", "applies", "web", "-f", dir, "-o", "yaml")
	if r.code != 0 {
		t.Fatalf("kiln get applies web:\n%s", r)
	}
	for _, want := range []string{"yaml: |", "resultYaml: |", "kind: Deployment", "uid:", "image: example.local/web:kiln-", "deployment/web"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("kiln get applies web -o yaml has no %q:\n%s", want, r.stdout)
		}
	}
	all := kiln(t, nil, "get", "all", "-f", dir, "-o", "json")
	if all.code != 0 || !strings.Contains(all.stdout, "web-token") || !strings.Contains(all.stdout, "redacted by kiln") {
		t.Errorf("kiln get all has no web-token Secret:\n%s", all)
	}
	for _, form := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue))} {
		if strings.Contains(all.stdout, form) {
			t.Errorf("kiln get all shows the Secret's value %q", form)
		}
	}
	img := kiln(t, nil, "get", "images", "example.local/web", "-f", dir, "-o", "json")
	var o struct {
		Status struct{ Tag, State, Why string } `json:"status"`
	}
	if err := json.Unmarshal([]byte(img.stdout), &o); err != nil || !strings.HasPrefix(o.Status.Tag, "example.local/web:kiln-") ||
		(o.Status.State != "built" && o.Status.State != "up to date") || o.Status.Why == "" {
		t.Errorf("kiln get images example.local/web: %+v (%v)\n%s", o.Status, err, img)
	}

	b, err := os.ReadFile(filepath.Join(stateDir(t, dir), "api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ URL, Token string }
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	ask := func(host, token string) int {
		req, _ := http.NewRequest(http.MethodGet, info.URL+"/api/v1/objects/resources", nil)
		if host != "" {
			req.Host = host
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ask("", ""); code != http.StatusUnauthorized {
		t.Errorf("a request without the token got %d, want 401", code)
	}
	if code := ask("", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("a request with a wrong token got %d, want 401", code)
	}
	if code := ask("attacker.example:80", info.Token); code != http.StatusForbidden {
		t.Errorf("a request with a foreign Host (DNS rebinding) got %d, want 403", code)
	}
	if code := ask("", info.Token); code != http.StatusOK {
		t.Errorf("a request with the token got %d, want 200", code)
	}
}

// stateDir is where kiln watch keeps the project's status API.
func stateDir(t *testing.T, dir string) string {
	d, err := statusapi.StateDir(apply.ProjectID(dir))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkCounter checks that out has the counter's lines prefixed with its resource, with no
// number missing or repeated between the first and the last it has.
func checkCounter(t *testing.T, what, out, name string) {
	t.Helper()
	nums := counterNumbers(out, name)
	if len(nums) < 10 {
		t.Errorf("%s has %d prefixed lines of %s, want at least 10:\n%s", what, len(nums), name, tail(out, 40))
		return
	}
	for i := 1; i < len(nums); i++ {
		if nums[i] != nums[i-1]+1 {
			t.Errorf("%s: %s count goes %d → %d (a gap or a repeat)", what, name, nums[i-1], nums[i])
			return
		}
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// checkGetForwards checks one forward in kiln get forwards: its URL (if want), its state and
// its target pod (if want), in -o json and in the table.
func checkGetForwards(t *testing.T, dir, name, url, state, pod string) {
	t.Helper()
	r := kiln(t, nil, "get", "forwards", name, "-f", dir, "-o", "json")
	if r.code != 0 {
		t.Errorf("kiln get forwards %s:\n%s", name, r)
		return
	}
	var o struct {
		Status struct {
			URL, State, Pod, Error string
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("kiln get forwards -o json: %v\n%s", err, r.stdout)
	}
	if (url != "" && o.Status.URL != url) || o.Status.State != state || (pod != "" && o.Status.Pod != pod) {
		t.Errorf("kiln get forwards %s: %+v, want url %q state %q pod %q", name, o.Status, url, state, pod)
	}
	table := kiln(t, nil, "get", "forwards", "-f", dir)
	if table.code != 0 || !strings.Contains(table.stdout, name) || !strings.Contains(table.stdout, "URL") {
		t.Errorf("kiln get forwards (table):\n%s", table)
	}
}

// get fetches a URL through kiln's forward, failing the test on any error.
func get(t *testing.T, url string) string {
	t.Helper()
	body, err := try(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}

func try(url string) (string, error) {
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s", resp.Status)
	}
	return strings.TrimSuffix(string(b), "\n"), err
}

// TestWatchCrashLoopLogs: the log of a crash-looping container streams under kiln watch and
// into kiln logs from each of its runs, scrubbed of the Secret it prints; kiln get resources
// shows its restarts and why it is not ready; and a resource with pod_readiness='ignore'
// does not hold the update.
func TestWatchCrashLoopLogs(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	dir := writeProject(t, map[string]string{
		"crasher/Dockerfile": "FROM " + BusyboxImage + "\nCMD [\"sh\", \"-c\", \"echo run $(cat /proc/sys/kernel/random/uuid) with token $TOKEN; echo fatal: config missing >&2; exit 3\"]\n",
		"Kilnfile":           "docker_build('example.local/crasher', 'crasher')\nk8s_yaml('app.yaml')\nk8s_resource('crasher', pod_readiness='ignore')\n",
		"app.yaml":           crasherYAML(ns),
	})
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 3*time.Minute)
	// The kubelet restarts it after 10 s, then 20 s: two runs within a minute.
	deadline := time.Now().Add(90 * time.Second)
	var r kilnResult
	for {
		r = kiln(t, nil, "logs", "crasher", "--file", dir)
		if strings.Count(r.stdout, "fatal: config missing") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln logs crasher has fewer than two runs after 90 s:\n%s\n--- watch\n%s", r, tail(w.stdout.String(), 30))
		}
		time.Sleep(time.Second)
	}
	runs := regexp.MustCompile(`(?m)^crasher\s+│ (?:\(previous container\) )?run ([0-9a-f-]{36}) with token \[redacted: secret `+regexp.QuoteMeta(ns)+`/crasher-token:token\]$`).FindAllStringSubmatch(r.stdout, -1)
	seen := map[string]int{}
	for _, m := range runs {
		seen[m[1]]++
	}
	if len(seen) < 2 {
		t.Errorf("kiln logs crasher shows %d runs, want two or more, each prefixed and scrubbed:\n%s", len(seen), r.stdout)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("run %s is shown %d times, want once", id, n)
		}
	}
	if strings.Contains(r.stdout+w.stdout.String(), "tok-"+ns) {
		t.Errorf("the Secret's value reached kiln's output")
	}
	if strings.Count(w.stdout.String(), "fatal: config missing") < 2 {
		t.Errorf("kiln watch did not stream both runs:\n%s", tail(w.stdout.String(), 30))
	}
	table := kiln(t, nil, "get", "resources", "-f", dir)
	if !regexp.MustCompile(`(?m)^crasher\s+k8s\s+\S+\s+0/1\s+[1-9]\d*\s.*(CrashLoopBackOff|Error)`).MatchString(table.stdout) {
		t.Errorf("kiln get resources shows no restarts and reason for crasher:\n%s", table)
	}
}

// BenchmarkForwardRecovery: the pod behind a kiln watch forward is deleted, again and again;
// each time, the figure is how long after the new pod is Ready (as the API shows it, polled
// every 10 ms) the same local port serves it. The bound is 1 s.
func BenchmarkForwardRecovery(b *testing.B) {
	c, ns := benchCluster(b)
	local, err := FreePort()
	if err != nil {
		b.Fatal(err)
	}
	files := httpService("fwbench", ns)
	files["fwbench/Dockerfile"] = "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"sh\", \"-c\", \"hostname > /www/host.txt; exec httpd -f -p 8080 -h /www\"]\n"
	files["Kilnfile"] = fmt.Sprintf("docker_build('example.local/fwbench', 'fwbench')\nk8s_yaml('fwbench.yaml')\nk8s_resource('fwbench', port_forwards=['%d:8080'])\n", local)
	dir := writeProject(b, files)
	defer kiln(b, nil, "down", "-f", dir, contextFlag(c))
	w := startWatch(b, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	url := fmt.Sprintf("http://localhost:%d/host.txt", local)
	ctx := context.Background()
	var lags []time.Duration
	b.ResetTimer()
	for i := 0; i < max(b.N, 5); i++ {
		pods, err := c.WaitPodsReady(ctx, ns, "app=fwbench")
		if err != nil {
			b.Fatal(err)
		}
		old := pods[0].Name
		if err := c.Client.CoreV1().Pods(ns).Delete(ctx, old, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		var ready time.Time
		for ready.IsZero() {
			list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fwbench"})
			if err == nil {
				for _, p := range list.Items {
					if p.Name != old && p.DeletionTimestamp == nil && PodReady(&p) {
						ready = time.Now()
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		for {
			if body, err := try(url); err == nil && body != old {
				break
			}
			if time.Since(ready) > time.Minute {
				b.Fatal("the forward did not serve the new pod within a minute")
			}
			time.Sleep(5 * time.Millisecond)
		}
		lags = append(lags, max(0, time.Since(ready)))
	}
	b.StopTimer()
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	_ = w.cmd.Wait()
}

// BenchmarkWatchRSS50: kiln watch with 50 resources, each a pod printing 10 lines a second,
// all streamed, prefixed, scrubbed and stored; the figures are kiln's resident memory after
// the streams have run for 30 s (rss-MiB) and its peak (hwm-MiB).
func BenchmarkWatchRSS50(b *testing.B) {
	c, ns := benchCluster(b)
	var yaml []string
	for i := 0; i < 50; i++ {
		yaml = append(yaml, counterApp(fmt.Sprintf("c%02d", i), ns))
	}
	dir := writeProject(b, map[string]string{
		"counter/Dockerfile": "FROM " + BusyboxImage + "\n",
		"apps.yaml":          strings.Join(yaml, "---\n"),
		"Kilnfile":           "docker_build('example.local/counter', 'counter')\nk8s_yaml('apps.yaml')\n",
	})
	defer kiln(b, nil, "down", "-f", dir, contextFlag(c))
	w := startWatch(b, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 10*time.Minute)
	b.ResetTimer()
	time.Sleep(30 * time.Second)
	b.StopTimer()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	kib := func(field string) float64 {
		m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(status)
		if m == nil {
			b.Fatalf("no %s in /proc/PID/status", field)
		}
		var n float64
		fmt.Sscan(string(m[1]), &n)
		return n
	}
	for _, name := range []string{"c00", "c49"} {
		if !strings.Contains(w.stdout.String(), name+" count 100") {
			b.Errorf("%s's log did not stream (no \"count 100\" line)", name)
		}
	}
	b.ReportMetric(kib("VmRSS")/1024, "rss-MiB")
	b.ReportMetric(kib("VmHWM")/1024, "hwm-MiB")
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	_ = w.cmd.Wait()
}
