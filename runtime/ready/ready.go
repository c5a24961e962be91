// Package ready decides when applied workloads are up: Deployments, StatefulSets and
// DaemonSets rolled out, Pods ready, Jobs complete. It fails fast, with the reason and the
// failing container's last log lines, on image pull errors, crash loops and failed Jobs.
package ready

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/runtime/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// fatalReasons are container waiting reasons that will not fix themselves.
var fatalReasons = map[string]bool{
	"ImagePullBackOff": true, "ErrImagePull": true, "ErrImageNeverPull": true,
	"InvalidImageName": true, "CrashLoopBackOff": true, "CreateContainerConfigError": true,
	"CreateContainerError": true, "RunContainerError": true,
}

// Failure is a workload that will not become ready by waiting.
type Failure struct {
	Object string   // "deployment/web"
	Pod    string   // the failing pod, if any
	Reason string   // e.g. "CrashLoopBackOff: container web exited with code 1"
	Logs   []string // the failing container's last log lines
}

func (f *Failure) Error() string {
	msg := fmt.Sprintf("%s failed: %s", f.Object, f.Reason)
	if f.Pod != "" {
		msg += " (pod " + f.Pod + ")"
	}
	if len(f.Logs) > 0 {
		msg += "\n  last log lines:\n    " + strings.Join(f.Logs, "\n    ")
	}
	return msg
}

// Source lists the pods and ReplicaSets that readiness looks at. The engine gives the
// Checker discovery's informer caches, so that readiness and the live view read the same
// data; New's default asks the API server.
type Source interface {
	ListPods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error)
	ListReplicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error)
}

// apiSource is a Source that asks the API server each time.
type apiSource struct{ c *kube.Cluster }

func (a apiSource) ListPods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
	list, err := a.c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (a apiSource) ListReplicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error) {
	list, err := a.c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// Checker polls workloads on one cluster.
type Checker struct {
	Cluster *kube.Cluster
	// Source is where pods and ReplicaSets are read (workloads themselves come from the API
	// server, whose status is the truth of a rollout).
	Source Source
	// Interval between polls.
	Interval time.Duration
	// LogLines is how many log lines a failure shows.
	LogLines int64
	// Settle is how long a workload's pods must have been Ready before it counts as ready.
	// A container that exits at once is reported Running and Ready for a moment (the kubelet
	// notices the exit within about a second): without this, a crashing app could pass.
	Settle time.Duration

	mu        sync.Mutex
	readySeen map[types.UID]time.Time // when this checker first saw each pod Ready
}

// DefaultSettle is New's Settle: two of the kubelet's one-second pod relists.
const DefaultSettle = 2 * time.Second

// New returns a checker polling every 200 ms.
func New(c *kube.Cluster) *Checker {
	return &Checker{Cluster: c, Source: apiSource{c}, Interval: 200 * time.Millisecond, LogLines: 20, Settle: DefaultSettle}
}

// Wait blocks until every object is ready, a Failure shows, or ctx ends. Custom resources are
// ready when their status conditions say so (customReady); other objects that are not
// workloads are ready once applied. With podReadiness "ignore", pods are not waited for.
func (c *Checker) Wait(ctx context.Context, objs []*unstructured.Unstructured, podReadiness string) error {
	pending := append([]*unstructured.Unstructured{}, objs...)
	for {
		var still []*unstructured.Unstructured
		var last string
		for _, o := range pending {
			ok, msg, err := c.Check(ctx, o, podReadiness)
			if err != nil {
				return err
			}
			if !ok {
				still = append(still, o)
				last = msg
			}
		}
		if len(still) == 0 {
			return nil
		}
		pending = still
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %s: %w", last, ctx.Err())
		case <-time.After(c.Interval):
		}
	}
}

