// Package e2e holds kiln's end-to-end tests (files with the e2e build tag),
// run against the kind cluster that `make cluster` leaves up, and the helpers
// they share: client setup from the default kubeconfig, image load into the
// kind nodes, readiness waits, logs, exec and port-forward through client-go.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	dockerclient "github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// DefaultClusterName is the kind cluster `make cluster` creates.
const DefaultClusterName = "kiln-e2e"

// Test images `make cluster` (make test-images) leaves in the Docker engine.
const (
	BusyboxImage  = "kiln.local/busybox:latest"  // sh, tar and busybox's applets
	DebianImage   = "kiln.local/debian:bookworm" // debootstrap'ed minbase
	GoserverImage = "kiln.local/goserver:latest" // HTTP on $PORT (8080), /healthz
)

// ClusterName is $KILN_E2E_CLUSTER, or DefaultClusterName.
func ClusterName() string {
	if n := os.Getenv("KILN_E2E_CLUSTER"); n != "" {
		return n
	}
	return DefaultClusterName
}

// Cluster is a connection to a kind cluster through its kubeconfig context.
type Cluster struct {
	Name    string // kind cluster name
	Context string // kubeconfig context, "kind-" + Name
	Config  *rest.Config
	Client  kubernetes.Interface
}

// Connect builds clients for kind cluster name from the default kubeconfig
// ($KUBECONFIG or ~/.kube/config), with the context kind-<name>.
func Connect(name string) (*Cluster, error) {
	kctx := "kind-" + name
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %s (run `make cluster`): %w", kctx, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Name: name, Context: kctx, Config: cfg, Client: cs}, nil
}

// poll calls f every interval until it returns true or an error, or ctx ends;
// then it returns the last reason f gave for not being done.
func poll(ctx context.Context, interval time.Duration, f func(context.Context) (bool, string, error)) error {
	last := "not checked yet"
	for {
		done, why, err := f(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if why != "" {
			last = why
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// WaitReady waits until every node is Ready, every kube-system pod is Ready
// (or has completed), CoreDNS and kube-proxy run, and the default service
// account exists, so that pods can be created.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return poll(ctx, time.Second, func(ctx context.Context) (bool, string, error) {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "API server: " + err.Error(), nil
		}
		if len(nodes.Items) == 0 {
			return false, "no nodes", nil
		}
		for _, n := range nodes.Items {
			if !nodeReady(&n) {
				return false, "node " + n.Name + " not Ready", nil
			}
		}
		pods, err := c.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		seen := map[string]bool{}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded {
				continue
			}
			if !PodReady(&p) {
				return false, "kube-system pod " + p.Name + " not Ready", nil
			}
			for _, want := range []string{"coredns", "kube-proxy", "kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"} {
				if strings.HasPrefix(p.Name, want+"-") {
					seen[want] = true
				}
			}
		}
		if len(seen) < 6 {
			return false, fmt.Sprintf("kube-system has only %v ready", keys(seen)), nil
		}
		if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, "default service account: " + err.Error(), nil
		}
		return true, "", nil
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodReady reports whether pod p has the Ready condition.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// LoadImages copies images from the local Docker engine into every node of
// the kind cluster, in process: `docker save` through the Docker API, then
// kind's nodeutils.LoadImageArchive (ctr import in the node's containerd).
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	dc, err := dockerclient.New(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer dc.Close()
	nodes, err := cluster.NewProvider(cluster.ProviderWithDocker()).ListInternalNodes(c.Name)
	if err != nil {
		return fmt.Errorf("kind nodes of %s: %w", c.Name, err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes", c.Name)
	}
	for _, n := range nodes {
		rc, err := dc.ImageSave(ctx, images)
		if err != nil {
			return fmt.Errorf("docker save %v: %w", images, err)
		}
		err = nodeutils.LoadImageArchive(n, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("load %v into node %s: %w", images, n, err)
		}
	}
	return nil
}

// CreateNamespace creates a namespace named prefix-<random> and returns its
// name and a function that deletes it.
func (c *Cluster) CreateNamespace(ctx context.Context, prefix string) (string, func(), error) {
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: map[string]string{"kiln.dev/e2e": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", nil, err
	}
	del := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "e2e: delete namespace %s: %v\n", ns.Name, err)
		}
	}
	return ns.Name, del, nil
}

// WaitPodsReady waits until at least one pod matches selector in namespace
// ns and all of them are Ready, and returns them.
func (c *Cluster) WaitPodsReady(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	var ready []corev1.Pod
	err := poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error(), nil
		}
		if len(pods.Items) == 0 {
			return false, "no pod matches " + selector, nil
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || !PodReady(&p) {
				return false, fmt.Sprintf("pod %s: phase %s, %s", p.Name, p.Status.Phase, podWaitReason(&p)), nil
			}
		}
		ready = pods.Items
		return true, "", nil
	})
	return ready, err
}

func podWaitReason(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			return s.Name + ": " + s.State.Waiting.Reason + " " + s.State.Waiting.Message
		}
	}
	return "not ready"
}

// Logs returns the logs of a container of a pod.
func (c *Cluster) Logs(ctx context.Context, ns, pod, container string) (string, error) {
	b, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	return string(b), err
}

// Exec runs cmd in a container of a pod, as `kubectl exec` does (SPDY), and
// returns its stdout and stderr.
func (c *Cluster) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdin io.Reader) (string, string, error) {
	req := c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: container,
		Command:   cmd,
		Stdin:     stdin != nil,
		Stdout:    true,
		Stderr:    true,
	}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(c.Config, http.MethodPost, req.URL())
	if err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// PortForward forwards a free local port on 127.0.0.1 to port of a pod, as
// `kubectl port-forward` does, and returns the local port and a stop function.
func (c *Cluster) PortForward(ctx context.Context, ns, pod string, port int) (int, func(), error) {
	transport, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return 0, nil, err
	}
	u, err := url.Parse(c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).
		SubResource("portforward").URL().String())
	if err != nil {
		return 0, nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)},
		stop, ready, io.Discard, os.Stderr)
	if err != nil {
		return 0, nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, nil, fmt.Errorf("port-forward to %s/%s:%d: %w", ns, pod, port, err)
	case <-ctx.Done():
		close(stop)
		return 0, nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return 0, nil, fmt.Errorf("port-forward ports: %v", err)
	}
	var stopped bool
	return int(ports[0].Local), func() {
		if !stopped {
			stopped = true
			close(stop)
		}
	}, nil
}

// HTTPGet GETs url, retrying until it answers 200 or ctx ends, and returns the body.
func HTTPGet(ctx context.Context, rawURL string) (string, error) {
	var body string
	err := poll(ctx, 300*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return false, "", err
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return false, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Sprintf("%s: %s", resp.Status, b), nil
		}
		body = string(b)
		return true, "", nil
	})
	return body, err
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
