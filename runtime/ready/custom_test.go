package ready

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func custom(generation int64, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "ns", "generation": generation},
	}}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func conditions(cs ...map[string]any) map[string]any {
	list := []any{}
	for _, c := range cs {
		list = append(list, c)
	}
	return map[string]any{"observedGeneration": int64(1), "conditions": list}
}

func TestCustomState(t *testing.T) {
	cases := []struct {
		name    string
		obj     *unstructured.Unstructured
		ready   bool
		failed  bool
		message string
	}{
		{"no status", custom(1, nil), true, false, ""},
		{"ready", custom(1, conditions(map[string]any{"type": "Ready", "status": "True"})), true, false, ""},
		{"not ready", custom(1, conditions(map[string]any{"type": "Ready", "status": "False", "message": "waiting for issuer"})), false, false, "waiting for issuer"},
		{"reconciling", custom(1, conditions(map[string]any{"type": "Reconciling", "status": "True", "message": "rolling"})), false, false, "rolling"},
		{"stalled", custom(1, conditions(map[string]any{"type": "Stalled", "status": "True", "message": "bad spec"})), false, true, "bad spec"},
		{"old generation", custom(2, conditions(map[string]any{"type": "Ready", "status": "True"})), false, false, "inprogress"},
	}
	for _, c := range cases {
		ready, msg, err := customState(c.obj)
		var f *Failure
		if ready != c.ready || errors.As(err, &f) != c.failed {
			t.Errorf("%s: ready %v, %q, %v", c.name, ready, msg, err)
			continue
		}
		text := msg
		if err != nil {
			text = err.Error()
		}
		if !strings.Contains(text, c.message) || (!c.ready && !strings.Contains(text, "widget/w")) {
			t.Errorf("%s: %q does not name the object and %q", c.name, text, c.message)
		}
	}
}

func TestIsCustom(t *testing.T) {
	for apiVersion, want := range map[string]bool{
		"v1": false, "apps/v1": false, "networking.k8s.io/v1": false, "cert-manager.io/v1": true,
		"cluster.x-k8s.io/v1beta1": true, "example.com/v1": true,
	} {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": "X"}}
		if isCustom(u) != want {
			t.Errorf("isCustom(%s) = %v", apiVersion, !want)
		}
	}
}
