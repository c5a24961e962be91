package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/logs"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/status"
)

// WatchOptions configure kiln watch: Options, plus where changes come from.
type WatchOptions struct {
	Options
	// Evaluate re-evaluates the project, with the registry the cluster advertises ("" for
	// none). Its error is shown and changes nothing that runs.
	Evaluate func(ctx context.Context, registry string) (*plan.Plan, error)
	// Changes delivers the files that changed, coalesced into batches.
	Changes <-chan ChangeBatch
	// Watch is called with every plan that becomes current, so that the caller watches the
	// plan's inputs (runtime/filewatch).
	Watch func(*plan.Plan) error
	// Triggers delivers the names of resources to run now (kiln trigger): a manual one, one
	// with auto_init=False, or any to re-run.
	Triggers <-chan string
	// LogSpillDir is where older log lines go once a resource's memory bound is reached
	// ("" keeps only what fits in memory).
	LogSpillDir string
	// Logs, when set, is given the session's log manager as soon as it exists, so that the
	// status API serves its lines (kiln logs).
	Logs func(*logs.Manager)
}

// ChangeBatch is one batch of changed files (runtime/filewatch.Batch).
type ChangeBatch struct {
	// Paths are absolute.
	Paths []string
	// Seen[i] is when the latest change to Paths[i] was seen, or is absent (nil): a build
	// whose inputs were hashed after that already has the change.
	Seen []time.Time
}

// Watch brings the cluster to p as Run does, then keeps it equal to the project until ctx
// ends: a change to a file the evaluation read re-evaluates the project in process, and an
// update runs only the nodes whose plan entries changed (changedNodes), in graph order and
// within max_parallel_updates, then prunes what the project no longer declares. A project
// that fails to evaluate changes nothing that runs: its error is shown until it is fixed. A
// failed update is reported and watching goes on. When ctx ends, serve_cmds stop and nothing
// is deleted (that is kiln down).
func Watch(ctx context.Context, p *plan.Plan, opts WatchOptions) error {
	out := output.New(opts.Out)
	out.ScrubWith(secretScrubber(p))
	sum := &Summary{}
	e, err := open(ctx, p, opts.Options, out, sum)
	if err != nil {
		return secretScrubber(p).ScrubError(err)
	}
	defer e.close()
	lv := e.startLive(opts.LogSpillDir)
	e.mu.Lock()
	e.live = lv
	e.mu.Unlock()
	defer lv.close()
	if opts.Logs != nil {
		opts.Logs(lv.logs)
	}
	if opts.Watch != nil {
		if err := opts.Watch(e.plan); err != nil {
			return err
		}
	}
	e.watchUpdate(ctx, nil, "start")
	for {
		var paths []string
		select {
		case <-ctx.Done():
			return nil
		case batch, ok := <-opts.Changes:
			if !ok {
				return nil
			}
			paths = batch.Paths
			if img := e.alreadyBuilt(batch); img != nil {
				// At the start of a watch, mostly: a local_resource wrote into the context
				// before the image was hashed, and the watcher reports it only now.
				what := fmt.Sprintf("the %d changed files were", len(paths))
				if len(paths) == 1 {
					what = "the changed file was"
				}
				out.Line("image "+img.Ref, "live update: nothing to sync; %s in its build already", what)
				e.publishFileWatch(p.Dir, paths, "nothing: already in the build of image "+img.Ref)
				continue
			}
		case name := <-opts.Triggers:
			e.trigger(ctx, name)
			continue
		}
		if e.liveUpdate(ctx, paths) {
			e.publishFileWatch(p.Dir, paths, "live update")
			continue // synced into the running containers: nothing to rebuild
		}
		next := e.plan
		if refs, ok := contextOnly(e.plan, paths); ok && opts.Retag != nil {
			// Files of build contexts only: those images are re-hashed; the project file
			// need not run again.
			start := time.Now()
			np, err := opts.Retag(e.plan, refs)
			if err != nil {
				out.Line("watch", "error: %v", err)
				continue
			}
			out.Line("watch", "re-hashed %s in %s (a build context changed; the project file did not run)", strings.Join(refs, ", "), round(time.Since(start)))
			next = np
		} else if readsAny(e.plan, paths) {
			start := time.Now()
			np, err := opts.Evaluate(ctx, e.registry)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				out.Line("kilnfile", "the project does not evaluate; nothing changes until it does:\n%v", err)
				continue
			}
			out.Line("kilnfile", "re-evaluated %s in %s", p.Main, round(time.Since(start)))
			if e.kc == nil && !composeOnly(np) {
				// This watch started with Docker Compose services only, and no cluster.
				out.Line("kilnfile", "the project now declares Kubernetes objects, and this kiln watch runs without a cluster; nothing changes: stop it and start kiln watch again")
				continue
			}
			if declaresNothing(np) && !declaresNothing(e.plan) {
				// Most likely a file caught half-written, or emptied by mistake: pruning
				// would tear the whole environment down. kiln down is the way to do that.
				out.Line("kilnfile", "the project declares nothing now; nothing changes (kiln down deletes everything)")
				continue
			}
			next = np
		}
		changed := changedNodes(e.plan, next, paths)
		held := holdManual(next, changed)
		removed := removedResources(e.plan, next)
		e.publishFileWatch(p.Dir, paths, triggered(changed, held, removed))
		if len(changed) == 0 && len(removed) == 0 && len(held) == 0 {
			continue
		}
		for _, name := range removed {
			e.stopServer(name)
			if cs := composeService(e.plan, name); cs != nil {
				e.removeCompose(ctx, cs)
			}
		}
		e.mu.Lock()
		e.plan = next
		e.mu.Unlock()
		out.ScrubWith(secretScrubber(next))
		if opts.Watch != nil {
			if err := opts.Watch(next); err != nil {
				out.Line("watch", "error: %v", err)
			}
		}
		for _, name := range held {
			r := e.result(name, "")
			e.mu.Lock()
			r.Err = nil // an old failure is not why it waits
			e.mu.Unlock()
			e.setStatus(name, status.StateWaiting)
			out.Line(name, "changed; trigger_mode is manual: run it with kiln trigger %s", name)
		}
		if len(changed) == 0 && len(removed) == 0 {
			continue
		}
		e.watchUpdate(ctx, func(n plan.NodeID) bool { return changed[n] }, describe(changed, paths, p.Dir))
	}
}

