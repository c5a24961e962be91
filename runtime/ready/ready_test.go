package ready

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func obj(kind string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]any{"name": "x", "generation": int64(2)}}}
	for k, v := range fields {
		u.Object[k] = v
	}
	return u
}

func TestRolledOut(t *testing.T) {
	cases := []struct {
		name string
		u    *unstructured.Unstructured
		want bool
	}{
		{"deployment rolled out", obj("Deployment", map[string]any{"spec": map[string]any{"replicas": int64(2)},
			"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2)}}), true},
		{"deployment with old generation observed", obj("Deployment", map[string]any{"spec": map[string]any{"replicas": int64(2)},
			"status": map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2)}}), false},
		{"deployment with old pods still running", obj("Deployment", map[string]any{"spec": map[string]any{"replicas": int64(1)},
			"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(2), "updatedReplicas": int64(1), "availableReplicas": int64(1)}}), false},
		{"statefulset not ready", obj("StatefulSet", map[string]any{"spec": map[string]any{"replicas": int64(1)},
			"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(1), "updatedReplicas": int64(1), "readyReplicas": int64(0)}}), false},
		{"daemonset rolled out", obj("DaemonSet", map[string]any{
			"status": map[string]any{"observedGeneration": int64(2), "desiredNumberScheduled": int64(1), "updatedNumberScheduled": int64(1), "numberAvailable": int64(1)}}), true},
		{"job complete", obj("Job", map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}}), true},
		{"job running", obj("Job", map[string]any{"status": map[string]any{}}), false},
		{"pod succeeded", obj("Pod", map[string]any{"status": map[string]any{"phase": "Succeeded"}}), true},
		{"pod running, not ready", obj("Pod", map[string]any{"status": map[string]any{"phase": "Running", "conditions": []any{map[string]any{"type": "Ready", "status": "False"}}}}), false},
	}
	for _, c := range cases {
		if got, msg := rolledOut(c.u); got != c.want {
			t.Errorf("%s: rolledOut = %v (%s), want %v", c.name, got, msg, c.want)
		}
	}
}

func TestPodsSettled(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	pod := func(uid string, ready bool, since time.Time) corev1.Pod {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(since)},
			}},
		}
	}
	settle := 2 * time.Second
	seen := map[types.UID]time.Time{}

	if ok, _ := podsSettled([]corev1.Pod{pod("old", true, now.Add(-time.Hour))}, now, settle, seen); !ok {
		t.Error("a pod Ready for an hour is settled at once")
	}
	fresh := []corev1.Pod{pod("fresh", true, now.Add(-time.Second))}
	if ok, _ := podsSettled(fresh, now, settle, seen); ok {
		t.Error("a pod Ready for a second is not settled yet")
	}
	if ok, _ := podsSettled(fresh, now.Add(time.Second), settle, seen); ok {
		t.Error("seen Ready for 1s of a 2s settle: not settled")
	}
	if ok, _ := podsSettled(fresh, now.Add(2*time.Second), settle, seen); !ok {
		t.Error("seen Ready for the whole settle time: settled")
	}
	// A pod that crashes and comes back Ready starts its settle time again.
	if ok, _ := podsSettled([]corev1.Pod{pod("flappy", true, now)}, now, settle, seen); ok {
		t.Error("just Ready: not settled")
	}
	if ok, _ := podsSettled([]corev1.Pod{pod("flappy", false, now)}, now.Add(time.Second), settle, seen); ok {
		t.Error("not Ready: not settled")
	}
	if ok, _ := podsSettled([]corev1.Pod{pod("flappy", true, now.Add(2*time.Second))}, now.Add(2*time.Second), settle, seen); ok {
		t.Error("Ready again: its settle time starts over")
	}
	if ok, _ := podsSettled(nil, now, settle, seen); !ok {
		t.Error("no current pods: nothing to wait for")
	}
}
