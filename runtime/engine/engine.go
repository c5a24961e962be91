// Package engine executes a plan on a cluster: it builds images, loads them into kind, applies
// resources in dependency order and waits until they are ready, runs local resources, and
// prunes what the project no longer declares. It schedules the runtime packages; they don't
// call each other.
package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/build"
	"github.com/kiln-dev/kiln/runtime/cluster"
	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/ready"
	"github.com/kiln-dev/kiln/runtime/status"
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
	// Replan re-evaluates the project. The engine calls it with the cluster's local registry
	// (KEP-1755) when it advertises one and the Kilnfile names no default_registry, so that
	// images are pushed there instead of loaded.
	Replan func(registry string) (*plan.Plan, error)
	// Retag re-hashes the inputs of images (and of those built FROM them) and returns the plan
	// with their new tags (builtins.Retag). The engine calls it, before building, for the
	// images downstream of a local resource that ran (its command may have written files they
	// copy), and for an image whose inputs changed during its build. It never re-evaluates the
	// project file, whose local() commands must not run twice.
	Retag func(p *plan.Plan, refs []string) (*plan.Plan, error)

	// Store, when set, receives the state of every resource as it changes (kiln watch
	// serves it to kiln get and the views).
	Store *status.Store
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
	sum := &Summary{}
	defer func() { sum.Duration = time.Since(start) }()
	e, err := open(ctx, p, opts, out, sum)
	if err != nil {
		return sum, err
	}
	defer e.close()
	return sum, e.update(ctx, nil, sum)
}

// open makes what every update of p needs: the guarded context (with its scoped kubeconfig
// for commands), the kind cluster when the project declares one, the cluster connection, the
// registry choice, the applier and the inventory. Close it with close; on an error open has
// closed it already.
func open(ctx context.Context, p *plan.Plan, opts Options, out *output.Printer, sum *Summary) (e *runner, err error) {
	e = &runner{plan: p, opts: opts, out: out, results: map[string]*ResourceResult{}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if composeOnly(p) && opts.Context == "" {
		// Docker Compose services alone need the Docker engine, not a cluster. Commands get
		// an empty kubeconfig: there is no context they may touch. Discovery has nothing to
		// follow; it exists so that kiln watch's live parts need no special case.
		sum.Context = NoCluster
		e.kubeEnv = map[string]string{"KUBECONFIG": os.DevNull, kube.EnvContext: "", kube.EnvTiltContext: ""}
		e.disc = discovery.NewWatcher(nil)
		return e, nil
	}
	kctx, err := TargetContext(p, opts.Context)
	if err != nil {
		return e, err
	}
	sum.Context = kctx
	if p.Cluster != nil {
		// The project's own kind cluster: made to exist first, so that the guard can check
		// that the context is that cluster.
		if err := timed(out, "cluster", "ensure kind cluster "+p.Cluster.Name, func() error {
			return cluster.Ensure(ctx, p.Cluster, out.Writer("cluster"))
		}); err != nil {
			return e, err
		}
	}
	if e.scoped, err = guard(ctx, p, kctx); err != nil {
		return e, err
	}
	e.kubeEnv = e.scoped.Env()
	e.kindName, e.isKind = cluster.KindName(kctx)
	if e.kc, err = kube.Connect(kctx); err != nil {
		return e, err
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
				return e, err
			}
			e.plan = p
		}
	}
	e.applier = apply.New(e.kc, apply.ProjectID(p.Dir), ns)
	e.applier.UpsertTimeout = time.Duration(p.Settings.K8sUpsertTimeout) * time.Second
	e.checker = ready.New(e.kc)
	e.disc = discovery.NewWatcher(e.kc.Client)
	e.checker.Source = e.disc
	if e.inventory, err = e.applier.LoadInventory(ctx); err != nil {
		return e, err
	}
	return e, nil
}

// close stops the serve_cmds and releases the connections. It deletes nothing.
func (e *runner) close() {
	e.stopServers()
	if e.builder != nil {
		e.builder.Close()
	}
	if e.docker != nil {
		e.docker.Close()
	}
	if e.disc != nil {
		e.disc.Close()
	}
	if e.nodeSync != nil {
		e.nodeSync.Close()
	}
	e.scoped.Remove()
}

// update brings the cluster to the runner's plan for the nodes want accepts (nil: all; the
// others are taken as up to date), then prunes what the plan no longer declares and settles
// the inventory. The summary gets a row per resource, in plan order.
func (e *runner) update(ctx context.Context, want func(plan.NodeID) bool, sum *Summary) error {
	p := e.plan
	for _, img := range p.Images {
		e.result("image "+img.Ref, "image")
	}
	for _, lr := range p.LocalResources {
		e.result(lr.Name, "local")
	}
	for _, r := range p.Resources {
		e.result(r.Name, "k8s")
	}
	for _, cs := range p.ComposeServices {
		e.result(cs.Name, "compose")
	}
	if (len(p.Images) > 0 || len(p.ComposeServices) > 0) && e.builder == nil {
		d, err := docker.Connect(ctx)
		if err != nil {
			return err
		}
		e.docker = d
		e.builder = build.New(d)
		e.builder.Env = e.kubeEnv
		e.builder.CacheDir = e.opts.CacheDir
	}
	e.built, e.loaded = nil, nil
	e.publishAll()
	runErr := e.run(ctx, want)
	e.publishAll()
	sum.Results = e.orderedResults()
	sum.Built, sum.Loaded = e.built, e.loaded
	return e.settleInventory(ctx, runErr, sum)
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

// NoCluster is Summary.Context for a project of Docker Compose services only, run with no
// Kubernetes cluster.
const NoCluster = "none"

// composeOnly reports whether p declares nothing for Kubernetes: only docker_compose services
// (and images and local resources for them).
func composeOnly(p *plan.Plan) bool {
	return len(p.Resources) == 0 && p.Cluster == nil && len(p.ComposeServices) > 0
}
