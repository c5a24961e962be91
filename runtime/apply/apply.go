// Package apply puts a plan's objects on the cluster with server-side apply, remembers what it
// applied (the inventory), and deletes what the project no longer declares (prune) or
// everything it applied (down). It never deletes an object kiln did not apply for the project.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/plan"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FieldManager is kiln's server-side apply field manager.
const FieldManager = "kiln"

// Labels kiln puts on every object it applies.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelProject   = "kiln.dev/project"
	LabelResource  = "kiln.dev/resource"
	// InventoryNamespace holds each project's inventory ConfigMap.
	InventoryNamespace = "default"
)

// ProjectID names a project on the cluster: the directory's name and a hash of its path, so
// two checkouts of the same project don't prune each other's objects.
func ProjectID(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return labelValue(filepath.Base(dir), 48) + "-" + fmt.Sprintf("%x", sum[:4])
}

var labelUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// labelValue makes s a valid label value of at most max characters.
func labelValue(s string, max int) string {
	v := labelUnsafe.ReplaceAllString(s, "_")
	if len(v) > max {
		v = v[:max]
	}
	return strings.Trim(v, "._-")
}

// Ref identifies an applied object; the inventory is a list of them.
type Ref struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Resource  string `json:"resource"`
}

func (r Ref) String() string {
	s := strings.ToLower(r.Kind) + "/" + r.Name
	if r.Namespace != "" {
		s = r.Namespace + "/" + s
	}
	return s
}

func (r Ref) key() string { return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name }

// Applier applies objects for one project to one cluster.
type Applier struct {
	Cluster *kube.Cluster
	Project string
	// Namespace is where namespaced objects without one go.
	Namespace string
	// HonorDownPolicy makes Delete skip objects annotated down-policy: keep (kiln down).
	HonorDownPolicy bool
	// UpsertTimeout bounds each object's apply (update_settings(k8s_upsert_timeout_secs=)).
	UpsertTimeout time.Duration
}

// DownPolicyAnnotations mark objects that kiln down leaves in place, as Tilt's does.
var DownPolicyAnnotations = []string{"kiln.dev/down-policy", "tilt.dev/down-policy"}

// New returns an applier.
func New(c *kube.Cluster, project, namespace string) *Applier {
	if namespace == "" {
		namespace = c.Namespace
	}
	return &Applier{Cluster: c, Project: project, Namespace: namespace}
}

func (a *Applier) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.Cluster.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		// A CRD applied moments ago, or a stale discovery cache: look again.
		a.Cluster.Mapper.Reset()
		m, err = a.Cluster.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster does not know %s: %w", gvk.String(), err)
	}
	return m, nil
}

// Prepare returns the object as kiln applies it: kiln's labels added, and the default
// namespace set on namespaced objects that have none.
func (a *Applier) Prepare(obj plan.Object, resource string) (*unstructured.Unstructured, *meta.RESTMapping, error) {
	u := &unstructured.Unstructured{Object: deepCopy(map[string]any(obj)).(map[string]any)}
	m, err := a.mapping(u.GroupVersionKind())
	if err != nil {
		return nil, nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			u.SetNamespace(a.Namespace)
		}
	} else {
		u.SetNamespace("")
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = "kiln"
	labels[LabelProject] = a.Project
	labels[LabelResource] = labelValue(resource, 63)
	u.SetLabels(labels)
	return u, m, nil
}

// Apply server-side applies the objects of one resource and returns their refs.
func (a *Applier) Apply(ctx context.Context, resource string, objs []plan.Object) ([]Ref, error) {
	refs, _, err := a.ApplyResults(ctx, resource, objs)
	return refs, err
}

// ApplyResults is Apply that also returns the objects as the server has them after the apply
// (defaults filled, status as it stands), for the status store.
func (a *Applier) ApplyResults(ctx context.Context, resource string, objs []plan.Object) ([]Ref, []*unstructured.Unstructured, error) {
	var refs []Ref
	var results []*unstructured.Unstructured
	for _, obj := range objs {
		u, m, err := a.Prepare(obj, resource)
		if err != nil {
			return refs, results, fmt.Errorf("apply %s: %w", obj.ID(), err)
		}
		data, err := json.Marshal(u.Object)
		if err != nil {
			return refs, results, err
		}
		ri := a.Cluster.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if a.UpsertTimeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, a.UpsertTimeout)
		}
		result, err := ri.Patch(pctx, u.GetName(), "application/apply-patch+yaml", data, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
		cancel()
		if err != nil {
			return refs, results, fmt.Errorf("apply %s/%s: %w", strings.ToLower(u.GetKind()), u.GetName(), err)
		}
		gvk := u.GroupVersionKind()
		refs = append(refs, Ref{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Resource: resource})
		results = append(results, result)
	}
	return refs, results, nil
}

