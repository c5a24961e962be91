package builtins

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// manyYAMLCalls is a Kilnfile that calls k8s_yaml() once per ConfigMap, n times.
const manyYAMLCalls = `
for i in range(%d):
    k8s_yaml(blob('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%%d\ndata:\n  n: "%%d"\n' %% (i, i)))
`

// BenchmarkK8sYAMLCalls20000 evaluates 20,000 separate one-object k8s_yaml() calls. Each call
// checks its objects against those declared before; that check must stay linear in total.
func BenchmarkK8sYAMLCalls20000(b *testing.B) {
	const n = 20000
	dir := b.TempDir()
	kf := []byte(fmt.Sprintf(manyYAMLCalls, n))
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), kf, 0o644); err != nil {
		b.Fatal(err)
	}
	opts := Options{Subcommand: "render", Stdout: io.Discard, Stderr: io.Discard}
	for i := 0; i < b.N; i++ {
		p, err := Evaluate(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(p.Resources[0].Objects); got != n {
			b.Fatalf("got %d objects, want %d", got, n)
		}
	}
}
