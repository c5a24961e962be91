package ready

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
