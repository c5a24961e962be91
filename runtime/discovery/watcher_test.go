package discovery

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func owner(kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid}}
}

func pod(name string, owners []metav1.OwnerReference, l map[string]string, created time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", OwnerReferences: owners, Labels: l,
		UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)}}
}

// waitPods waits until the watcher has want pods (by name, newest first) for resource.
func waitPods(t *testing.T, w *Watcher, resource string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var names []string
	for time.Now().Before(deadline) {
		names = names[:0]
		for _, p := range w.Pods(resource) {
			names = append(names, p.Name)
		}
		if equal(names, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pods of %s: %v, want %v", resource, names, want)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The owner walk: a Deployment's pods through its ReplicaSet, a CronJob's through its Job, a
// StatefulSet's and a bare Pod directly, extra_pod_selectors by label; a pod of an unrelated
// ReplicaSet, or of a ReplicaSet whose UID does not match the reference, is nobody's.
func TestWatcherFollowsOwners(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	client := fake.NewSimpleClientset(
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "rs1", OwnerReferences: owner("Deployment", "web", "d1")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "other-1", Namespace: "ns", UID: "rs2", OwnerReferences: owner("Deployment", "other", "d2")}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: "ns", UID: "j1", OwnerReferences: owner("CronJob", "nightly", "c1")}},
		pod("web-1-a", owner("ReplicaSet", "web-1", "rs1"), nil, t0),
		pod("web-1-b", owner("ReplicaSet", "web-1", "rs1"), nil, t0.Add(time.Minute)),
		pod("web-1-stale", owner("ReplicaSet", "web-1", "not-rs1"), nil, t0),
		pod("other-1-a", owner("ReplicaSet", "other-1", "rs2"), map[string]string{"app": "other"}, t0),
		pod("nightly-1-a", owner("Job", "nightly-1", "j1"), nil, t0),
		pod("db-0", owner("StatefulSet", "db", "s1"), nil, t0),
		pod("bare", nil, nil, t0),
	)
	w := NewWatcher(client)
	defer w.Close()
	changes, cancel := w.Subscribe()
	defer cancel()
	w.SetTargets(map[string]Target{
		"web":     {Objects: []Object{{"Deployment", "ns", "web"}}},
		"nightly": {Objects: []Object{{"CronJob", "ns", "nightly"}}},
		"db":      {Objects: []Object{{"StatefulSet", "ns", "db"}, {"Pod", "ns", "bare"}}},
		"extra":   {Objects: []Object{{"ConfigMap", "ns", "x"}}, ExtraSelectors: []map[string]string{{"app": "other"}}},
	})
	waitPods(t, w, "web", "web-1-b", "web-1-a")
	waitPods(t, w, "nightly", "nightly-1-a")
	waitPods(t, w, "db", "db-0", "bare")
	waitPods(t, w, "extra", "other-1-a")

	// A new pod is seen, and its resource's subscribers hear of it.
	drain(changes)
	if _, err := client.CoreV1().Pods("ns").Create(context.Background(), pod("web-1-c", owner("ReplicaSet", "web-1", "rs1"), nil, t0.Add(2*time.Minute)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, w, "web", "web-1-c", "web-1-b", "web-1-a")
	select {
	case r := <-changes:
		if r != "web" {
			t.Errorf("a web pod was added, but subscribers heard of %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscribers did not hear of a new pod")
	}

	// A resource dropped from the targets has no pods.
	w.SetTargets(map[string]Target{"web": {Objects: []Object{{"Deployment", "ns", "web"}}}})
	if got := w.Pods("db"); len(got) != 0 {
		t.Errorf("a forgotten resource still has pods: %v", got)
	}
}

func drain(ch <-chan string) {
	for {
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}
