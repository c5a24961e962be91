package builtins

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// yamlEntry is one k8s_yaml() call's objects.
type yamlEntry struct {
	objects []plan.Object
	source  string
	pos     string
}

// resourceOpts is one k8s_resource() call; Assemble applies them after evaluation, so their
// order relative to k8s_yaml() doesn't matter.
type resourceOpts struct {
	workload, newName string
	portForwards      []plan.PortForward
	extraPodSelectors []map[string]string
	triggerMode       string
	resourceDeps      []string
	objects           []string
	autoInit          *bool
	labels            []string
	discoveryStrategy string
	podReadiness      string
	links             []plan.Link
	pos               string
}

// kindRule is a k8s_kind() call: objects of a kind are workloads, and hold images at paths.
type kindRule struct {
	kind         *regexp.Regexp
	kindText     string
	apiVersion   string
	jsonPaths    []string
	imageObject  *imageObjectPath
	podReadiness string
	pos          string
}

type imageObjectPath struct{ jsonPath, repoField, tagField string }

// objectGroup is a set of objects that make one resource together: a helm_resource release.
type objectGroup struct {
	name, fn, pos string
	keys          map[string]bool // objectKey
}

// customDeploy is a k8s_custom_deploy() resource.
type customDeploy struct {
	name  string
	pos   string
	cd    plan.CustomDeploy
	steps []*stepValue
	deps  []string // absolute
}

func (s *State) k8sBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"k8s_yaml":                      starlark.NewBuiltin("k8s_yaml", s.k8sYAML),
		"k8s_resource":                  starlark.NewBuiltin("k8s_resource", s.k8sResource),
		"k8s_kind":                      starlark.NewBuiltin("k8s_kind", s.k8sKind),
		"k8s_image_json_path":           starlark.NewBuiltin("k8s_image_json_path", s.k8sImageJSONPath),
		"filter_yaml":                   starlark.NewBuiltin("filter_yaml", s.filterYAML),
		"workload_to_resource_function": starlark.NewBuiltin("workload_to_resource_function", s.setWorkloadToResource),
		"port_forward":                  starlark.NewBuiltin("port_forward", portForward),
		"link":                          starlark.NewBuiltin("link", makeLink),
		"k8s_custom_deploy":             starlark.NewBuiltin("k8s_custom_deploy", s.k8sCustomDeploy),
	}
}

