// Package engine executes a plan on a cluster: it builds images, loads them into kind, applies
// resources in dependency order and waits until they are ready, runs local resources, and
// prunes what the project no longer declares. It schedules the runtime packages; they don't
// call each other.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/build"
	"github.com/kiln-dev/kiln/runtime/cluster"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/ready"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// Options configure a run.
type Options struct {
	Out io.Writer
	// Context and Namespace come from the command line ("" = the plan's, then kubeconfig's).
	Context, Namespace string
	// Timeout bounds the whole run (0 = ci_settings timeout).
	Timeout time.Duration
	// CacheDir is the content-hash cache evaluation used ("" = none); builds use it to check
	// cheaply that their inputs did not change while they ran.
	CacheDir string
	// Replan re-evaluates the project. The engine calls it before building when a local
	// resource ran, because its command may have changed files that image tags hash, and with
	// the cluster's local registry (KEP-1755) when it advertises one and the Kilnfile names
	// no default_registry, so that images are pushed there instead of loaded.
	Replan func(registry string) (*plan.Plan, error)
}

// Step durations of one resource.
type ResourceResult struct {
	Name   string
	Kind   string // "k8s", "local" or "image"
	Status string // "ready", "skipped", "failed", "not started"
	Steps  []Step
	Err    error
}

// Step is one timed step of a resource: build, load, apply, ready, run, serve.
type Step struct {
	Name     string
	Duration time.Duration
	Note     string // "cached", "3 objects", ...
}

// Summary is what a run did.
type Summary struct {
	Context  string
	Results  []*ResourceResult
	Built    []string // image refs actually built
	Loaded   []string // image refs loaded into the cluster
	Pruned   []string // objects deleted because the project no longer declares them
	Duration time.Duration
}

// Run executes p once: everything up and ready, or an error. It is kiln's CI mode. Unless
// secret_settings(disable_scrub=True), the values of the project's Secrets are scrubbed from
// everything it prints and from its error.
func Run(ctx context.Context, p *plan.Plan, opts Options) (*Summary, error) {
	scrub := secretScrubber(p)
	out := output.New(opts.Out)
	out.ScrubWith(scrub)
	sum, err := runOnce(ctx, p, opts, out)
	return sum, scrub.ScrubError(err)
}

