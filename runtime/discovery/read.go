package discovery

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// syncWait bounds how long a read waits for a namespace's informers to fill their caches
// before it asks the API server instead.
const syncWait = 5 * time.Second

// ListPods returns the pods of ns that sel matches, from the same informer caches that
// discovery follows, so that readiness and the live view agree and a readiness poll costs no
// API request. A namespace nothing watched yet is watched from now on. Until its caches have
// synced (at most syncWait), the API server answers instead.
func (w *Watcher) ListPods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
	if sp := w.readSpace(ctx, ns); sp != nil {
		cached, err := sp.pods.Pods(ns).List(sel)
		if err != nil {
			return nil, err
		}
		out := make([]corev1.Pod, len(cached))
		for i, p := range cached {
			out[i] = *p.DeepCopy() // the cache's objects are shared: never hand them out
		}
		return out, nil
	}
	list, err := w.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// ListReplicaSets is ListPods for ReplicaSets.
func (w *Watcher) ListReplicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error) {
	if sp := w.readSpace(ctx, ns); sp != nil {
		cached, err := sp.rs.ReplicaSets(ns).List(sel)
		if err != nil {
			return nil, err
		}
		out := make([]appsv1.ReplicaSet, len(cached))
		for i, rs := range cached {
			out[i] = *rs.DeepCopy()
		}
		return out, nil
	}
	list, err := w.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// readSpace returns ns's informers once they have synced, starting them if need be, or nil
// when they have not synced within syncWait (or ctx ended, or the watcher is closed).
func (w *Watcher) readSpace(ctx context.Context, ns string) *space {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.read[ns] = true
	sp := w.spaces[ns]
	if sp == nil {
		sp = w.startSpace(ns)
		w.spaces[ns] = sp
	}
	w.mu.Unlock()
	// Polled every 5 ms rather than with cache.WaitForCacheSync, whose 100 ms period would be
	// most of an unchanged kiln run.
	deadline := time.NewTimer(syncWait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !synced(sp.synced) {
		select {
		case <-ctx.Done():
			return nil
		case <-sp.stop:
			return nil
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
	return sp
}

func synced(fns []cache.InformerSynced) bool {
	for _, f := range fns {
		if !f() {
			return false
		}
	}
	return true
}