// yamlArg reads k8s_yaml's and filter_yaml's argument: a path, inline YAML text (a string with
// a newline), a blob, or a list of those. It returns each source's objects.
func (s *State) yamlArg(t *starlark.Thread, fn string, v starlark.Value) ([]yamlEntry, error) {
	var out []yamlEntry
	add := func(source string, text []byte) error {
		objs, err := k8syaml.DecodeObjectsCached(source, text)
		if err != nil {
			return err
		}
		out = append(out, yamlEntry{objects: objs, source: source, pos: pos(t)})
		return nil
	}
	var one func(v starlark.Value, depth int) error
	one = func(v starlark.Value, depth int) error {
		switch v := v.(type) {
		case Blob:
			source := v.Source
			if source == "" {
				source = "blob at " + pos(t)
			}
			return add(source, []byte(v.Text))
		case starlark.String:
			str := string(v)
			if strings.Contains(str, "\n") {
				return add("YAML text at "+pos(t), []byte(str))
			}
			abs := s.abs(t, str)
			data, err := s.host.ReadFile(abs)
			if err != nil {
				return fmt.Errorf("%s: %v", fn, err)
			}
			return add(s.rel(abs), data)
		case starlark.Indexable:
			if depth >= maxNesting {
				return fmt.Errorf("%s: %v", fn, errNesting)
			}
			for i := 0; i < v.Len(); i++ {
				if err := one(v.Index(i), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("%s: want a path, YAML text, a blob or a list of them, got %s", fn, v.Type())
	}
	return out, one(v, 0)
}

// objectKey identifies an object for duplicate detection.
func objectKey(o plan.Object) string {
	return o.Group() + "/" + o.Kind() + "/" + o.Namespace() + "/" + o.Name()
}

// k8sYAML is k8s_yaml(yaml, allow_duplicates=False): deploy these objects.
func (s *State) k8sYAML(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	var allowDup bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "yaml", &v, "allow_duplicates?", &allowDup); err != nil {
		return nil, err
	}
	entries, err := s.yamlArg(t, b.Name(), v)
	if err != nil {
		return nil, err
	}
	if !allowDup {
		// Check against earlier calls and within this one, without recording anything, so a
		// failed call leaves the index as it was.
		here := map[string]string{}
		for _, e := range entries {
			for _, o := range e.objects {
				k := objectKey(o)
				prev, dup := here[k]
				if !dup {
					prev, dup = s.declared[k]
				}
				if dup {
					return nil, fmt.Errorf("%s: duplicate object %s (from %s, already declared by %s); remove one, or pass allow_duplicates=True", b.Name(), o.ID(), e.source, prev)
				}
				here[k] = e.source
			}
		}
	}
	s.addYAML(entries)
	return starlark.None, nil
}

// addYAML records k8s_yaml() objects and indexes them by objectKey, so that each later call
// checks for duplicates in time proportional to its own objects, not to all before it.
func (s *State) addYAML(entries []yamlEntry) {
	if s.declared == nil {
		s.declared = map[string]string{}
	}
	for _, e := range entries {
		for _, o := range e.objects {
			s.declared[objectKey(o)] = e.source
		}
	}
	s.yaml = append(s.yaml, entries...)
}

// k8sResource is k8s_resource(workload=”, new_name=”, port_forwards=[], ...): configure a
// resource, or make a new one from objects.
func (s *State) k8sResource(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		workload, newName, discovery, podReadiness string
		portForwards, extraSelectors, links        starlark.Value
		trigger                                    starlark.Value
		deps, objects, labels                      stringList
		autoInit                                   starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"workload?", &workload, "new_name?", &newName, "port_forwards?", &portForwards,
		"extra_pod_selectors?", &extraSelectors, "trigger_mode?", &trigger,
		"resource_deps?", &deps, "objects?", &objects, "auto_init?", &autoInit,
		"labels?", &labels, "discovery_strategy?", &discovery, "pod_readiness?", &podReadiness,
		"links?", &links); err != nil {
		return nil, err
	}
	if workload == "" && newName == "" {
		return nil, fmt.Errorf("%s: give workload= (an existing resource) or new_name= with objects= (a new one)", b.Name())
	}
	if workload == "" && len(objects) == 0 {
		return nil, fmt.Errorf("%s(new_name=%q): a resource without a workload needs objects=", b.Name(), newName)
	}
	r := &resourceOpts{workload: workload, newName: newName, resourceDeps: deps, objects: objects, labels: labels, pos: pos(t)}
	var err error
	if r.portForwards, err = parsePortForwards(portForwards, 0); err != nil {
		return nil, fmt.Errorf("%s(%q): port_forwards: %v", b.Name(), workload+newName, err)
	}
	if r.links, err = parseLinks(links, 0); err != nil {
		return nil, fmt.Errorf("%s(%q): links: %v", b.Name(), workload+newName, err)
	}
	if r.extraPodSelectors, err = parseSelectors(extraSelectors, 0); err != nil {
		return nil, fmt.Errorf("%s(%q): extra_pod_selectors: %v", b.Name(), workload+newName, err)
	}
	if trigger != nil && trigger != starlark.None {
		var tm triggerMode
		if err := tm.Unpack(trigger); err != nil {
			return nil, fmt.Errorf("%s: trigger_mode: %v", b.Name(), err)
		}
		r.triggerMode = string(tm)
	}
	if autoInit != nil && autoInit != starlark.None {
		v := bool(autoInit.Truth())
		r.autoInit = &v
	}
	switch podReadiness {
	case "", "wait", "ignore":
		r.podReadiness = podReadiness
	default:
		return nil, fmt.Errorf("%s: pod_readiness=%q: want 'wait' or 'ignore'", b.Name(), podReadiness)
	}
	switch discovery {
	case "", "default", "selectors-only":
		r.discoveryStrategy = discovery
	default:
		return nil, fmt.Errorf("%s: discovery_strategy=%q: want 'default' or 'selectors-only'", b.Name(), discovery)
	}
	s.resources = append(s.resources, r)
	return starlark.None, nil
}

// k8sKind is k8s_kind(kind, api_version=None, *, image_json_path=None, image_object=None,
// pod_readiness=”): objects of this kind are workloads, with images at these paths.
func (s *State) k8sKind(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var kind, apiVersion, podReadiness string
	var jsonPaths stringList
	var imageObject starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "api_version?", &apiVersion,
		"image_json_path?", &jsonPaths, "image_object?", &imageObject, "pod_readiness?", &podReadiness); err != nil {
		return nil, err
	}
	re, err := regexp.Compile("(?i)^(?:" + kind + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s: kind %q is not a valid regexp: %v", b.Name(), kind, err)
	}
	rule := &kindRule{kind: re, kindText: kind, apiVersion: apiVersion, jsonPaths: jsonPaths, podReadiness: podReadiness, pos: pos(t)}
	if imageObject != nil && imageObject != starlark.None {
		d, ok := imageObject.(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("%s: image_object must be a dict with json_path, repo_field and tag_field", b.Name())
		}
		get := func(k string) string {
			v, _, _ := d.Get(starlark.String(k))
			str, _ := starlark.AsString(v)
			return str
		}
		rule.imageObject = &imageObjectPath{get("json_path"), get("repo_field"), get("tag_field")}
		if rule.imageObject.jsonPath == "" || rule.imageObject.repoField == "" {
			return nil, fmt.Errorf("%s: image_object needs json_path and repo_field", b.Name())
		}
	}
	switch podReadiness {
	case "", "wait", "ignore":
	default:
		return nil, fmt.Errorf("%s: pod_readiness=%q: want 'wait' or 'ignore'", b.Name(), podReadiness)
	}
	s.kinds = append(s.kinds, rule)
	return starlark.None, nil
}

