package apply

import (
	"context"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kiln-dev/kiln/runtime/kube/kubetest"
)

var (
	gvkDeployment = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkConfigMap  = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gvkNamespace  = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
)

func TestStaleRules(t *testing.T) {
	web := Ref{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "default", Name: "web", Resource: "web"}
	with := func(f func(*Ref)) Ref { r := web; f(&r); return r }
	for _, tc := range []struct {
		name         string
		old, current []Ref
		want         []Ref
	}{
		{"nothing old", nil, []Ref{web}, nil},
		{"nothing current: all stale", []Ref{web}, nil, []Ref{web}},
		{"still applied", []Ref{web}, []Ref{web}, nil},
		// The same object, named by another apiVersion or held by another resource, is the
		// same object: deleting it would delete what was just applied.
		{"other version", []Ref{web}, []Ref{with(func(r *Ref) { r.Version = "v1beta2" })}, nil},
		{"other resource", []Ref{web}, []Ref{with(func(r *Ref) { r.Resource = "frontend" })}, nil},
		// Another name, namespace, kind or group is another object.
		{"other name", []Ref{web}, []Ref{with(func(r *Ref) { r.Name = "web2" })}, []Ref{web}},
		{"other namespace", []Ref{web}, []Ref{with(func(r *Ref) { r.Namespace = "prod" })}, []Ref{web}},
		{"other kind", []Ref{web}, []Ref{with(func(r *Ref) { r.Kind = "StatefulSet" })}, []Ref{web}},
		{"other group", []Ref{web}, []Ref{with(func(r *Ref) { r.Group = "extensions" })}, []Ref{web}},
		// The old order is kept, and the old refs are returned as they were recorded.
		{"order kept",
			[]Ref{with(func(r *Ref) { r.Name = "c" }), web, with(func(r *Ref) { r.Name = "a" })},
			[]Ref{with(func(r *Ref) { r.Version = "v2"; r.Resource = "x" })},
			[]Ref{with(func(r *Ref) { r.Name = "c" }), with(func(r *Ref) { r.Name = "a" })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Stale(tc.old, tc.current); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Stale(%v, %v) = %v, want %v", tc.old, tc.current, got, tc.want)
			}
		})
	}
}

func TestInventoryRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := kubetest.New()
	a := &Applier{Cluster: c.Cluster, Project: "shop-1a2b3c4d"}

	refs, err := a.LoadInventory(ctx)
	if err != nil || refs != nil {
		t.Fatalf("no inventory yet: %v, %v; want nothing and no error", refs, err)
	}

	saved := []Ref{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "default", Name: "web", Resource: "web"},
		{Version: "v1", Kind: "Namespace", Name: "shop", Resource: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cfg", Resource: "cfg"},
	}
	if err := a.SaveInventory(ctx, append([]Ref{}, saved...)); err != nil {
		t.Fatal(err)
	}
	got, err := a.LoadInventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(saved) {
		t.Fatalf("loaded %v, want %v", got, saved)
	}
	for _, r := range saved {
		if !contains(got, r) {
			t.Errorf("loaded inventory lacks %v: %v", r, got)
		}
	}
	// It is saved in a stable order, whatever order it is given in.
	for i := 1; i < len(got); i++ {
		if got[i-1].key() > got[i].key() {
			t.Errorf("inventory not sorted: %v", got)
		}
	}

	cm, err := c.Typed.CoreV1().ConfigMaps(InventoryNamespace).Get(ctx, "kiln-inventory-shop-1a2b3c4d", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels[LabelProject] != "shop-1a2b3c4d" || cm.Labels[LabelManagedBy] != "kiln" {
		t.Errorf("inventory labels %v", cm.Labels)
	}

	// Another project's inventory is another ConfigMap.
	other := &Applier{Cluster: c.Cluster, Project: "shop-99999999"}
	if refs, err := other.LoadInventory(ctx); err != nil || refs != nil {
		t.Errorf("another project's inventory: %v, %v", refs, err)
	}

	if err := a.DeleteInventory(ctx); err != nil {
		t.Fatal(err)
	}
	if refs, err := a.LoadInventory(ctx); err != nil || refs != nil {
		t.Errorf("after DeleteInventory: %v, %v", refs, err)
	}
	if err := a.DeleteInventory(ctx); err != nil {
		t.Errorf("DeleteInventory of none: %v", err)
	}
}

func TestInventoryCorrupt(t *testing.T) {
	ctx := context.Background()
	c := kubetest.New()
	a := &Applier{Cluster: c.Cluster, Project: "p"}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kiln-inventory-p", Namespace: InventoryNamespace},
		Data:       map[string]string{"objects": "[{not json"},
	}
	if _, err := c.Typed.CoreV1().ConfigMaps(InventoryNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LoadInventory(ctx); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt inventory: err = %v", err)
	}
}

func contains(refs []Ref, r Ref) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

func TestDeleteInOrderOnlyOwnObjects(t *testing.T) {
	ctx := context.Background()
	mine := map[string]string{LabelProject: "p", LabelManagedBy: "kiln"}
	keep := kubetest.Object(gvkConfigMap, "default", "keep", mine)
	keep.SetAnnotations(map[string]string{"tilt.dev/down-policy": "keep"})
	c := kubetest.New(
		kubetest.Object(gvkDeployment, "default", "web", mine),
		kubetest.Object(gvkConfigMap, "default", "cfg", mine),
		kubetest.Object(gvkConfigMap, "default", "theirs", map[string]string{LabelProject: "other"}),
		kubetest.Object(gvkConfigMap, "default", "unlabelled", nil),
		kubetest.Object(gvkNamespace, "", "shop", mine),
		keep,
	)
	a := &Applier{Cluster: c.Cluster, Project: "p"}
	refs := []Ref{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "default", Name: "web", Resource: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "gone", Resource: "web"}, // already deleted
		{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "theirs", Resource: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "unlabelled", Resource: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "keep", Resource: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "cfg", Resource: "web"},
		{Version: "v1", Kind: "Namespace", Name: "shop", Resource: "web"},
	}
	deleted, err := a.Delete(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{refs[0], refs[4], refs[5], refs[6]}
	if !reflect.DeepEqual(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	// In the order given, and never what another project or no project labelled.
	wantVerbs := []string{"deployments default/web", "configmaps default/keep", "configmaps default/cfg", "namespaces /shop"}
	if got := c.Verbs("delete"); !reflect.DeepEqual(got, wantVerbs) {
		t.Errorf("deletes %v, want %v", got, wantVerbs)
	}

	// kiln down honours down-policy: keep.
	c = kubetest.New(keep.DeepCopy())
	a = &Applier{Cluster: c.Cluster, Project: "p", HonorDownPolicy: true}
	deleted, err = a.Delete(ctx, []Ref{refs[4]})
	if err != nil || len(deleted) != 0 || len(c.Verbs("delete")) != 0 {
		t.Errorf("down-policy keep: deleted %v (%v), err %v", deleted, c.Verbs("delete"), err)
	}
}
