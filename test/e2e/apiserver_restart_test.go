//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWatchSurvivesAPIServerRestart: the kind control plane's apiserver is killed (the
// kubelet starts it again, which takes a minute or so) while kiln watch forwards a port and
// streams a counter's log. Once the apiserver answers again, the forward serves within 2 s,
// by itself, and the counter's log has every line exactly once across the outage: the
// streams resumed from the last timestamp they had.
func TestWatchSurvivesAPIServerRestart(t *testing.T) {
	c, _, dir, w, url := watchWebAndCounter(t)

	node := c.Name + "-control-plane"
	killedAt := time.Now()
	dockerOutput(t, "exec", node, "pkill", "-x", "kube-apiserver")
	t.Cleanup(func() { waitControlPlane(t, c) })
	// Wait until it is gone, then until it answers again.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for ctx.Err() == nil && readyz(ctx, c) {
		time.Sleep(50 * time.Millisecond)
	}
	for ctx.Err() == nil && !readyz(ctx, c) {
		time.Sleep(50 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("the apiserver did not come back within 5 minutes")
	}
	back := time.Now()
	t.Logf("the apiserver was away for %s", back.Sub(killedAt).Round(time.Second))
	for {
		if body, err := try(url); err == nil && body == "hello from web" {
			break
		}
		if time.Since(back) > 30*time.Second {
			t.Fatalf("the forward did not serve within 30 s of the apiserver being back\n--- stdout\n%s", tail(w.stdout.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	lag := time.Since(back)
	if lag > 2*time.Second {
		t.Errorf("the forward served %s after the apiserver was back, want within 2 s", lag)
	} else {
		t.Logf("the forward served %s after the apiserver was back", lag.Round(time.Millisecond))
	}

	// The counter ran on through the outage: its log must have all of it, once.
	outage := int(back.Sub(killedAt) / (100 * time.Millisecond))
	deadline := time.Now().Add(time.Minute)
	for {
		r := kiln(t, nil, "logs", "alpha", "--file", dir)
		nums := counterNumbers(r.stdout, "alpha")
		if len(nums) > 0 && nums[len(nums)-1] > 20+outage {
			checkCounter(t, "kiln logs after the apiserver restart", r.stdout, "alpha")
			checkCounter(t, "kiln watch output after the apiserver restart", w.stdout.String(), "alpha")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln logs alpha did not catch up with the outage (%d lines over %s):\n%s", len(nums), back.Sub(killedAt), tail(r.stdout, 20))
		}
		time.Sleep(time.Second)
	}
}

// watchWebAndCounter starts kiln watch on a project of two resources in a new namespace:
// web, forwarded to a free local port (url), and alpha, a counter logging ten lines a second.
// It returns once the forward serves and the counter has logged 20 lines.
func watchWebAndCounter(t *testing.T) (c *Cluster, ns, dir string, w *watchSession, url string) {
	t.Helper()
	c = connect(t)
	ns = newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	files := httpService("web", ns)
	files["counter/Dockerfile"] = "FROM " + BusyboxImage + "\n"
	files["alpha.yaml"] = counterApp("alpha", ns)
	files["Kilnfile"] = fmt.Sprintf("docker_build('example.local/web', 'web')\ndocker_build('example.local/counter', 'counter')\n"+
		"k8s_yaml(['web.yaml', 'alpha.yaml'])\nk8s_resource('web', port_forwards=['%d:8080'])\n", local)
	dir = writeProject(t, files)
	w = startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 3*time.Minute)
	url = fmt.Sprintf("http://localhost:%d/", local)
	if got := get(t, url); got != "hello from web" {
		t.Fatalf("the forward served %q", got)
	}
	w.waitFor("alpha count 20", time.Minute)
	return c, ns, dir, w, url
}

// counterNumbers are the counts of a counter's prefixed lines, in order.
func counterNumbers(out, name string) []int {
	re := regexp.MustCompile(`(?m)^` + name + `\s+│ ` + name + ` count (\d+)$`)
	var nums []int
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		nums = append(nums, n)
	}
	return nums
}

func readyz(ctx context.Context, c *Cluster) bool {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
	return err == nil && string(body) == "ok"
}

// waitControlPlane waits until every kube-system pod is Ready again (the controller manager
// and the scheduler lose their leases while the apiserver is away and restart), so that the
// tests after this one find a whole cluster.
func waitControlPlane(t *testing.T, c *Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		pods, err := c.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) > 0 {
			ready := true
			for i := range pods.Items {
				ready = ready && PodReady(&pods.Items[i])
			}
			if ready && readyz(ctx, c) {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("the control plane was not whole again within 5 minutes")
}