// k8sImageJSONPath is Tilt's older k8s_image_json_path(paths, api_version=”, kind=”, name=”,
// namespace=”): k8s_kind with image_json_path.
func (s *State) k8sImageJSONPath(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var paths stringList
	var apiVersion, kind, name, namespace string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "paths", &paths, "api_version?", &apiVersion, "kind?", &kind, "name?", &name, "namespace?", &namespace); err != nil {
		return nil, err
	}
	if kind == "" {
		return nil, fmt.Errorf("%s: kind= is required", b.Name())
	}
	re, err := regexp.Compile("(?i)^(?:" + kind + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s: kind %q is not a valid regexp: %v", b.Name(), kind, err)
	}
	s.kinds = append(s.kinds, &kindRule{kind: re, kindText: kind, apiVersion: apiVersion, jsonPaths: paths, pos: pos(t)})
	return starlark.None, nil
}

// filterYAML is filter_yaml(yaml, labels=None, name=None, namespace=None, kind=None,
// api_version=None): split objects into (matching, rest) blobs. name, namespace, kind and
// api_version are case-insensitive regexps; labels must all match.
func (s *State) filterYAML(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	var labels stringMap
	var name, namespace, kind, apiVersion string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "yaml", &v, "labels?", &labels, "name?", &name,
		"namespace?", &namespace, "kind?", &kind, "api_version?", &apiVersion); err != nil {
		return nil, err
	}
	entries, err := s.yamlArg(t, b.Name(), v)
	if err != nil {
		return nil, err
	}
	matchers := map[string]*regexp.Regexp{}
	for field, pattern := range map[string]string{"name": name, "namespace": namespace, "kind": kind, "api_version": apiVersion} {
		if pattern == "" {
			continue
		}
		re, err := regexp.Compile("(?i)^(?:" + pattern + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is not a valid regexp: %v", b.Name(), field, pattern, err)
		}
		matchers[field] = re
	}
	var match, rest []plan.Object
	for _, e := range entries {
		for _, o := range e.objects {
			ok := true
			for field, re := range matchers {
				val := map[string]string{"name": o.Name(), "namespace": o.Namespace(), "kind": o.Kind(), "api_version": o.APIVersion()}[field]
				ok = ok && re.MatchString(val)
			}
			objLabels := o.Labels()
			for k, want := range labels {
				ok = ok && objLabels[k] == want
			}
			if ok {
				match = append(match, o)
			} else {
				rest = append(rest, o)
			}
		}
	}
	m, err := k8syaml.EncodeObjects(match)
	if err != nil {
		return nil, err
	}
	r, err := k8syaml.EncodeObjects(rest)
	if err != nil {
		return nil, err
	}
	return starlark.Tuple{Blob{Text: string(m), Source: "filter_yaml at " + pos(t)}, Blob{Text: string(r), Source: "filter_yaml at " + pos(t)}}, nil
}

