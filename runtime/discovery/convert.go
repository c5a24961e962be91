package discovery

import (
	corev1 "k8s.io/api/core/v1"
)

// podFrom is what discovery keeps of a pod: its status summary, not the whole object, so
// memory stays small.
func podFrom(resource string, p *corev1.Pod) Pod {
	out := Pod{
		Resource: resource, Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: p.Spec.NodeName,
		Phase: string(p.Status.Phase), Created: p.CreationTimestamp.Time, Deleting: p.DeletionTimestamp != nil,
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
			if out.Ready {
				out.ReadySince = c.LastTransitionTime.Time
			}
		}
	}
	out.InitContainers = containersFrom(p.Spec.InitContainers, p.Status.InitContainerStatuses)
	out.Containers = containersFrom(p.Spec.Containers, p.Status.ContainerStatuses)
	return out
}

// containersFrom joins the spec's containers, in spec order, with their statuses.
func containersFrom(spec []corev1.Container, statuses []corev1.ContainerStatus) []Container {
	var out []Container
	for _, sc := range spec {
		c := Container{Name: sc.Name, Image: sc.Image, State: "waiting"}
		for _, p := range sc.Ports {
			c.Ports = append(c.Ports, p.ContainerPort)
		}
		for _, st := range statuses {
			if st.Name != sc.Name {
				continue
			}
			c.ImageID, c.ContainerID, c.Ready, c.Restarts = st.ImageID, st.ContainerID, st.Ready, st.RestartCount
			switch s := st.State; {
			case s.Running != nil:
				c.State, c.StartedAt = "running", s.Running.StartedAt.Time
			case s.Terminated != nil:
				c.State, c.Reason, c.Message = "terminated", s.Terminated.Reason, s.Terminated.Message
				c.StartedAt = s.Terminated.StartedAt.Time
			case s.Waiting != nil:
				c.Reason, c.Message = s.Waiting.Reason, s.Waiting.Message
			}
			if t := st.LastTerminationState.Terminated; t != nil {
				code := t.ExitCode
				c.LastExitCode = &code
			}
		}
		out = append(out, c)
	}
	return out
}
