package builtins

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/dockerfile"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// resolveImages finds each image's dependencies on other images of the project (a Dockerfile
// FROM another built image), then computes every image's content tag in dependency order:
// the hash of the build context after excludes, the Dockerfile, build args, target and the
// tags of the images it builds FROM. Nothing is built: an unchanged project gets the same tags.
func (s *State) resolveImages() error {
	if err := s.findImageDeps(); err != nil {
		return err
	}
	order, err := s.imageOrder()
	if err != nil {
		return err
	}
	if err := s.checkSyncPaths(); err != nil {
		return err
	}
	digests, err := s.hashInputs()
	if err != nil {
		return err
	}
	byRef := map[string]*imageTarget{}
	for _, img := range s.images {
		byRef[img.Ref] = img
	}
	for _, img := range order {
		d := digests[img]
		img.Inputs = d.inputs
		var depTags []string
		for _, dep := range img.ImageDeps {
			depTags = append(depTags, dep+"="+byRef[dep].Tag)
		}
		img.Inputs.Deps = depTags
		img.Repo = registryRepo(s.settings.DefaultRegistry, imageRepo(img))
		if img.pending != "" {
			img.Tag = plan.PendingTag
			img.Pending = &plan.Pending{Reason: img.pending, Ignore: img.ignore, Only: img.only}
			s.warn("%s: image %q: its tag is pending: %s; kiln hashes it once the local_resource that makes it has run (list that local_resource in the resource_deps of the resources using the image)", img.Pos, img.Ref, img.pending)
			continue
		}
		if img.Custom != nil && img.Custom.Tag != "" {
			img.Tag = img.Custom.Tag // the user's command produces this tag
			continue
		}
		img.Tag = tagFor(append([]string{img.Source, d.inputs.ContextDigest, d.inputs.DockerfileDigest, d.extra}, depTags...)...)
	}
	return nil
}

// dockerfileBytes returns the image's Dockerfile (read through the host, so it is watched).
// It is read once per evaluation: finding image deps and hashing both need it.
func (s *State) dockerfileBytes(img *imageTarget) ([]byte, error) {
	if img.dockerfileAbs == "" {
		return []byte(img.DockerfileContents), nil
	}
	if img.dockerfileData != nil {
		return img.dockerfileData, nil
	}
	data, err := s.host.ReadFile(img.dockerfileAbs)
	if err == nil {
		img.dockerfileData = data
	}
	return data, err
}

// findImageDeps sets ImageDeps: the other images of the project a Dockerfile builds FROM.
func (s *State) findImageDeps() error {
	for _, img := range s.images {
		if _, err := reference.ParseNormalizedNamed(img.Ref); err != nil {
			return fmt.Errorf("%s: image %q: %v", img.Pos, img.Ref, err)
		}
	}
	for _, img := range s.images {
		deps := map[string]bool{}
		if img.Custom != nil {
			for _, d := range img.customImgDeps {
				if other := s.matchImage(d); other != nil {
					d = other.Ref // image_deps=['x:latest'] names the image built as x:latest
				}
				deps[d] = true
			}
		} else {
			if img.pending != "" && img.dockerfileAbs != "" && !isFile(img.dockerfileAbs) {
				continue // its FROM lines are read once it exists (Retag)
			}
			data, err := s.dockerfileBytes(img)
			if err != nil {
				return fmt.Errorf("%s: image %q: %v", img.Pos, img.Ref, err)
			}
			info, _, err := dockerfile.ParseCached(data, img.BuildArgs)
			if err != nil {
				where := "dockerfile_contents"
				if img.dockerfileAbs != "" {
					where = s.rel(img.dockerfileAbs)
				}
				var dfErr *dockerfile.Error
				if errors.As(err, &dfErr) && dfErr.Line > 0 {
					return fmt.Errorf("%s:%d: %v (image %q declared at %s)", where, dfErr.Line, dfErr.Err, img.Ref, img.Pos)
				}
				return fmt.Errorf("%s: %v (image %q declared at %s)", where, err, img.Ref, img.Pos)
			}
			for _, base := range dockerfile.BaseImages(info, img.Target) {
				if _, err := reference.ParseNormalizedNamed(base); err != nil {
					continue // an ARG-built or otherwise odd ref: BuildKit will judge it
				}
				// The one image FROM names: an exact tag before a repository that matches any.
				if other := s.matchImage(base); other != nil && other != img {
					deps[other.Ref] = true
				}
			}
		}
		img.ImageDeps = sortedStrings(deps)
	}
	return nil
}

