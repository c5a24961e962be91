package engine

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/kube/kubetest"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// Refs of a project "shop": resources web (a Deployment, a Service, a ConfigMap), db
// (a StatefulSet), ns (the Namespace) and crd (a CRD and one of its Widgets).
var (
	webDeploy = apply.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web", Resource: "web"}
	webSvc    = apply.Ref{Version: "v1", Kind: "Service", Namespace: "shop", Name: "web", Resource: "web"}
	webCfg    = apply.Ref{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-config", Resource: "web"}
	dbSet     = apply.Ref{Group: "apps", Version: "v1", Kind: "StatefulSet", Namespace: "shop", Name: "db", Resource: "db"}
	shopNS    = apply.Ref{Version: "v1", Kind: "Namespace", Name: "shop", Resource: "ns"}
	widgetCRD = apply.Ref{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "widgets.example.com", Resource: "crd"}
	widget    = apply.Ref{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "shop", Name: "w", Resource: "crd"}
)

const testProject = "shop-00000000"

// liveObject is the object a ref names, as the cluster holds it after kiln applied it.
func liveObject(r apply.Ref) *unstructured.Unstructured {
	gvk := schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
	return kubetest.Object(gvk, r.Namespace, r.Name, map[string]string{apply.LabelProject: testProject, apply.LabelManagedBy: "kiln"})
}

// pruneRunner is a runner over a fake cluster that holds every ref of inventory and the
// inventory itself, as a previous run left them, for a plan with the given resources.
type pruneRunner struct {
	*runner
	cluster *kubetest.Cluster
	out     *bytes.Buffer
}

func newPruneRunner(t *testing.T, resources []string, inventory ...apply.Ref) *pruneRunner {
	t.Helper()
	objs := make([]*unstructured.Unstructured, len(inventory))
	for i, r := range inventory {
		objs[i] = liveObject(r)
	}
	c := kubetest.New(objs...)
	p := &plan.Plan{}
	for _, name := range resources {
		p.Resources = append(p.Resources, plan.Resource{Name: name, AutoInit: true})
	}
	var out bytes.Buffer
	e := &runner{
		plan:      p,
		out:       output.New(&out),
		applier:   &apply.Applier{Cluster: c.Cluster, Project: testProject},
		results:   map[string]*ResourceResult{},
		inventory: append([]apply.Ref{}, inventory...),
	}
	if len(inventory) > 0 {
		// As the previous run left it.
		if err := e.applier.SaveInventory(context.Background(), append([]apply.Ref{}, inventory...)); err != nil {
			t.Fatal(err)
		}
		c.Typed.ClearActions()
	}
	return &pruneRunner{runner: e, cluster: c, out: &out}
}

// applied records refs as what this run applied for their resources, as deploy does.
func (e *pruneRunner) applied(refs ...apply.Ref) {
	by := map[string][]apply.Ref{}
	var order []string
	for _, r := range refs {
		if by[r.Resource] == nil {
			order = append(order, r.Resource)
		}
		by[r.Resource] = append(by[r.Resource], r)
	}
	for _, name := range order {
		e.result(name, "k8s").Status = "ready"
		e.addApplied("apply", name, by[name])
	}
}

func (e *pruneRunner) skipped(names ...string) {
	for _, n := range names {
		e.result(n, "k8s").Status = "skipped"
	}
}

// settle ends the update and returns the summary.
func (e *pruneRunner) settle(t *testing.T, runErr error) (*Summary, error) {
	t.Helper()
	sum := &Summary{}
	err := e.settleInventory(context.Background(), runErr, sum)
	return sum, err
}

// saved is the inventory as the fake cluster holds it now.
func (e *pruneRunner) saved(t *testing.T) []apply.Ref {
	t.Helper()
	refs, err := e.applier.LoadInventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

func sameSet(t *testing.T, what string, got, want []apply.Ref) {
	t.Helper()
	if !sameRefs(got, want) {
		t.Errorf("%s = %v, want (in any order) %v", what, got, want)
	}
}

func TestPruneWhatIsNoLongerDeclared(t *testing.T) {
	// web no longer has its ConfigMap, and the db resource is gone from the project.
	e := newPruneRunner(t, []string{"web"}, webDeploy, webSvc, webCfg, dbSet)
	e.applied(webDeploy, webSvc)
	sum, err := e.settle(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"statefulsets shop/db", "configmaps shop/web-config"}; !reflect.DeepEqual(e.cluster.Verbs("delete"), want) {
		t.Errorf("deletes %v, want %v (dependents first)", e.cluster.Verbs("delete"), want)
	}
	if want := []string{"shop/statefulset/db", "shop/configmap/web-config"}; !reflect.DeepEqual(sum.Pruned, want) {
		t.Errorf("Summary.Pruned = %v, want %v", sum.Pruned, want)
	}
	if !strings.Contains(e.out.String(), "prune  shop/configmap/web-config (no longer in the project)") {
		t.Errorf("output lacks the prune line:\n%s", e.out.String())
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, webSvc})
	sameSet(t, "inventory", e.inventory, []apply.Ref{webDeploy, webSvc})
}

func TestPruneKeepsSkippedResources(t *testing.T) {
	// db is auto_init=False or not enabled this run: it applied nothing, and must keep its
	// objects. web ran and dropped its ConfigMap, which goes.
	e := newPruneRunner(t, []string{"web", "db"}, webDeploy, webCfg, dbSet)
	e.applied(webDeploy)
	e.skipped("db")
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"configmaps shop/web-config"}; !reflect.DeepEqual(e.cluster.Verbs("delete"), want) {
		t.Errorf("deletes %v, want %v", e.cluster.Verbs("delete"), want)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, dbSet})
}

