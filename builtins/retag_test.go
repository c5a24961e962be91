package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// Retag gives an image the tag a new evaluation would, without evaluating: the local()
// in the file does not run again. Images built FROM it follow, objects name the new tags,
// and the other images keep theirs.
func TestRetag(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"Kilnfile": `local('echo ran >> local.log')
docker_build('example/base', 'base')
docker_build('example/app', 'app')
docker_build('example/other', 'other')
k8s_yaml('app.yaml')
`,
		"base/Dockerfile":  "FROM scratch\nCOPY gen.txt /\n",
		"base/gen.txt":     "one\n",
		"app/Dockerfile":   "FROM example/base\nCOPY . /app\n",
		"app/main.txt":     "app\n",
		"other/Dockerfile": "FROM scratch\nCOPY . /\n",
		"app.yaml": `apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - {name: app, image: example/app}
  - {name: other, image: example/other}
  - {name: base, image: example/base, env: [{name: X, value: unrelated}]}
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	opts := Options{CacheDir: cache, Stdout: &strings.Builder{}, Stderr: &strings.Builder{}}
	p, err := Evaluate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	tags := func(p *plan.Plan) map[string]string {
		m := map[string]string{}
		for _, img := range p.Images {
			m[img.Ref] = img.FullRef()
		}
		return m
	}
	before := tags(p)

	same, err := Retag(p, []string{"example/base"}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if got := tags(same); got["example/base"] != before["example/base"] || got["example/app"] != before["example/app"] {
		t.Fatalf("re-hashing unchanged inputs changed tags: %v → %v", before, got)
	}

	// A local resource wrote the base image's file.
	if err := os.WriteFile(filepath.Join(dir, "base/gen.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	np, err := Retag(p, []string{"example/base"}, cache)
	if err != nil {
		t.Fatal(err)
	}
	after := tags(np)
	if after["example/base"] == before["example/base"] || after["example/app"] == before["example/app"] {
		t.Errorf("base and the image built FROM it must get new tags: %v → %v", before, after)
	}
	if after["example/other"] != before["example/other"] {
		t.Errorf("an unrelated image changed tag: %s → %s", before["example/other"], after["example/other"])
	}
	if tags(p)["example/base"] != before["example/base"] {
		t.Error("Retag changed the plan it was given, which is immutable")
	}
	fresh, err := Evaluate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for ref, full := range tags(fresh) {
		if after[ref] != full {
			t.Errorf("%s: Retag gives %s, a new evaluation %s", ref, after[ref], full)
		}
	}
	text := encodeObjects(t, np)
	if !strings.Contains(text, after["example/app"]) || !strings.Contains(text, after["example/base"]) || strings.Contains(text, before["example/app"]) {
		t.Errorf("objects do not name the new tags:\n%s", text)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "local.log"))
	if strings.Count(string(log), "ran") != 2 {
		t.Errorf("local() ran %d times for 2 evaluations and 2 re-hashes; Retag must not run it", strings.Count(string(log), "ran"))
	}
}

func encodeObjects(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var b strings.Builder
	for _, r := range p.Resources {
		for _, o := range r.Objects {
			b.WriteString(o.Kind() + " " + o.Name() + ": ")
			for _, c := range o["spec"].(map[string]any)["containers"].([]any) {
				b.WriteString(c.(map[string]any)["image"].(string) + " ")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