// WaitEstablished waits until the named CRDs are established, so that objects of their
// kinds can be applied.
func (a *Applier) WaitEstablished(ctx context.Context, crds []string) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, name := range crds {
		for {
			u, err := a.Cluster.Dynamic.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
			if err == nil && conditionTrue(u, "Established") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	a.Cluster.Mapper.Reset()
	return nil
}

func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

func (a *Applier) inventoryName() string { return "kiln-inventory-" + a.Project }

// LoadInventory returns what kiln applied for the project last time.
func (a *Applier) LoadInventory(ctx context.Context) ([]Ref, error) {
	cm, err := a.Cluster.Client.CoreV1().ConfigMaps(InventoryNamespace).Get(ctx, a.inventoryName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	var refs []Ref
	if err := json.Unmarshal([]byte(cm.Data["objects"]), &refs); err != nil {
		return nil, fmt.Errorf("inventory %s/%s is corrupt: %w", InventoryNamespace, a.inventoryName(), err)
	}
	return refs, nil
}

// SaveInventory records what kiln applied for the project.
func (a *Applier) SaveInventory(ctx context.Context, refs []Ref) error {
	sort.Slice(refs, func(i, j int) bool { return refs[i].key() < refs[j].key() })
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: a.inventoryName(), Namespace: InventoryNamespace,
			Labels: map[string]string{LabelManagedBy: "kiln", LabelProject: a.Project}},
		Data: map[string]string{"objects": string(data)},
	}
	body, err := json.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = a.Cluster.Client.CoreV1().ConfigMaps(InventoryNamespace).Patch(ctx, cm.Name, "application/apply-patch+yaml", body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
	if err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	return nil
}

// DeleteInventory removes the project's inventory (after kiln down).
func (a *Applier) DeleteInventory(ctx context.Context) error {
	err := a.Cluster.Client.CoreV1().ConfigMaps(InventoryNamespace).Delete(ctx, a.inventoryName(), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Stale returns the refs of old that current no longer holds.
func Stale(old, current []Ref) []Ref {
	keep := map[string]bool{}
	for _, r := range current {
		keep[r.key()] = true
	}
	var out []Ref
	for _, r := range old {
		if !keep[r.key()] {
			out = append(out, r)
		}
	}
	return out
}

// Delete deletes the given objects, in order, but only those that still carry this project's
// label: kiln never deletes what it did not apply. Missing objects are fine.
func (a *Applier) Delete(ctx context.Context, refs []Ref) ([]Ref, error) {
	var deleted []Ref
	for _, r := range refs {
		m, err := a.mapping(schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind})
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // the kind is gone (its CRD was deleted): so are its objects
			}
			// Discovery failed (a timeout, an aggregated API that is down): the object may
			// well exist. An error, so that the caller keeps it in the inventory.
			return deleted, fmt.Errorf("delete %s: %w", r, err)
		}
		ri := a.Cluster.Dynamic.Resource(m.Resource).Namespace(r.Namespace)
		live, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return deleted, fmt.Errorf("delete %s: %w", r, err)
		}
		if live.GetLabels()[LabelProject] != a.Project {
			continue
		}
		if a.HonorDownPolicy && keepOnDown(live.GetAnnotations()) {
			continue
		}
		policy := metav1.DeletePropagationBackground
		if err := ri.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("delete %s: %w", r, err)
		}
		deleted = append(deleted, r)
	}
	return deleted, nil
}

func ptr[T any](v T) *T { return &v }

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

func keepOnDown(annotations map[string]string) bool {
	for _, k := range DownPolicyAnnotations {
		if annotations[k] == "keep" {
			return true
		}
	}
	return false
}
