package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// load('ext://helm_remote') is answered natively: the chart comes over HTTP from its repo
// (here a local server), with no helm binary, into kiln's cache; it renders with values,
// namespace and create_namespace; and once cached, a render needs no repo at all.
func TestHelmRemoteNative(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "redis", Version: "1.4.0"},
		Values:   map[string]any{"replicas": 1},
		Templates: []*chart.File{{Name: "templates/sts.yaml", Data: []byte(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec: {containers: [{name: redis, image: redis:7}]}
`)}},
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.yaml":
			w.Write([]byte("apiVersion: v1\nentries:\n  redis:\n  - version: 1.4.0\n    urls: [redis-1.4.0.tgz]\n"))
		case "/redis-1.4.0.tgz":
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "values.yaml"), []byte("replicas: 3\n"), 0o644)
	os.WriteFile(filepath.Join(project, "Tiltfile"), []byte(`load('ext://helm_remote', 'helm_remote')
helm_remote('redis', repo_name='bitnami', repo_url='`+srv.URL+`', release_name='cache',
    namespace='data', create_namespace=True, values=['values.yaml'], set=['replicas=2'])
`), 0o644)
	out, errOut, code := kiln(t, "render", "-f", project)
	if code != 0 {
		t.Fatalf("render: %d\n%s", code, errOut)
	}
	for _, want := range []string{"kind: Namespace\nmetadata:\n  name: data", "name: cache\n  namespace: data", "replicas: 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	srv.Close()
	again, errOut, code := kiln(t, "render", "-f", project)
	if code != 0 || again != out {
		t.Fatalf("a render from the cache, with the repo gone: %d\n%s", code, errOut)
	}
}
