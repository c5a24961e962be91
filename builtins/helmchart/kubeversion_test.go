package helmchart

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDefaultKubeVersionMatchesClientGo: the default is the Kubernetes release of the
// client-go in go.mod, and fallbackKubeVersion is kept in step with it.
func TestDefaultKubeVersionMatchesClientGo(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s.io/client-go v0\.(\d+)\.`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("no k8s.io/client-go in go.mod")
	}
	want := "v1." + string(m[1]) + ".0"
	if got := DefaultKubeVersion(); got != want {
		t.Errorf("DefaultKubeVersion() = %s, want %s", got, want)
	}
	if fallbackKubeVersion != want {
		t.Errorf("fallbackKubeVersion = %s, want %s: update it with client-go", fallbackKubeVersion, want)
	}
}

// TestRenderCurrentKubeVersion: a chart that requires a current Kubernetes renders with no
// kube_version given (Helm's own default, v1.20.0, refuses it), and .Capabilities.KubeVersion
// is the default; an explicit kube_version still wins.
func TestRenderCurrentKubeVersion(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: modern\nversion: 0.1.0\nkubeVersion: '>= 1.25.0-0'\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: modern}\ndata: {kube: '{{ .Capabilities.KubeVersion.Version }}'}\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := render(t, Options{Chart: dir, ReleaseName: "modern"})
	if !strings.Contains(string(out), "kube: '"+DefaultKubeVersion()+"'") {
		t.Errorf("rendered with the wrong Kubernetes version:\n%s", out)
	}
	out, _ = render(t, Options{Chart: dir, ReleaseName: "modern", KubeVersion: "1.29.3"})
	if !strings.Contains(string(out), "kube: 'v1.29.3'") {
		t.Errorf("kube_version not honoured:\n%s", out)
	}
	if _, _, err := Render(Options{Chart: dir, ReleaseName: "modern", KubeVersion: "1.20.0"}); err == nil || !strings.Contains(err.Error(), "incompatible with Kubernetes v1.20.0") {
		t.Errorf("kube_version below the chart's requirement must fail, got %v", err)
	}
}
