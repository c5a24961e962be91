package builtins

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/builtins/inject"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// assemble turns what the builtins recorded into a plan: images with content tags, resources
// grouped per workload with images injected, local resources, and the dependency graph.
func (s *State) assemble(thread *starlark.Thread) (*plan.Plan, error) {
	if err := s.checkUnusedSteps(); err != nil {
		return nil, err
	}
	p := &plan.Plan{
		Main:     s.rel(host0Path(s)),
		Dir:      s.host.Dir,
		Cluster:  s.cluster,
		Settings: s.settings,
	}
	// The context and namespace chosen on the command line, for the runtime.
	p.Settings.K8sContext, p.Settings.K8sNamespace = s.opts.Context, s.opts.Namespace
	if s.config.enabled != nil {
		p.Settings.EnabledResources = append([]string{}, s.config.enabled...)
	}

	var objects []plan.Object
	for _, e := range s.yaml {
		objects = append(objects, e.objects...)
	}
	if err := s.addConventionImages(); err != nil {
		return nil, err
	}
	if err := s.resolveImages(); err != nil {
		return nil, err
	}

	resources, err := s.groupResources(thread, objects)
	if err != nil {
		return nil, err
	}
	used, err := s.injectImages(resources)
	if err != nil {
		return nil, err
	}
	compose, composeImages, err := s.planCompose()
	if err != nil {
		return nil, err
	}
	for _, ref := range composeImages {
		used[ref] = true
	}
	// An image built FROM by a used image is used too.
	byRef := map[string]*imageTarget{}
	for _, img := range s.images {
		byRef[img.Ref] = img
	}
	var markUsed func(ref string)
	markUsed = func(ref string) {
		if byRef[ref] == nil {
			return
		}
		for _, d := range byRef[ref].ImageDeps {
			if !used[d] {
				used[d] = true
				markUsed(d)
			}
		}
	}
	for _, ref := range sortedStrings(used) {
		markUsed(ref)
	}
	for _, img := range s.images {
		pi := img.Image
		pi.Context = s.rel(img.contextAbs)
		if img.dockerfileAbs != "" {
			pi.Dockerfile = s.rel(img.dockerfileAbs)
		}
		if img.inferSync && img.pending == "" {
			if err := s.inferSyncs(img); err != nil {
				return nil, err
			}
		}
		pi.LiveUpdate = s.planSteps(img.steps)
		if pi.Custom != nil {
			deps := make([]string, len(img.customDeps))
			for i, d := range img.customDeps {
				deps[i] = s.rel(d)
			}
			pi.Custom.Deps = deps
			pi.Custom.Ignore = img.ignore
		}
		p.Images = append(p.Images, pi)
		if !used[img.Ref] && !s.suppressed(img) && img.Source != "convention" {
			s.warn("%s: image %q is built but no Kubernetes object uses it; reference it in a manifest, or remove the docker_build", img.Pos, img.Ref)
		}
	}
	p.Resources = resources
	names := map[string]bool{}
	for _, r := range resources {
		names[r.Name] = true
	}
	for _, lr := range s.locals {
		if names[lr.Name] {
			return nil, fmt.Errorf("%s: local_resource %q has the name of a Kubernetes resource; rename one", lr.Pos, lr.Name)
		}
		p.LocalResources = append(p.LocalResources, *lr)
	}
	for _, lr := range s.locals {
		names[lr.Name] = true
	}
	for _, cs := range compose {
		if names[cs.Name] {
			return nil, fmt.Errorf("%s: docker_compose service %q has the name of another resource; rename one with dc_resource(%q, new_name=...)", cs.Pos, cs.Name, cs.Name)
		}
		names[cs.Name] = true
	}
	p.ComposeServices = compose
	p.Buttons = s.planButtons(names)
	s.dropUnknownDeps(p)
	if _, err := plan.BuildGraph(p); err != nil {
		var cycle *plan.CycleError
		if errors.As(err, &cycle) {
			cycle.Where = s.declaredAt
		}
		return nil, err
	}
	p.WatchedFiles = s.host.FilesRead()
	p.Warnings = append([]string{}, s.warnings...)
	return p, nil
}

