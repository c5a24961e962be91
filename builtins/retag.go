package builtins

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/dockerfile"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// Retag re-hashes the build inputs of the images refs, and of the images built FROM them, and
// returns a copy of p with their new tags, written into every object that named an old one.
// Nothing is evaluated: the project file's local() commands and other side effects do not
// run again. The engine calls it after a local resource ran (it may have written files an
// image copies) and when an edit landed during a build.
func Retag(p *plan.Plan, refs []string, cacheDir string) (*plan.Plan, error) {
	np, err := copyPlan(p)
	if err != nil {
		return nil, err
	}
	var cache *contexthash.Cache
	if cacheDir != "" {
		cache, _ = contexthash.Open(cacheDir) // a broken cache is only slower
	}
	byRef := map[string]*plan.Image{}
	for i := range np.Images {
		byRef[np.Images[i].Ref] = &np.Images[i]
	}
	dirty := map[string]bool{}
	for _, r := range refs {
		dirty[r] = true
	}
	// Images built FROM a re-hashed image get new tags too; the plan's images are in an order
	// where each may come before its dependencies, so iterate to a fixed point.
	for changed := true; changed; {
		changed = false
		for _, img := range np.Images {
			for _, d := range img.ImageDeps {
				if dirty[d] && !dirty[img.Ref] {
					dirty[img.Ref], changed = true, true
				}
			}
		}
	}
	renamed := map[string]string{} // old full ref → new
	done := map[string]bool{}
	var visit func(img *plan.Image) error
	visit = func(img *plan.Image) error {
		if done[img.Ref] {
			return nil
		}
		done[img.Ref] = true
		if img.Pending != nil && dirty[img.Ref] {
			if err := resolvePending(np, img, byRef); err != nil {
				return fmt.Errorf("%s: image %q: %w", img.Pos, img.Ref, err)
			}
		}
		for _, d := range img.ImageDeps {
			if dep := byRef[d]; dep != nil {
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		if !dirty[img.Ref] || img.Custom != nil && img.Custom.Tag != "" {
			return nil
		}
		old := img.FullRef()
		if err := rehash(np, img, byRef, cache); err != nil {
			return fmt.Errorf("%s: image %q: re-hash: %w", img.Pos, img.Ref, err)
		}
		if img.FullRef() != old {
			renamed[old] = img.FullRef()
		}
		return nil
	}
	for i := range np.Images {
		if err := visit(&np.Images[i]); err != nil {
			return nil, err
		}
	}
	if cache != nil {
		_ = cache.Save()
	}
	if len(renamed) == 0 {
		return np, nil
	}
	for i := range np.Resources {
		for j, o := range np.Resources[i].Objects {
			np.Resources[i].Objects[j] = replaceStrings(map[string]any(o), renamed).(map[string]any)
		}
	}
	return np, nil
}

// resolvePending readies an image whose inputs did not exist at evaluation: they must now,
// and then its excludes and the project images it builds FROM are found as evaluation would.
func resolvePending(p *plan.Plan, img *plan.Image, byRef map[string]*plan.Image) error {
	abs := func(rel string) string { return filepath.Join(p.Dir, filepath.FromSlash(rel)) }
	still := func(path string) error {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s still does not exist after the local resources it waits for ran (%s at evaluation); check that a local_resource makes it, and that the resources using the image list it in resource_deps", filepath.ToSlash(strings.TrimPrefix(path, p.Dir+string(filepath.Separator))), img.Pending.Reason)
		}
		return nil
	}
	if img.Custom != nil {
		for _, d := range img.Custom.Deps {
			if err := still(abs(d)); err != nil {
				return err
			}
		}
		img.Pending = nil
		return nil
	}
	if err := still(abs(img.Context)); err != nil {
		return err
	}
	spec := contexthash.Spec{Dir: abs(img.Context), Ignore: img.Pending.Ignore, Only: img.Pending.Only}
	data := []byte(img.DockerfileContents)
	if img.Dockerfile != "" {
		spec.Dockerfile = abs(img.Dockerfile)
		if err := still(spec.Dockerfile); err != nil {
			return err
		}
		var err error
		if data, err = os.ReadFile(spec.Dockerfile); err != nil {
			return err
		}
	}
	excludes, err := contexthash.Excludes(spec)
	if err != nil {
		return err
	}
	img.Excludes = excludes
	if info, _, err := dockerfile.Parse(data, img.BuildArgs); err == nil {
		var deps []string
		for _, base := range dockerfile.BaseImages(info, img.Target) {
			for ref := range byRef {
				if ref != img.Ref && (ref == base || sameName(ref, base) && byRef[ref].MatchTag == "") {
					deps = append(deps, ref)
				}
			}
		}
		sort.Strings(deps)
		img.ImageDeps = deps
	}
	img.Pending = nil
	return nil
}

// sameName reports whether two refs name one repository.
func sameName(a, b string) bool {
	na, err1 := reference.ParseNormalizedNamed(a)
	nb, err2 := reference.ParseNormalizedNamed(b)
	return err1 == nil && err2 == nil && na.Name() == nb.Name()
}

// rehash computes img's inputs and tag again, as evaluation does (hashImage, resolveImages).
func rehash(p *plan.Plan, img *plan.Image, byRef map[string]*plan.Image, cache *contexthash.Cache) error {
	abs := func(rel string) string { return filepath.Join(p.Dir, filepath.FromSlash(rel)) }
	img.Inputs.HashedAt = time.Now()
	var extra string
	if img.Custom != nil {
		deps := make([]string, len(img.Custom.Deps))
		for i, d := range img.Custom.Deps {
			deps[i] = abs(d)
		}
		digest, files, _, err := cache.Deps(p.Dir, deps, img.Custom.Ignore)
		if err != nil {
			return err
		}
		img.Inputs.ContextDigest, img.Inputs.ContextFiles = digest, files
		extra = customExtra(img)
	} else {
		spec := contexthash.Spec{Dir: abs(img.Context), Patterns: img.Excludes}
		if img.Dockerfile != "" {
			spec.Dockerfile = abs(img.Dockerfile)
		}
		digest, files, err := cache.Hash(spec)
		if err != nil {
			return err
		}
		data := []byte(img.DockerfileContents)
		if img.Dockerfile != "" {
			if data, err = os.ReadFile(abs(img.Dockerfile)); err != nil {
				return err
			}
		}
		img.Inputs.ContextDigest, img.Inputs.ContextFiles = digest, len(files)
		img.Inputs.DockerfileDigest = fmt.Sprintf("sha256:%x", sha256.Sum256(data))
		extra = dockerExtra(img)
	}
	var depTags []string
	for _, d := range img.ImageDeps {
		if dep := byRef[d]; dep != nil {
			depTags = append(depTags, d+"="+dep.Tag)
		}
	}
	img.Inputs.Deps = depTags
	img.Tag = tagFor(append([]string{img.Source, img.Inputs.ContextDigest, img.Inputs.DockerfileDigest, extra}, depTags...)...)
	return nil
}

// copyPlan deep-copies a plan through its JSON form (the plan is data), keeping Dir.
func copyPlan(p *plan.Plan) (*plan.Plan, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var np plan.Plan
	if err := json.Unmarshal(b, &np); err != nil {
		return nil, err
	}
	np.Dir = p.Dir
	return &np, nil
}

// replaceStrings replaces, in decoded YAML, every string equal to a key of renamed.
func replaceStrings(v any, renamed map[string]string) any {
	switch t := v.(type) {
	case string:
		if n, ok := renamed[t]; ok {
			return n
		}
		return t
	case map[string]any:
		for k, x := range t {
			t[k] = replaceStrings(x, renamed)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = replaceStrings(x, renamed)
		}
		return t
	}
	return v
}