func runOnce(ctx context.Context, p *plan.Plan, opts Options, out *output.Printer) (*Summary, error) {
	start := time.Now()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Duration(p.Settings.CITimeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	e := &runner{plan: p, opts: opts, out: out, results: map[string]*ResourceResult{}}
	sum := &Summary{}
	defer func() { sum.Duration = time.Since(start) }()

	kctx, err := TargetContext(p, opts.Context)
	if err != nil {
		return sum, err
	}
	sum.Context = kctx
	if p.Cluster != nil {
		// The project's own kind cluster: made to exist first, so that the guard can check
		// that the context is that cluster.
		if err := timed(out, "cluster", "ensure kind cluster "+p.Cluster.Name, func() error {
			return cluster.Ensure(ctx, p.Cluster, out.Writer("cluster"))
		}); err != nil {
			return sum, err
		}
	}
	scoped, err := guard(ctx, p, kctx)
	if err != nil {
		return sum, err
	}
	defer scoped.Remove()
	e.kubeEnv = scoped.Env()
	e.kindName, e.isKind = cluster.KindName(kctx)
	if e.kc, err = kube.Connect(kctx); err != nil {
		return sum, err
	}
	ns := opts.Namespace
	if ns == "" {
		ns = p.Settings.K8sNamespace
	}
	if len(p.Images) > 0 && p.Settings.DefaultRegistry == "" && opts.Replan != nil {
		if host, ok, err := cluster.LocalRegistry(ctx, e.kc.Client); err == nil && ok {
			out.Line("cluster", "the cluster advertises the local registry %s: images are pushed there", host)
			e.registry = host
			if p, err = opts.Replan(host); err != nil {
				return sum, err
			}
			e.plan = p
		}
	}
	e.applier = apply.New(e.kc, apply.ProjectID(p.Dir), ns)
	e.applier.UpsertTimeout = time.Duration(p.Settings.K8sUpsertTimeout) * time.Second
	// Every resource gets a row in the summary, in plan order, even if it never starts.
	for _, img := range p.Images {
		e.result("image "+img.Ref, "image")
	}
	for _, lr := range p.LocalResources {
		e.result(lr.Name, "local")
	}
	for _, r := range p.Resources {
		e.result(r.Name, "k8s")
	}
	e.checker = ready.New(e.kc)
	if len(p.Images) > 0 {
		d, err := docker.Connect(ctx)
		if err != nil {
			return sum, err
		}
		defer d.Close()
		e.builder = build.New(d)
		e.builder.Env = e.kubeEnv
		e.builder.CacheDir = opts.CacheDir
		e.docker = d
		defer e.builder.Close()
	}
	defer e.stopServers()

	old, err := e.applier.LoadInventory(ctx)
	if err != nil {
		return sum, err
	}
	runErr := e.run(ctx)
	sum.Results = e.orderedResults()
	sum.Built, sum.Loaded = e.built, e.loaded
	if runErr != nil {
		// Keep track of everything kiln may have applied, so a later run can prune it.
		_ = e.applier.SaveInventory(context.WithoutCancel(ctx), union(old, e.applied))
		return sum, runErr
	}
	stale := e.prunable(old)
	if len(stale) > 0 {
		pruned, err := e.applier.Delete(ctx, reverse(stale))
		for _, r := range pruned {
			sum.Pruned = append(sum.Pruned, r.String())
			out.Line(r.Resource, "prune  %s (no longer in the project)", r)
		}
		if err != nil {
			_ = e.applier.SaveInventory(context.WithoutCancel(ctx), union(old, e.applied))
			return sum, err
		}
	}
	keep := e.keptFrom(old)
	if len(stale) > 0 || !sameRefs(old, union(e.applied, keep)) {
		if err := e.applier.SaveInventory(ctx, union(e.applied, keep)); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// TargetContext is the kubeconfig context a plan runs against: the kind cluster it declares,
// else the --context flag, else kubeconfig's current context.
func TargetContext(p *plan.Plan, flag string) (string, error) {
	if p.Cluster != nil {
		if flag != "" && flag != p.Cluster.Context {
			return "", fmt.Errorf("--context %s conflicts with kind_cluster(%q) in the Kilnfile, whose context is %s", flag, p.Cluster.Name, p.Cluster.Context)
		}
		return p.Cluster.Context, nil
	}
	if flag != "" {
		return flag, nil
	}
	if p.Settings.K8sContext != "" {
		return p.Settings.K8sContext, nil
	}
	return kube.CurrentContext()
}

// runner is the state of one run.
type runner struct {
	mu         sync.Mutex
	plan       *plan.Plan
	stale      bool // a local resource ran since the plan was made
	opts       Options
	out        *output.Printer
	kc         *kube.Cluster
	docker     *docker.Client
	registry   string // the cluster's local registry, when it advertises one
	applier    *apply.Applier
	checker    *ready.Checker
	builder    *build.Builder
	kindName   string
	isKind     bool
	nodeImages map[string]map[string]bool // node → images, see nodesReport
	nodesOnce  sync.Once
	servers    []*local.Server
	// kubeEnv confines every command kiln starts to the checked context (kube.Scoped.Env).
	kubeEnv map[string]string

	results map[string]*ResourceResult
	order   []string
	applied []apply.Ref
	built   []string
	loaded  []string
}

func (e *runner) result(name, kind string) *ResourceResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.results[name]
	if r == nil {
		r = &ResourceResult{Name: name, Kind: kind, Status: "not started"}
		e.results[name] = r
		e.order = append(e.order, name)
	}
	return r
}

func (e *runner) orderedResults() []*ResourceResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*ResourceResult, 0, len(e.order))
	for _, n := range e.order {
		out = append(out, e.results[n])
	}
	return out
}