// declaredAt is where a graph node was declared: the k8s_resource() call that gave it
// resource_deps, the local_resource() call, or the image's builtin. "" if unknown.
func (s *State) declaredAt(n plan.NodeID) string {
	kind, name, _ := strings.Cut(string(n), ":")
	switch kind {
	case plan.NodeImage:
		for _, img := range s.images {
			if img.Ref == name {
				return img.Pos
			}
		}
	case plan.NodeResource:
		for _, lr := range s.locals {
			if lr.Name == name {
				return lr.Pos
			}
		}
		for _, r := range s.resources {
			if (r.workload == name || r.newName == name) && len(r.resourceDeps) > 0 {
				return r.pos
			}
		}
	}
	return ""
}

// host0Path is the main file's absolute path.
func host0Path(s *State) string { return s.mainPath }

func (s *State) suppressed(img *imageTarget) bool {
	for _, r := range s.settings.SuppressUnusedImageWarnings {
		if r == img.Ref || r == imageRepo(img) || r == "*" {
			return true
		}
	}
	return false
}

// addConventionImages adds an image for every kiln://NAME in the objects that no docker_build
// names: the folder NAME holding a Dockerfile. Errors name the k8s_yaml() call (file:line)
// whose objects hold the reference.
func (s *State) addConventionImages() error {
	wanted := map[string]string{} // NAME → where the first reference to it was declared
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case string:
			if name, ok := strings.CutPrefix(v, inject.Scheme); ok {
				if _, seen := wanted[name]; !seen {
					wanted[name] = where
				}
			}
		case map[string]any:
			for _, k := range sortedStrings(v) {
				walk(v[k], where)
			}
		case []any:
			for _, x := range v {
				walk(x, where)
			}
		}
	}
	for _, e := range s.yaml {
		for _, o := range e.objects {
			walk(map[string]any(o), fmt.Sprintf("%s: k8s_yaml(%s), %s", e.pos, e.source, o.Kind()+"/"+o.Name()))
		}
	}
	for _, img := range s.images {
		delete(wanted, img.Ref)
	}
	if len(wanted) == 0 {
		return nil
	}
	found, dups, err := s.scanConventions()
	if err != nil {
		return err
	}
	for _, name := range sortedStrings(wanted) {
		if dirs, ok := dups[name]; ok {
			return fmt.Errorf("%s: %v", wanted[name], s.ambiguousConvention(name, dirs))
		}
		loc, ok := found[name]
		if !ok {
			return fmt.Errorf("%s: kiln://%s: no folder named %q holds a file matching %s (found: %s); create %s/Dockerfile, or fix the name", wanted[name], name, name, s.convention.pattern, strings.Join(sortedStrings(found), ", "), name)
		}
		s.host.RecordRead(loc[0])
		s.host.RecordRead(loc[1])
		s.images = append(s.images, &imageTarget{
			Image:         plan.Image{Ref: name, Source: "convention", Pos: s.rel(loc[1])},
			contextAbs:    loc[0],
			dockerfileAbs: loc[1],
			inferSync:     true,
		})
	}
	return nil
}

