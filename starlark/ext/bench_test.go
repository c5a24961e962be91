package ext

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkResolveLocked is the cost ext:// adds to one evaluation of a project with 10
// extensions once kiln.lock is satisfied from the cache: resolving and hashing each one, and
// checking the lock (which is then not rewritten). A vendored project pays none of it.
func BenchmarkResolveLocked(b *testing.B) {
	files := map[string]string{}
	for i := 0; i < 10; i++ {
		files[fmt.Sprintf("ext%d/Tiltfile", i)] = fmt.Sprintf("def f%d():\n    return %d\n", i, i) + string(make([]byte, 4096))
		files[fmt.Sprintf("ext%d/README.md", i)] = "readme"
	}
	repo, _ := gitRepo(b, files)
	project, cache := b.TempDir(), b.TempDir()
	e := env{"KILN_EXTENSION_REPO": "file://" + repo, "HOME": b.TempDir()}
	resolve := func() {
		r, err := New(Options{ProjectDir: project, CacheDir: cache, Getenv: e.get})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if _, err := r.Resolve(context.Background(), fmt.Sprintf("ext%d", i), "", "Kilnfile:1:1"); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	resolve() // fetch and lock
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resolve()
	}
}
