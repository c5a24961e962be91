package builtins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// imageTarget is an image recorded by docker_build, custom_build or a convention folder.
// Paths are absolute here; Assemble makes them project-relative.
type imageTarget struct {
	plan.Image
	contextAbs    string
	dockerfileAbs string // "" when dockerfile_contents is used
	ignore, only  []string
	steps         []*stepValue
	customDeps    []string // absolute, for custom_build
	customImgDeps []string
	// fromCompose marks the image of a compose service's build: section; a docker_build of
	// the same ref replaces it, as in Tilt.
	fromCompose bool
	// inferSync adds the sync() steps the Dockerfile's COPY lines imply (docker_build(
	// infer_sync=True); on for convention images).
	inferSync bool
	// dockerfileData is the Dockerfile as this evaluation read it (dockerfileBytes).
	dockerfileData []byte
	// pending says why the inputs cannot be hashed yet (see plan.Pending); "" when they can.
	pending string
}

func (s *State) imageBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"docker_build":      starlark.NewBuiltin("docker_build", s.dockerBuild),
		"custom_build":      starlark.NewBuiltin("custom_build", s.customBuild),
		"default_registry":  starlark.NewBuiltin("default_registry", s.defaultRegistry),
		"sync":              starlark.NewBuiltin("sync", s.syncStep),
		"run":               starlark.NewBuiltin("run", s.runStep),
		"fall_back_on":      starlark.NewBuiltin("fall_back_on", s.fallBackOnStep),
		"initial_sync":      starlark.NewBuiltin("initial_sync", s.simpleStep(plan.StepInitialSync)),
		"restart_container": starlark.NewBuiltin("restart_container", s.simpleStep(plan.StepRestartContainer)),
	}
}

// parseRef splits a docker_build ref into the repository and the tag to match, if any.
func parseRef(ref string) (repo, tag string, err error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", fmt.Errorf("ref %q is not a valid image reference: %v", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", "", fmt.Errorf("ref %q has a digest; name the repository (and optionally a tag) kiln should build", ref)
	}
	repo = ref
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
		repo = strings.TrimSuffix(ref, ":"+tag)
	}
	return repo, tag, nil
}

// imageRef is an image's identity in the plan: the repository, with the tag when the user's
// ref carried one. docker_build('x') and docker_build('x:latest') are two images (Tilt's
// docker_build_with_restart makes exactly that), each matching as Tilt does: 'x' every tag
// of x, 'x:latest' only x:latest.
func imageRef(repo, tag string) string {
	if tag == "" {
		return repo
	}
	return repo + ":" + tag
}

// imageRepo is the repository of an image, without the tag its ref may carry.
func imageRepo(img *imageTarget) string {
	if img.MatchTag == "" {
		return img.Ref
	}
	return strings.TrimSuffix(img.Ref, ":"+img.MatchTag)
}

