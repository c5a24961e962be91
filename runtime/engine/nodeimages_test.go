package engine

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestListNodeImages(t *testing.T) {
	node := func(name string, images ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, img := range images {
			n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{img}})
		}
		return n
	}
	pod := func(name, node, image string, running bool) *corev1.Pod {
		st := corev1.ContainerStatus{Name: "c", Image: image}
		if running {
			st.State.Running = &corev1.ContainerStateRunning{}
		} else {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull"}
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:       corev1.PodSpec{NodeName: node},
			Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{st}},
		}
	}
	client := fake.NewSimpleClientset(
		node("a", "docker.io/library/big:1"),
		node("b"),
		pod("running-on-a", "a", "example.local/small:kiln-1", true),
		pod("running-on-b", "b", "docker.io/library/big:1", true),
		pod("waiting-on-b", "b", "example.local/small:kiln-1", false),
		pod("short-name-on-b", "b", "app:kiln-2", true),
	)
	got := listNodeImages(context.Background(), client)
	has := func(node, name string) bool { return got[node][name] }
	for _, c := range []struct {
		node, image string
		want        bool
	}{
		{"a", "docker.io/library/big:1", true},      // node status
		{"a", "example.local/small:kiln-1", true},   // a running container
		{"b", "docker.io/library/big:1", true},      // a running container
		{"b", "example.local/small:kiln-1", false},  // waiting: proves nothing
		{"b", "docker.io/library/app:kiln-2", true}, // containerd's form of a short name
	} {
		if has(c.node, c.image) != c.want {
			t.Errorf("node %s has %s: got %v, want %v (all: %v)", c.node, c.image, !c.want, c.want, got)
		}
	}
	if got := listNodeImages(context.Background(), fake.NewSimpleClientset()); got != nil {
		t.Errorf("no nodes: want nil, got %v", got)
	}
}
