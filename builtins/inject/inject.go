// Package inject replaces image references in Kubernetes objects with the refs of images the
// project builds: in every container list (containers, initContainers, ephemeralContainers) of
// any pod spec, at k8s_kind paths, in env vars when asked, and in kiln://NAME strings.
package inject

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// Image is a built image that injection may put into objects.
type Image struct {
	// Ref is the repository the user wrote ("example/web"); it matches every tag of that repo.
	Ref string
	// MatchTag restricts matching to that exact tag when the user's ref carried one.
	MatchTag string
	// FullRef is what replaces a match: repo:content-tag.
	FullRef        string
	MatchInEnvVars bool
	// Entrypoint, when set, replaces the command of every container that runs the image (and
	// clears its args), as Tilt's docker_build(entrypoint=) does.
	Entrypoint []string
}

// Path locates images in objects of a kind, for k8s_kind(image_json_path=, image_object=).
type Path struct {
	Kind       string
	APIVersion string // "" matches any
	// JSONPath like "{.spec.image}" or "{.spec.containers[*].image}".
	JSONPath string
	// RepoField and TagField are set for image_object: the path leads to a map holding the
	// repository and the tag in separate fields.
	RepoField, TagField string
}

// Result reports what one object's injection did.
type Result struct {
	// Used are the indexes, into the images given, of images injected into the object.
	Used []int
}

// Scheme is the URI scheme that names a convention image in any manifest: kiln://web.
const Scheme = "kiln://"

// Injector holds the parsed images.
type Injector struct {
	images []Image
	names  []string // normalized repository names, parallel to images
	paths  []Path
	// Convention resolves kiln://NAME to an index into images, or an error.
	Convention func(name string) (int, error)
}

// New prepares an injector. Refs that don't parse are an error naming the ref.
func New(images []Image, paths []Path) (*Injector, error) {
	inj := &Injector{images: images, paths: paths}
	for _, img := range images {
		named, err := reference.ParseNormalizedNamed(img.Ref)
		if err != nil {
			return nil, fmt.Errorf("image ref %q: %v", img.Ref, err)
		}
		inj.names = append(inj.names, named.Name())
	}
	return inj, nil
}

// Match returns the index of the image that matches ref as written in a manifest, or -1.
func (inj *Injector) Match(ref string) int {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return -1
	}
	tag := ""
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	// An image whose ref carries the tag wins over one that matches every tag: with
	// docker_build('x') and docker_build('x:latest'), x:latest is the second.
	match := -1
	for i, name := range inj.names {
		if name != named.Name() {
			continue
		}
		switch mt := inj.images[i].MatchTag; {
		case mt != "" && mt == tag:
			return i
		case mt == "" && match < 0:
			match = i
		}
	}
	return match
}

// Inject rewrites obj in place and reports which images it used.
func (inj *Injector) Inject(obj plan.Object) (Result, error) {
	used := map[int]bool{}
	var walkErr error
	// kiln:// URIs anywhere in the object, and container lists of any pod spec.
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			if strings.HasPrefix(v, Scheme) && inj.Convention != nil {
				i, err := inj.Convention(strings.TrimPrefix(v, Scheme))
				if err != nil {
					if walkErr == nil {
						walkErr = err
					}
					return v
				}
				used[i] = true
				return inj.images[i].FullRef
			}
			return v
		case map[string]any:
			for k, x := range v {
				v[k] = walk(x)
			}
			for _, key := range []string{"containers", "initContainers", "ephemeralContainers"} {
				if list, ok := v[key].([]any); ok {
					inj.injectContainers(list, used)
				}
			}
			return v
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
			return v
		}
		return v
	}
	walk(map[string]any(obj))
	if walkErr != nil {
		return Result{}, walkErr
	}
	for _, p := range inj.paths {
		if p.Kind != obj.Kind() || (p.APIVersion != "" && p.APIVersion != obj.APIVersion()) {
			continue
		}
		if err := inj.injectPath(obj, p, used); err != nil {
			return Result{}, err
		}
	}
	var res Result
	for i := range inj.images {
		if used[i] {
			res.Used = append(res.Used, i)
		}
	}
	return res, nil
}

func (inj *Injector) injectContainers(list []any, used map[int]bool) {
	for _, c := range list {
		container, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := container["image"].(string); ok {
			if i := inj.Match(ref); i >= 0 {
				container["image"] = inj.images[i].FullRef
				// The image exists only on the cluster's nodes: never pull it.
				container["imagePullPolicy"] = "IfNotPresent"
				if ep := inj.images[i].Entrypoint; len(ep) > 0 {
					cmd := make([]any, len(ep))
					for j, a := range ep {
						cmd[j] = a
					}
					container["command"] = cmd
					delete(container, "args")
				}
				used[i] = true
			}
		}
		if env, ok := container["env"].([]any); ok {
			for _, e := range env {
				ev, ok := e.(map[string]any)
				if !ok {
					continue
				}
				val, ok := ev["value"].(string)
				if !ok {
					continue
				}
				if i := inj.Match(val); i >= 0 && inj.images[i].MatchInEnvVars {
					ev["value"] = inj.images[i].FullRef
					used[i] = true
				}
			}
		}
	}
}

func (inj *Injector) injectPath(obj plan.Object, p Path, used map[int]bool) error {
	steps, err := ParsePath(p.JSONPath)
	if err != nil {
		return fmt.Errorf("k8s_kind(%q): %v", p.Kind, err)
	}
	visit(map[string]any(obj), steps, func(get func() any, set func(any)) {
		if p.RepoField == "" {
			ref, ok := get().(string)
			if !ok {
				return
			}
			if i := inj.Match(ref); i >= 0 {
				set(inj.images[i].FullRef)
				used[i] = true
			}
			return
		}
		m, ok := get().(map[string]any)
		if !ok {
			return
		}
		repo, _ := m[p.RepoField].(string)
		ref := repo
		if tag, _ := m[p.TagField].(string); tag != "" && p.TagField != "" {
			ref += ":" + tag
		}
		if i := inj.Match(ref); i >= 0 {
			full := inj.images[i].FullRef
			cut := strings.LastIndex(full, ":")
			if p.TagField == "" {
				m[p.RepoField] = full
			} else {
				m[p.RepoField], m[p.TagField] = full[:cut], full[cut+1:]
			}
			used[i] = true
		}
	})
	return nil
}