// current returns the plan to use now, re-evaluating it first when a local resource ran.
func (e *runner) current() (*plan.Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stale && e.opts.Replan != nil {
		np, err := e.opts.Replan(e.registry)
		if err != nil {
			return nil, fmt.Errorf("re-evaluate after local resources ran: %w", err)
		}
		e.plan, e.stale = np, false
	}
	return e.plan, nil
}

// run schedules every node of the plan's graph: a node starts when its dependencies are done,
// at most max_parallel_updates at a time. The first failure cancels the rest.
func (e *runner) run(ctx context.Context) error {
	p := e.plan
	g, err := plan.BuildGraph(p)
	if err != nil {
		return err
	}
	if err := e.applyClusterScoped(ctx); err != nil {
		return err
	}
	enabled := enabledSet(p)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(p.Settings.MaxParallelUpdates, 1))
	done := map[plan.NodeID]chan struct{}{}
	for _, n := range g.Nodes {
		done[n] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, n := range g.Order() {
		n := n
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[n])
			for _, d := range g.Deps[n] {
				select {
				case <-done[d]:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := e.runNode(ctx, n, enabled); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func enabledSet(p *plan.Plan) map[string]bool {
	if len(p.Settings.EnabledResources) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, n := range p.Settings.EnabledResources {
		m[n] = true
	}
	return m
}

func (e *runner) runNode(ctx context.Context, n plan.NodeID, enabled map[string]bool) error {
	kind, name, _ := strings.Cut(string(n), ":")
	switch kind {
	case plan.NodeImage:
		return e.buildImage(ctx, name)
	case plan.NodeResource:
		p, err := e.current()
		if err != nil {
			return err
		}
		skip := func(autoInit bool, kind string) bool {
			if !autoInit || enabled != nil && !enabled[name] {
				e.result(name, kind).Status = "skipped"
				return true
			}
			return false
		}
		for i := range p.Resources {
			if r := &p.Resources[i]; r.Name == name {
				if skip(r.AutoInit, "k8s") {
					return nil
				}
				return e.deploy(ctx, p, r)
			}
		}
		for i := range p.LocalResources {
			if lr := &p.LocalResources[i]; lr.Name == name {
				if skip(lr.AutoInit, "local") {
					return nil
				}
				return e.runLocal(ctx, p, lr)
			}
		}
		return fmt.Errorf("resource %q vanished from the project after re-evaluation", name)
	}
	return nil
}

// buildImage builds one image (skipped when its content tag exists) and loads it into kind
// (skipped when the nodes have it).
func (e *runner) buildImage(ctx context.Context, ref string) error {
	label := "image " + ref
	res := e.result(label, "image")
	w := e.out.Writer(label)
	defer w.Flush()
	p, img, br, err := e.buildCurrent(ctx, ref, w)
	if err != nil {
		res.Status, res.Err = "failed", err
		return err
	}
	note := "built"
	if br.Skipped {
		note = "up to date"
	} else {
		e.mu.Lock()
		e.built = append(e.built, br.Ref)
		e.mu.Unlock()
	}
	res.Steps = append(res.Steps, Step{Name: "build", Duration: br.Duration, Note: note})
	e.out.Line(label, "build  %s: %s in %s", br.Ref, note, round(br.Duration))
	if p.Settings.DefaultRegistry != "" && (img.Custom == nil || !img.Custom.DisablePush && !img.Custom.SkipsLocal) {
		start := time.Now()
		if err := e.docker.Push(ctx, br.Ref); err != nil {
			res.Status, res.Err = "failed", err
			return err
		}
		res.Steps = append(res.Steps, Step{Name: "push", Duration: time.Since(start)})
		e.out.Line(label, "push   %s in %s", br.Ref, round(time.Since(start)))
	} else if e.isKind && (img.Custom == nil || !img.Custom.SkipsLocal) {
		start := time.Now()
		// A fixed custom_build tag says nothing about content: compare image IDs on the nodes.
		fixedTag := img.Custom != nil && img.Custom.Tag != ""
		if !fixedTag && e.nodesReport(ctx, br.Ref) {
			res.Steps = append(res.Steps, Step{Name: "load", Duration: time.Since(start), Note: "already on the nodes"})
			e.out.Line(label, "load   %s: already on the nodes (API) in %s", br.Ref, round(time.Since(start)))
			res.Status = "ready"
			return nil
		}
		loaded, err := cluster.LoadImages(ctx, e.kindName, []string{br.Ref}, w)
		if err != nil {
			res.Status, res.Err = "failed", err
			return fmt.Errorf("load %s into kind cluster %s: %w", br.Ref, e.kindName, err)
		}
		note := "already on the nodes"
		if len(loaded) > 0 {
			note = "loaded"
			e.mu.Lock()
			e.loaded = append(e.loaded, loaded...)
			e.mu.Unlock()
		}
		res.Steps = append(res.Steps, Step{Name: "load", Duration: time.Since(start), Note: note})
		e.out.Line(label, "load   %s: %s in %s", br.Ref, note, round(time.Since(start)))
	}
	res.Status = "ready"
	return nil
}

// maxRebuilds bounds how often an image whose inputs keep changing during its build is
// re-hashed and built again in one run.
const maxRebuilds = 3

// buildCurrent builds image ref of the current plan. When its inputs changed while it was
// being built (build.InputsChangedError: the result was not kept), the project is
// re-evaluated, so that the tag names the new content, and the image built again.
func (e *runner) buildCurrent(ctx context.Context, ref string, w io.Writer) (*plan.Plan, *plan.Image, build.Result, error) {
	for attempt := 1; ; attempt++ {
		p, err := e.current()
		if err != nil {
			return nil, nil, build.Result{}, err
		}
		img, deps := findImage(p, ref)
		if img == nil {
			return nil, nil, build.Result{}, fmt.Errorf("image %q vanished from the project after re-evaluation", ref)
		}
		br, err := e.builder.Build(ctx, p, img, deps, w, "")
		var changed *build.InputsChangedError
		if !errors.As(err, &changed) || attempt == maxRebuilds || e.opts.Replan == nil {
			return p, img, br, err
		}
		e.out.Line("image "+ref, "build  %v; re-hashing and building again", changed)
		e.mu.Lock()
		e.stale = true
		e.mu.Unlock()
	}
}

// findImage returns image ref of p and the full refs of the plan images it builds FROM.
func findImage(p *plan.Plan, ref string) (*plan.Image, map[string]string) {
	var img *plan.Image
	for i := range p.Images {
		if p.Images[i].Ref == ref {
			img = &p.Images[i]
		}
	}
	if img == nil {
		return nil, nil
	}
	deps := map[string]string{}
	for _, d := range img.ImageDeps {
		for i := range p.Images {
			if p.Images[i].Ref == d {
				deps[d] = p.Images[i].FullRef()
			}
		}
	}
	return img, deps
}

// applyClusterScoped applies every Namespace, then every CRD (waiting until established),
// before any resource: other objects live in those namespaces or are of those kinds.
func (e *runner) applyClusterScoped(ctx context.Context) error {
	for _, kind := range []string{"Namespace", "CustomResourceDefinition"} {
		var crds []string
		for _, r := range e.plan.Resources {
			var objs []plan.Object
			for _, o := range r.Objects {
				if o.Kind() == kind {
					objs = append(objs, o)
					if kind == "CustomResourceDefinition" {
						crds = append(crds, o.Name())
					}
				}
			}
			if len(objs) == 0 {
				continue
			}
			refs, err := e.applier.Apply(ctx, r.Name, objs)
			e.addApplied(refs)
			if err != nil {
				return err
			}
		}
		if len(crds) > 0 {
			if err := e.applier.WaitEstablished(ctx, crds); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *runner) addApplied(refs []apply.Ref) {
	e.mu.Lock()
	e.applied = append(e.applied, refs...)
	e.mu.Unlock()
}

// deploy applies one resource's objects and waits until its workloads are ready.
func (e *runner) deploy(ctx context.Context, p *plan.Plan, r *plan.Resource) error {
	res := e.result(r.Name, "k8s")
	if r.CustomDeploy != nil {
		return e.customDeploy(ctx, p, r, res)
	}
	var objs []plan.Object
	for _, o := range r.Objects {
		if o.Kind() != "Namespace" && o.Kind() != "CustomResourceDefinition" {
			objs = append(objs, o)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return plan.InstallRank(objs[i].Kind()) < plan.InstallRank(objs[j].Kind()) })
	start := time.Now()
	refs, err := e.applier.Apply(ctx, r.Name, objs)
	e.addApplied(refs)
	if err != nil {
		res.Status, res.Err = "failed", err
		return fmt.Errorf("resource %s: %w", r.Name, err)
	}
	res.Steps = append(res.Steps, Step{Name: "apply", Duration: time.Since(start), Note: fmt.Sprintf("%d objects", len(refs))})
	e.out.Line(r.Name, "apply  %d objects in %s", len(refs), round(time.Since(start)))

	var workloads []*unstructured.Unstructured
	for _, o := range objs {
		u, _, err := e.applier.Prepare(o, r.Name)
		if err != nil {
			return err
		}
		workloads = append(workloads, u)
	}
	return e.waitReady(ctx, r, res, workloads)
}

// waitReady waits, within ci_settings(readiness_timeout=), until a resource's objects are
// ready, and records the step.
func (e *runner) waitReady(ctx context.Context, r *plan.Resource, res *ResourceResult, objs []*unstructured.Unstructured) error {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, time.Duration(e.plan.Settings.ReadinessTimeout)*time.Second)
	defer cancel()
	if err := e.checker.Wait(rctx, objs, r.PodReadiness); err != nil {
		res.Status, res.Err = "failed", err
		return fmt.Errorf("resource %s: %w", r.Name, err)
	}
	res.Steps = append(res.Steps, Step{Name: "ready", Duration: time.Since(start)})
	e.out.Line(r.Name, "ready  in %s", round(time.Since(start)))
	res.Status = "ready"
	return nil
}

// runLocal runs a local resource's cmd, then starts its serve_cmd and waits for its probe.
func (e *runner) runLocal(ctx context.Context, p *plan.Plan, lr *plan.LocalResource) error {
	res := e.result(lr.Name, "local")
	w := e.out.Writer(lr.Name)
	defer w.Flush()
	if lr.Cmd != nil {
		start := time.Now()
		e.out.Line(lr.Name, "run    %s", strings.Join(lr.Cmd.Argv, " "))
		err := local.Run(ctx, p.Dir, lr.Cmd, e.kubeEnv, w)
		w.Flush()
		e.mu.Lock()
		e.stale = true // the command may have changed files that image tags cover
		e.mu.Unlock()
		if err != nil {
			res.Status, res.Err = "failed", err
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		res.Steps = append(res.Steps, Step{Name: "run", Duration: time.Since(start)})
		e.out.Line(lr.Name, "done   in %s", round(time.Since(start)))
	}
	if lr.ServeCmd != nil {
		start := time.Now()
		srv, err := local.Serve(context.WithoutCancel(ctx), p.Dir, lr.ServeCmd, e.kubeEnv, w)
		if err != nil {
			res.Status, res.Err = "failed", err
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		e.mu.Lock()
		e.servers = append(e.servers, srv)
		e.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, time.Duration(e.plan.Settings.ReadinessTimeout)*time.Second)
		defer cancel()
		if err := srv.WaitReady(rctx, p.Dir, lr.ReadinessProbe); err != nil {
			res.Status, res.Err = "failed", err
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		res.Steps = append(res.Steps, Step{Name: "serve", Duration: time.Since(start)})
		e.out.Line(lr.Name, "serving, ready in %s", round(time.Since(start)))
	}
	res.Status = "ready"
	return nil
}

func (e *runner) stopServers() {
	e.mu.Lock()
	servers := e.servers
	e.servers = nil
	e.mu.Unlock()
	for _, s := range servers {
		s.Stop()
	}
}

// timed runs fn and prints how long it took.
func timed(out *output.Printer, resource, what string, fn func() error) error {
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	out.Line(resource, "%s: done in %s", what, round(time.Since(start)))
	return nil
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

func union(a, b []apply.Ref) []apply.Ref {
	seen := map[apply.Ref]bool{}
	var out []apply.Ref
	for _, r := range append(append([]apply.Ref{}, a...), b...) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func sameRefs(a, b []apply.Ref) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[apply.Ref]int{}
	for _, r := range a {
		seen[r]++
	}
	for _, r := range b {
		if seen[r] == 0 {
			return false
		}
		seen[r]--
	}
	return true
}

// reverse orders refs for deletion: dependents first (reverse install rank).
func reverse(refs []apply.Ref) []apply.Ref {
	out := append([]apply.Ref{}, refs...)
	sort.SliceStable(out, func(i, j int) bool { return plan.InstallRank(out[i].Kind) > plan.InstallRank(out[j].Kind) })
	return out
}

// nodesReport reports whether every node is known to have the image, from the API alone: the
// kubelet lists its node's images in the node status, and a running container's image is on
// its node. An image loaded on an earlier run is then found with two API calls instead of a
// command in each node. The status list is capped (50 images by default, the biggest first)
// and refreshed every few seconds, so small images drop out of it on busy nodes; the running
// pods of an unchanged project cover those. Otherwise LoadImages checks the nodes themselves.
func (e *runner) nodesReport(ctx context.Context, ref string) bool {
	name, err := cluster.ContainerdName(ref)
	if err != nil {
		return false
	}
	e.nodesOnce.Do(func() { e.nodeImages = listNodeImages(ctx, e.kc.Client) })
	if len(e.nodeImages) == 0 {
		return false
	}
	for _, images := range e.nodeImages {
		if !images[name] {
			return false
		}
	}
	return true
}

// listNodeImages maps each node's name to the images the API says it has (containerd names):
// those of its status, and those of the containers running on it. nil if the API can't say.
func listNodeImages(ctx context.Context, client kubernetes.Interface) map[string]map[string]bool {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		return nil
	}
	out := map[string]map[string]bool{}
	add := func(node, ref string) {
		if name, err := cluster.ContainerdName(ref); err == nil && out[node] != nil {
			out[node][name] = true
		}
	}
	for _, n := range nodes.Items {
		out[n.Name] = map[string]bool{}
		for _, img := range n.Status.Images {
			for _, nm := range img.Names {
				add(n.Name, nm)
			}
		}
	}
	// ResourceVersion "0": served from the API server's cache, cheap even with many pods.
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return out
	}
	for _, pod := range pods.Items {
		for _, st := range pod.Status.ContainerStatuses {
			if st.State.Running != nil {
				add(pod.Spec.NodeName, st.Image)
			}
		}
	}
	return out
}

// keptFrom returns the objects of the old inventory that a run keeps although it did not apply
// them: those of resources it skipped (auto_init=False, not enabled) — disabling a resource
// must not delete it — and Namespaces, which only kiln down --delete-namespaces removes,
// because deleting one deletes everything in it.
func (e *runner) keptFrom(old []apply.Ref) []apply.Ref {
	skipped := map[string]bool{}
	for _, r := range e.orderedResults() {
		if r.Status == "skipped" {
			skipped[r.Name] = true
		}
	}
	var keep []apply.Ref
	for _, r := range apply.Stale(old, e.applied) {
		if skipped[r.Resource] || r.Kind == "Namespace" {
			keep = append(keep, r)
		}
	}
	return keep
}

// prunable returns what the project no longer declares: objects of the old inventory this
// run did not apply, less those it keeps.
func (e *runner) prunable(old []apply.Ref) []apply.Ref {
	return apply.Stale(apply.Stale(old, e.applied), e.keptFrom(old))
}