// Check reports whether one object is ready now, and if not, why.
func (c *Checker) Check(ctx context.Context, o *unstructured.Unstructured, podReadiness string) (bool, string, error) {
	kind := o.GetKind()
	gvr, ok := workloadResources[kind]
	if podReadiness == "ignore" {
		return true, "", nil
	}
	if !ok {
		if podReadiness == "wait" {
			// A k8s_kind workload: wait for the pods it owns, as Tilt does.
			return c.ownedPodsReady(ctx, o)
		}
		if isCustom(o) {
			return c.customReady(ctx, o)
		}
		return true, "", nil
	}
	if kind == "CronJob" {
		return true, "", nil // a schedule: nothing runs until it fires
	}
	live, err := c.Cluster.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "waiting for " + describe(o) + " to exist", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", describe(o), err)
	}
	ready, msg := rolledOut(live)
	if kind == "Job" {
		if cond(live, "Failed") {
			f := &Failure{Object: describe(o), Reason: "the Job failed: " + condMessage(live, "Failed")}
			c.addPodLogs(ctx, live, f)
			return false, "", f
		}
	}
	if ready && (kind == "Job" || c.Settle <= 0) {
		return true, "", nil
	}
	// One list of the current revision's pods per poll, for both the settle check and the
	// fail-fast check.
	current, err := c.currentPodsOf(ctx, live)
	if ready {
		if err != nil {
			return false, fmt.Sprintf("%s: list pods: %v", describe(live), err), nil
		}
		if ready, msg = c.settled(current); ready {
			return true, "", nil
		}
	}
	if err == nil {
		if f := c.failureIn(ctx, describe(live), current, kind == "Pod"); f != nil {
			return false, "", f
		}
	}
	return false, msg, nil
}

// settled reports whether every pod of a rolled-out workload's current revision has been Ready
// for c.Settle: since its Ready condition's last transition (whole seconds, so one more is
// allowed), or since this checker first saw it Ready. Pods that were Ready long before the run
// pass at once, so an unchanged project waits for nothing.
func (c *Checker) settled(current []corev1.Pod) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readySeen == nil {
		c.readySeen = map[types.UID]time.Time{}
	}
	return podsSettled(current, time.Now(), c.Settle, c.readySeen)
}

// podsSettled is settled's rule, for a given time; seen records when each pod was first seen
// Ready.
func podsSettled(pods []corev1.Pod, now time.Time, settle time.Duration, seen map[types.UID]time.Time) (bool, string) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		isReady, readySince := podReadySince(&p)
		if !isReady {
			delete(seen, p.UID)
			return false, "pod " + p.Name + ": not ready"
		}
		if !readySince.IsZero() && now.Sub(readySince) >= settle+time.Second {
			continue
		}
		first, ok := seen[p.UID]
		if !ok {
			seen[p.UID], first = now, now
		}
		if now.Sub(first) < settle {
			return false, fmt.Sprintf("pod %s: ready, making sure it stays ready for %s", p.Name, settle)
		}
	}
	return true, ""
}

