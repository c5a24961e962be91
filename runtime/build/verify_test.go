package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// hashedImage returns an image of dir/ctx whose inputs are hashed the way evaluation hashes
// them, so that the build's check after the solve has something to compare.
func hashedImage(t *testing.T, dir, tag string) plan.Image {
	t.Helper()
	spec := contexthash.Spec{Dir: filepath.Join(dir, "ctx"), Dockerfile: filepath.Join(dir, "ctx", "Dockerfile")}
	excludes, err := contexthash.Excludes(spec)
	if err != nil {
		t.Fatal(err)
	}
	img := plan.Image{
		Ref: "kiln-test/verify", Repo: "kiln-test/verify", Tag: tag, Source: "docker_build",
		Context: "ctx", Excludes: excludes,
	}
	img.Inputs.HashedAt = time.Now()
	if img.Inputs.ContextDigest, _, err = (*contexthash.Cache)(nil).Hash(spec); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBuildKeepsNoTagWhenInputsChange: an edit that lands after BuildKit read the context,
// even one reverted before the build ends, leaves no image under the tag of the old content,
// and the build says which file changed. An undisturbed build keeps its tag.
func TestBuildKeepsNoTagWhenInputsChange(t *testing.T) {
	d := engine(t)
	for _, tc := range []struct {
		name string
		edit func(page string)
	}{
		{"undisturbed", nil},
		{"edited", func(page string) { os.WriteFile(page, []byte("B\n"), 0o644) }},
		{"edited and reverted", func(page string) {
			os.WriteFile(page, []byte("B\n"), 0o644)
			os.WriteFile(page, []byte("A\n"), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"ctx/Dockerfile": "FROM " + baseImage + "\nCOPY page.txt /page.txt\n",
				"ctx/page.txt":   "A\n",
			})
			old := time.Now().Add(-time.Minute) // edited long before the hash
			for _, f := range []string{"ctx/Dockerfile", "ctx/page.txt"} {
				os.Chtimes(filepath.Join(dir, f), old, old)
			}
			img := hashedImage(t, dir, uniqueTag(t))
			p := &plan.Plan{Dir: dir, Images: []plan.Image{img}}
			removeAfter(t, d, img.FullRef())

			b := New(d)
			defer b.Close()
			if tc.edit != nil {
				b.testHookAfterSolve = func(*plan.Image) { tc.edit(filepath.Join(dir, "ctx", "page.txt")) }
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			_, err := b.Build(ctx, p, &p.Images[0], nil, nil, "")
			exists, ierr := d.ImageExists(ctx, img.FullRef())
			if ierr != nil {
				t.Fatal(ierr)
			}
			if tc.edit == nil {
				if err != nil || !exists {
					t.Fatalf("undisturbed build: err %v, tag exists %v", err, exists)
				}
				return
			}
			var changed *InputsChangedError
			if !errors.As(err, &changed) || changed.Err.Path != "page.txt" {
				t.Fatalf("want an InputsChangedError naming page.txt, got %v", err)
			}
			if exists {
				t.Fatalf("%s still names an image built while its inputs changed", img.FullRef())
			}
		})
	}
}

// TestCustomBuildKeepsNoTagWhenDepsChange: the same rule for a custom_build, whose command
// reads its deps itself: a dep edited after the hash leaves no image under the old tag.
func TestCustomBuildKeepsNoTagWhenDepsChange(t *testing.T) {
	d := engine(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/page.txt": "A\n"})
	old := time.Now().Add(-time.Minute)
	os.Chtimes(filepath.Join(dir, "src", "page.txt"), old, old)
	img := plan.Image{
		Ref: "kiln-test/custom-verify", Repo: "kiln-test/custom-verify", Tag: uniqueTag(t), Source: "custom_build",
		Custom: &plan.CustomBuild{Deps: []string{"src"}, Command: plan.Command{
			Argv: []string{"sh", "-c", "docker tag " + baseImage + " $EXPECTED_REF"},
		}},
	}
	img.Inputs.HashedAt = time.Now()
	var err error
	if img.Inputs.ContextDigest, _, _, err = (*contexthash.Cache)(nil).Deps(dir, []string{filepath.Join(dir, "src")}, nil); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Dir: dir, Images: []plan.Image{img}}
	removeAfter(t, d, img.FullRef())
	b := New(d)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.Build(ctx, p, &p.Images[0], nil, nil, ""); err != nil {
		t.Fatalf("undisturbed custom_build: %v", err)
	}
	removeImage(t, d, img.FullRef())
	b.testHookAfterSolve = func(*plan.Image) {
		os.WriteFile(filepath.Join(dir, "src", "page.txt"), []byte("B\n"), 0o644)
	}
	_, err = b.Build(ctx, p, &p.Images[0], nil, nil, "")
	var changed *InputsChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("want an InputsChangedError, got %v", err)
	}
	if ok, _ := d.ImageExists(ctx, img.FullRef()); ok {
		t.Fatalf("%s still names an image built while its deps changed", img.FullRef())
	}
}

func removeImage(t *testing.T, d *docker.Client, ref string) {
	t.Helper()
	if err := d.RemoveImage(context.Background(), ref, true); err != nil {
		t.Fatal(err)
	}
}
