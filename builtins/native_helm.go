package builtins

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/builtins/helmchart"
	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

// helmResourceExt is ext://helm_resource: helm_resource and helm_repo. The real extension runs
// helm, kubectl and python3 from a k8s_custom_deploy; kiln renders the chart in-process with
// the Helm SDK (as helm() does) and makes its objects one resource named after the release,
// applied, pruned and waited for like any other. See docs/reference/extensions.md.
func (s *State) helmResourceExt() starlark.StringDict {
	return starlark.StringDict{
		"helm_resource": starlark.NewBuiltin("helm_resource", s.helmResource),
		"helm_repo":     starlark.NewBuiltin("helm_repo", s.helmRepo),
	}
}

// helmRepo is helm_repo(name, url, resource_name=name, labels=[], ...): the real one runs
// `helm repo add` in a local resource that helm_resource(resource_deps=) then waits for.
// kiln records the repo; resource_deps naming it are satisfied at once.
func (s *State) helmRepo(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, url, resourceName, username, password string
	var labels stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "url", &url, "resource_name?", &resourceName,
		"labels?", &labels, "username?", &username, "password?", &password); err != nil {
		return nil, err
	}
	if s.helmRepos == nil {
		s.helmRepos = map[string]string{}
	}
	s.helmRepos[name] = url
	if resourceName != "" {
		s.helmRepos[resourceName] = url
	}
	return starlark.None, nil
}