func (s *State) setWorkloadToResource(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "func", &fn); err != nil {
		return nil, err
	}
	s.workloadToResource = fn
	return starlark.None, nil
}

// portForwardValue is what port_forward() returns.
type portForwardValue struct{ pf plan.PortForward }

func (p portForwardValue) String() string {
	return fmt.Sprintf("port_forward(%d, %d)", p.pf.LocalPort, p.pf.ContainerPort)
}
func (p portForwardValue) Type() string          { return "port_forward" }
func (p portForwardValue) Freeze()               {}
func (p portForwardValue) Truth() starlark.Bool  { return true }
func (p portForwardValue) Hash() (uint32, error) { return starlark.String(p.String()).Hash() }

func portForward(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var local, container int
	var name, linkPath, host string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "local_port", &local, "container_port?", &container,
		"name?", &name, "link_path?", &linkPath, "host?", &host); err != nil {
		return nil, err
	}
	if err := checkPort(local); err != nil {
		return nil, fmt.Errorf("%s: local_port: %v", b.Name(), err)
	}
	// container_port=0 is left for kiln watch to resolve against the pod, as Tilt does
	// (forward.ContainerPortFor): a declared port equal to local_port, else the first one.
	if container != 0 {
		if err := checkPort(container); err != nil {
			return nil, fmt.Errorf("%s: container_port: %v", b.Name(), err)
		}
	}
	return portForwardValue{plan.PortForward{LocalPort: local, ContainerPort: container, Name: name, LinkPath: linkPath, Host: host}}, nil
}

func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is out of range 1-65535", p)
	}
	return nil
}

// maxNesting bounds how deeply the arguments that take "an X or a list of them" may nest
// lists, depth counting the lists around v. A list that contains itself would otherwise
// recurse until the Go stack overflows: a crash that no recover() catches.
const maxNesting = 100

var errNesting = fmt.Errorf("lists nested more than %d deep (a list that contains itself?)", maxNesting)

// parsePortForwards reads Tilt's forms: 8000, "8000", "8000:80", "host:8000:80",
// port_forward(...), or a list of them.
func parsePortForwards(v starlark.Value, depth int) ([]plan.PortForward, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	switch v := v.(type) {
	case starlark.Int:
		n, _ := v.Int64()
		if err := checkPort(int(n)); err != nil {
			return nil, err
		}
		return []plan.PortForward{{LocalPort: int(n)}}, nil
	case starlark.String:
		pf, err := parsePortForwardString(string(v))
		if err != nil {
			return nil, err
		}
		return []plan.PortForward{pf}, nil
	case portForwardValue:
		return []plan.PortForward{v.pf}, nil
	case starlark.Indexable:
		if depth >= maxNesting {
			return nil, errNesting
		}
		var out []plan.PortForward
		for i := 0; i < v.Len(); i++ {
			pfs, err := parsePortForwards(v.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, pfs...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a port number, \"LOCAL:CONTAINER\", port_forward() or a list of them, got %s", v.Type())
}

func parsePortForwardString(s string) (plan.PortForward, error) {
	parts := strings.Split(s, ":")
	var host string
	if len(parts) == 3 {
		host, parts = parts[0], parts[1:]
	}
	if len(parts) > 2 {
		return plan.PortForward{}, fmt.Errorf("%q: want LOCAL, LOCAL:CONTAINER or HOST:LOCAL:CONTAINER", s)
	}
	ports := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return plan.PortForward{}, fmt.Errorf("%q: %q is not a port number", s, p)
		}
		if err := checkPort(n); err != nil {
			return plan.PortForward{}, fmt.Errorf("%q: %v", s, err)
		}
		ports[i] = n
	}
	pf := plan.PortForward{LocalPort: ports[0], Host: host}
	if len(ports) == 2 {
		pf.ContainerPort = ports[1]
	}
	return pf, nil
}

// linkValue is what link() returns.
type linkValue struct{ l plan.Link }

