package builtins

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBigProject generates a 200-service project: 160 plain YAML services, 20 Helm charts and
// 20 kustomize overlays, each with its own image built from a small context.
func writeBigProject(tb testing.TB, dir string) {
	tb.Helper()
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	deployment := func(name, image string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: {app: %[1]s}}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: %[1]s
        image: %[2]s
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec: {selector: {app: %[1]s}, ports: [{port: 80, targetPort: 8080}]}
`, name, image)
	}
	var kf strings.Builder
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("svc%03d", i)
		image := "example/" + name
		write(name+"/Dockerfile", "FROM scratch\nCOPY . /app\n")
		for f := 0; f < 5; f++ {
			write(fmt.Sprintf("%s/src/file%d.go", name, f), strings.Repeat("// source line\n", 100))
		}
		fmt.Fprintf(&kf, "docker_build(%q, %q, live_update=[sync(%q, '/app/src')])\n", image, name, name+"/src")
		switch {
		case i < 160:
			write(name+"/k8s.yaml", deployment(name, image))
			fmt.Fprintf(&kf, "k8s_yaml(%q)\n", name+"/k8s.yaml")
		case i < 180:
			write(name+"/chart/Chart.yaml", "apiVersion: v2\nname: "+name+"\nversion: 0.1.0\n")
			write(name+"/chart/values.yaml", "image: "+image+"\nreplicas: 1\n")
			write(name+"/chart/templates/app.yaml", strings.ReplaceAll(deployment("{{ .Release.Name }}", "{{ .Values.image }}"), "spec:\n  selector", "spec:\n  replicas: {{ .Values.replicas }}\n  selector"))
			write(name+"/values-dev.yaml", "replicas: 2\n")
			fmt.Fprintf(&kf, "k8s_yaml(helm(%q, name=%q, values=[%q]))\n", name+"/chart", name, name+"/values-dev.yaml")
		default:
			write(name+"/base/kustomization.yaml", "resources: [app.yaml]\n")
			write(name+"/base/app.yaml", deployment(name, image))
			write(name+"/overlay/kustomization.yaml", "resources: [../base]\nnamePrefix: dev-\nlabels:\n- pairs: {env: dev}\npatches:\n- path: replicas.yaml\n")
			write(name+"/overlay/replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: "+name+"}\nspec: {replicas: 2}\n")
			fmt.Fprintf(&kf, "k8s_yaml(kustomize(%q))\n", name+"/overlay")
		}
	}
	write("Kilnfile", kf.String())
	dateBack(dir)
}

// BenchmarkEvaluateRender200 evaluates and renders the 200-service project, warm: the
// content-hash cache is already filled, as it is on every run after the first.
func BenchmarkEvaluateRender200(b *testing.B) {
	dir := b.TempDir()
	writeBigProject(b, dir)
	opts := Options{Subcommand: "render", Stdout: io.Discard, Stderr: io.Discard, CacheDir: b.TempDir()}
	evalRender := func() {
		p, err := Evaluate(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Resources) != 200 || len(p.Images) != 200 {
			b.Fatalf("got %d resources and %d images, want 200 each", len(p.Resources), len(p.Images))
		}
		if _, err := p.RenderYAML(); err != nil {
			b.Fatal(err)
		}
	}
	evalRender() // warm the hash cache
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evalRender()
	}
}

// BenchmarkReevaluate200OneChange is kiln watch's re-evaluation of the 200-service project
// after one of its manifests changed: in process, caches warm, no rendering. A real file
// watcher over the project's inputs vouches for what did not change (runtime/inputwatch), as
// under kiln watch; each edit's batch is received before the evaluation starts, as the engine
// receives it. The time includes handing the new plan's inputs to the watcher.
func BenchmarkReevaluate200OneChange(b *testing.B) {
	dir := b.TempDir()
	writeBigProject(b, dir)
	wp := watchProject(b, dir)
	text, err := os.ReadFile(filepath.Join(dir, "svc007", "k8s.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	edit := func(i int) {
		wp.edit("svc007/k8s.yaml", strings.Replace(string(text), "containerPort: 8080", fmt.Sprintf("containerPort: %d", 8000+i%1000), 1))
	}
	edit(-1)
	wp.evaluate() // the first evaluation whose inputs were watched before it read them
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		edit(i)
		b.StartTimer()
		if p := wp.evaluate(); len(p.Resources) != 200 {
			b.Fatalf("got %d resources, want 200", len(p.Resources))
		}
	}
	b.StopTimer()
	if n := wp.w.Memo().Len(); n < 200 {
		b.Fatalf("the memo holds %d values, want one for each of the 200 contexts at least", n)
	}
}

// BenchmarkEvaluate200OneChange is the same evaluation without a watcher (kiln run after an
// edit): every file is read and every context walked, against the warm hash cache.
func BenchmarkEvaluate200OneChange(b *testing.B) {
	dir := b.TempDir()
	writeBigProject(b, dir)
	opts := Options{Subcommand: "run", Stdout: io.Discard, Stderr: io.Discard, CacheDir: b.TempDir()}
	if _, err := Evaluate(dir, opts); err != nil {
		b.Fatal(err)
	}
	manifest := filepath.Join(dir, "svc007", "k8s.yaml")
	text, err := os.ReadFile(manifest)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		edited := strings.Replace(string(text), "containerPort: 8080", fmt.Sprintf("containerPort: %d", 8000+i%1000), 1)
		if err := os.WriteFile(manifest, []byte(edited), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := Evaluate(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Resources) != 200 {
			b.Fatalf("got %d resources, want 200", len(p.Resources))
		}
	}
}