// matchImage returns the project's image that ref (as a Dockerfile FROM or image_deps
// writes it) names, or nil: the image of exactly that ref first, then one of the same
// repository whose ref has no tag (it matches every tag), then, for a ref without a tag, the
// one image of that repository.
func (s *State) matchImage(ref string) *imageTarget {
	for _, img := range s.images {
		if img.Ref == ref {
			return img
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil
	}
	tag := ""
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	var anyTag, sameRepo []*imageTarget
	for _, img := range s.images {
		n, err := reference.ParseNormalizedNamed(img.Ref)
		if err != nil || n.Name() != named.Name() {
			continue
		}
		if tag != "" && img.MatchTag == tag {
			return img
		}
		if img.MatchTag == "" {
			anyTag = append(anyTag, img)
		}
		sameRepo = append(sameRepo, img)
	}
	switch {
	case len(anyTag) > 0:
		return anyTag[0]
	case tag == "" && len(sameRepo) == 1:
		return sameRepo[0]
	}
	return nil
}

func (s *State) addImage(t *starlark.Thread, img *imageTarget) error {
	for i, other := range s.images {
		if other.Ref == img.Ref && other.MatchTag == img.MatchTag && other.fromCompose {
			s.images = append(s.images[:i], s.images[i+1:]...)
			break
		}
	}
	for _, other := range s.images {
		if other.Ref == img.Ref && other.MatchTag == img.MatchTag {
			return fmt.Errorf("image %q is already defined at %s; each image ref can be built once", img.Ref, other.Pos)
		}
	}
	s.images = append(s.images, img)
	return nil
}

// dockerBuild is docker_build(ref, context, ...): an image built from a Dockerfile.
func (s *State) dockerBuild(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ref, context, dockerfile, dockerfileContents, target, network, platform string
		buildArgs                                                               stringMap
		liveUpdate                                                              starlark.Value
		matchInEnv, pull                                                        bool
		ignore, only, extraTag, ssh, secret, cacheFrom, extraHosts              stringList
		entrypoint                                                              command
		containerArgs                                                           stringList
		inferSync                                                               bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"ref", &ref, "context", &context,
		"build_args?", &buildArgs, "dockerfile?", &dockerfile, "dockerfile_contents?", &dockerfileContents,
		"live_update?", &liveUpdate, "match_in_env_vars?", &matchInEnv,
		"ignore?", &ignore, "only?", &only, "entrypoint?", &entrypoint, "target?", &target,
		"ssh?", &ssh, "network?", &network, "secret?", &secret, "extra_tag?", &extraTag,
		"container_args?", &containerArgs, "cache_from?", &cacheFrom, "pull?", &pull,
		"platform?", &platform, "extra_hosts?", &extraHosts, "infer_sync?", &inferSync); err != nil {
		return nil, err
	}
	repo, tag, err := parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if len(containerArgs) > 0 {
		s.ignoredParam(t, b, "container_args", "set the container's args in its manifest")
	}
	if len(cacheFrom) > 0 {
		s.ignoredParam(t, b, "cache_from", "no registry is reached to import a cache from; BuildKit's local cache is used")
	}
	if pull {
		s.ignoredParam(t, b, "pull", "base images are never pulled; they must be in the Docker engine")
	}
	if len(extraHosts) > 0 {
		s.ignoredParam(t, b, "extra_hosts", "build containers get the engine's default /etc/hosts")
	}
	if dockerfile != "" && dockerfileContents != "" {
		return nil, fmt.Errorf("%s(%q): give dockerfile or dockerfile_contents, not both", b.Name(), ref)
	}
	img := &imageTarget{Image: plan.Image{
		Ref: imageRef(repo, tag), MatchTag: tag, Source: "docker_build", Pos: pos(t),
		BuildArgs: buildArgs, Target: target, Entrypoint: entrypoint, ExtraTags: extraTag,
		MatchInEnvVars: matchInEnv, Network: network, Platform: platform, Secrets: secret, SSH: ssh,
		DockerfileContents: dockerfileContents,
	}}
	img.contextAbs = s.abs(t, context)
	if _, err := os.Stat(img.contextAbs); errors.Is(err, fs.ErrNotExist) {
		// A local_resource may make it: as Tilt, evaluate; the tag waits until it is there.
		img.pending = fmt.Sprintf("context %s does not exist yet", s.rel(img.contextAbs))
	} else if !isDir(img.contextAbs) {
		return nil, fmt.Errorf("%s(%q): context %s is not a directory", b.Name(), ref, s.rel(img.contextAbs))
	}
	s.host.RecordRead(img.contextAbs)
	if dockerfileContents == "" {
		if dockerfile == "" {
			img.dockerfileAbs = filepath.Join(img.contextAbs, "Dockerfile")
		} else {
			img.dockerfileAbs = s.abs(t, dockerfile)
		}
		s.host.RecordRead(img.dockerfileAbs)
		if !isFile(img.dockerfileAbs) {
			if img.pending == "" {
				return nil, fmt.Errorf("%s(%q): Dockerfile %s does not exist; create it, or pass dockerfile= or dockerfile_contents=", b.Name(), ref, s.rel(img.dockerfileAbs))
			}
		}
	}
	img.ignore, img.only, img.inferSync = ignore, only, inferSync
	steps, err := s.takeSteps(b.Name(), ref, liveUpdate)
	if err != nil {
		return nil, err
	}
	img.steps = steps // sync paths are checked once image dependencies are known
	return starlark.None, s.addImage(t, img)
}

