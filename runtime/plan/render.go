package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// installRank orders kinds for applying: namespaces and CRDs first, then what others depend on
// (accounts, config, storage, RBAC), then services and workloads. Unknown kinds, such as custom
// resources, come last, after their CRDs exist.
var installRank = func() map[string]int {
	kinds := []string{
		"Namespace", "CustomResourceDefinition", "NetworkPolicy", "ResourceQuota", "LimitRange",
		"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
		"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "ClusterRole",
		"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
		"RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
		"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
		"IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration",
		"ValidatingWebhookConfiguration",
	}
	m := make(map[string]int, len(kinds))
	for i, k := range kinds {
		m[k] = i
	}
	return m
}()

// InstallRank is the position of kind in the apply order.
func InstallRank(kind string) int {
	if r, ok := installRank[kind]; ok {
		return r
	}
	return len(installRank)
}

// OwnedObject is an object with the name of the resource that holds it.
type OwnedObject struct {
	Resource string
	Object   Object
}

// InstallOrder returns every object of the plan in apply order: by kind's install rank, then
// resource name, then kind, namespace and name.
func (p *Plan) InstallOrder() []OwnedObject {
	var all []OwnedObject
	for _, r := range p.Resources {
		for _, o := range r.Objects {
			all = append(all, OwnedObject{Resource: r.Name, Object: o})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if ra, rb := InstallRank(a.Object.Kind()), InstallRank(b.Object.Kind()); ra != rb {
			return ra < rb
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Object.Kind() != b.Object.Kind() {
			return a.Object.Kind() < b.Object.Kind()
		}
		if a.Object.Namespace() != b.Object.Namespace() {
			return a.Object.Namespace() < b.Object.Namespace()
		}
		return a.Object.Name() < b.Object.Name()
	})
	return all
}

// RenderYAML prints every object as one YAML stream in install order, each document preceded
// by a comment naming its resource. Keys are sorted, so the output is deterministic.
func (p *Plan) RenderYAML() ([]byte, error) {
	var buf bytes.Buffer
	for i, oo := range p.InstallOrder() {
		if i > 0 {
			buf.WriteString("---\n")
		}
		out, err := EncodeYAML(map[string]any(oo.Object))
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", oo.Object.ID(), err)
		}
		fmt.Fprintf(&buf, "# Source: resource %s\n", oo.Resource)
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// RenderJSON prints the whole plan as indented JSON. Maps marshal with sorted keys.
func (p *Plan) RenderJSON() ([]byte, error) {
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