// imageOrder sorts images so that each comes after the images it builds FROM.
func (s *State) imageOrder() ([]*imageTarget, error) {
	byNode := map[plan.NodeID]*imageTarget{}
	nodes := make([]plan.NodeID, 0, len(s.images))
	for _, img := range s.images {
		n := plan.ImageNode(img.Ref)
		byNode[n] = img
		nodes = append(nodes, n)
	}
	deps := map[plan.NodeID][]plan.NodeID{}
	for _, img := range s.images {
		n := plan.ImageNode(img.Ref)
		for _, d := range img.ImageDeps {
			if byNode[plan.ImageNode(d)] == nil {
				return nil, fmt.Errorf("%s: image %q: image_deps names %q, which no docker_build or custom_build defines", img.Pos, img.Ref, d)
			}
			deps[n] = append(deps[n], plan.ImageNode(d))
		}
	}
	// The plan's own graph orders the images and finds a cycle: one cycle detector for images
	// and resources alike.
	g, err := plan.NewGraph(nodes, deps)
	var cycle *plan.CycleError
	if errors.As(err, &cycle) {
		var chain []string
		for _, n := range cycle.Path[:len(cycle.Path)-1] {
			img := byNode[n]
			chain = append(chain, fmt.Sprintf("%s (%s)", img.Ref, img.Pos))
		}
		first := byNode[cycle.Path[0]]
		return nil, fmt.Errorf("%s: dependency cycle between images: %s -> %s; a Dockerfile cannot build FROM an image that builds FROM it", first.Pos, strings.Join(chain, " -> "), first.Ref)
	}
	if err != nil {
		return nil, err
	}
	order := make([]*imageTarget, 0, len(nodes))
	for _, n := range g.Order() {
		order = append(order, byNode[n])
	}
	return order, nil
}

type imageDigest struct {
	inputs plan.Inputs
	extra  string // build args, target, platform, command: what else the tag covers
}

// hashInputs hashes every image's inputs, several contexts at a time.
func (s *State) hashInputs() (map[*imageTarget]imageDigest, error) {
	out := make(map[*imageTarget]imageDigest, len(s.images))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, img := range s.images {
		if img.pending != "" {
			continue // nothing to hash yet
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(img *imageTarget) {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := s.hashImage(img)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: image %q: %v", img.Pos, img.Ref, s.relErr(err))
				}
				return
			}
			out[img] = d
		}(img)
	}
	wg.Wait()
	return out, firstErr
}

func (s *State) hashImage(img *imageTarget) (imageDigest, error) {
	var d imageDigest
	if img.Custom != nil {
		key := "deps\x00" + strings.Join(img.customDeps, "\x01") + "\x00" + strings.Join(img.ignore, "\x01")
		h, err := s.memoHash(key, img.customDeps, func() (hashed, error) {
			at := time.Now()
			digest, files, _, err := s.hashCache.DepFiles(s.host.Dir, img.customDeps, img.ignore)
			return hashed{digest: digest, files: len(files), paths: files, at: at}, err
		})
		if err != nil {
			return d, err
		}
		d.inputs.HashedAt, d.inputs.ContextDigest, d.inputs.ContextFiles = h.at, h.digest, h.files
		d.extra = customExtra(&img.Image)
		return d, nil
	}
	spec := contexthash.Spec{Dir: img.contextAbs, Dockerfile: img.dockerfileAbs, Ignore: img.ignore, Only: img.only}
	roots, err := s.contextInputs(spec)
	if err != nil {
		return d, err
	}
	key := "context\x00" + spec.Dir + "\x00" + spec.Dockerfile + "\x00" + strings.Join(spec.Ignore, "\x01") + "\x00" + strings.Join(spec.Only, "\x01")
	h, err := s.memoHash(key, roots, func() (hashed, error) {
		excludes, err := contexthash.Excludes(spec)
		if err != nil {
			return hashed{}, err
		}
		at := time.Now()
		digest, files, err := s.hashCache.Hash(spec)
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = filepath.Join(spec.Dir, filepath.FromSlash(f))
		}
		return hashed{excludes: excludes, digest: digest, files: len(files), paths: paths, at: at}, err
	})
	if err != nil {
		return d, err
	}
	img.Excludes = h.excludes
	data, err := s.dockerfileBytes(img)
	if err != nil {
		return d, err
	}
	d.inputs.HashedAt, d.inputs.ContextDigest, d.inputs.ContextFiles = h.at, h.digest, h.files
	d.inputs.DockerfileDigest = fmt.Sprintf("sha256:%x", sha256.Sum256(data))
	d.extra = dockerExtra(&img.Image)
	return d, nil
}

