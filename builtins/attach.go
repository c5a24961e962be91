package builtins

import "github.com/kiln-dev/kiln/runtime/plan"

// workloadUses is what a workload's pod uses, computed once per workload: its namespace, its
// pod labels (which Services select) and the ConfigMaps, Secrets and PVCs its pod spec names.
type workloadUses struct {
	namespace string
	labels    map[string]string
	refs      map[string]bool // "Kind/name"
}

func newWorkloadUses(w plan.Object) *workloadUses {
	u := &workloadUses{namespace: w.Namespace(), refs: map[string]bool{}}
	pod := podTemplate(w)
	if pod == nil {
		return u
	}
	u.labels = plan.Object(pod).Labels()
	spec, _ := pod["spec"].(map[string]any)
	collectRefs(spec, "", u.refs)
	return u
}

// uses reports whether the workload uses object o, which then belongs to its resource: a
// Service whose selector matches the pod labels, or a ConfigMap, Secret or
// PersistentVolumeClaim that the pod spec references, in the same namespace.
func (u *workloadUses) uses(o plan.Object) bool {
	if u.namespace != o.Namespace() {
		return false
	}
	switch o.Kind() {
	case "Service":
		spec, _ := o["spec"].(map[string]any)
		selector, _ := spec["selector"].(map[string]any)
		if len(selector) == 0 || u.labels == nil {
			return false
		}
		for k, v := range selector {
			if s, ok := v.(string); !ok || u.labels[k] != s {
				return false
			}
		}
		return true
	case "ConfigMap", "Secret", "PersistentVolumeClaim":
		return u.refs[o.Kind()+"/"+o.Name()]
	}
	return false
}

// podTemplate returns the pod (metadata and spec) a workload runs.
func podTemplate(w plan.Object) map[string]any {
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			next, _ := m[k].(map[string]any)
			if next == nil {
				return nil
			}
			m = next
		}
		return m
	}
	switch w.Kind() {
	case "Pod":
		return w
	case "CronJob":
		return get(w, "spec", "jobTemplate", "spec", "template")
	}
	return get(w, "spec", "template")
}

// collectRefs finds the ConfigMaps, Secrets and PVCs a pod spec names.
func collectRefs(v any, parentKey string, refs map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if name, ok := x.(string); ok {
				for _, kind := range []string{"ConfigMap", "Secret", "PersistentVolumeClaim"} {
					if refKey(kind, parentKey, k) {
						refs[kind+"/"+name] = true
					}
				}
			}
			collectRefs(x, k, refs)
		}
	case []any:
		for _, x := range v {
			collectRefs(x, parentKey, refs)
		}
	}
}

// refKey says whether field key inside parent names an object of kind, as pod specs do:
// volumes[].configMap.name, envFrom[].secretRef.name, env[].valueFrom.configMapKeyRef.name,
// volumes[].secret.secretName, imagePullSecrets[].name, persistentVolumeClaim.claimName.
func refKey(kind, parent, key string) bool {
	switch kind {
	case "ConfigMap":
		return key == "name" && (parent == "configMap" || parent == "configMapRef" || parent == "configMapKeyRef")
	case "Secret":
		return key == "secretName" && parent == "secret" ||
			key == "name" && (parent == "secret" || parent == "secretRef" || parent == "secretKeyRef" || parent == "imagePullSecrets")
	case "PersistentVolumeClaim":
		return key == "claimName" && parent == "persistentVolumeClaim"
	}
	return false
}