func TestPruneSkipFromRunNode(t *testing.T) {
	// The skip decision itself: runNode marks a resource skipped for auto_init=False and for
	// one left out of config.set_enabled_resources, without deploying it.
	for _, tc := range []struct {
		name     string
		autoInit bool
		enabled  map[string]bool
	}{
		{"auto_init=False", false, nil},
		{"not enabled", true, map[string]bool{"web": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPruneRunner(t, nil, webDeploy, dbSet)
			e.plan.Resources = []plan.Resource{{Name: "web", AutoInit: true}, {Name: "db", AutoInit: tc.autoInit}}
			e.applied(webDeploy)
			if err := e.runNode(context.Background(), plan.NodeID(plan.NodeResource+":db"), tc.enabled); err != nil {
				t.Fatal(err)
			}
			if got := e.results["db"].Status; got != "skipped" {
				t.Fatalf("db status %q, want skipped", got)
			}
			if _, err := e.settle(t, nil); err != nil {
				t.Fatal(err)
			}
			if d := e.cluster.Verbs("delete"); len(d) != 0 {
				t.Errorf("deleted %v of a skipped resource", d)
			}
			sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, dbSet})
			if n := e.cluster.Patches(); n != 0 {
				t.Errorf("%d inventory writes for an unchanged inventory", n)
			}
		})
	}
}

func TestPruneNeverDeletesNamespaces(t *testing.T) {
	// The ns resource is gone from the project: its Namespace stays (deleting it would delete
	// everything in it), and stays in the inventory for kiln down --delete-namespaces.
	e := newPruneRunner(t, []string{"web"}, shopNS, webDeploy)
	e.applied(webDeploy)
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if d := e.cluster.Verbs("delete"); len(d) != 0 {
		t.Errorf("deleted %v, want nothing", d)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{shopNS, webDeploy})
	sameSet(t, "inventory", e.inventory, []apply.Ref{shopNS, webDeploy})
	if n := e.cluster.Patches(); n != 0 {
		t.Errorf("%d inventory writes for an unchanged inventory", n)
	}
}

