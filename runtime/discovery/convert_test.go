package discovery

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodFrom(t *testing.T) {
	now := metav1.Now()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "u1", DeletionTimestamp: &now},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "web", Image: "web:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
			{Name: "side", Image: "side:1"},
		}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "web", Ready: true, RestartCount: 2,
				State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}},
			}},
		},
	}
	got := podFrom("web", p)
	if !got.Ready || !got.Deleting || got.Phase != "Running" || got.ReadySince.IsZero() || len(got.Containers) != 2 {
		t.Fatalf("podFrom: %+v", got)
	}
	w, s := got.Containers[0], got.Containers[1]
	if w.State != "running" || w.Restarts != 2 || w.LastExitCode == nil || *w.LastExitCode != 3 || len(w.Ports) != 1 || w.Ports[0] != 8080 {
		t.Errorf("web container: %+v", w)
	}
	if s.State != "waiting" || s.Ready {
		t.Errorf("a container with no status yet: %+v", s)
	}
}