var workloadResources = map[string]schema.GroupVersionResource{
	"Deployment":  {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet": {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"DaemonSet":   {Group: "apps", Version: "v1", Resource: "daemonsets"},
	"ReplicaSet":  {Group: "apps", Version: "v1", Resource: "replicasets"},
	"Job":         {Group: "batch", Version: "v1", Resource: "jobs"},
	"CronJob":     {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"Pod":         {Version: "v1", Resource: "pods"},
}

func describe(o *unstructured.Unstructured) string {
	return strings.ToLower(o.GetKind()) + "/" + o.GetName()
}

func num(u *unstructured.Unstructured, fields ...string) int64 {
	v, _, _ := unstructured.NestedInt64(u.Object, fields...)
	return v
}

// rolledOut applies kubectl rollout status's rules, and Pod and Job readiness.
func rolledOut(u *unstructured.Unstructured) (bool, string) {
	gen, observed := u.GetGeneration(), num(u, "status", "observedGeneration")
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		want, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found {
			want = 1
		}
		updated := num(u, "status", "updatedReplicas")
		if u.GetKind() == "ReplicaSet" {
			updated = num(u, "status", "replicas")
		}
		avail := num(u, "status", "availableReplicas")
		if u.GetKind() == "StatefulSet" {
			avail = num(u, "status", "readyReplicas")
			cur, _, _ := unstructured.NestedString(u.Object, "status", "currentRevision")
			upd, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
			if cur != upd && updated == want && avail == want && cur != "" {
				// RollingUpdate finished but currentRevision lags: ready all the same.
				return observed >= gen, ""
			}
		}
		total := num(u, "status", "replicas")
		if observed < gen || updated < want || avail < want || total > want {
			return false, fmt.Sprintf("%s: %d/%d updated, %d/%d available", describe(u), updated, want, avail, want)
		}
		return true, ""
	case "DaemonSet":
		want := num(u, "status", "desiredNumberScheduled")
		updated, avail := num(u, "status", "updatedNumberScheduled"), num(u, "status", "numberAvailable")
		if observed < gen || updated < want || avail < want {
			return false, fmt.Sprintf("%s: %d/%d updated, %d/%d available", describe(u), updated, want, avail, want)
		}
		return true, ""
	case "Job":
		if cond(u, "Complete") {
			return true, ""
		}
		return false, describe(u) + ": not complete yet"
	case "Pod":
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		if phase == "Succeeded" || cond(u, "Ready") {
			return true, ""
		}
		return false, describe(u) + ": not ready (" + phase + ")"
	}
	return true, ""
}

func cond(u *unstructured.Unstructured, typ string) bool {
	return condField(u, typ, "status") == "True"
}
func condMessage(u *unstructured.Unstructured, typ string) string {
	if m := condField(u, typ, "message"); m != "" {
		return m
	}
	return condField(u, typ, "reason")
}

func condField(u *unstructured.Unstructured, typ, field string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m[field].(string)
			return s
		}
	}
	return ""
}

// pods lists the pods of a workload: the pod itself, or those its selector matches.
func (c *Checker) pods(ctx context.Context, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	ns := u.GetNamespace()
	if u.GetKind() == "Pod" {
		all, err := c.Source.ListPods(ctx, ns, labels.Everything())
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			if p.Name == u.GetName() {
				return []corev1.Pod{p}, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, u.GetName())
	}
	sel, found, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if u.GetKind() == "Job" && !found {
		sel = map[string]string{"job-name": u.GetName()}
	}
	if len(sel) == 0 {
		return nil, nil
	}
	return c.Source.ListPods(ctx, ns, labels.SelectorFromSet(sel))
}

// currentPods keeps the pods of the workload's current revision: a pod of the previous
// rollout that crash-loops must not fail the rollout that replaces it.
func (c *Checker) currentPods(ctx context.Context, u *unstructured.Unstructured, pods []corev1.Pod) []corev1.Pod {
	label, want := "", ""
	switch u.GetKind() {
	case "StatefulSet", "DaemonSet":
		label = "controller-revision-hash"
		want, _, _ = unstructured.NestedString(u.Object, "status", "updateRevision")
	case "Deployment":
		label = "pod-template-hash"
		rev := u.GetAnnotations()["deployment.kubernetes.io/revision"]
		sel, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
		if rev == "" || len(sel) == 0 {
			return pods
		}
		rss, err := c.Source.ListReplicaSets(ctx, u.GetNamespace(), labels.SelectorFromSet(sel))
		if err != nil {
			return pods
		}
		for _, rs := range rss {
			owned := false
			for _, ref := range rs.OwnerReferences {
				owned = owned || ref.UID == u.GetUID()
			}
			if owned && rs.Annotations["deployment.kubernetes.io/revision"] == rev {
				want = rs.Labels["pod-template-hash"]
			}
		}
	}
	if label == "" || want == "" {
		return pods
	}
	var out []corev1.Pod
	for _, p := range pods {
		if p.Labels[label] == want {
			out = append(out, p)
		}
	}
	return out
}