func TestPruneOrderReverseInstallRank(t *testing.T) {
	// Everything goes: custom resources before their CRD, workloads before the Services and
	// config they use; the Namespace stays.
	inventory := []apply.Ref{shopNS, widgetCRD, webCfg, webSvc, webDeploy, widget, dbSet}
	e := newPruneRunner(t, nil, inventory...)
	sum, err := e.settle(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"widgets shop/w",             // unknown kinds rank last: deleted first
		"statefulsets shop/db",       // StatefulSet ranks after Deployment
		"deployments shop/web",       //
		"services shop/web",          //
		"configmaps shop/web-config", //
		"customresourcedefinitions /widgets.example.com",
	}
	if got := e.cluster.Verbs("delete"); !reflect.DeepEqual(got, want) {
		t.Errorf("delete order\n got %v\nwant %v", got, want)
	}
	if len(sum.Pruned) != len(want) {
		t.Errorf("Summary.Pruned = %v", sum.Pruned)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{shopNS})
}

func TestPruneUnchangedInventoryIsNotRewritten(t *testing.T) {
	// The same refs, applied in another order: nothing to prune, nothing to write.
	e := newPruneRunner(t, []string{"web", "db"}, dbSet, webSvc, webDeploy)
	e.applied(webDeploy, webSvc, dbSet)
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.cluster.Patches(); n != 0 {
		t.Errorf("%d inventory writes, want none", n)
	}
	if d := e.cluster.Verbs("delete"); len(d) != 0 {
		t.Errorf("deleted %v", d)
	}

	// A new object is written.
	e = newPruneRunner(t, []string{"web"}, webDeploy)
	e.applied(webDeploy, webSvc)
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.cluster.Patches(); n != 1 {
		t.Errorf("%d inventory writes for a new object, want 1", n)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, webSvc})

	// An object that moved to another resource is written too: the inventory names its owner.
	moved := webCfg
	moved.Resource = "config"
	e = newPruneRunner(t, []string{"web", "config"}, webDeploy, webCfg)
	e.applied(webDeploy, moved)
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if d := e.cluster.Verbs("delete"); len(d) != 0 {
		t.Errorf("deleted %v: a moved object is not stale", d)
	}
	if n := e.cluster.Patches(); n != 1 {
		t.Errorf("%d inventory writes for a moved object, want 1", n)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, moved})
}

func TestPruneAfterFailureDeletesNothing(t *testing.T) {
	// A failed update deletes nothing, and its inventory grows by what it applied, so that a
	// later update can prune it.
	e := newPruneRunner(t, []string{"web"}, webDeploy, dbSet)
	e.applied(webSvc)
	boom := errors.New("apply web: boom")
	if _, err := e.settle(t, boom); err != boom {
		t.Fatalf("err = %v, want the run's error", err)
	}
	if d := e.cluster.Verbs("delete"); len(d) != 0 {
		t.Errorf("deleted %v after a failure", d)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, dbSet, webSvc})
}

func TestPruneDeleteErrorKeepsInventory(t *testing.T) {
	// Discovery of ConfigMaps fails: the prune stops with an error naming the object, and the
	// inventory forgets nothing, neither the ConfigMap nor the Widget deleted before it.
	e := newPruneRunner(t, []string{"web"}, webDeploy, webCfg, widget)
	e.applier.Cluster.Mapper = failingMapper{e.applier.Cluster.Mapper, "ConfigMap"}
	e.applied(webDeploy)
	sum, err := e.settle(t, nil)
	if err == nil || !strings.Contains(err.Error(), "shop/configmap/web-config") {
		t.Fatalf("err = %v, want the failed delete", err)
	}
	if want := []string{"widgets shop/w"}; !reflect.DeepEqual(e.cluster.Verbs("delete"), want) {
		t.Errorf("deletes %v, want %v", e.cluster.Verbs("delete"), want)
	}
	if want := []string{"shop/widget/w"}; !reflect.DeepEqual(sum.Pruned, want) {
		t.Errorf("Summary.Pruned = %v, want %v", sum.Pruned, want)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy, webCfg, widget})
}

// failingMapper fails every look-up of kind with a discovery error.
type failingMapper struct {
	meta.ResettableRESTMapper
	kind string
}

func (m failingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if gk.Kind == m.kind {
		return nil, errors.New("the server is currently unable to handle the request")
	}
	return m.ResettableRESTMapper.RESTMapping(gk, versions...)
}

