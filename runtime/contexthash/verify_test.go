package contexthash

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "page.txt")
	write := func(text string) {
		if err := os.WriteFile(page, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("A\n")
	// An mtime safely in the past, as a file edited long before the hash has.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(page, old, old); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Dir: dir}
	since := time.Now()
	want, _, err := (*Cache)(nil).Hash(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := (*Cache)(nil).Verify(spec, want, since); err != nil {
		t.Fatalf("unchanged context: %v", err)
	}

	// Edited, then reverted: the digest is the same again, but the build in between may have
	// read the edit. The mtime says so.
	write("B\n")
	write("A\n")
	var changed *ChangedError
	if err := (*Cache)(nil).Verify(spec, want, since); !errors.As(err, &changed) || changed.Path != "page.txt" {
		t.Fatalf("an edit reverted after the hash must be caught, got %v", err)
	}
	// Without a hash time only the digest counts: reverted means unchanged.
	if err := (*Cache)(nil).Verify(spec, want, time.Time{}); err != nil {
		t.Fatalf("digest-only check of reverted content: %v", err)
	}
	// Really changed content, with an mtime that looks old (a coarse-timestamp filesystem).
	write("C\n")
	if err := os.Chtimes(page, old, old); err != nil {
		t.Fatal(err)
	}
	if err := (*Cache)(nil).Verify(spec, want, since); !errors.As(err, &changed) || !strings.Contains(err.Error(), "content changed") {
		t.Fatalf("changed content must be caught by the digest, got %v", err)
	}
	// Patterns replace .dockerignore: a new ignore file after the hash does not change which
	// files are checked.
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("page.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	excl, err := Excludes(Spec{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := (*Cache)(nil).Hash(Spec{Dir: dir, Patterns: []string{".dockerignore"}}); got == "" {
		t.Fatal("no digest")
	}
	a, _, _ := (*Cache)(nil).Hash(Spec{Dir: dir})
	b, _, _ := (*Cache)(nil).Hash(Spec{Dir: dir, Patterns: excl})
	if a != b {
		t.Fatalf("Patterns equal to Excludes must hash the same: %s vs %s", a, b)
	}
}
