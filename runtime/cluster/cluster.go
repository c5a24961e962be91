// Package cluster brings up the local kind cluster a Kilnfile declares and gets images into it.
//
//   - Ensure makes the cluster exist, run and be ready: an existing cluster is only started
//     (never recreated, never deleted); a missing one is created with the kind library.
//   - LoadImages copies images from the Docker engine into every kind node, in process, and
//     skips those the nodes already have.
//   - LocalRegistry reads the KEP-1755 local-registry-hosting ConfigMap, for clusters that
//     come with a registry (kiln pushes there instead of loading).
//
// kind itself is driven through its Go library with the Docker provider; it runs the `docker`
// CLI for node operations, so that CLI must be on PATH. Only the cluster named in the plan is
// ever touched.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// NodeImageEnv names the environment variable that overrides kind's default node image.
const NodeImageEnv = "KILN_KIND_NODE_IMAGE"

// DefaultClusterName is kind's own default cluster name.
const DefaultClusterName = "kind"

// Timeouts. ctx deadlines shorter than these win.
const (
	// createWait bounds kind's own wait for the control plane to be Ready.
	createWait = 4 * time.Minute
	// readyWait bounds the wait for kube-system and the default service account.
	readyWait = 4 * time.Minute
	// startWait bounds the wait for the API server of nodes that were just started.
	startWait = 3 * time.Minute
	// upWait is how long a cluster whose nodes were already running gets to answer.
	upWait = 15 * time.Second
	// lenientWait is how long such a cluster's kube-system workloads get to be ready.
	lenientWait = 30 * time.Second
)

// kind's labels on node containers.
const roleLabel = "io.x-k8s.kind.role"

// KindName returns the kind cluster name of a kubeconfig context kind wrote ("kind-foo" → "foo").
func KindName(context string) (string, bool) {
	name, ok := strings.CutPrefix(context, "kind-")
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// ContextName is the kubeconfig context kind writes for cluster name.
func ContextName(name string) string { return "kind-" + name }

// DefaultNodeImage is $KILN_KIND_NODE_IMAGE, or kind's default node image.
func DefaultNodeImage() string {
	if v := os.Getenv(NodeImageEnv); v != "" {
		return v
	}
	return defaults.Image
}

// Ensure makes the kind cluster c exist, run and be ready, and its context kind-<name> be in
// the default kubeconfig ($KUBECONFIG or ~/.kube/config).
//
// An existing cluster is never recreated: its stopped (or paused) node containers are started
// and its API server must answer. A missing cluster is created from c.Config (or c.ConfigFile)
// with the node image of the config, else DefaultNodeImage. Either way Ensure then waits until
// every node and kube-system pod is Ready, kube-system deployments and daemon sets are
// available, and the default ServiceAccount exists, so that pods can be created. Progress
// lines, with durations, go to out.
func Ensure(ctx context.Context, c *plan.Cluster, out io.Writer) error {
	if c == nil {
		return errors.New("ensure cluster: no cluster declared")
	}
	if out == nil {
		out = io.Discard
	}
	name := clusterName(c)
	pr := &printer{out: out, name: name}
	start := time.Now()
	logger := newKindLogger(out, "cluster "+name+": kind: ")
	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger))

	names, err := p.List()
	if err != nil {
		return fmt.Errorf("list kind clusters (is the docker CLI on PATH and the engine running?): %w", err)
	}
	kctx := ContextName(name)
	// startedAt is when stopped nodes were started: their status must be newer.
	var startedAt time.Time
	// A cluster that was up already may have kube-system add-ons the user broke; once its nodes
	// are Ready it gets only a short wait for them, then a warning.
	lenient := time.Duration(0)
	if slices.Contains(names, name) {
		if startedAt, err = ensureRunning(ctx, p, name, kctx, pr); err != nil {
			return err
		}
		if startedAt.IsZero() {
			lenient = lenientWait
		}
	} else {
		if err := create(ctx, p, c, name, pr); err != nil {
			return err
		}
	}

	cs, err := clientFor(kctx)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, cs, pr, readyWait, startedAt, lenient); err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	pr.printf("ready (%s)", since(start))
	return nil
}