func TestUnion(t *testing.T) {
	if got := union(nil, nil); len(got) != 0 {
		t.Errorf("union(nil, nil) = %v", got)
	}
	a := []apply.Ref{webDeploy, webSvc, webDeploy}
	b := []apply.Ref{dbSet, webSvc, shopNS}
	got := union(a, b)
	want := []apply.Ref{webDeploy, webSvc, dbSet, shopNS} // first occurrences, in order
	if !reflect.DeepEqual(got, want) {
		t.Errorf("union = %v, want %v", got, want)
	}
	// The same object under another resource is another entry: the inventory records owners.
	moved := webSvc
	moved.Resource = "api"
	if got := union([]apply.Ref{webSvc}, []apply.Ref{moved}); len(got) != 2 {
		t.Errorf("union with a moved ref = %v, want both", got)
	}
	// Its arguments are not changed.
	if !reflect.DeepEqual(a, []apply.Ref{webDeploy, webSvc, webDeploy}) {
		t.Errorf("union changed its argument: %v", a)
	}
}

func TestSameRefs(t *testing.T) {
	moved := webSvc
	moved.Resource = "api"
	for _, tc := range []struct {
		name string
		a, b []apply.Ref
		want bool
	}{
		{"both empty", nil, []apply.Ref{}, true},
		{"equal", []apply.Ref{webDeploy, webSvc}, []apply.Ref{webDeploy, webSvc}, true},
		{"other order", []apply.Ref{webDeploy, webSvc, dbSet}, []apply.Ref{dbSet, webDeploy, webSvc}, true},
		{"one more", []apply.Ref{webDeploy}, []apply.Ref{webDeploy, webSvc}, false},
		{"one less", []apply.Ref{webDeploy, webSvc}, []apply.Ref{webSvc}, false},
		{"other owner", []apply.Ref{webSvc}, []apply.Ref{moved}, false},
		{"same length, a duplicate", []apply.Ref{webDeploy, webDeploy}, []apply.Ref{webDeploy, webSvc}, false},
		{"duplicates on both sides", []apply.Ref{webDeploy, webSvc, webDeploy}, []apply.Ref{webDeploy, webDeploy, webSvc}, true},
	} {
		if got := sameRefs(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: sameRefs(%v, %v) = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if got := sameRefs(tc.b, tc.a); got != tc.want {
			t.Errorf("%s: sameRefs(%v, %v) = %v, want %v (swapped)", tc.name, tc.b, tc.a, got, tc.want)
		}
	}
}

func TestKeptFromAndPrunable(t *testing.T) {
	e := newPruneRunner(t, []string{"web", "db"})
	e.applied(webDeploy)
	e.skipped("db")
	e.runner.applied = e.currentApplied()
	old := []apply.Ref{webDeploy, webCfg, dbSet, shopNS, widget}

	sameSet(t, "keptFrom", e.keptFrom(old), []apply.Ref{dbSet, shopNS})
	sameSet(t, "prunable", e.prunable(old), []apply.Ref{webCfg, widget})

	// What is kept and what is pruned never overlap, and with what was applied they are the
	// whole old inventory.
	kept, pruned := e.keptFrom(old), e.prunable(old)
	sameSet(t, "kept + pruned + applied", union(union(kept, pruned), e.runner.applied), old)
	if both := apply.Stale(kept, apply.Stale(kept, pruned)); len(both) != 0 {
		t.Errorf("kept and pruned: %v", both)
	}
}

func TestCurrentAppliedDropsRemovedResources(t *testing.T) {
	// In kiln watch, a resource applied by an earlier update and then removed from the
	// Kilnfile contributes nothing: its objects are pruned.
	e := newPruneRunner(t, []string{"web", "db"}, webDeploy, dbSet)
	e.applied(webDeploy, dbSet)
	e.plan = &plan.Plan{Resources: []plan.Resource{{Name: "web", AutoInit: true}}}
	if _, err := e.settle(t, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"statefulsets shop/db"}; !reflect.DeepEqual(e.cluster.Verbs("delete"), want) {
		t.Errorf("deletes %v, want %v", e.cluster.Verbs("delete"), want)
	}
	sameSet(t, "saved inventory", e.saved(t), []apply.Ref{webDeploy})
}