func (l linkValue) String() string        { return "link(" + strconv.Quote(l.l.URL) + ")" }
func (l linkValue) Type() string          { return "link" }
func (l linkValue) Freeze()               {}
func (l linkValue) Truth() starlark.Bool  { return true }
func (l linkValue) Hash() (uint32, error) { return starlark.String(l.l.URL).Hash() }

func makeLink(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var url, name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url", &url, "name?", &name); err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("%s: url is empty", b.Name())
	}
	return linkValue{plan.Link{URL: url, Name: name}}, nil
}

func parseLinks(v starlark.Value, depth int) ([]plan.Link, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	switch v := v.(type) {
	case starlark.String:
		return []plan.Link{{URL: string(v)}}, nil
	case linkValue:
		return []plan.Link{v.l}, nil
	case starlark.Indexable:
		if depth >= maxNesting {
			return nil, errNesting
		}
		var out []plan.Link
		for i := 0; i < v.Len(); i++ {
			l, err := parseLinks(v.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, l...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a URL, link() or a list of them, got %s", v.Type())
}

func parseSelectors(v starlark.Value, depth int) ([]map[string]string, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	if d, ok := v.(*starlark.Dict); ok {
		var m stringMap
		if err := m.Unpack(d); err != nil {
			return nil, err
		}
		return []map[string]string{m}, nil
	}
	seq, ok := v.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("want a dict of labels or a list of them, got %s", v.Type())
	}
	if depth >= maxNesting {
		return nil, errNesting
	}
	var out []map[string]string
	for i := 0; i < seq.Len(); i++ {
		sel, err := parseSelectors(seq.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, sel...)
	}
	return out, nil
}

// k8sCustomDeploy is k8s_custom_deploy(name, apply_cmd, delete_cmd, deps, ...): a resource
// deployed by user commands; apply_cmd prints the applied YAML.
func (s *State) k8sCustomDeploy(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, imageSelector, applyDir, deleteDir, containerSelector string
		applyCmd, deleteCmd, applyBat, deleteBat                    command
		deps, imageDeps                                             stringList
		liveUpdate                                                  starlark.Value
		applyEnv, deleteEnv                                         stringMap
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "apply_cmd", &applyCmd,
		"delete_cmd", &deleteCmd, "deps", &deps, "image_selector?", &imageSelector,
		"live_update?", &liveUpdate, "apply_dir?", &applyDir, "apply_env?", &applyEnv,
		"apply_cmd_bat?", &applyBat, "delete_dir?", &deleteDir, "delete_env?", &deleteEnv,
		"delete_cmd_bat?", &deleteBat, "container_selector?", &containerSelector,
		"image_deps?", &imageDeps); err != nil {
		return nil, err
	}
	if len(applyCmd) == 0 || len(deleteCmd) == 0 {
		return nil, fmt.Errorf("%s(%q): apply_cmd and delete_cmd are both required", b.Name(), name)
	}
	dirFor := func(d string) string {
		if d == "" {
			return s.rel(dirOf(t))
		}
		return s.rel(s.abs(t, d))
	}
	c := &customDeploy{name: name, pos: pos(t), cd: plan.CustomDeploy{
		ApplyCmd:  plan.Command{Argv: applyCmd, Dir: dirFor(applyDir), Env: applyEnv},
		DeleteCmd: plan.Command{Argv: deleteCmd, Dir: dirFor(deleteDir), Env: deleteEnv},
		ImageDeps: imageDeps,
	}}
	for _, d := range deps {
		abs := s.abs(t, d)
		s.host.RecordRead(abs)
		c.deps = append(c.deps, abs)
		c.cd.Deps = append(c.cd.Deps, s.rel(abs))
	}
	steps, err := s.takeSteps(b.Name(), name, liveUpdate)
	if err != nil {
		return nil, err
	}
	if len(steps) > 0 && imageSelector == "" && containerSelector == "" {
		return nil, fmt.Errorf("%s(%q): live_update needs image_selector= or container_selector= to know which containers to update", b.Name(), name)
	}
	c.steps = steps
	c.cd.ImageSelector, c.cd.ContainerSelector = imageSelector, containerSelector
	for _, other := range s.customs {
		if other.name == name {
			return nil, fmt.Errorf("%s: resource %q is already defined at %s", b.Name(), name, other.pos)
		}
	}
	s.customs = append(s.customs, c)
	return starlark.None, nil
}