func clusterName(c *plan.Cluster) string {
	if c.Name != "" {
		return c.Name
	}
	if n, ok := KindName(c.Context); ok {
		return n
	}
	return DefaultClusterName
}

// create makes a new cluster with the kind library; kind writes its kubeconfig context.
func create(ctx context.Context, p *kindcluster.Provider, c *plan.Cluster, name string, pr *printer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	image := DefaultNodeImage()
	raw, useImage, err := createConfig(c, image)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	opts := []kindcluster.CreateOption{
		kindcluster.CreateWithRawConfig(raw),
		kindcluster.CreateWithWaitForReady(within(ctx, createWait)),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	}
	what := "node image from the config"
	if useImage {
		opts = append(opts, kindcluster.CreateWithNodeImage(image))
		what = "node image " + image
	}
	t := time.Now()
	pr.printf("creating kind cluster (%s)", what)
	// kind's Create cannot be cancelled; on failure it removes the nodes it made.
	if err := p.Create(name, opts...); err != nil {
		return fmt.Errorf("create kind cluster %s: %w", name, err)
	}
	pr.printf("created in %s; context %s written to the kubeconfig", since(t), ContextName(name))
	return nil
}

// node is a kind node container and its state.
type node struct {
	name    string
	role    string
	running bool
	paused  bool
	started time.Time // when the container last started
}

