package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// schedule runs do for every node of g that want accepts: a node starts once its dependencies
// are done (a node not wanted counts as done at once, so an update of a few nodes still waits
// for what they depend on), at most parallel at a time. The first failure cancels the nodes
// not yet started and is returned; do must honour ctx.
func schedule(ctx context.Context, g *plan.Graph, parallel int, want func(plan.NodeID) bool, do func(context.Context, plan.NodeID) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(parallel, 1))
	done := make(map[plan.NodeID]chan struct{}, len(g.Nodes))
	for _, n := range g.Nodes {
		done[n] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, n := range g.Order() {
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
			if ctx.Err() != nil || (want != nil && !want(n)) {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := do(ctx, n); err != nil {
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

// run applies the cluster-scoped objects, then schedules the nodes of the plan that want
// accepts (nil: all) in graph order, at most max_parallel_updates at a time.
func (e *runner) run(ctx context.Context, want func(plan.NodeID) bool) error {
	p := e.plan
	g, err := plan.BuildGraph(p)
	if err != nil {
		return err
	}
	if err := e.applyClusterScoped(ctx, want); err != nil {
		return err
	}
	enabled := enabledSet(p)
	return schedule(ctx, g, p.Settings.MaxParallelUpdates, want, func(ctx context.Context, n plan.NodeID) error {
		name := nodeResult(n)
		e.setStatus(name, "running")
		err := e.runNode(ctx, n, enabled)
		e.settle(name, err)
		return err
	})
}
