package discovery

import (
	"reflect"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersappsv1 "k8s.io/client-go/listers/apps/v1"
	listersbatchv1 "k8s.io/client-go/listers/batch/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Object names a top-level object kiln applied for a resource.
type Object struct{ Kind, Namespace, Name string }

// Target says which pods belong to a resource: those whose chain of owner references reaches
// one of Objects (a Deployment through its ReplicaSets, a CronJob through its Jobs, a
// StatefulSet, DaemonSet, Job, a bare Pod, or any custom workload that owns pods or
// ReplicaSets), and those in Namespaces whose labels match one of ExtraSelectors.
type Target struct {
	Objects        []Object
	ExtraSelectors []map[string]string
	// Namespaces is where ExtraSelectors look; the namespaces of Objects are always watched.
	Namespaces []string
}

func (t Target) namespaces() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ns string) {
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	for _, o := range t.Objects {
		add(o.Namespace)
	}
	if len(t.ExtraSelectors) > 0 {
		for _, ns := range t.Namespaces {
			add(ns)
		}
	}
	return out
}

// Watcher follows the pods of the resources it is given, through one set of informers (pods,
// ReplicaSets, Jobs) per namespace it needs: the API server pushes every change, so nothing
// polls. Subscribers hear which resource changed; Pods says what it has now.
type Watcher struct {
	client kubernetes.Interface
	notifier

	mu      sync.Mutex
	targets map[string]Target
	spaces  map[string]*space
	// read are namespaces that readiness reads (ListPods): watched even when no target needs
	// them, so that a second check does not start the informers again.
	read   map[string]bool
	pods   map[string][]Pod // per resource, newest first: what subscribers were told
	closed bool
}

// space is the informers of one namespace.
type space struct {
	stop   chan struct{}
	synced []cache.InformerSynced
	pods   listerscorev1.PodLister
	rs     listersappsv1.ReplicaSetLister
	jobs   listersbatchv1.JobLister
}

// NewWatcher returns a Watcher that follows nothing until SetTargets.
func NewWatcher(client kubernetes.Interface) *Watcher {
	return &Watcher{client: client, targets: map[string]Target{}, spaces: map[string]*space{}, read: map[string]bool{}, pods: map[string][]Pod{}}
}

// Subscribe returns a channel that names each resource whose pods changed (coalesced, never
// blocking discovery) and a cancel.
func (w *Watcher) Subscribe() (<-chan string, func()) { return w.subscribe() }

// Pods returns the pods of a resource now, newest first.
func (w *Watcher) Pods(resource string) []Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Pod(nil), w.pods[resource]...)
}

// SetTargets replaces what the watcher follows: a resource left out is forgotten (its
// subscribers hear of it once more, with no pods), and namespaces no resource needs any more
// stop being watched.
func (w *Watcher) SetTargets(targets map[string]Target) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.targets = map[string]Target{}
	need := map[string]bool{}
	for ns := range w.read {
		need[ns] = true
	}
	for name, t := range targets {
		w.targets[name] = t
		for _, ns := range t.namespaces() {
			need[ns] = true
		}
	}
	for ns, sp := range w.spaces {
		if !need[ns] {
			close(sp.stop)
			delete(w.spaces, ns)
		}
	}
	for ns := range need {
		if w.spaces[ns] == nil {
			w.spaces[ns] = w.startSpace(ns)
		}
	}
	changed := w.recomputeLocked()
	w.mu.Unlock()
	for _, r := range changed {
		w.notify(r)
	}
}

// Close stops every informer.
func (w *Watcher) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for ns, sp := range w.spaces {
		close(sp.stop)
		delete(w.spaces, ns)
	}
}

