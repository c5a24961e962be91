package discovery

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"
)

// ListPods reads the informer cache: it selects by label, hands out copies, sees a pod
// created after the first read (pushed by the watch, not listed again), and keeps the
// namespace watched when SetTargets no longer needs it.
func TestListPodsReadsTheCache(t *testing.T) {
	t0 := time.Now()
	client := fake.NewSimpleClientset(
		pod("web-1", nil, map[string]string{"app": "web"}, t0),
		pod("db-1", nil, map[string]string{"app": "db"}, t0),
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "ns", Labels: map[string]string{"app": "web"}}},
	)
	w := NewWatcher(client)
	defer w.Close()
	ctx := context.Background()
	web := labels.SelectorFromSet(map[string]string{"app": "web"})

	got, err := w.ListPods(ctx, "ns", web)
	if err != nil || len(got) != 1 || got[0].Name != "web-1" {
		t.Fatalf("ListPods(app=web) = %v, %v; want web-1", names(got), err)
	}
	got[0].Labels["app"] = "changed"
	if again, _ := w.ListPods(ctx, "ns", web); len(again) != 1 {
		t.Fatalf("changing a returned pod changed the cache: %v", names(again))
	}
	rss, err := w.ListReplicaSets(ctx, "ns", web)
	if err != nil || len(rss) != 1 || rss[0].Name != "web-abc" {
		t.Fatalf("ListReplicaSets(app=web) = %v, %v", rss, err)
	}

	w.SetTargets(map[string]Target{}) // nothing needs ns for logs or forwards now
	if _, err := client.CoreV1().Pods("ns").Create(ctx, pod("web-2", nil, map[string]string{"app": "web"}, t0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ = w.ListPods(ctx, "ns", web)
		if len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not see web-2: %v", names(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	watched := w.spaces["ns"] != nil
	w.mu.Unlock()
	if !watched {
		t.Fatal("SetTargets stopped the namespace that readiness reads")
	}
}

// After Close, reads go to the API server.
func TestListPodsAfterClose(t *testing.T) {
	client := fake.NewSimpleClientset(pod("web-1", nil, map[string]string{"app": "web"}, time.Now()))
	w := NewWatcher(client)
	w.Close()
	got, err := w.ListPods(context.Background(), "ns", labels.Everything())
	if err != nil || len(got) != 1 {
		t.Fatalf("ListPods after Close = %v, %v", names(got), err)
	}
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}
