package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/build"
	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/ready"
	"github.com/kiln-dev/kiln/runtime/supervise"
)

// runner is the state of one run, or of one kiln watch session: the connections made once,
// the current plan, and what has been applied.
type runner struct {
	mu   sync.Mutex
	plan *plan.Plan
	// rehash are the images whose inputs may have changed since their tags were computed: a
	// local resource they depend on ran, or an edit landed during their build.
	rehash   map[string]bool
	opts     Options
	out      *output.Printer
	kc       *kube.Cluster
	docker   *docker.Client
	registry string // the cluster's local registry, when it advertises one
	applier  *apply.Applier
	checker  *ready.Checker
	// disc follows the pods of the applied workloads through informers. Readiness reads its
	// caches under kiln run and kiln watch alike; under watch it also feeds logs and forwards.
	disc       *discovery.Watcher
	builder    *build.Builder
	kindName   string
	isKind     bool
	nodeImages map[string]map[string]bool // node → images, see nodesReport
	nodesOnce  sync.Once
	servers    map[string]*local.Server // running serve_cmds by local resource
	serveLogs  map[string]func()        // flush each serve_cmd's stored output when it stops
	// kubeEnv confines every command kiln starts to the checked context (kube.Scoped.Env).
	kubeEnv map[string]string
	scoped  *kube.Scoped

	results map[string]*ResourceResult
	order   []string
	// appliedBy is what each step applied per resource (see addApplied); applied is their
	// union for the current plan, computed when an update settles the inventory.
	appliedBy map[string][]apply.Ref
	// customObjects are what each k8s_custom_deploy's apply_cmd reported, for discovery.
	customObjects map[string][]discovery.Object
	applied       []apply.Ref
	// inventory is the project's inventory as last saved (or loaded).
	inventory []apply.Ref
	built     []string
	loaded    []string
	// nodeSync writes live updates into containers from their kind node (nil until the
	// first live update, and off kind).
	nodeSync *liveupdate.NodeSyncer
	// installer puts kiln's supervisor on the kind nodes, for restart_container().
	installer *supervise.Installer
	// warned keys the warnings printed once a session (warnOnce).
	warned map[string]bool
	// ledger is what live updates synced since each image was built, for new containers.
	ledger syncLedger
	// live is discovery, forwards and logs under kiln watch (nil under kiln run).
	live *live
	// forced names the resources kiln trigger runs now: they run even with auto_init=False.
	forced map[string]bool
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

// failStep, addStep and markStatus change a result under the runner's lock: the live
// goroutines (discovery, logs) publish results while the scheduler's steps write them.
func (e *runner) failStep(r *ResourceResult, err error) {
	e.mu.Lock()
	r.Status, r.Err = "failed", err
	e.mu.Unlock()
}

func (e *runner) addStep(r *ResourceResult, s Step) {
	e.mu.Lock()
	r.Steps = append(r.Steps, s)
	e.mu.Unlock()
}

func (e *runner) markStatus(r *ResourceResult, status string) {
	e.mu.Lock()
	r.Status = status
	e.mu.Unlock()
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
	if len(e.rehash) > 0 && e.opts.Retag != nil {
		refs := make([]string, 0, len(e.rehash))
		for r := range e.rehash {
			refs = append(refs, r)
		}
		sort.Strings(refs)
		np, err := e.opts.Retag(e.plan, refs)
		if err != nil {
			return nil, fmt.Errorf("re-hash %s: %w", strings.Join(refs, ", "), err)
		}
		e.plan, e.rehash = np, nil
	}
	return e.plan, nil
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
			e.mu.Lock()
			forced := e.forced[name]
			e.mu.Unlock()
			if !autoInit && !forced || enabled != nil && !enabled[name] {
				e.markStatus(e.result(name, kind), "skipped")
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
		for i := range p.ComposeServices {
			if cs := &p.ComposeServices[i]; cs.Name == name {
				if skip(cs.AutoInit, "compose") {
					return nil
				}
				return e.runCompose(ctx, p, cs)
			}
		}
		return fmt.Errorf("resource %q vanished from the project after re-evaluation", name)
	}
	return nil
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
