package builtins

import "github.com/kiln-dev/kiln/runtime/plan"

// uses reports whether workload w uses object o, which then belongs to w's resource: a Service
// whose selector matches w's pod labels, or a ConfigMap, Secret or PersistentVolumeClaim that
// w's pod spec references, in the same namespace.
func uses(w, o plan.Object) bool {
	if w.Namespace() != o.Namespace() {
		return false
	}
	pod := podTemplate(w)
	if pod == nil {
		return false
	}
	switch o.Kind() {
	case "Service":
		spec, _ := o["spec"].(map[string]any)
		selector := plan.Object{"metadata": map[string]any{"labels": spec["selector"]}}.Labels()
		if len(selector) == 0 {
			return false
		}
		labels := plan.Object(pod).Labels()
		for k, v := range selector {
			if labels[k] != v {
				return false
			}
		}
		return true
	case "ConfigMap", "Secret", "PersistentVolumeClaim":
		spec, _ := pod["spec"].(map[string]any)
		return references(spec, o.Kind(), o.Name())
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

// references reports whether a pod spec names a ConfigMap, Secret or PVC.
func references(spec map[string]any, kind, name string) bool {
	found := false
	var walk func(parentKey string, v any)
	walk = func(parentKey string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && s == name && refKey(kind, parentKey, k) {
					found = true
				}
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(parentKey, x)
			}
		}
	}
	walk("", spec)
	return found
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