// customBuild is custom_build(ref, command, deps, ...): an image built by a user command,
// which must produce the image named by $EXPECTED_REF.
func (s *State) customBuild(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ref, tag, outputsTo, dir            string
		cmd, cmdBat, cmdBatVal, entrypoint  command
		deps, ignore, imageDeps             stringList
		liveUpdate                          starlark.Value
		disablePush, skipsLocal, matchInEnv bool
		env                                 stringMap
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"ref", &ref, "command", &cmd, "deps", &deps, "tag?", &tag, "disable_push?", &disablePush,
		"skips_local_docker?", &skipsLocal, "live_update?", &liveUpdate, "match_in_env_vars?", &matchInEnv,
		"ignore?", &ignore, "entrypoint?", &entrypoint, "command_bat_val?", &cmdBatVal,
		"outputs_image_ref_to?", &outputsTo, "command_bat?", &cmdBat, "image_deps?", &imageDeps,
		"env?", &env, "dir?", &dir); err != nil {
		return nil, err
	}
	repo, matchTag, err := parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("%s(%q): command is empty; give the command that builds $EXPECTED_REF", b.Name(), ref)
	}
	workdir := dirOf(t)
	if dir != "" {
		workdir = s.abs(t, dir)
	}
	img := &imageTarget{Image: plan.Image{
		Ref: imageRef(repo, matchTag), MatchTag: matchTag, Source: "custom_build", Pos: pos(t),
		Entrypoint: entrypoint, MatchInEnvVars: matchInEnv,
		Custom: &plan.CustomBuild{
			Command: plan.Command{Argv: cmd, Dir: s.rel(workdir), Env: env}, Tag: tag,
			DisablePush: disablePush, SkipsLocal: skipsLocal, OutputsImage: outputsTo,
		},
	}}
	img.contextAbs = workdir
	for _, d := range deps {
		abs := s.abs(t, d)
		s.host.RecordRead(abs)
		img.customDeps = append(img.customDeps, abs)
		if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) && img.pending == "" {
			img.pending = fmt.Sprintf("dep %s does not exist yet", s.rel(abs))
		}
	}
	img.ignore = ignore
	img.customImgDeps = imageDeps
	steps, err := s.takeSteps(b.Name(), ref, liveUpdate)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if st.kind != plan.StepSync {
			continue
		}
		inside := false
		for _, d := range img.customDeps {
			inside = inside || within(d, st.localAbs)
		}
		if !inside {
			return nil, fmt.Errorf("%s(%q): live_update sync(%q) at %s is outside every path in deps", b.Name(), ref, s.rel(st.localAbs), st.pos)
		}
	}
	img.steps = steps
	return starlark.None, s.addImage(t, img)
}

// defaultRegistry is default_registry(host, host_from_cluster=None, single_name=”): images
// are pushed to host, with '/' in refs escaped as '_', as Tilt does.
func (s *State) defaultRegistry(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host, fromCluster, singleName string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "host_from_cluster?", &fromCluster, "single_name?", &singleName); err != nil {
		return nil, err
	}
	if fromCluster != "" {
		s.ignoredParam(t, b, "host_from_cluster", "the cluster pulls from host; a registry the cluster advertises (KEP-1755) is found by itself")
	}
	if singleName != "" {
		s.ignoredParam(t, b, "single_name", "each image keeps its own repository name under host")
	}
	if host == "" {
		// Tilt accepts an empty host, as "no registry": projects pass a setting that is
		// empty by default.
		s.settings.DefaultRegistry = ""
		return starlark.None, nil
	}
	if _, err := reference.ParseNormalizedNamed(host + "/x"); err != nil {
		return nil, fmt.Errorf("%s: %q is not a registry host: %v", b.Name(), host, err)
	}
	s.settings.DefaultRegistry = host
	return starlark.None, nil
}

// registryRepo applies default_registry to a ref.
func registryRepo(registry, ref string) string {
	if registry == "" {
		return ref
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return registry + "/" + strings.ReplaceAll(reference.Path(named), "/", "_")
}

func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
