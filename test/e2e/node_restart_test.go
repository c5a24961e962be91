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

// TestWatchSurvivesControlPlaneRestart: the kind control-plane container itself is
// restarted (docker restart) under kiln watch. That takes down the apiserver, the kubelet and
// every container of every pod; the pods come back in place with new containers. The same
// local port serves the web pod again within 2 s of it being Ready, by itself, and the
// counter's log has every line of both its runs exactly once: the old container's tail is
// read as the previous container's log, the new one's from its start.
func TestWatchSurvivesControlPlaneRestart(t *testing.T) {
	c, ns, dir, w, url := watchWebAndCounter(t)

	node := c.Name + "-control-plane"
	restartedAt := time.Now()
	t.Cleanup(func() { waitControlPlane(t, c) })
	dockerOutput(t, "restart", "--time", "5", node)
	t.Logf("docker restart %s took %s", node, time.Since(restartedAt).Round(time.Second))

	// The web pod is the same pod with a new container; wait for it to be Ready again.
	ready := waitRestartedReady(t, c, ns, "app=web", 5*time.Minute)
	t.Logf("the web pod was Ready again %s after the restart began", ready.Sub(restartedAt).Round(time.Second))
	for {
		if body, err := try(url); err == nil && body == "hello from web" {
			break
		}
		if time.Since(ready) > 30*time.Second {
			t.Fatalf("the forward did not serve within 30 s of the pod being Ready again\n--- stdout\n%s", tail(w.stdout.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lag := time.Since(ready); lag > 2*time.Second {
		t.Errorf("the forward served %s after the pod was Ready again, want within 2 s", lag)
	} else {
		t.Logf("the forward served %s after the pod was Ready again", lag.Round(time.Millisecond))
	}

	// Both runs of the counter, each whole and once: 1..N from the old container, then 1..M.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := kiln(t, nil, "logs", "alpha", "--file", dir)
		runs, _ := counterRuns(r.stdout, "alpha")
		if len(runs) >= 2 && runs[len(runs)-1].last >= 20 {
			checkRuns(t, "kiln logs after the node restart", r.stdout, "alpha")
			checkRuns(t, "kiln watch output after the node restart", w.stdout.String(), "alpha")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln logs alpha did not show the counter's second run (%v):\n%s", runs, tail(r.stdout, 20))
		}
		time.Sleep(time.Second)
	}
}

// counterRun is one run of a counter container: its counts from first to last, consecutive.
type counterRun struct{ first, last int }

// counterLine matches a counter's prefixed line, the old container's marked or not.
func counterLine(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + name + `\s+│ (?:\(previous container\) )?` + name + ` count (\d+)$`)
}

// counterRuns splits a counter's counts into runs, a new run where the count starts again at
// 1. bad describes the first count that neither follows the one before nor starts again.
func counterRuns(out, name string) (runs []counterRun, bad string) {
	for _, m := range counterLine(name).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		switch {
		case n == 1:
			runs = append(runs, counterRun{1, 1})
		case len(runs) > 0 && runs[len(runs)-1].last+1 == n:
			runs[len(runs)-1].last = n
		case len(runs) > 0:
			return runs, fmt.Sprintf("count goes %d → %d (a gap or a repeat)", runs[len(runs)-1].last, n)
		default:
			return runs, fmt.Sprintf("count starts at %d", n)
		}
	}
	return runs, ""
}

// checkRuns wants at least two whole runs of the counter, the first of at least 20 lines,
// with no gap or repeat in any.
func checkRuns(t *testing.T, what, out, name string) {
	t.Helper()
	runs, bad := counterRuns(out, name)
	if bad != "" {
		t.Errorf("%s: %s %s:\n%s", what, name, bad, tail(out, 40))
	} else if len(runs) < 2 || runs[0].last < 20 {
		t.Errorf("%s: %s has runs %v, want two or more, the first at least 20 lines:\n%s", what, name, runs, tail(out, 40))
	}
}

// waitRestartedReady waits for the pod matching selector in ns to have restarted its
// containers and be Ready again, and returns when kiln's forward could first have known:
// the moment the test saw it Ready.
func waitRestartedReady(t *testing.T, c *Cluster, ns, selector string, timeout time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for ctx.Err() == nil {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(pods.Items) == 1 {
			p := &pods.Items[0]
			restarted := len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount > 0
			if restarted && PodReady(p) {
				return time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the pod %s in %s was not Ready again within %s", selector, ns, timeout)
	return time.Time{}
}