// trigger runs one resource now, as kiln trigger asks: its images (rebuilt only if their
// bytes changed) and the resource itself, even when its auto_init is False.
func (e *runner) trigger(ctx context.Context, name string) {
	nodes, err := triggerNodes(e.plan, name)
	if err != nil {
		e.out.Line("trigger", "%v", err)
		return
	}
	e.mu.Lock()
	e.forced = map[string]bool{name: true}
	e.mu.Unlock()
	e.watchUpdate(ctx, func(n plan.NodeID) bool { return nodes[n] }, "kiln trigger "+name)
	e.mu.Lock()
	e.forced = nil
	e.mu.Unlock()
}

// watchUpdate runs one update and prints its outcome; a failure is reported, not returned.
func (e *runner) watchUpdate(ctx context.Context, want func(plan.NodeID) bool, why string) {
	start := time.Now()
	e.resetResults(want)
	sum := &Summary{}
	err := e.update(ctx, want, sum)
	if ctx.Err() != nil {
		return
	}
	e.live.sync() // resources removed, forwards changed
	what := fmt.Sprintf("%d built, %d loaded, %d pruned", len(sum.Built), len(sum.Loaded), len(sum.Pruned))
	if err != nil {
		e.out.Line("watch", "update (%s) failed after %s: %s; %v", why, round(time.Since(start)), what, err)
		return
	}
	e.out.Line("watch", "update (%s) done in %s: %s; watching for changes", why, round(time.Since(start)), what)
}

// resetResults clears the status and steps of the resources an update will run, so that a
// long watch session does not accumulate them.
func (e *runner) resetResults(want func(plan.NodeID) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, r := range e.results {
		n := plan.ResourceNode(name)
		if r.Kind == "image" {
			n = plan.ImageNode(strings.TrimPrefix(name, "image "))
		}
		if want == nil || want(n) {
			r.Status, r.Steps, r.Err = "not started", nil, nil
		}
	}
}

// removedResources are the local resources of cur that next no longer has (their serve_cmds
// stop; Kubernetes objects of removed resources are pruned by the update).
func removedResources(cur, next *plan.Plan) []string {
	have := map[string]bool{}
	for _, lr := range next.LocalResources {
		have[lr.Name] = true
	}
	var out []string
	for _, lr := range cur.LocalResources {
		if !have[lr.Name] {
			out = append(out, lr.Name)
		}
	}
	for _, r := range cur.Resources {
		if !hasResource(next, r.Name) {
			out = append(out, r.Name)
		}
	}
	for _, cs := range cur.ComposeServices {
		if composeService(next, cs.Name) == nil {
			out = append(out, cs.Name)
		}
	}
	return out
}

// composeService is p's compose service of that name, or nil.
func composeService(p *plan.Plan, name string) *plan.ComposeService {
	for i := range p.ComposeServices {
		if p.ComposeServices[i].Name == name {
			return &p.ComposeServices[i]
		}
	}
	return nil
}

func hasResource(p *plan.Plan, name string) bool {
	for _, r := range p.Resources {
		if r.Name == name {
			return true
		}
	}
	return false
}

// describe says briefly what an update is for: the nodes it runs and the first changed file.
func describe(changed map[plan.NodeID]bool, paths []string, dir string) string {
	var nodes []string
	for n := range changed {
		nodes = append(nodes, string(n))
	}
	sort.Strings(nodes)
	if len(nodes) > 4 {
		nodes = append(nodes[:4], fmt.Sprintf("%d more", len(nodes)-4))
	}
	why := strings.Join(nodes, ", ")
	if why == "" {
		why = "prune"
	}
	if len(paths) > 0 {
		rel := paths[0]
		if r, err := relPath(dir, paths[0]); err == nil {
			rel = r
		}
		why += "; " + rel + " changed"
		if len(paths) > 1 {
			why += fmt.Sprintf(" and %d more", len(paths)-1)
		}
	}
	return why
}

// declaresNothing reports whether p has no image, resource or local resource at all.
func declaresNothing(p *plan.Plan) bool {
	return len(p.Images) == 0 && len(p.Resources) == 0 && len(p.LocalResources) == 0 && len(p.ComposeServices) == 0
}
