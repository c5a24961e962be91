package kustomize

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

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

// buildTwice builds twice and fails unless both runs give identical results.
func buildTwice(t testing.TB, opts Options) ([]byte, []string) {
	t.Helper()
	out, files, err := Build(opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out2, files2, err := Build(opts)
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("Build is not deterministic:\n--- first\n%s\n--- second\n%s", out, out2)
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
		t.Fatalf("%v (run `go test ./builtins/kustomize/ -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

type obj = map[string]interface{}

func parseDocs(t *testing.T, out []byte) []obj {
	t.Helper()
	var docs []obj
	for _, part := range strings.Split(string(out), "\n---\n") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		var o obj
		if err := yaml.Unmarshal([]byte(part), &o); err != nil {
			t.Fatalf("invalid YAML document: %v\n%s", err, part)
		}
		docs = append(docs, o)
	}
	return docs
}

func kindName(o obj) string {
	md, _ := o["metadata"].(obj)
	return o["kind"].(string) + "/" + md["name"].(string)
}

func find(t *testing.T, docs []obj, prefix string) obj {
	t.Helper()
	for _, d := range docs {
		if strings.HasPrefix(kindName(d), prefix) {
			return d
		}
	}
	t.Fatalf("no %s* in output", prefix)
	return nil
}

func get(t *testing.T, v interface{}, path ...interface{}) interface{} {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
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

func relFiles(t *testing.T, root string, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		if !filepath.IsAbs(f) {
			t.Errorf("relative path %q in filesRead", f)
		}
		r, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(r))
	}
	return out
}

func TestBuildBase(t *testing.T) {
	out, files := buildTwice(t, Options{Dir: testdata(t, "base")})
	checkGolden(t, "base", out)
	docs := parseDocs(t, out)
	var got []string
	for _, d := range docs {
		got = append(got, kindName(d))
	}
	// Legacy order, as `kustomize build` prints it; the generated ConfigMap
	// has a content hash suffix.
	if len(got) != 3 || !strings.HasPrefix(got[0], "ConfigMap/hello-config-") || got[1] != "Service/hello" || got[2] != "Deployment/hello" {
		t.Errorf("documents = %v", got)
	}
	cm := find(t, docs, "ConfigMap/hello-config-")
	if p := get(t, cm, "data", "app.properties"); p != "greeting=hello\ncolor=blue\n" {
		t.Errorf("app.properties = %q", p)
	}
	if want := []string{"app.properties", "deployment.yaml", "kustomization.yaml", "service.yaml"}; !reflect.DeepEqual(relFiles(t, testdata(t, "base"), files), want) {
		t.Errorf("filesRead = %v, want %v", relFiles(t, testdata(t, "base"), files), want)
	}
}

func TestBuildOverlay(t *testing.T) {
	out, files := buildTwice(t, Options{Dir: testdata(t, "overlays", "prod")})
	checkGolden(t, "overlay-prod", out)
	docs := parseDocs(t, out)

	var got []string
	for _, d := range docs {
		got = append(got, kindName(d))
	}
	if len(got) != 4 || got[0] != "Namespace/prod" || !strings.HasPrefix(got[1], "ConfigMap/prod-hello-config-") ||
		got[2] != "Service/prod-hello" || got[3] != "Deployment/prod-hello" {
		t.Errorf("documents = %v", got)
	}

	dep := find(t, docs, "Deployment/prod-hello")
	if ns := get(t, dep, "metadata", "namespace"); ns != "prod" {
		t.Errorf("namespace = %v", ns)
	}
	// commonLabels from base and overlay, on metadata and selectors.
	for _, path := range [][]interface{}{
		{"metadata", "labels"},
		{"spec", "selector", "matchLabels"},
		{"spec", "template", "metadata", "labels"},
	} {
		labels := get(t, dep, path...).(obj)
		if labels["app"] != "hello" || labels["env"] != "prod" {
			t.Errorf("%v = %v, want app=hello and env=prod", path, labels)
		}
	}
	// strategic merge patch
	if r := get(t, dep, "spec", "replicas"); r != float64(3) {
		t.Errorf("replicas = %v, want 3 from the strategic merge patch", r)
	}
	if m := get(t, dep, "spec", "template", "spec", "containers", 0, "resources", "limits", "memory"); m != "256Mi" {
		t.Errorf("memory limit = %v", m)
	}
	// JSON 6902 patch
	if a := get(t, dep, "spec", "template", "spec", "containers", 0, "args", 0); a != "--port=9090" {
		t.Errorf("args[0] = %v, want the JSON 6902 replacement", a)
	}
	if a := get(t, dep, "metadata", "annotations", "example.com/patched-by"); a != "json6902" {
		t.Errorf("annotation = %v", a)
	}
	// images transformer
	if img := get(t, dep, "spec", "template", "spec", "containers", 0, "image"); img != "ghcr.io/example/hello:2.0" {
		t.Errorf("image = %v, want the new tag", img)
	}
	// The generated ConfigMap: merged with the overlay's literal, and the
	// reference to it renamed (prefix and hash).
	cm := find(t, docs, "ConfigMap/prod-hello-config-")
	if m := get(t, cm, "data", "MODE"); m != "prod" {
		t.Errorf("MODE = %v, want the overlay's merged literal", m)
	}
	if p := get(t, cm, "data", "app.properties"); p != "greeting=hello\ncolor=blue\n" {
		t.Errorf("app.properties = %q", p)
	}
	ref := get(t, dep, "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name")
	if ref != get(t, cm, "metadata", "name") {
		t.Errorf("envFrom refers to %v, ConfigMap is %v", ref, get(t, cm, "metadata", "name"))
	}
	svc := find(t, docs, "Service/prod-hello")
	if s := get(t, svc, "spec", "selector", "env"); s != "prod" {
		t.Errorf("service selector env = %v", s)
	}

	want := []string{
		"base/app.properties",
		"base/deployment.yaml",
		"base/kustomization.yaml",
		"base/service.yaml",
		"overlays/prod/args.json6902.yaml",
		"overlays/prod/kustomization.yaml",
		"overlays/prod/namespace.yaml",
		"overlays/prod/replicas.yaml",
	}
	if got := relFiles(t, testdata(t), files); !reflect.DeepEqual(got, want) {
		t.Errorf("filesRead =\n%v\nwant\n%v", got, want)
	}
}

func TestBuildReorderNone(t *testing.T) {
	out, _ := buildTwice(t, Options{Dir: testdata(t, "overlays", "prod"), Flags: []string{"--reorder", "none"}})
	docs := parseDocs(t, out)
	// Without the legacy sort the Namespace is no longer first.
	if kindName(docs[0]) == "Namespace/prod" {
		t.Errorf("--reorder none still sorted the Namespace first")
	}
	legacy, _ := buildTwice(t, Options{Dir: testdata(t, "overlays", "prod"), Flags: []string{"--reorder=legacy"}})
	plain, _ := buildTwice(t, Options{Dir: testdata(t, "overlays", "prod")})
	if !bytes.Equal(legacy, plain) {
		t.Errorf("--reorder=legacy differs from the default")
	}
}

func TestBuildLoadRestrictor(t *testing.T) {
	dir := testdata(t, "cases", "outside-root")
	_, _, err := Build(Options{Dir: dir})
	if err == nil {
		t.Fatal("a resource outside the kustomization root built without --load-restrictor LoadRestrictionsNone")
	}
	for _, s := range []string{"kustomize build " + dir + ": ", "extra.yaml", "is not in or below"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	for _, flags := range [][]string{
		{"--load-restrictor", "LoadRestrictionsNone"},
		{"--load-restrictor=LoadRestrictionsNone"},
	} {
		out, files := buildTwice(t, Options{Dir: dir, Flags: flags})
		if !strings.Contains(string(out), "name: extra") {
			t.Errorf("%v: output misses the outside resource:\n%s", flags, out)
		}
		if want := []string{"outside-root/kustomization.yaml", "shared/extra.yaml"}; !reflect.DeepEqual(relFiles(t, testdata(t, "cases"), files), want) {
			t.Errorf("%v: filesRead = %v", flags, relFiles(t, testdata(t, "cases"), files))
		}
	}
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"missing resource", Options{Dir: testdata(t, "cases", "missing-resource")},
			[]string{"kustomize build " + testdata(t, "cases", "missing-resource") + ": ", "does-not-exist.yaml"}},
		{"missing dir", Options{Dir: testdata(t, "cases", "nope")},
			[]string{"cases/nope does not exist"}},
		{"not a dir", Options{Dir: testdata(t, "base", "service.yaml")},
			[]string{"service.yaml is not a directory"}},
		{"no kustomization", Options{Dir: testdata(t, "cases")},
			[]string{"unable to find one of 'kustomization.yaml'"}},
		{"remote git base", Options{Dir: testdata(t, "cases", "remote-base")},
			[]string{"remote-base/kustomization.yaml: remote resources entry \"github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6\" is not supported"}},
		{"remote URL in a base", Options{Dir: testdata(t, "cases", "remote-nested")},
			[]string{"remote-nested/base/kustomization.yaml: remote resources entry \"https://raw.githubusercontent.com/example/repo/main/deploy.yaml\""}},
		{"remote patch", Options{Dir: testdata(t, "cases", "remote-http-patch"), Flags: []string{"--load-restrictor", "LoadRestrictionsNone"}},
			[]string{"remote patches entry \"https://example.com/patch.yaml\""}},
		{"remote dir", Options{Dir: "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v1.0.6"},
			[]string{"remote kustomization"}},
		{"alpha plugins", Options{Dir: testdata(t, "base"), Flags: []string{"--enable-alpha-plugins"}},
			[]string{"flag --enable-alpha-plugins is not supported"}},
		{"helm", Options{Dir: testdata(t, "base"), Flags: []string{"--enable-helm"}},
			[]string{"flag --enable-helm is not supported"}},
		{"unknown flag", Options{Dir: testdata(t, "base"), Flags: []string{"--output", "x"}},
			[]string{`unknown kustomize flag "--output"`}},
		{"bad restrictor", Options{Dir: testdata(t, "base"), Flags: []string{"--load-restrictor", "Everything"}},
			[]string{`invalid value "Everything" for flag --load-restrictor`}},
		{"restrictor without value", Options{Dir: testdata(t, "base"), Flags: []string{"--load-restrictor"}},
			[]string{"flag --load-restrictor needs a value"}},
		{"no dir", Options{}, []string{"no directory given"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := Build(c.opts)
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

// On error, the files read so far are still returned for watching.
func TestBuildErrorFilesRead(t *testing.T) {
	cases := testdata(t, "cases")
	_, files, err := Build(Options{Dir: filepath.Join(cases, "remote-nested")})
	if err == nil {
		t.Fatal("no error")
	}
	if want := []string{"remote-nested/base/kustomization.yaml", "remote-nested/kustomization.yaml"}; !reflect.DeepEqual(relFiles(t, cases, files), want) {
		t.Errorf("filesRead = %v, want %v", relFiles(t, cases, files), want)
	}
	_, files, err = Build(Options{Dir: filepath.Join(cases, "missing-resource")})
	if err == nil {
		t.Fatal("no error")
	}
	if want := []string{"missing-resource/kustomization.yaml"}; !reflect.DeepEqual(relFiles(t, cases, files), want) {
		t.Errorf("filesRead = %v, want %v", relFiles(t, cases, files), want)
	}
}

func TestLooksRemote(t *testing.T) {
	for ref, want := range map[string]bool{
		"../base":                                  false,
		"deployment.yaml":                          false,
		"base?x=1":                                 false,
		"https://example.com/x.yaml":               true,
		"github.com/org/repo/deploy?ref=v1":        true,
		"git@github.com:org/repo.git":              true,
		"ssh://git@example.com/org/repo.git":       true,
		"git::https://example.com/org/repo":        true,
		"example.com/org/repo.git//deploy?ref=abc": true,
		"https://dev.azure.com/org/_git/repo":      true,
		"gitlab.com/org/repo":                      true,
	} {
		if got := looksRemote(ref); got != want {
			t.Errorf("looksRemote(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestBuildConcurrent(t *testing.T) {
	want, _ := buildTwice(t, Options{Dir: testdata(t, "overlays", "prod")})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, err := Build(Options{Dir: testdata(t, "overlays", "prod")})
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(out, want) {
				t.Errorf("concurrent build differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkBuild(b *testing.B) {
	opts := Options{Dir: testdata(b, "overlays", "prod")}
	if _, _, err := Build(opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Build(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeprecationWarnings: krusty's own print of a deprecation notice (straight to os.Stderr,
// with no file named) is silenced, and DeprecationWarnings reports it with the file instead.
func TestDeprecationWarnings(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"kustomization.yaml": "commonLabels: {team: web}\nresources: [cm.yaml]\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	out, files, err := Build(Options{Dir: dir})
	os.Stderr = saved
	w.Close()
	var printed bytes.Buffer
	printed.ReadFrom(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "team: web") {
		t.Fatalf("commonLabels not applied:\n%s", out)
	}
	if printed.Len() > 0 {
		t.Errorf("the build printed to stderr: %q", printed.String())
	}
	warnings := DeprecationWarnings(files)
	want := filepath.Join(dir, "kustomization.yaml") + ": 'commonLabels' is deprecated"
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) {
		t.Fatalf("warnings = %q, want one starting %q", warnings, want)
	}
	if os.Stderr != saved {
		t.Fatal("os.Stderr was not restored")
	}
}
