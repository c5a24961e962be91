package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// InputsChangedError is a build whose inputs changed while it ran: BuildKit may have read some
// files before the edit and some after, so the result is not what the tag names. Its tag was
// removed again; re-hash the inputs (re-evaluate) and build under the new tag.
type InputsChangedError struct {
	Ref string // the image, as the user wrote it
	Err *contexthash.ChangedError
}

func (e *InputsChangedError) Error() string {
	return fmt.Sprintf("the inputs changed while %s was being built (%s): the result was not kept under its tag", e.Ref, e.Err)
}

// verifyInputs checks, after a build, that the context and the Dockerfile (for a
// custom_build: its deps) still hold what the tag was computed from, and that nothing was modified since they were hashed. If not, the
// tags just written are removed and an *InputsChangedError returned: a tag always names the
// bytes that were built.
func (b *Builder) verifyInputs(ctx context.Context, p *plan.Plan, img *plan.Image) error {
	if img.Inputs.ContextDigest == "" {
		return nil // a plan that was not hashed (hand-made in tests): nothing to compare
	}
	if b.testHookAfterSolve != nil {
		b.testHookAfterSolve(img)
	}
	err := b.checkInputs(p, img)
	var changed *contexthash.ChangedError
	if !errors.As(err, &changed) {
		return err
	}
	if b.d != nil {
		for _, ref := range append([]string{img.FullRef()}, img.ExtraTags...) {
			if rerr := b.d.RemoveImage(ctx, ref, false); rerr != nil {
				return fmt.Errorf("%w; and removing the tag failed: %v", &InputsChangedError{Ref: img.Ref, Err: changed}, rerr)
			}
		}
	}
	return &InputsChangedError{Ref: img.Ref, Err: changed}
}

func (b *Builder) checkInputs(p *plan.Plan, img *plan.Image) error {
	if c := img.Custom; c != nil {
		deps := make([]string, len(c.Deps))
		for i, d := range c.Deps {
			deps[i] = projectPath(p, d)
		}
		return b.hashes().VerifyDeps(p.Dir, deps, c.Ignore, img.Inputs.ContextDigest, img.Inputs.HashedAt)
	}
	spec := contexthash.Spec{Dir: projectPath(p, img.Context), Patterns: img.Excludes}
	df := dockerfilePath(p, img)
	if df != "" {
		spec.Dockerfile = df
	}
	if err := b.hashes().Verify(spec, img.Inputs.ContextDigest, img.Inputs.HashedAt); err != nil {
		return err
	}
	if df == "" || img.Inputs.DockerfileDigest == "" {
		return nil
	}
	st, err := os.Stat(df)
	if err != nil {
		return &contexthash.ChangedError{Path: filepath.Base(df), Why: "is gone"}
	}
	if !img.Inputs.HashedAt.IsZero() && !st.ModTime().Before(img.Inputs.HashedAt.Add(-contexthash.MtimeSlack)) {
		return &contexthash.ChangedError{Path: relTo(p.Dir, df), Why: "was modified after it was hashed"}
	}
	data, err := os.ReadFile(df)
	if err != nil {
		return err
	}
	if fmt.Sprintf("sha256:%x", sha256.Sum256(data)) != img.Inputs.DockerfileDigest {
		return &contexthash.ChangedError{Path: relTo(p.Dir, df), Why: "changed after it was hashed"}
	}
	return nil
}

// dockerfilePath is the absolute path of an image's Dockerfile, "" for dockerfile_contents.
func dockerfilePath(p *plan.Plan, img *plan.Image) string {
	if img.DockerfileContents != "" {
		return ""
	}
	df := img.Dockerfile
	if df == "" {
		df = filepath.Join(img.Context, "Dockerfile")
	}
	return projectPath(p, df)
}

// hashes is the content-hash cache verification uses: the one evaluation filled, opened on
// the first build that needs it, so that a re-hash of an unchanged context costs lstat calls.
func (b *Builder) hashes() *contexthash.Cache {
	b.hashOnce.Do(func() {
		if b.CacheDir != "" {
			b.hashCache, _ = contexthash.Open(b.CacheDir) // a broken cache is only slower
		}
	})
	return b.hashCache
}

func relTo(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}
