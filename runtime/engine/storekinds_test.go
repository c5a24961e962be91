package engine

import (
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestYAMLDocsRedactsSecrets(t *testing.T) {
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
		"data": map[string]any{"token": "c2VjcmV0LXZhbHVl"}, "stringData": map[string]any{"pw": "hunter2-hunter2"}}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": "visible-value"}}
	objs := []map[string]any{secret, cm}
	out := yamlDocs(len(objs), func(i int) map[string]any { return objs[i] })
	for _, leaked := range []string{"c2VjcmV0LXZhbHVl", "hunter2-hunter2"} {
		if strings.Contains(out, leaked) {
			t.Errorf("the YAML shows the Secret value %q:\n%s", leaked, out)
		}
	}
	if !strings.Contains(out, "token: <redacted by kiln>") || !strings.Contains(out, "pw: <redacted by kiln>") {
		t.Errorf("the Secret's keys are not kept, redacted:\n%s", out)
	}
	if !strings.Contains(out, "k: visible-value") || strings.Count(out, "---\n") != 1 {
		t.Errorf("a ConfigMap is shown as it is, one document each:\n%s", out)
	}
	if secret["data"].(map[string]any)["token"] != "c2VjcmV0LXZhbHVl" {
		t.Error("redacting changed the object itself")
	}
}

func TestTriggered(t *testing.T) {
	changed := map[plan.NodeID]bool{plan.ResourceNode("web"): true, plan.ImageNode("example/web"): true}
	got := triggered(changed, []string{"manual"}, nil)
	if got != "update image example/web, web; waiting for kiln trigger: manual" {
		t.Errorf("triggered: %q", got)
	}
	if got := triggered(nil, nil, nil); !strings.HasPrefix(got, "nothing") {
		t.Errorf("triggered with nothing: %q", got)
	}
}