// groupResources assembles resources as Tilt does: one per workload, Services, ConfigMaps,
// Secrets and PVCs attached to the workload that uses them, k8s_resource() applied, the rest
// in "uncategorized".
func (s *State) groupResources(thread *starlark.Thread, objects []plan.Object) ([]plan.Resource, error) {
	type res struct {
		plan.Resource
		workload plan.Object
		origName string
		uses     *workloadUses
	}
	var list []*res
	byName := map[string]*res{}
	isWorkload := make([]bool, len(objects))
	// grouped: objects of a release (helm_resource), which make one resource of their own.
	grouped := map[int]*objectGroup{}
	for i, o := range objects {
		for _, g := range s.groups {
			if g.keys[objectKey(o)] {
				grouped[i] = g
			}
		}
	}
	for i, o := range objects {
		if s.isWorkload(o) {
			isWorkload[i] = true
			if grouped[i] == nil {
				list = append(list, &res{workload: o, uses: newWorkloadUses(o)})
			}
		}
	}
	if err := s.nameWorkloads(thread, func(yield func(o plan.Object, set func(string))) {
		for _, r := range list {
			r := r
			yield(r.workload, func(n string) { r.Name = n; r.origName = n })
		}
	}); err != nil {
		return nil, err
	}
	for _, r := range list {
		if prev, dup := byName[r.Name]; dup {
			return nil, fmt.Errorf("workloads %s and %s both map to resource name %q; workload_to_resource_function must give unique names", prev.workload.ID(), r.workload.ID(), r.Name)
		}
		byName[r.Name] = r
		r.Workload = r.workload.ID()
		r.Objects = []plan.Object{r.workload}
		r.TriggerMode = s.settings.TriggerMode
		r.AutoInit = true
		r.PodReadiness = s.kindReadiness(r.workload)
	}

	// A release's objects, workloads and all, are one resource named after it, as Tilt's
	// helm_resource makes them. Its pods are those of every workload in it.
	for _, g := range s.groups {
		if prev := byName[g.name]; prev != nil {
			return nil, fmt.Errorf("%s: %s(%q): a resource already has that name", g.pos, g.fn, g.name)
		}
		r := &res{Resource: plan.Resource{Name: g.name, TriggerMode: s.settings.TriggerMode, AutoInit: true}, origName: g.name}
		for i, o := range objects {
			if grouped[i] != g {
				continue
			}
			r.Objects = append(r.Objects, o)
			if isWorkload[i] && r.Workload == "" {
				r.Workload, r.PodReadiness = o.ID(), s.kindReadiness(o)
			}
		}
		list = append(list, r)
		byName[g.name] = r
	}

	// k8s_custom_deploy() resources take k8s_resource() options too, as in Tilt. They come
	// after the workloads in the plan, as they always have.
	var customs []*res
	for _, c := range s.customs {
		if prev := byName[c.name]; prev != nil {
			return nil, fmt.Errorf("%s: k8s_custom_deploy(%q): a Kubernetes resource already has that name", c.pos, c.name)
		}
		cd := c.cd
		cd.LiveUpdate = s.planSteps(c.steps)
		cd.ImageDeps = nil
		for _, d := range c.cd.ImageDeps {
			if img := s.matchImage(d); img != nil {
				d = img.Ref // image_deps=['x:latest'] names the image built as x:latest
			}
			cd.ImageDeps = append(cd.ImageDeps, d)
		}
		r := &res{Resource: plan.Resource{Name: c.name, CustomDeploy: &cd, TriggerMode: s.settings.TriggerMode, AutoInit: true}, origName: c.name}
		customs = append(customs, r)
		byName[c.name] = r
	}

	// k8s_resource(): renames, options, explicit objects, and object-only resources. Calls
	// naming the same resource merge: lists add up, and the last value given wins.
	claimed := map[int]string{} // object index → resource name
	find := func(name string) *res {
		if r := byName[name]; r != nil {
			return r
		}
		for _, r := range list {
			if r.origName == name {
				return r
			}
		}
		for _, r := range customs {
			if r.origName == name {
				return r
			}
		}
		return nil
	}
	for _, opts := range s.resources {
		var r *res
		if opts.workload != "" {
			r = find(opts.workload)
			if r == nil {
				known := make([]string, 0, len(list))
				for _, x := range append(append([]*res{}, list...), customs...) {
					known = append(known, x.Name)
				}
				sort.Strings(known)
				return nil, fmt.Errorf("%s: k8s_resource(%q): no workload has that name (resources: %s); check the name, or use new_name= with objects= to group objects that have no workload", opts.pos, opts.workload, strings.Join(known, ", "))
			}
		} else {
			if byName[opts.newName] != nil {
				return nil, fmt.Errorf("%s: k8s_resource(new_name=%q): a resource already has that name", opts.pos, opts.newName)
			}
			r = &res{Resource: plan.Resource{Name: opts.newName, TriggerMode: s.settings.TriggerMode, AutoInit: true}}
			list = append(list, r)
			byName[r.Name] = r
		}
		if opts.workload != "" && opts.newName != "" && opts.newName != r.Name {
			if byName[opts.newName] != nil {
				return nil, fmt.Errorf("%s: k8s_resource(%q, new_name=%q): a resource already has that name", opts.pos, opts.workload, opts.newName)
			}
			delete(byName, r.Name)
			r.Name = opts.newName
			byName[r.Name] = r
		}
		if r.CustomDeploy != nil && len(opts.objects) > 0 {
			return nil, fmt.Errorf("%s: k8s_resource(%q): objects= cannot be given to a k8s_custom_deploy resource, whose apply_cmd applies what it deploys; group the objects in a resource of their own with new_name=", opts.pos, r.Name)
		}
		for _, sel := range opts.objects {
			idx, err := selectObject(objects, isWorkload, sel)
			if err != nil {
				return nil, fmt.Errorf("%s: k8s_resource(%q): objects: %v", opts.pos, r.Name, err)
			}
			if g := grouped[idx]; g != nil {
				return nil, fmt.Errorf("%s: k8s_resource(%q): object %s belongs to %s(%q)", opts.pos, r.Name, objects[idx].ID(), g.fn, g.name)
			}
			if prev, ok := claimed[idx]; ok && prev != r.Name {
				return nil, fmt.Errorf("%s: k8s_resource(%q): object %s already belongs to resource %q", opts.pos, r.Name, objects[idx].ID(), prev)
			}
			claimed[idx] = r.Name
		}
		r.PortForwards = append(r.PortForwards, opts.portForwards...)
		r.Links = append(r.Links, opts.links...)
		r.Labels = appendNew(r.Labels, opts.labels...)
		for _, d := range opts.resourceDeps {
			s.noteDep(r.Name, d, opts.pos)
		}
		r.ResourceDeps = appendNew(r.ResourceDeps, opts.resourceDeps...)
		r.ExtraPodSelectors = append(r.ExtraPodSelectors, opts.extraPodSelectors...)
		if opts.triggerMode != "" {
			r.TriggerMode = opts.triggerMode
		}
		if opts.autoInit != nil {
			r.AutoInit = *opts.autoInit
		}
		if opts.podReadiness != "" {
			r.PodReadiness = opts.podReadiness
		}
		if opts.discoveryStrategy != "" {
			r.DiscoveryStrategy = opts.discoveryStrategy
		}
	}

	// Attach the remaining objects: explicit claims first, then by use, then uncategorized.
	var uncategorized []plan.Object
	for i, o := range objects {
		if isWorkload[i] || grouped[i] != nil {
			continue
		}
		if name, ok := claimed[i]; ok {
			byName[name].Objects = append(byName[name].Objects, o)
			continue
		}
		owner := ""
		for _, r := range list {
			if r.workload != nil && r.uses.uses(o) {
				owner = r.Name
				break
			}
		}
		if owner != "" {
			byName[owner].Objects = append(byName[owner].Objects, o)
			continue
		}
		uncategorized = append(uncategorized, o)
	}

	var out []plan.Resource
	if len(uncategorized) > 0 {
		if byName["uncategorized"] != nil {
			byName["uncategorized"].Objects = append(byName["uncategorized"].Objects, uncategorized...)
		} else {
			out = append(out, plan.Resource{Name: "uncategorized", Objects: uncategorized, TriggerMode: s.settings.TriggerMode, AutoInit: true})
		}
	}
	for _, r := range list {
		out = append(out, r.Resource)
	}
	for _, r := range customs {
		out = append(out, r.Resource)
	}
	for i := range out {
		if out[i].Objects == nil {
			out[i].Objects = []plan.Object{}
		}
	}
	return out, nil
}

