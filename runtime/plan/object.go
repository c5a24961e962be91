package plan

import "strings"

// APIVersion returns the object's apiVersion.
func (o Object) APIVersion() string { s, _ := o["apiVersion"].(string); return s }

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// Group returns the API group of the object's apiVersion ("" for the core group).
func (o Object) Group() string {
	if i := strings.Index(o.APIVersion(), "/"); i >= 0 {
		return o.APIVersion()[:i]
	}
	return ""
}

func (o Object) metadata() map[string]any { m, _ := o["metadata"].(map[string]any); return m }

// Name returns metadata.name.
func (o Object) Name() string { s, _ := o.metadata()["name"].(string); return s }

// Namespace returns metadata.namespace.
func (o Object) Namespace() string { s, _ := o.metadata()["namespace"].(string); return s }

// Labels returns metadata.labels as strings.
func (o Object) Labels() map[string]string { return stringMap(o.metadata()["labels"]) }

// ID names the object as "name:kind:namespace", the selector syntax of k8s_resource(objects=).
func (o Object) ID() string {
	id := o.Name() + ":" + strings.ToLower(o.Kind())
	if ns := o.Namespace(); ns != "" {
		id += ":" + ns
	}
	return id
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