// ownedPodsReady waits for the pods an object owns directly (k8s_kind(pod_readiness='wait')).
func (c *Checker) ownedPodsReady(ctx context.Context, o *unstructured.Unstructured) (bool, string, error) {
	m, err := c.Cluster.Mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", describe(o), err)
	}
	live, err := c.Cluster.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
	if err != nil {
		return false, "waiting for " + describe(o) + " to exist", nil
	}
	all, err := c.Source.ListPods(ctx, o.GetNamespace(), labels.Everything())
	if err != nil {
		return false, "", err
	}
	var owned []corev1.Pod
	for _, p := range all {
		for _, ref := range p.OwnerReferences {
			if ref.UID == live.GetUID() {
				owned = append(owned, p)
			}
		}
	}
	if len(owned) == 0 {
		return false, describe(o) + ": no pods yet", nil
	}
	if f := c.failureIn(ctx, describe(o), owned, false); f != nil {
		return false, "", f
	}
	for _, p := range owned {
		if ready, _ := podReadySince(&p); !ready && p.Status.Phase != corev1.PodSucceeded {
			return false, describe(o) + ": pod " + p.Name + " not ready", nil
		}
	}
	return true, "", nil
}

// currentPodsOf lists the pods of a workload's current revision.
func (c *Checker) currentPodsOf(ctx context.Context, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	pods, err := c.pods(ctx, u)
	if err != nil {
		return nil, err
	}
	return c.currentPods(ctx, u, pods), nil
}

// podReadySince reports whether p has the Ready condition, and since when.
func podReadySince(p *corev1.Pod) (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// failureIn returns the first of pods stuck in a state that waiting won't fix.
func (c *Checker) failureIn(ctx context.Context, object string, pods []corev1.Pod, podFailedIsFatal bool) *Failure {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, cs := range statuses {
			w := cs.State.Waiting
			if w == nil || !fatalReasons[w.Reason] {
				continue
			}
			f := &Failure{Object: object, Pod: p.Name, Reason: w.Reason}
			if t := cs.LastTerminationState.Terminated; t != nil {
				f.Reason += fmt.Sprintf(": container %s exited with code %d", cs.Name, t.ExitCode)
			} else if w.Message != "" {
				f.Reason += ": " + w.Message
			}
			f.Logs = c.logTail(ctx, p.Namespace, p.Name, cs.Name, cs.LastTerminationState.Terminated != nil)
			return f
		}
		if p.Status.Phase == corev1.PodFailed && podFailedIsFatal {
			f := &Failure{Object: object, Pod: p.Name, Reason: "the pod failed: " + p.Status.Reason + " " + p.Status.Message}
			if len(p.Spec.Containers) > 0 {
				f.Logs = c.logTail(ctx, p.Namespace, p.Name, p.Spec.Containers[0].Name, false)
			}
			return f
		}
	}
	return nil
}

// addPodLogs adds the log tail of a failed Job's newest failed pod.
func (c *Checker) addPodLogs(ctx context.Context, job *unstructured.Unstructured, f *Failure) {
	pods, err := c.pods(ctx, job)
	if err != nil || len(pods) == 0 {
		return
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].CreationTimestamp.After(pods[j].CreationTimestamp.Time) })
	p := pods[0]
	f.Pod = p.Name
	if len(p.Spec.Containers) > 0 {
		f.Logs = c.logTail(ctx, p.Namespace, p.Name, p.Spec.Containers[0].Name, false)
	}
}

func (c *Checker) logTail(ctx context.Context, ns, pod, container string, previous bool) []string {
	opts := &corev1.PodLogOptions{Container: container, TailLines: &c.LogLines, Previous: previous}
	raw, err := c.Cluster.Client.CoreV1().Pods(ns).GetLogs(pod, opts).DoRaw(ctx)
	if err != nil && previous {
		opts.Previous = false
		raw, err = c.Cluster.Client.CoreV1().Pods(ns).GetLogs(pod, opts).DoRaw(ctx)
	}
	if err != nil {
		return []string{"(logs unavailable: " + err.Error() + ")"}
	}
	text := strings.TrimRight(string(raw), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