// nameWorkloads names each workload's resource: its name, or name:kind, name:kind:namespace
// when names collide, as Tilt does; or what workload_to_resource_function returns.
func (s *State) nameWorkloads(thread *starlark.Thread, each func(func(o plan.Object, set func(string)))) error {
	type item struct {
		o   plan.Object
		set func(string)
	}
	var items []item
	each(func(o plan.Object, set func(string)) { items = append(items, item{o, set}) })
	if s.workloadToResource != nil {
		for _, it := range items {
			id := newStruct(starlark.StringDict{
				"name":      starlark.String(it.o.Name()),
				"kind":      starlark.String(it.o.Kind()),
				"namespace": starlark.String(it.o.Namespace()),
				"group":     starlark.String(it.o.Group()),
			})
			v, err := starlark.Call(thread, s.workloadToResource, starlark.Tuple{id}, nil)
			if err != nil {
				return fmt.Errorf("workload_to_resource_function: %v", err)
			}
			name, ok := starlark.AsString(v)
			if !ok || name == "" {
				return fmt.Errorf("workload_to_resource_function returned %s for %s; it must return a non-empty string", v.String(), it.o.ID())
			}
			it.set(name)
		}
		return nil
	}
	levels := []func(o plan.Object) string{
		func(o plan.Object) string { return o.Name() },
		func(o plan.Object) string { return o.Name() + ":" + strings.ToLower(o.Kind()) },
		func(o plan.Object) string {
			return o.Name() + ":" + strings.ToLower(o.Kind()) + ":" + o.Namespace()
		},
		func(o plan.Object) string {
			return o.Name() + ":" + strings.ToLower(o.Kind()) + ":" + o.Namespace() + ":" + o.Group()
		},
	}
	counts := make([]map[string]int, len(levels))
	for li, level := range levels {
		counts[li] = map[string]int{}
		for _, it := range items {
			counts[li][level(it.o)]++
		}
	}
	for _, it := range items {
		for li, level := range levels {
			if name := level(it.o); counts[li][name] == 1 || li == len(levels)-1 {
				it.set(name)
				break
			}
		}
	}
	return nil
}

