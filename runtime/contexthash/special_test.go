package contexthash

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hashWithin hashes s, failing the test if hashing takes longer than a few seconds.
func hashWithin(t *testing.T, s Spec) (string, []string, error) {
	t.Helper()
	type result struct {
		digest string
		files  []string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d, f, err := (*Cache)(nil).Hash(s)
		done <- result{d, f, err}
	}()
	select {
	case r := <-done:
		return r.digest, r.files, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("hashing the context hangs")
		return "", nil, nil
	}
}

// A FIFO in a build context is hashed by its type, as BuildKit's fsutil sends it (a stat
// without data): never opened, so it cannot hang the hash.
func TestHashFIFOInContextByTypeOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _, err := hashWithin(t, Spec{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	after, files, err := hashWithin(t, Spec{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Error("adding a FIFO did not change the hash: the build would send it")
	}
	if strings.Join(files, " ") != "main.go" {
		t.Errorf("files = %v: a FIFO has no content to list", files)
	}
}

// A FIFO as the .dockerignore is an error naming it, not a hang.
func TestHashRefusesFIFODockerignore(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, ".dockerignore"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, _, err := hashWithin(t, Spec{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), ".dockerignore is a named pipe (FIFO)") {
		t.Fatalf("err = %v", err)
	}
}