// startSpace starts the informers of one namespace. Their handlers recompute the pods of
// every resource on each event: a project has tens of pods, and this keeps the owner walk in
// one place.
func (w *Watcher) startSpace(ns string) *space {
	f := informers.NewSharedInformerFactoryWithOptions(w.client, 0, informers.WithNamespace(ns),
		informers.WithTransform(func(obj any) (any, error) {
			// Managed fields are most of an object's size and discovery never reads them.
			if m, ok := obj.(metav1.Object); ok {
				m.SetManagedFields(nil)
			}
			return obj, nil
		}))
	sp := &space{stop: make(chan struct{})}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.changed() },
		UpdateFunc: func(any, any) { w.changed() },
		DeleteFunc: func(any) { w.changed() },
	}
	pods, rs, jobs := f.Core().V1().Pods(), f.Apps().V1().ReplicaSets(), f.Batch().V1().Jobs()
	for _, inf := range []cache.SharedIndexInformer{pods.Informer(), rs.Informer(), jobs.Informer()} {
		_, _ = inf.AddEventHandler(handler)
		sp.synced = append(sp.synced, inf.HasSynced)
	}
	sp.pods, sp.rs, sp.jobs = pods.Lister(), rs.Lister(), jobs.Lister()
	f.Start(sp.stop)
	return sp
}

func (w *Watcher) changed() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	changed := w.recomputeLocked()
	w.mu.Unlock()
	for _, r := range changed {
		w.notify(r)
	}
}

// recomputeLocked finds the pods of every target from the listers and returns the resources
// whose pods differ from what subscribers were last told.
func (w *Watcher) recomputeLocked() []string {
	var changed []string
	for name := range w.pods {
		if _, ok := w.targets[name]; !ok {
			delete(w.pods, name)
			changed = append(changed, name)
		}
	}
	for name, t := range w.targets {
		pods := w.podsOf(name, t)
		if !reflect.DeepEqual(pods, w.pods[name]) {
			w.pods[name] = pods
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	return changed
}

func (w *Watcher) podsOf(resource string, t Target) []Pod {
	owned := map[Object]bool{}
	for _, o := range t.Objects {
		owned[o] = true
	}
	var selectors []labels.Selector
	for _, s := range t.ExtraSelectors {
		if len(s) > 0 {
			selectors = append(selectors, labels.SelectorFromSet(s))
		}
	}
	var out []Pod
	for _, ns := range t.namespaces() {
		sp := w.spaces[ns]
		if sp == nil {
			continue
		}
		all, _ := sp.pods.Pods(ns).List(labels.Everything())
		for _, p := range all {
			if sp.ownedBy(p, owned) || matchesAny(selectors, p.Labels) {
				out = append(out, podFrom(resource, p))
			}
		}
	}
	SortNewestFirst(out)
	return out
}

func matchesAny(selectors []labels.Selector, l map[string]string) bool {
	for _, s := range selectors {
		if s.Matches(labels.Set(l)) {
			return true
		}
	}
	return false
}

// ownedBy walks a pod's owner references up to the objects kiln applied: Pod, then its
// owners, then (for a ReplicaSet or a Job, which kiln rarely applies itself) theirs.
func (sp *space) ownedBy(p *corev1.Pod, owned map[Object]bool) bool {
	ns := p.Namespace
	if owned[Object{"Pod", ns, p.Name}] {
		return true
	}
	for _, ref := range p.OwnerReferences {
		if owned[Object{ref.Kind, ns, ref.Name}] {
			return true
		}
		var parents []metav1.OwnerReference
		switch ref.Kind {
		case "ReplicaSet":
			if rs, err := sp.rs.ReplicaSets(ns).Get(ref.Name); err == nil && rs.UID == ref.UID {
				parents = rs.OwnerReferences
			}
		case "Job":
			if j, err := sp.jobs.Jobs(ns).Get(ref.Name); err == nil && j.UID == ref.UID {
				parents = j.OwnerReferences
			}
		}
		for _, pr := range parents {
			if owned[Object{pr.Kind, ns, pr.Name}] {
				return true
			}
		}
	}
	return false
}