// workloadKinds have a pod template (or are pods): each is its own resource.
var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true,
	"Job": true, "CronJob": true, "Pod": true, "ReplicationController": true,
}

func (s *State) isWorkload(o plan.Object) bool {
	if workloadKinds[o.Kind()] && (o.Group() == "" || o.Group() == "apps" || o.Group() == "batch") {
		return true
	}
	for _, k := range s.kinds {
		if k.kind.MatchString(o.Kind()) && (k.apiVersion == "" || k.apiVersion == o.APIVersion()) {
			return true
		}
	}
	return false
}

func (s *State) kindReadiness(o plan.Object) string {
	for _, k := range s.kinds {
		if k.kind.MatchString(o.Kind()) && k.podReadiness != "" {
			return k.podReadiness
		}
	}
	return ""
}

// selectObject finds the one non-workload object a "name[:kind[:namespace]]" selector names.
func selectObject(objects []plan.Object, isWorkload []bool, sel string) (int, error) {
	parts := strings.Split(sel, ":")
	if len(parts) > 3 || parts[0] == "" {
		return -1, fmt.Errorf("%q: want NAME, NAME:KIND or NAME:KIND:NAMESPACE", sel)
	}
	match := -1
	for i, o := range objects {
		if o.Name() != parts[0] {
			continue
		}
		if len(parts) > 1 && !strings.EqualFold(o.Kind(), parts[1]) {
			continue
		}
		if len(parts) > 2 && o.Namespace() != parts[2] {
			continue
		}
		if isWorkload[i] {
			return -1, fmt.Errorf("%q is a workload (%s), which is its own resource; name it with workload= instead", sel, o.ID())
		}
		if match >= 0 {
			return -1, fmt.Errorf("%q matches %s and %s; add the kind and namespace (NAME:KIND:NAMESPACE)", sel, objects[match].ID(), o.ID())
		}
		match = i
	}
	if match < 0 {
		return -1, fmt.Errorf("no object matches %q", sel)
	}
	return match, nil
}

