package helmchart

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testdata(t testing.TB, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// render renders twice and fails unless both runs give identical results.
func render(t testing.TB, opts Options) ([]byte, []string) {
	t.Helper()
	out, files, err := Render(opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	out2, files2, err := Render(opts)
	if err != nil {
		t.Fatalf("second Render: %v", err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("Render is not deterministic:\n--- first\n%s\n--- second\n%s", out, out2)
	}
	if !reflect.DeepEqual(files, files2) {
		t.Fatalf("filesRead is not deterministic: %v vs %v", files, files2)
	}
	return out, files
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run `go test ./builtins/helmchart/ -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

type doc struct {
	Source string
	Obj    map[string]interface{}
}

// parseDocs splits a rendered stream and decodes each document.
func parseDocs(t *testing.T, out []byte) []doc {
	t.Helper()
	var docs []doc
	for _, part := range strings.Split(string(out), "---\n") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		lines := strings.SplitN(part, "\n", 2)
		if !strings.HasPrefix(lines[0], "# Source: ") {
			t.Fatalf("document does not start with a Source comment:\n%s", part)
		}
		var obj map[string]interface{}
		if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
			t.Fatalf("invalid YAML document: %v\n%s", err, part)
		}
		if len(obj) == 0 {
			t.Fatalf("empty document in output:\n%s", part)
		}
		docs = append(docs, doc{Source: strings.TrimPrefix(lines[0], "# Source: "), Obj: obj})
	}
	return docs
}

func kindName(d doc) string {
	md, _ := d.Obj["metadata"].(map[string]interface{})
	return d.Obj["kind"].(string) + "/" + md["name"].(string)
}

func find(t *testing.T, docs []doc, kn string) doc {
	t.Helper()
	for _, d := range docs {
		if kindName(d) == kn {
			return d
		}
	}
	var have []string
	for _, d := range docs {
		have = append(have, kindName(d))
	}
	t.Fatalf("no %s in output; have %v", kn, have)
	return doc{}
}

func get(t *testing.T, v interface{}, path ...interface{}) interface{} {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]interface{})
			if !ok {
				t.Fatalf("at %v: not a map: %v", p, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]interface{})
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a long enough list: %v", p, v)
			}
			v = l[k]
		}
	}
	return v
}

func containerEnv(t *testing.T, d doc) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range get(t, d.Obj, "spec", "template", "spec", "containers", 0, "env").([]interface{}) {
		m := e.(map[string]interface{})
		env[m["name"].(string)] = m["value"].(string)
	}
	return env
}

func kinds(docs []doc) []string {
	var out []string
	for _, d := range docs {
		out = append(out, kindName(d))
	}
	return out
}

func TestRenderDefaults(t *testing.T) {
	chartDir := testdata(t, "charts", "web")
	out, files := render(t, Options{Chart: chartDir})
	checkGolden(t, "web-default", out)

	docs := parseDocs(t, out)
	// helm template order: CRDs, then install order by kind, then hooks;
	// the test hook, NOTES.txt and the comment-only document are gone,
	// and so is the disabled cache subchart.
	want := []string{
		"CustomResourceDefinition/widgets.example.com",
		"ServiceAccount/web",
		"ConfigMap/web-config",
		"Service/web",
		"Deployment/web",
		"Job/web-migrate",
	}
	if got := kinds(docs); !reflect.DeepEqual(got, want) {
		t.Errorf("documents = %v, want %v", got, want)
	}
	if docs[0].Source != "web/crds/widgets.example.com.yaml" {
		t.Errorf("CRD source = %q", docs[0].Source)
	}
	for _, s := range []string{"test-connection", "Thank you for installing", "comment-only"} {
		if strings.Contains(string(out), s) {
			t.Errorf("output unexpectedly contains %q", s)
		}
	}
	if strings.Contains(string(out), "web/charts/cache") {
		t.Errorf("disabled cache subchart was rendered")
	}

	dep := find(t, docs, "Deployment/web")
	if r := get(t, dep.Obj, "spec", "replicas"); r != float64(1) {
		t.Errorf("replicas = %v, want 1", r)
	}
	if img := get(t, dep.Obj, "spec", "template", "spec", "containers", 0, "image"); img != "ghcr.io/example/web:1.2.3" {
		t.Errorf("image = %v (want the appVersion as default tag)", img)
	}
	if ns := get(t, dep.Obj, "metadata", "namespace"); ns != "default" {
		t.Errorf("namespace = %v, want default", ns)
	}
	env := containerEnv(t, dep)
	if env["RELEASE_INFO"] != "default/web install=true service=Helm" {
		t.Errorf("release info = %q", env["RELEASE_INFO"])
	}
	if env["CACHE_HOST"] != "none" {
		t.Errorf("CACHE_HOST = %q: import-values applied although cache is disabled", env["CACHE_HOST"])
	}
	// _helpers.tpl labels
	if l := get(t, dep.Obj, "metadata", "labels", "helm.sh/chart"); l != "web-0.1.0" {
		t.Errorf("helm.sh/chart label = %v", l)
	}
	cm := find(t, docs, "ConfigMap/web-config")
	if c := get(t, cm.Obj, "data", "app.conf"); c != "listen = 8080\nlog_level = info\n" {
		t.Errorf("app.conf from .Files.Get = %q", c)
	}
	// Not Helm's own default (v1.20.0, which refuses current charts): the newest the SDK
	// supports.
	if kv := get(t, cm.Obj, "data", "kube-version"); kv != DefaultKubeVersion() {
		t.Errorf("kube-version = %v, want %s", kv, DefaultKubeVersion())
	}

	// Every file of the chart, but not the .helmignore'd one.
	var rel []string
	for _, f := range files {
		if !filepath.IsAbs(f) {
			t.Errorf("filesRead has a relative path %q", f)
		}
		r, err := filepath.Rel(chartDir, f)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, filepath.ToSlash(r))
	}
	wantFiles := []string{
		".helmignore",
		"Chart.yaml",
		"charts/cache/Chart.yaml",
		"charts/cache/templates/deployment.yaml",
		"charts/cache/templates/service.yaml",
		"charts/cache/values.yaml",
		"crds/widgets.example.com.yaml",
		"files/app.conf",
		"templates/NOTES.txt",
		"templates/_helpers.tpl",
		"templates/configmap.yaml",
		"templates/deployment.yaml",
		"templates/migrate-job.yaml",
		"templates/service.yaml",
		"templates/serviceaccount.yaml",
		"templates/servicemonitor.yaml",
		"templates/tests/test-connection.yaml",
		"values.schema.json",
		"values.yaml",
	}
	if !reflect.DeepEqual(rel, wantFiles) {
		t.Errorf("filesRead =\n%v\nwant\n%v", rel, wantFiles)
	}
}

func TestRenderOverrides(t *testing.T) {
	chartDir := testdata(t, "charts", "web")
	prod := testdata(t, "values", "prod.yaml")
	extra := testdata(t, "values", "extra.yaml")
	out, files := render(t, Options{
		Chart:       chartDir,
		ReleaseName: "shop",
		Namespace:   "prod",
		ValuesFiles: []string{prod, extra},
		Set:         []string{"greeting=hi,service.port=8081", "hooks.migrate=false"},
		KubeVersion: "1.34.0",
		APIVersions: []string{"monitoring.coreos.com/v1"},
	})
	checkGolden(t, "web-overrides", out)

	docs := parseDocs(t, out)
	want := []string{
		"CustomResourceDefinition/widgets.example.com",
		"ServiceAccount/shop-web",
		"ConfigMap/shop-web-config",
		"Service/shop-cache",
		"Service/shop-web",
		"Deployment/shop-cache",
		"Deployment/shop-web",
		"ServiceMonitor/shop-web",
	}
	if got := kinds(docs); !reflect.DeepEqual(got, want) {
		t.Errorf("documents = %v, want %v", got, want)
	}

	dep := find(t, docs, "Deployment/shop-web")
	// extra.yaml (later) beats prod.yaml, which beats the chart default.
	if r := get(t, dep.Obj, "spec", "replicas"); r != float64(5) {
		t.Errorf("replicas = %v, want 5 from extra.yaml", r)
	}
	if img := get(t, dep.Obj, "spec", "template", "spec", "containers", 0, "image"); img != "ghcr.io/example/web:2.0.0" {
		t.Errorf("image = %v, want the tag from prod.yaml", img)
	}
	if ns := get(t, dep.Obj, "metadata", "namespace"); ns != "prod" {
		t.Errorf("namespace = %v", ns)
	}
	if a := get(t, dep.Obj, "spec", "template", "metadata", "annotations", "team"); a != "platform" {
		t.Errorf("pod annotation from extra.yaml = %v", a)
	}
	if c := get(t, dep.Obj, "spec", "template", "spec", "containers", 0, "resources", "limits", "memory"); c != "256Mi" {
		t.Errorf("memory limit = %v", c)
	}
	env := containerEnv(t, dep)
	if env["GREETING"] != "hi" {
		t.Errorf("GREETING = %q, want --set to beat the values files", env["GREETING"])
	}
	if env["ENVIRONMENT"] != "prod" {
		t.Errorf("ENVIRONMENT = %q", env["ENVIRONMENT"])
	}
	if env["CACHE_HOST"] != "web-cache:6379" {
		t.Errorf("CACHE_HOST = %q, want the value imported from the cache subchart", env["CACHE_HOST"])
	}
	svc := find(t, docs, "Service/shop-web")
	if p := get(t, svc.Obj, "spec", "ports", 0, "port"); p != float64(8081) {
		t.Errorf("service port = %v, want 8081 from --set", p)
	}
	cache := find(t, docs, "Deployment/shop-cache")
	if p := get(t, cache.Obj, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"); p != float64(6380) {
		t.Errorf("cache port = %v, want 6380 from prod.yaml's cache section", p)
	}
	if e := containerEnv(t, cache)["ENVIRONMENT"]; e != "prod" {
		t.Errorf("cache sees global.env = %q", e)
	}
	cm := find(t, docs, "ConfigMap/shop-web-config")
	if kv := get(t, cm.Obj, "data", "kube-version"); kv != "v1.34.0" {
		t.Errorf("kube-version = %v", kv)
	}
	if strings.Contains(string(out), "migrate") {
		t.Errorf("hook disabled with --set hooks.migrate=false still rendered")
	}

	for _, f := range []string{prod, extra} {
		if !contains(files, f) {
			t.Errorf("filesRead misses values file %s", f)
		}
	}
}

func TestRenderSkipCRDs(t *testing.T) {
	out, _ := render(t, Options{Chart: testdata(t, "charts", "web"), SkipCRDs: true})
	if strings.Contains(string(out), "CustomResourceDefinition") {
		t.Errorf("SkipCRDs output has a CRD:\n%s", out)
	}
	if !strings.HasPrefix(string(out), "---\n# Source: web/templates/serviceaccount.yaml\n") {
		t.Errorf("output starts with %q", firstLine(out))
	}
}

// TestRenderArchive packages the metrics chart into web's charts/ as a .tgz,
// packages web itself, and renders the archive.
func TestRenderArchive(t *testing.T) {
	tmp := t.TempDir()
	webDir := filepath.Join(tmp, "web")
	copyDir(t, testdata(t, "charts", "web"), webDir)
	metrics, err := loader.Load(testdata(t, "charts", "metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(metrics, filepath.Join(webDir, "charts")); err != nil {
		t.Fatal(err)
	}
	web, err := loader.Load(webDir)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(web, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(tgz) != "web-0.1.0.tgz" {
		t.Fatalf("saved as %s", tgz)
	}

	out, files := render(t, Options{Chart: tgz, ValuesFiles: []string{testdata(t, "values", "prod.yaml")}})
	checkGolden(t, "web-archive", out)
	if want := []string{testdata(t, "values", "prod.yaml"), tgz}; !reflect.DeepEqual(files, sorted(want)) {
		t.Errorf("filesRead = %v, want %v", files, sorted(want))
	}
	docs := parseDocs(t, out)
	// CRDs of the parent, then of the subcharts, come first.
	if got := []string{kindName(docs[0]), kindName(docs[1])}; !reflect.DeepEqual(got, []string{
		"CustomResourceDefinition/widgets.example.com", "CustomResourceDefinition/probes.example.com",
	}) {
		t.Errorf("first documents = %v", got)
	}
	if docs[1].Source != "web/charts/metrics/crds/probes.example.com.yaml" {
		t.Errorf("subchart CRD source = %q", docs[1].Source)
	}
	m := find(t, docs, "ConfigMap/web-metrics")
	if e := get(t, m.Obj, "data", "environment"); e != "prod" {
		t.Errorf("metrics subchart environment = %v", e)
	}
	find(t, docs, "Deployment/web-cache")

	// The same chart unpacked renders the same manifests.
	dirOut, dirFiles := render(t, Options{Chart: webDir, ValuesFiles: []string{testdata(t, "values", "prod.yaml")}})
	if !bytes.Equal(out, dirOut) {
		t.Errorf("archive and directory render differently:\n--- tgz\n%s\n--- dir\n%s", out, dirOut)
	}
	if !contains(dirFiles, filepath.Join(webDir, "charts", "metrics-0.1.0.tgz")) {
		t.Errorf("filesRead misses the subchart archive: %v", dirFiles)
	}
}

func TestRenderSchemaViolation(t *testing.T) {
	_, _, err := Render(Options{Chart: testdata(t, "charts", "web"), Set: []string{"replicaCount=many"}})
	if err == nil {
		t.Fatal("no error for a value that breaks values.schema.json")
	}
	for _, s := range []string{"helm chart ", "replicaCount", "schema"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	web := testdata(t, "charts", "web")
	broken := testdata(t, "charts", "broken")
	missingValues := testdata(t, "values", "nope.yaml")
	invalidValues := testdata(t, "values", "invalid.yaml")

	noDep := filepath.Join(t.TempDir(), "web")
	copyDir(t, web, noDep)
	if err := os.RemoveAll(filepath.Join(noDep, "charts", "cache")); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"template error keeps helm's file and line", Options{Chart: broken},
			[]string{"helm chart " + broken + ": ", "template: broken/templates/configmap.yaml:6:", "nil pointer evaluating interface {}.port"}},
		{"missing chart dir", Options{Chart: testdata(t, "charts", "nope")},
			[]string{"helm chart ", "charts/nope does not exist"}},
		{"dir without Chart.yaml", Options{Chart: testdata(t, "values")},
			[]string{"testdata/values is not a chart directory"}},
		{"missing values file", Options{Chart: web, ValuesFiles: []string{missingValues}},
			[]string{"helm chart " + web, "values file " + missingValues + " does not exist"}},
		{"invalid values YAML", Options{Chart: web, ValuesFiles: []string{invalidValues}},
			[]string{"values file " + invalidValues + ": invalid YAML"}},
		{"bad --set", Options{Chart: web, Set: []string{"a.b"}},
			[]string{`--set "a.b"`, "key \"b\" has no value"}},
		{"missing dependency", Options{Chart: noDep},
			[]string{"missing from charts/: cache"}},
		{"kube version too old", Options{Chart: web, KubeVersion: "1.18.0"},
			[]string{"chart requires kubeVersion: >=1.19.0-0 which is incompatible with Kubernetes v1.18.0"}},
		{"invalid kube version", Options{Chart: web, KubeVersion: "latest"},
			[]string{`invalid kube version "latest"`}},
		{"invalid release name", Options{Chart: web, ReleaseName: "Not_Valid"},
			[]string{`release name "Not_Valid"`}},
		{"no chart", Options{}, []string{"no chart given"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := Render(c.opts)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if out != nil {
				t.Errorf("manifests returned with an error")
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// On error, the files read so far are still returned, so that the caller can
// watch the broken template and render again once it is fixed.
func TestRenderErrorFilesRead(t *testing.T) {
	broken := testdata(t, "charts", "broken")
	_, files, err := Render(Options{Chart: broken})
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		filepath.Join(broken, "Chart.yaml"),
		filepath.Join(broken, "templates", "configmap.yaml"),
		filepath.Join(broken, "values.yaml"),
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("filesRead = %v, want %v", files, want)
	}
}

func BenchmarkRender(b *testing.B) {
	opts := Options{Chart: testdata(b, "charts", "web"), ValuesFiles: []string{testdata(b, "values", "prod.yaml")}}
	if _, _, err := Render(opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Render(opts); err != nil {
			b.Fatal(err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