// helmResource is helm_resource(name, chart, deps=[], release_name=name, namespace=None,
// image_deps=[], image_keys=[], flags=[], ..., port_forwards=[], links=[]), with the real
// extension's parameters.
func (s *State) helmResource(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, chart, releaseName, imageSelector, containerSelector, podReadiness string
		namespace                                                                starlark.Value = starlark.None
		deps, imageDeps, flags, uninstallFlags, resourceDeps, labels             stringList
		imageKeys, liveUpdate, portForwards, links                               starlark.Value
		autoInit                                                                 starlark.Value = starlark.True
		updateDeps, buildDeps                                                    bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "chart", &chart, "deps?", &deps, "release_name?", &releaseName,
		"namespace?", &namespace, "image_deps?", &imageDeps, "image_keys?", &imageKeys,
		"flags?", &flags, "uninstall_flags?", &uninstallFlags, "image_selector?", &imageSelector,
		"container_selector?", &containerSelector, "live_update?", &liveUpdate,
		"resource_deps?", &resourceDeps, "labels?", &labels, "port_forwards?", &portForwards,
		"auto_init?", &autoInit, "pod_readiness?", &podReadiness,
		"update_dependencies?", &updateDeps, "build_dependencies?", &buildDeps, "links?", &links); err != nil {
		return nil, err
	}
	if releaseName == "" {
		releaseName = name
	}
	ns, _ := starlark.AsString(namespace)
	opts := helmchart.Options{ReleaseName: releaseName, Namespace: ns, MaxFileSize: s.host.Limits.MaxFileSize}
	createNS, err := s.helmFlags(t, b, flags, &opts)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): flags: %v", b.Name(), name, err)
	}
	opts.Chart = s.abs(t, chart)
	if _, err := os.Stat(opts.Chart); err != nil {
		repo, _, _ := strings.Cut(chart, "/")
		if url, ok := s.helmRepos[repo]; ok {
			return nil, fmt.Errorf("%s(%q): chart %q is in the remote repo %s (%s); kiln renders local charts only, so put the chart in the project (a directory or a .tgz) and name its path", b.Name(), name, chart, repo, url)
		}
		return nil, fmt.Errorf("%s(%q): chart %s does not exist; give a chart directory or .tgz, relative to the file that calls %s", b.Name(), name, s.rel(opts.Chart), b.Name())
	}
	for _, d := range deps {
		s.host.RecordRead(s.abs(t, d))
	}
	sets, err := imageValues(imageDeps, imageKeys, s.matchImage)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): %v", b.Name(), name, err)
	}
	opts.Set = append(opts.Set, sets...)
	for _, p := range []struct {
		set  bool
		name string
		why  string
	}{
		{len(uninstallFlags) > 0, "uninstall_flags", "kiln down deletes the objects it applied; there is no helm uninstall"},
		{updateDeps, "update_dependencies", "the chart's charts/ directory is rendered as it is; nothing is fetched"},
		{buildDeps, "build_dependencies", "the chart's charts/ directory is rendered as it is; nothing is fetched"},
		{containerSelector != "", "container_selector", "live update targets every container of the image"},
	} {
		if p.set {
			s.ignoredParam(t, b, p.name, p.why)
		}
	}
	if err := s.helmLiveUpdate(t, b, name, imageSelector, imageDeps, liveUpdate); err != nil {
		return nil, err
	}

	out, err := s.renderChart(opts)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): %v", b.Name(), name, err)
	}
	source := "helm_resource " + name
	if opts.Namespace != "" {
		if out, err = setNamespace(source, out, opts.Namespace); err != nil {
			return nil, err
		}
	}
	objs, err := k8syaml.DecodeObjects(source, out)
	if err != nil {
		return nil, err
	}
	if createNS && opts.Namespace != "" {
		objs = append([]plan.Object{{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": opts.Namespace}}}, objs...)
	}
	g := &objectGroup{name: name, fn: b.Name(), pos: pos(t), keys: map[string]bool{}}
	for _, o := range objs {
		g.keys[objectKey(o)] = true
	}
	s.addYAML([]yamlEntry{{objects: objs, source: source, pos: g.pos}})
	s.groups = append(s.groups, g)

	// The resource's options go through k8s_resource, so that they merge with the project's
	// own k8s_resource(name, ...) calls as they do in Tilt.
	var rdeps []string
	for _, d := range resourceDeps {
		if _, repo := s.helmRepos[d]; !repo {
			rdeps = append(rdeps, d) // a helm_repo is ready at once: nothing to wait for
		}
	}
	kw := []starlark.Tuple{
		{starlark.String("workload"), starlark.String(name)},
		{starlark.String("resource_deps"), toStarlarkList(rdeps)},
		{starlark.String("labels"), toStarlarkList(labels)},
		{starlark.String("auto_init"), autoInit},
		{starlark.String("pod_readiness"), starlark.String(podReadiness)},
	}
	if portForwards != nil {
		kw = append(kw, starlark.Tuple{starlark.String("port_forwards"), portForwards})
	}
	if links != nil {
		kw = append(kw, starlark.Tuple{starlark.String("links"), links})
	}
	if _, err := s.k8sResource(t, b, nil, kw); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// helmFlags reads the helm install flags kiln can honour into opts: --set, --set-string,
// --values/-f, --namespace/-n. It reports whether --create-namespace was given. Flags that
// only steer the helm binary are accepted with a warning.
func (s *State) helmFlags(t *starlark.Thread, b *starlark.Builtin, flags []string, opts *helmchart.Options) (createNS bool, err error) {
	for i := 0; i < len(flags); i++ {
		flag, value, inline := strings.Cut(flags[i], "=")
		takesValue := map[string]bool{"--set": true, "--set-string": true, "--values": true, "-f": true,
			"--namespace": true, "-n": true, "--version": true, "--timeout": true, "--kube-context": true}
		if takesValue[flag] && !inline {
			if i+1 >= len(flags) {
				return false, fmt.Errorf("%s needs a value", flag)
			}
			i++
			value = flags[i]
		}
		switch flag {
		case "--set", "--set-string":
			opts.Set = append(opts.Set, value)
		case "--values", "-f":
			abs := s.abs(t, value)
			s.host.RecordRead(abs)
			opts.ValuesFiles = append(opts.ValuesFiles, abs)
		case "--namespace", "-n":
			opts.Namespace = value
		case "--create-namespace":
			createNS = true
		case "--wait", "--atomic", "--timeout", "--install", "--reset-values", "--reuse-values":
			// kiln waits for readiness itself, and applies the whole release every time.
		default:
			s.warn("%s: %s: flag %s is accepted and ignored: kiln renders the chart in-process, where only --set, --set-string, --values/-f, --namespace/-n and --create-namespace mean something", pos(t), b.Name(), flag)
		}
	}
	return createNS, nil
}

// imageValues turns image_deps and image_keys into helm --set values that put each image's
// ref into the chart, where kiln's injection then replaces it with the built tag. A key is
// 'image' (the whole ref), ('image.repository', 'image.tag'), or
// ('image.registry', 'image.repository', 'image.tag'); the default is 'image'.
func imageValues(deps []string, keys starlark.Value, match func(string) *imageTarget) ([]string, error) {
	var list []starlark.Value
	switch k := keys.(type) {
	case nil, starlark.NoneType:
	case starlark.String, starlark.Tuple:
		list = []starlark.Value{k}
	case *starlark.List:
		for i := 0; i < k.Len(); i++ {
			list = append(list, k.Index(i))
		}
	default:
		return nil, fmt.Errorf("image_keys must be a string, a tuple or a list of them, got %s", keys.Type())
	}
	if len(list) == 0 {
		for range deps {
			list = append(list, starlark.String("image"))
		}
	}
	if len(list) != len(deps) {
		return nil, fmt.Errorf("image_keys has %d entries and image_deps %d; give one key per image", len(list), len(deps))
	}
	var sets []string
	for i, dep := range deps {
		if match(dep) == nil {
			return nil, fmt.Errorf("image_deps: %q is not an image this project builds; declare it with docker_build() or custom_build()", dep)
		}
		named, err := reference.ParseNormalizedNamed(dep)
		if err != nil {
			return nil, fmt.Errorf("image_deps: %q: %v", dep, err)
		}
		tag := "latest"
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		}
		var fields []string
		if sk, ok := starlark.AsString(list[i]); ok {
			fields = []string{sk}
		} else if tk, ok := list[i].(starlark.Tuple); ok {
			for _, x := range tk {
				f, ok := starlark.AsString(x)
				if !ok {
					return nil, fmt.Errorf("image_keys[%d]: want strings, got %s", i, x.Type())
				}
				fields = append(fields, f)
			}
		}
		switch len(fields) {
		case 1:
			sets = append(sets, fields[0]+"="+reference.FamiliarName(named)+":"+tag)
		case 2:
			sets = append(sets, fields[0]+"="+reference.FamiliarName(named), fields[1]+"="+tag)
		case 3:
			sets = append(sets, fields[0]+"="+reference.Domain(named), fields[1]+"="+reference.Path(named), fields[2]+"="+tag)
		default:
			return nil, fmt.Errorf("image_keys[%d]: want 'key', (repository, tag) or (registry, repository, tag), got %s", i, list[i])
		}
	}
	return sets, nil
}

// helmLiveUpdate gives helm_resource(live_update=) to the image it names (image_selector=,
// or the only image_deps): in kiln live update belongs to the image, wherever it runs.
func (s *State) helmLiveUpdate(t *starlark.Thread, b *starlark.Builtin, name, selector string, deps []string, lu starlark.Value) error {
	if lu == nil || lu == starlark.None {
		return nil
	}
	if selector == "" && len(deps) == 1 {
		selector = deps[0]
	}
	img := s.matchImage(selector)
	if img == nil {
		return fmt.Errorf("%s(%q): live_update needs image_selector= naming an image this project builds (declared before this call)", b.Name(), name)
	}
	if len(img.steps) > 0 {
		return fmt.Errorf("%s(%q): live_update: the image %s already has a live_update at %s; give it in one place", b.Name(), name, img.Ref, img.Pos)
	}
	steps, err := s.takeSteps(b.Name(), name, lu)
	if err != nil {
		return err
	}
	img.steps = steps
	return nil
}

func toStarlarkList(ss []string) *starlark.List {
	l := make([]starlark.Value, len(ss))
	for i, x := range ss {
		l[i] = starlark.String(x)
	}
	return starlark.NewList(l)
}

// helmRemoteExt is ext://helm_remote: helm_remote. The real extension runs `helm repo add`
// and `helm fetch` into a cache, then helm(); kiln fetches the chart over HTTP into its
// cache (helmchart.Fetch) and renders it in-process.
func (s *State) helmRemoteExt() starlark.StringDict {
	return starlark.StringDict{"helm_remote": starlark.NewBuiltin("helm_remote", s.helmRemote)}
}

// helmRemote is helm_remote(chart, repo_url=”, repo_name=”, release_name=”, values=[],
// set=[], namespace=”, version=”, username=”, password=”, allow_duplicates=False,
// create_namespace=False): the chart's objects, added as k8s_yaml() would.
func (s *State) helmRemote(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var chart, repoURL, repoName, releaseName, namespace, version, username, password string
	var values, set stringList
	var allowDup, createNS bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "chart", &chart, "repo_url?", &repoURL, "repo_name?", &repoName,
		"release_name?", &releaseName, "values?", &values, "set?", &set, "namespace?", &namespace, "version?", &version,
		"username?", &username, "password?", &password, "allow_duplicates?", &allowDup, "create_namespace?", &createNS); err != nil {
		return nil, err
	}
	if repoName == "" {
		if r, c, ok := strings.Cut(chart, "/"); ok {
			repoName, chart = r, c
		}
	}
	if repoURL == "" {
		repoURL = s.helmRepos[repoName]
	}
	if repoURL == "" {
		return nil, fmt.Errorf("%s(%q): give repo_url= (the chart repository's URL), or a repo_name= declared with helm_repo()", b.Name(), chart)
	}
	tgz, err := helmchart.Fetch(host.Context(t), helmchart.FetchOptions{
		RepoURL: repoURL, Chart: chart, Version: version, Username: username, Password: password, CacheDir: s.opts.CacheDir,
	})
	if err != nil {
		return nil, fmt.Errorf("%s(%q): %v", b.Name(), chart, err)
	}
	if releaseName == "" {
		releaseName = chart
	}
	opts := helmchart.Options{Chart: tgz, ReleaseName: releaseName, Namespace: namespace, Set: set, MaxFileSize: s.host.Limits.MaxFileSize}
	for _, v := range values {
		abs := s.abs(t, v)
		s.host.RecordRead(abs)
		opts.ValuesFiles = append(opts.ValuesFiles, abs)
	}
	out, err := s.renderChart(opts)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): %v", b.Name(), chart, err)
	}
	source := "helm_remote " + chart
	if namespace != "" && !dnsLabel.MatchString(namespace) {
		return nil, fmt.Errorf("%s(%q): namespace %q is not a valid namespace name (lower-case letters, digits and '-', at most 63)", b.Name(), chart, namespace)
	}
	if namespace != "" {
		if out, err = setNamespace(source, out, namespace); err != nil {
			return nil, err
		}
		if createNS {
			out = append([]byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+"\n---\n"), out...)
		}
	}
	kw := []starlark.Tuple{{starlark.String("allow_duplicates"), starlark.Bool(allowDup)}}
	if _, err := s.k8sYAML(t, b, starlark.Tuple{Blob{Text: string(out), Source: source}}, kw); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// dnsLabel is a valid namespace name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