// hashed is what hashing a build context (or custom_build deps) found.
type hashed struct {
	excludes []string // the context's final exclude list (read-only once kept)
	digest   string
	files    int
	paths    []string  // the files covered, absolute: their cached digests stay (Touch)
	at       time.Time // when the walk began: a build checks that nothing changed since
}

// memoHash returns what hash computes from the trees and files at roots, or what an earlier
// evaluation computed while the file watcher vouches that none of them changed since (Options.Memo).
// The time kept is that of the walk that found it, so that a build still checks every file
// against it (contexthash.Verify).
func (s *State) memoHash(key string, roots []string, hash func() (hashed, error)) (hashed, error) {
	v, ticket, ok := s.opts.Memo.Get(key, roots...)
	if ok {
		h := v.(hashed)
		s.hashCache.Touch(h.paths) // not walked this time, but still the context's files
		return h, nil
	}
	h, err := hash()
	if err == nil {
		size := len(key) + 128
		for _, p := range append(h.paths, h.excludes...) {
			size += len(p) + 16
		}
		s.opts.Memo.Put(ticket, h, int64(size))
	}
	return h, err
}

// contextInputs returns what a context's hash depends on: its directory, and the ignore files
// that exist or lie outside it (a .dockerignore may exclude itself, and then the context's
// watch would not report it). Those are recorded as read, so that kiln watch watches them.
func (s *State) contextInputs(spec contexthash.Spec) ([]string, error) {
	candidates, err := contexthash.IgnoreFiles(spec)
	if err != nil {
		return nil, err
	}
	roots := []string{spec.Dir}
	for _, f := range candidates {
		if !within(spec.Dir, f) || isFile(f) {
			s.host.RecordRead(f)
			roots = append(roots, f)
		}
	}
	return roots, nil
}

// dockerExtra and customExtra are the inputs of an image's tag beside its files: what else
// changes the bytes built.
func dockerExtra(img *plan.Image) string {
	return "args=" + envString(img.BuildArgs) + "\x00target=" + img.Target + "\x00platform=" + img.Platform + "\x00network=" + img.Network +
		"\x00secrets=" + strings.Join(img.Secrets, ",") + "\x00ssh=" + strings.Join(img.SSH, ",")
}

func customExtra(img *plan.Image) string {
	return strings.Join(img.Custom.Command.Argv, "\x00") + "\x00" + img.Custom.Command.Dir + "\x00" + envString(img.Custom.Command.Env)
}

func envString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\x00", k, m[k])
	}
	return b.String()
}

// checkSyncPaths requires every docker_build sync() source to lie inside the build context of
// the image or of an image it builds FROM: only those files can be in the running container.
func (s *State) checkSyncPaths() error {
	byRef := map[string]*imageTarget{}
	for _, img := range s.images {
		byRef[img.Ref] = img
	}
	for _, img := range s.images {
		if img.Custom != nil {
			continue
		}
		var contexts []string
		var collect func(i *imageTarget)
		collect = func(i *imageTarget) {
			contexts = append(contexts, i.contextAbs)
			for _, d := range i.ImageDeps {
				collect(byRef[d])
			}
		}
		collect(img)
		for _, st := range img.steps {
			if st.kind != plan.StepSync {
				continue
			}
			inside := false
			for _, c := range contexts {
				inside = inside || within(c, st.localAbs)
			}
			if !inside {
				return fmt.Errorf("%s: docker_build(%q): live_update sync(%q) at %s is outside the build context %s; sync only files the image is built from", img.Pos, img.Ref, s.rel(st.localAbs), st.pos, s.rel(img.contextAbs))
			}
		}
	}
	return nil
}
