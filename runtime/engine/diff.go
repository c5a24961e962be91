package engine

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// readsAny reports whether a change to one of paths (absolute) can change what evaluating p
// gives: a file the evaluation read, or anything under a directory it read (listdir, a
// build context).
func readsAny(p *plan.Plan, paths []string) bool {
	for _, w := range p.WatchedFiles {
		abs := filepath.Join(p.Dir, filepath.FromSlash(w))
		for _, c := range paths {
			if c == abs || strings.HasPrefix(c, abs+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

// changedNodes are the nodes of next that an update must run, given the running plan cur
// and the paths that changed: every image, Kubernetes resource and local resource that is new
// or differs from cur (a new image tag shows in its users' objects), and the local resources
// whose deps hold a changed path. A node that differs only in what it depends on is not
// re-run: resource_deps order updates, they don't cascade them.
func changedNodes(cur, next *plan.Plan, paths []string) map[plan.NodeID]bool {
	out := map[plan.NodeID]bool{}
	images := map[string]string{}
	for _, img := range cur.Images {
		images[img.Ref] = encode(img)
	}
	for _, img := range next.Images {
		if images[img.Ref] != encode(img) {
			out[plan.ImageNode(img.Ref)] = true
		}
	}
	resources := map[string]string{}
	for _, r := range cur.Resources {
		resources[r.Name] = encode(r)
	}
	for _, r := range next.Resources {
		if resources[r.Name] != encode(r) {
			out[plan.ResourceNode(r.Name)] = true
		}
	}
	locals := map[string]string{}
	for _, lr := range cur.LocalResources {
		locals[lr.Name] = encode(lr)
	}
	for _, lr := range next.LocalResources {
		if locals[lr.Name] != encode(lr) || depsChanged(next.Dir, lr.Deps, paths) {
			out[plan.ResourceNode(lr.Name)] = true
		}
	}
	// A compose service runs again when its config changed, or the tag of its image did.
	services := map[string]string{}
	for _, cs := range cur.ComposeServices {
		services[cs.Name] = encode(cs) + composeImageTag(cur, cs.ImageRef)
	}
	for _, cs := range next.ComposeServices {
		if services[cs.Name] != encode(cs)+composeImageTag(next, cs.ImageRef) {
			out[plan.ResourceNode(cs.Name)] = true
		}
	}
	return out
}

// composeImageTag is the full ref of the plan image ref, or "".
func composeImageTag(p *plan.Plan, ref string) string {
	for i := range p.Images {
		if p.Images[i].Ref == ref {
			return p.Images[i].FullRef()
		}
	}
	return ""
}

// depsChanged reports whether a path is one of deps (project-relative) or under one.
func depsChanged(dir string, deps, paths []string) bool {
	for _, d := range deps {
		abs := filepath.Join(dir, filepath.FromSlash(d))
		for _, c := range paths {
			if c == abs || strings.HasPrefix(c, abs+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

func encode(v any) string {
	b, _ := json.Marshal(v) // plan values always marshal: the plan is JSON
	return string(b)
}

func relPath(dir, path string) (string, error) {
	rel, err := filepath.Rel(dir, path)
	return filepath.ToSlash(rel), err
}

// contextOnly reports whether every changed path lies only in build contexts (and custom_build
// deps): then what changes is those images' tags, and re-hashing them (Retag) stands for a
// re-evaluation. It returns their refs. A path that the evaluation read otherwise (a Dockerfile,
// a read_file, a listdir folder, a .dockerignore) needs the evaluation.
func contextOnly(p *plan.Plan, paths []string) ([]string, bool) {
	abs := func(rel string) string { return filepath.Join(p.Dir, filepath.FromSlash(rel)) }
	within := func(c, dir string) bool { return c == dir || strings.HasPrefix(c, dir+string(filepath.Separator)) }
	roots := map[string][]string{} // context dir or custom dep → images
	for _, img := range p.Images {
		if img.Custom != nil {
			for _, d := range img.Custom.Deps {
				roots[abs(d)] = append(roots[abs(d)], img.Ref)
			}
			continue
		}
		roots[abs(img.Context)] = append(roots[abs(img.Context)], img.Ref)
	}
	refs := map[string]bool{}
	for _, c := range paths {
		if filepath.Base(c) == ".dockerignore" || strings.HasSuffix(c, ".dockerignore") {
			return nil, false
		}
		for _, w := range p.WatchedFiles {
			if wa := abs(w); within(c, wa) && roots[wa] == nil {
				return nil, false
			}
		}
		found := false
		for root, imgs := range roots {
			if within(c, root) {
				found = true
				for _, r := range imgs {
					refs[r] = true
				}
			}
		}
		if !found {
			return nil, false
		}
	}
	if len(refs) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(refs))
	for r := range refs {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, true
}
