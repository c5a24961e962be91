//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestSmoke proves the cluster `make cluster` made can do what kiln needs at
// run time: a locally built image is loaded into the node, a Deployment and a
// Service are applied, the pod becomes Ready, its logs are read, a command
// runs through exec, and an HTTP request through a port-forward answers.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	c, err := Connect(ClusterName())
	if err != nil {
		t.Fatal(err)
	}
	step := func(name string, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %.2fs", name, time.Since(start).Seconds())
	}

	step("cluster ready", func() error { return c.WaitReady(ctx) })
	step("load images", func() error { return c.LoadImages(ctx, GoserverImage, BusyboxImage) })

	ns, cleanup, err := c.CreateNamespace(ctx, "kiln-smoke")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	t.Logf("namespace %s", ns)

	labels := map[string]string{"app": "smoke"}
	const greeting = "hello from the kiln e2e smoke test"
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr(int64(1)),
					Containers: []corev1.Container{
						{
							Name:            "web",
							Image:           GoserverImage,
							ImagePullPolicy: corev1.PullNever, // loaded, never pulled
							Env:             []corev1.EnvVar{{Name: "GREETING", Value: greeting}},
							Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
							ReadinessProbe: &corev1.Probe{
								ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
								PeriodSeconds: 1,
							},
						},
						{
							// A shell and tar, as live_update needs.
							Name:            "shell",
							Image:           BusyboxImage,
							ImagePullPolicy: corev1.PullNever,
							Command:         []string{"sh", "-c", "echo shell up; exec sleep 3600"},
						},
					},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	step("apply Deployment+Service", func() error {
		if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	})

	var pod corev1.Pod
	step("pod Ready", func() error {
		pods, err := c.WaitPodsReady(ctx, ns, "app=smoke")
		if err != nil {
			return err
		}
		pod = pods[0]
		return nil
	})

	step("logs", func() error {
		return pollUntil(ctx, func() error {
			logs, err := c.Logs(ctx, ns, pod.Name, "web")
			if err != nil {
				return err
			}
			if !strings.Contains(logs, "goserver listening on :8080") {
				return fmt.Errorf("web logs %q lack the start line", logs)
			}
			return nil
		})
	})

	step("exec", func() error {
		out, stderr, err := c.Exec(ctx, ns, pod.Name, "shell",
			[]string{"sh", "-c", "mkdir -p /tmp/x && echo payload > /tmp/x/f && tar -C /tmp -cf - x | tar -tf - && cat /tmp/x/f"}, nil)
		if err != nil {
			return fmt.Errorf("%v (stderr %q)", err, stderr)
		}
		if !strings.Contains(out, "x/f") || !strings.Contains(out, "payload") {
			return fmt.Errorf("exec output %q", out)
		}
		return nil
	})

	step("exec with stdin", func() error {
		out, stderr, err := c.Exec(ctx, ns, pod.Name, "shell", []string{"sh", "-c", "cat | wc -c"},
			strings.NewReader("12345"))
		if err != nil {
			return fmt.Errorf("%v (stderr %q)", err, stderr)
		}
		if strings.TrimSpace(out) != "5" {
			return fmt.Errorf("exec stdin: got %q", out)
		}
		return nil
	})

	step("port-forward + HTTP GET", func() error {
		port, stop, err := c.PortForward(ctx, ns, pod.Name, 8080)
		if err != nil {
			return err
		}
		defer stop()
		body, err := HTTPGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/smoke", port))
		if err != nil {
			return err
		}
		if !strings.Contains(body, greeting) || !strings.Contains(body, "path /smoke") {
			return fmt.Errorf("HTTP body %q", body)
		}
		return nil
	})

	step("Service has the pod as a ready endpoint", func() error {
		return pollUntil(ctx, func() error {
			eps, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx,
				metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=smoke"})
			if err != nil {
				return err
			}
			var got []string
			for _, s := range eps.Items {
				for _, e := range s.Endpoints {
					got = append(got, e.Addresses...)
					if slices.Contains(e.Addresses, pod.Status.PodIP) && e.Conditions.Ready != nil && *e.Conditions.Ready {
						return nil
					}
				}
			}
			return fmt.Errorf("ready endpoints %v lack pod IP %s", got, pod.Status.PodIP)
		})
	})
	step("HTTP GET through the Service, in the cluster (CoreDNS, kube-proxy)", func() error {
		return pollUntil(ctx, func() error {
			out, stderr, err := c.Exec(ctx, ns, pod.Name, "shell",
				// busybox 1.35 wget segfaults with -T: time it out with timeout(1)
				[]string{"timeout", "5", "wget", "-q", "-O", "-", "http://smoke/svc"}, nil)
			if err != nil {
				return fmt.Errorf("%v (stderr %q)", err, stderr)
			}
			if !strings.Contains(out, greeting) {
				return fmt.Errorf("service answer %q", out)
			}
			return nil
		})
	})
}

func ptr[T any](v T) *T { return &v }

// pollUntil retries f every half second until it succeeds or ctx ends.
func pollUntil(ctx context.Context, f func() error) error {
	return poll(ctx, 500*time.Millisecond, func(context.Context) (bool, string, error) {
		if err := f(); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}