// injectImages puts built image refs into every resource's objects and records which
// images each resource uses. It returns the refs used anywhere.
func (s *State) injectImages(resources []plan.Resource) (map[string]bool, error) {
	imgs := make([]inject.Image, len(s.images))
	for i, img := range s.images {
		imgs[i] = inject.Image{Ref: img.Ref, MatchTag: img.MatchTag, FullRef: img.FullRef(), MatchInEnvVars: img.MatchInEnvVars, Entrypoint: img.Entrypoint}
	}
	var paths []inject.Path
	for _, k := range s.kinds {
		// k8s_kind kinds are regexps; injection matches exact kinds, so expand them per object.
		for _, r := range resources {
			for _, o := range r.Objects {
				if !k.kind.MatchString(o.Kind()) {
					continue
				}
				for _, jp := range k.jsonPaths {
					paths = append(paths, inject.Path{Kind: o.Kind(), APIVersion: k.apiVersion, JSONPath: jp})
				}
				if k.imageObject != nil {
					paths = append(paths, inject.Path{Kind: o.Kind(), APIVersion: k.apiVersion, JSONPath: k.imageObject.jsonPath, RepoField: k.imageObject.repoField, TagField: k.imageObject.tagField})
				}
			}
		}
	}
	paths = dedupePaths(paths)
	inj, err := inject.New(imgs, paths)
	if err != nil {
		return nil, err
	}
	inj.Convention = func(name string) (int, error) {
		for i, img := range s.images {
			if img.Ref == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("kiln://%s: no image of that name", name)
	}
	used := map[string]bool{}
	for ri := range resources {
		r := &resources[ri]
		refs := map[string]bool{}
		for _, o := range r.Objects {
			res, err := inj.Inject(o)
			if err != nil {
				return nil, fmt.Errorf("resource %q, object %s: %v", r.Name, o.ID(), err)
			}
			for _, i := range res.Used {
				refs[s.images[i].Ref] = true
			}
			if len(res.Used) > 0 && o.Kind() == "StatefulSet" {
				// Pods of a StatefulSet must all roll together when an image changes, as Tilt does.
				if spec, ok := o["spec"].(map[string]any); ok {
					spec["podManagementPolicy"] = "Parallel"
				}
			}
		}
		if r.CustomDeploy != nil {
			for _, ref := range r.CustomDeploy.ImageDeps {
				refs[ref] = true
			}
		}
		r.Images = sortedStrings(refs)
		for ref := range refs {
			used[ref] = true
		}
	}
	return used, nil
}

func dedupePaths(paths []inject.Path) []inject.Path {
	seen := map[inject.Path]bool{}
	var out []inject.Path
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// tagFor makes the content tag from the digest of every build input.
func tagFor(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return "kiln-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// appendNew appends to list each of items it does not hold yet.
func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// noteDep records where resource_deps of resource first named dep, for warnings.
func (s *State) noteDep(resource, dep, at string) {
	if s.depPos == nil {
		s.depPos = map[[2]string]string{}
	}
	if _, ok := s.depPos[[2]string{resource, dep}]; !ok {
		s.depPos[[2]string{resource, dep}] = at
	}
}

// depAt is where resource_deps of resource named dep: the k8s_resource() call, also when a
// later call renamed the resource; else def.
func (s *State) depAt(resource, dep, def string) string {
	if w, ok := s.depPos[[2]string{resource, dep}]; ok {
		return w
	}
	var found []string
	for k, w := range s.depPos {
		if k[1] == dep {
			found = append(found, w)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return def
}

// dropUnknownDeps removes from p each resource_deps entry that names no resource of the
// project, with a warning naming where it was given, as Tilt does: a Tiltfile often names a
// resource that only some configurations create.
func (s *State) dropUnknownDeps(p *plan.Plan) {
	known := map[string]bool{}
	for _, r := range p.Resources {
		known[r.Name] = true
	}
	for _, lr := range p.LocalResources {
		known[lr.Name] = true
	}
	for _, cs := range p.ComposeServices {
		known[cs.Name] = true
	}
	keep := func(name, at string, deps []string) []string {
		var out []string
		for _, d := range deps {
			if known[d] {
				out = append(out, d)
				continue
			}
			if _, repo := s.helmRepos[d]; repo {
				continue // a helm_repo() has nothing to wait for in kiln
			}
			where := s.depAt(name, d, at)
			if where != "" {
				where += ": "
			}
			s.warn("%sresource %q: resource_deps names %q, which is not a resource of this project (known: %s); the dependency is dropped", where, name, d, strings.Join(sortedStrings(known), ", "))
		}
		return out
	}
	for i := range p.Resources {
		if len(p.Resources[i].ResourceDeps) > 0 {
			p.Resources[i].ResourceDeps = keep(p.Resources[i].Name, "", p.Resources[i].ResourceDeps)
		}
	}
	for i := range p.LocalResources {
		if len(p.LocalResources[i].ResourceDeps) > 0 {
			p.LocalResources[i].ResourceDeps = keep(p.LocalResources[i].Name, p.LocalResources[i].Pos, p.LocalResources[i].ResourceDeps)
		}
	}
	for i := range p.ComposeServices {
		if cs := &p.ComposeServices[i]; len(cs.ResourceDeps) > 0 {
			cs.ResourceDeps = keep(cs.Name, cs.Pos, cs.ResourceDeps)
		}
	}
}
