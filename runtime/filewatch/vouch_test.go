package filewatch

import (
	"path/filepath"
	"testing"
)

func TestVouchFollowsTheWatch(t *testing.T) {
	dir := t.TempDir()
	ctx, manifest := filepath.Join(dir, "ctx"), filepath.Join(dir, "k8s.yaml")
	mkdir(t, ctx)
	write(t, manifest, "a")
	w := newTestWatcher(t, Options{}, Root{Path: ctx}, Root{Path: manifest})
	tree, file := w.Vouch(ctx), w.Vouch(manifest)
	if tree == nil || file == nil || tree == file {
		t.Fatalf("Vouch(ctx)=%v Vouch(manifest)=%v: want two distinct tokens", tree, file)
	}
	if w.Vouch(filepath.Join(ctx, "inside.go")) != nil {
		t.Error("Vouch answered for a path that is no root")
	}
	// Kept roots keep their token; a root dropped and added again gets a new one.
	if err := w.SetRoots([]Root{{Path: ctx}}); err != nil {
		t.Fatal(err)
	}
	if w.Vouch(ctx) != tree {
		t.Error("a kept root changed its token")
	}
	if w.Vouch(manifest) != nil {
		t.Error("a dropped root still vouches")
	}
	if err := w.SetRoots([]Root{{Path: ctx}, {Path: manifest}}); err != nil {
		t.Fatal(err)
	}
	if got := w.Vouch(manifest); got == nil || got == file {
		t.Error("a root watched again kept the token of the old watch")
	}
	// Other patterns make another root, and another token.
	if err := w.SetRoots([]Root{{Path: ctx, Ignore: []string{"*.tmp"}}}); err != nil {
		t.Fatal(err)
	}
	if got := w.Vouch(ctx); got == nil || got == tree {
		t.Error("a root with new ignore patterns kept the old token")
	}
	w.mu.Lock()
	w.fail(errTest)
	w.mu.Unlock()
	if w.Vouch(ctx) != nil {
		t.Error("a watcher that failed to watch something still vouches")
	}
	w.Close()
}

var errTest = testError("cannot watch")

type testError string

func (e testError) Error() string { return string(e) }
