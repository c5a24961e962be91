package logs

import corev1 "k8s.io/api/core/v1"

// FromAPI is the Pod of a resource that p describes, init containers included, for callers
// that hold API objects.
func FromAPI(resource string, p *corev1.Pod) Pod {
	out := Pod{Resource: resource, Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	add := func(specs []corev1.Container, statuses []corev1.ContainerStatus, init bool) {
		for _, c := range specs {
			pc := Container{Name: c.Name, Init: init}
			for _, st := range statuses {
				if st.Name == c.Name {
					pc.Restarts = st.RestartCount
					pc.Running = st.State.Running != nil
					pc.Terminated = st.State.Terminated != nil
				}
			}
			out.Containers = append(out.Containers, pc)
		}
	}
	add(p.Spec.InitContainers, p.Status.InitContainerStatuses, true)
	add(p.Spec.Containers, p.Status.ContainerStatuses, false)
	return out
}