// ensureRunning starts the stopped nodes of an existing cluster and waits for its API server.
// It returns when nodes were (re)started: by it, or by the engine less than startWait ago;
// zero for a cluster that was up already.
func ensureRunning(ctx context.Context, p *kindcluster.Provider, name, kctx string, pr *printer) (time.Time, error) {
	t := time.Now()
	var startedAt time.Time
	kn, err := p.ListNodes(name)
	if err != nil {
		return time.Time{}, fmt.Errorf("list nodes of kind cluster %s: %w", name, err)
	}
	if len(kn) == 0 {
		return time.Time{}, fmt.Errorf("kind cluster %s has no node containers", name)
	}
	dc, err := docker.Connect(ctx)
	if err != nil {
		return time.Time{}, err
	}
	defer dc.Close()
	ns, err := inspectNodes(ctx, dc.API(), kn)
	if err != nil {
		return time.Time{}, err
	}
	var stopped []*node
	for _, n := range ns {
		if !n.running || n.paused {
			stopped = append(stopped, n)
		}
	}
	restarted := len(stopped) > 0
	// Nodes the engine itself started again a moment ago (after a reboot or an engine restart,
	// kind's restart policy brings them back) need the same patience as the ones started here.
	for _, n := range ns {
		if n.running && !n.started.IsZero() && time.Since(n.started) < startWait {
			startedAt = later(startedAt, n.started)
		}
	}
	if restarted {
		startedAt = time.Now()
		// Control planes first, then the load balancer in front of them, then workers.
		slices.SortStableFunc(stopped, func(a, b *node) int { return roleOrder(a.role) - roleOrder(b.role) })
		var names []string
		for _, n := range stopped {
			if err := startNode(ctx, dc.API(), n); err != nil {
				return time.Time{}, fmt.Errorf("cluster %s: %w", name, err)
			}
			names = append(names, n.name)
		}
		pr.printf("started stopped node(s) %s (%s)", strings.Join(names, ", "), since(t))
	} else if !startedAt.IsZero() {
		pr.printf("exists, %d node(s) running, started %s ago (%s)", len(ns), time.Since(startedAt).Round(time.Second), since(t))
		restarted = true
	} else {
		pr.printf("exists, %d node(s) running (%s)", len(ns), since(t))
	}

	// The kubeconfig entry may be missing, or stale (cluster re-created by another tool).
	current, err := kubeconfigCurrent(p, name, kctx, restarted)
	if err != nil {
		return time.Time{}, err
	}
	if !current {
		if err := exportKubeconfig(p, name, pr); err != nil {
			return time.Time{}, err
		}
	}
	cs, err := clientFor(kctx)
	if err != nil {
		return time.Time{}, err
	}
	t = time.Now()
	wait := upWait
	if restarted {
		wait = startWait
	}
	err = waitAPIServer(ctx, cs, wait)
	if err != nil && current && !restarted && ctx.Err() == nil {
		// Running nodes that don't answer: maybe the kubeconfig points at an old endpoint.
		if ok, kerr := kubeconfigCurrent(p, name, kctx, true); kerr == nil && !ok {
			if err := exportKubeconfig(p, name, pr); err != nil {
				return time.Time{}, err
			}
			if cs, err = clientFor(kctx); err != nil {
				return time.Time{}, err
			}
			err = waitAPIServer(ctx, cs, upWait)
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cluster %s: API server does not answer after %s: %w (to start afresh: kind delete cluster --name %s)",
			name, since(t), err, name)
	}
	if restarted {
		pr.printf("API server answers (%s)", since(t))
	}
	return startedAt, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func roleOrder(role string) int {
	switch role {
	case "control-plane":
		return 0
	case "external-load-balancer":
		return 1
	default:
		return 2
	}
}

func inspectNodes(ctx context.Context, api *client.Client, kn []nodes.Node) ([]*node, error) {
	out := make([]*node, 0, len(kn))
	for _, k := range kn {
		res, err := api.ContainerInspect(ctx, k.String(), client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspect kind node %s: %w", k.String(), err)
		}
		ci := res.Container
		n := &node{name: k.String()}
		if ci.State != nil {
			n.running, n.paused = ci.State.Running, ci.State.Paused
			n.started, _ = time.Parse(time.RFC3339Nano, ci.State.StartedAt)
		}
		if ci.Config != nil {
			n.role = ci.Config.Labels[roleLabel]
		}
		out = append(out, n)
	}
	return out, nil
}

func startNode(ctx context.Context, api *client.Client, n *node) error {
	if n.paused {
		if _, err := api.ContainerUnpause(ctx, n.name, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause node %s: %w", n.name, err)
		}
		return nil
	}
	if _, err := api.ContainerStart(ctx, n.name, client.ContainerStartOptions{}); err != nil && !cerrdefs.IsNotModified(err) {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	return nil
}

// kubeconfigCurrent reports whether the default kubeconfig has context kctx with the server and
// CA that kind reports for the cluster. When check is false only the context's presence is
// checked (kind's view costs a few docker calls).
func kubeconfigCurrent(p *kindcluster.Provider, name, kctx string, check bool) (bool, error) {
	have, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		return false, fmt.Errorf("read kubeconfig: %w", err)
	}
	hc := have.Contexts[kctx]
	if hc == nil || have.Clusters[hc.Cluster] == nil || have.AuthInfos[hc.AuthInfo] == nil {
		return false, nil
	}
	if !check {
		return true, nil
	}
	raw, err := p.KubeConfig(name, false)
	if err != nil {
		return false, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	want, err := clientcmd.Load([]byte(raw))
	if err != nil {
		return false, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	wc := want.Contexts[kctx]
	if wc == nil || want.Clusters[wc.Cluster] == nil {
		return false, nil
	}
	a, b := have.Clusters[hc.Cluster], want.Clusters[wc.Cluster]
	return a.Server == b.Server && bytes.Equal(a.CertificateAuthorityData, b.CertificateAuthorityData), nil
}

// exportKubeconfig writes the cluster's context into the default kubeconfig, as
// `kind export kubeconfig` does (which also makes it the current context).
func exportKubeconfig(p *kindcluster.Provider, name string, pr *printer) error {
	if err := p.ExportKubeConfig(name, "", false); err != nil {
		return fmt.Errorf("write kubeconfig for kind cluster %s: %w", name, err)
	}
	pr.printf("context %s written to the kubeconfig", ContextName(name))
	return nil
}

// restConfig loads context kctx from the default kubeconfig.
func restConfig(kctx string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %s: %w", kctx, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = 15 * time.Second
	return cfg, nil
}

func clientFor(kctx string) (kubernetes.Interface, error) {
	cfg, err := restConfig(kctx)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// waitAPIServer polls /readyz until it answers ok.
func waitAPIServer(ctx context.Context, cs kubernetes.Interface, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, string) {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		if err != nil {
			return false, err.Error()
		}
		return strings.TrimSpace(string(body)) == "ok", "readyz: " + string(body)
	})
}

// waitReady waits until the cluster can run pods: nodes and kube-system pods Ready, kube-system
// deployments and daemon sets available, and the default ServiceAccount present. Nodes must
// have reported Ready since fresh (when not zero: status older than a restart is stale). It
// prints what it waits for whenever that changes. When lenient is not zero and only
// kube-system workloads are still not ready after it, waitReady warns and returns nil.
func waitReady(ctx context.Context, cs kubernetes.Interface, pr *printer, wait time.Duration, fresh time.Time, lenient time.Duration) error {
	t := time.Now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	last := ""
	warned := false
	err := poll(ctx, time.Second, func(ctx context.Context) (bool, string) {
		ok, core, why := readiness(ctx, cs, fresh)
		if !ok && core && lenient > 0 && time.Since(t) >= lenient {
			pr.printf("WARNING: going on although %s (%s)", why, since(t))
			warned = true
			return true, ""
		}
		if !ok && why != last {
			pr.printf("waiting: %s (%s)", why, since(t))
			last = why
		}
		return ok, why
	})
	if err != nil {
		return fmt.Errorf("not ready after %s: %w", since(t), err)
	}
	if last != "" && !warned {
		pr.printf("kube-system ready, default service account present (%s)", since(t))
	}
	return nil
}

// readiness checks the cluster once; when not ready it says why, and core says whether at
// least the nodes are Ready and the default ServiceAccount exists (pods can be created).
func readiness(ctx context.Context, cs kubernetes.Interface, fresh time.Time) (ok, core bool, why string) {
	nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, false, "API server: " + err.Error()
	}
	if len(nl.Items) == 0 {
		return false, false, "no nodes registered"
	}
	for i := range nl.Items {
		if !nodeReady(&nl.Items[i], fresh) {
			return false, false, "node " + nl.Items[i].Name + " not Ready"
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return false, false, "default service account: " + err.Error()
	}
	pods, err := cs.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, true, "kube-system pods: " + err.Error()
	}
	if len(pods.Items) == 0 {
		return false, true, "no kube-system pods yet"
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if !podReady(p) {
			return false, true, fmt.Sprintf("kube-system pod %s not ready (%s)", p.Name, p.Status.Phase)
		}
	}
	deps, err := cs.AppsV1().Deployments(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, true, "kube-system deployments: " + err.Error()
	}
	for i := range deps.Items {
		if !deploymentAvailable(&deps.Items[i]) {
			return false, true, "kube-system deployment " + deps.Items[i].Name + " not available"
		}
	}
	dss, err := cs.AppsV1().DaemonSets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, true, "kube-system daemon sets: " + err.Error()
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		if d.Status.ObservedGeneration < d.Generation || d.Status.NumberReady < d.Status.DesiredNumberScheduled {
			return false, true, "kube-system daemon set " + d.Name + " not ready"
		}
	}
	return true, true, ""
}

// nodeReady reports whether node n is Ready, with a heartbeat no older than fresh (API times
// have whole seconds).
func nodeReady(n *corev1.Node, fresh time.Time) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(fresh.Truncate(time.Second))
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas >= want &&
		d.Status.UpdatedReplicas >= want
}

// poll calls f every interval until it returns true or ctx ends; the error then carries the
// last reason f gave.
func poll(ctx context.Context, interval time.Duration, f func(context.Context) (bool, string)) error {
	last := "not checked yet"
	for {
		done, why := f(ctx)
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

// within is d, or less when ctx ends sooner.
func within(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			return max(left, time.Second)
		}
	}
	return d
}

func since(t time.Time) string {
	d := time.Since(t)
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// printer writes "cluster <name>: ..." lines.
type printer struct {
	out  io.Writer
	name string
}

func (p *printer) printf(format string, args ...any) {
	fmt.Fprintf(p.out, "cluster %s: %s\n", p.name, fmt.Sprintf(format, args...))
}
