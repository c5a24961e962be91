// Package kubetest makes kube.Clusters backed by client-go's fakes, for tests of what kiln does
// to a cluster (apply, inventory, prune) that need no cluster.
package kubetest

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/kiln-dev/kiln/runtime/kube"
)

// Kinds the fake cluster's mapper knows, with whether their objects are namespaced.
// example.com/v1 Widget stands for a custom resource.
var Kinds = map[schema.GroupVersionKind]bool{
	{Version: "v1", Kind: "Namespace"}:                                               false,
	{Version: "v1", Kind: "ConfigMap"}:                                               true,
	{Version: "v1", Kind: "Secret"}:                                                  true,
	{Version: "v1", Kind: "Service"}:                                                 true,
	{Version: "v1", Kind: "ServiceAccount"}:                                          true,
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                               true,
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                              true,
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:         false,
	{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}: false,
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}:                     true,
	{Group: "example.com", Version: "v1", Kind: "Widget"}:                            true,
}

// Cluster is a fake cluster: typed and dynamic clients that record their actions.
type Cluster struct {
	*kube.Cluster
	Typed   *kubefake.Clientset            // the typed client (the inventory ConfigMap)
	Objects *dynamicfake.FakeDynamicClient // the dynamic client (applied objects)
}

// New returns a fake cluster whose dynamic client holds objs and whose mapper knows Kinds.
func New(objs ...*unstructured.Unstructured) *Cluster {
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk, namespaced := range Kinds {
		scope := meta.RESTScopeRoot
		if namespaced {
			scope = meta.RESTScopeNamespace
		}
		mapper.Add(gvk, scope)
	}
	ros := make([]runtime.Object, len(objs))
	for i, o := range objs {
		ros[i] = o
	}
	typed := kubefake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), ros...)
	return &Cluster{
		Cluster: &kube.Cluster{Context: "kind-fake", Namespace: "default", Client: typed, Dynamic: dyn, Mapper: resettable{mapper}},
		Typed:   typed,
		Objects: dyn,
	}
}

type resettable struct{ meta.RESTMapper }

func (resettable) Reset() {}

// Object is an object of kind (in Kinds) with labels, as a cluster would hold it.
func Object(gvk schema.GroupVersionKind, namespace, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

// Verbs returns the actions of verb among the dynamic client's, as "kind namespace/name"
// (namespace empty for cluster-scoped objects), in the order they happened.
func (c *Cluster) Verbs(verb string) []string {
	var out []string
	for _, a := range c.Objects.Actions() {
		if a.GetVerb() != verb {
			continue
		}
		name := ""
		if n, ok := a.(interface{ GetName() string }); ok {
			name = n.GetName()
		}
		out = append(out, a.GetResource().Resource+" "+a.GetNamespace()+"/"+name)
	}
	return out
}

// Patches counts the typed client's patch actions on ConfigMaps: each inventory write is one.
func (c *Cluster) Patches() int {
	n := 0
	for _, a := range c.Typed.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "configmaps" {
			n++
		}
	}
	return n
}
