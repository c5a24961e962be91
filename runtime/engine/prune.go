package engine

import (
	"context"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// The prune policy, in one place. The inventory (a ConfigMap per project) lists every object
// kiln may have applied for the project. At the end of each update:
//   - after a failure, the inventory grows by what was applied, and nothing is deleted;
//   - otherwise, what the inventory lists and the current plan no longer applies is deleted
//     (dependents first), except the objects of skipped resources (auto_init=False, not
//     enabled: disabling a resource must not delete it) and Namespaces (only
//     kiln down --delete-namespaces deletes those: deleting one deletes everything in it);
//   - the inventory is rewritten only when it changes.

// settleInventory ends an update whose scheduling returned runErr: it prunes and saves the
// inventory as above, and records what it pruned in sum.
func (e *runner) settleInventory(ctx context.Context, runErr error, sum *Summary) error {
	if e.applier == nil {
		return runErr // no cluster (Docker Compose only): no inventory
	}
	e.applied = e.currentApplied()
	if runErr != nil {
		// Keep track of everything kiln may have applied, so a later update can prune it.
		e.inventory = union(e.inventory, e.applied)
		_ = e.applier.SaveInventory(context.WithoutCancel(ctx), e.inventory)
		return runErr
	}
	stale := e.prunable(e.inventory)
	if len(stale) > 0 {
		pruned, err := e.applier.Delete(ctx, reverse(stale))
		for _, r := range pruned {
			sum.Pruned = append(sum.Pruned, r.String())
			e.out.Line(r.Resource, "prune  %s (no longer in the project)", r)
		}
		if err != nil {
			e.inventory = union(e.inventory, e.applied)
			_ = e.applier.SaveInventory(context.WithoutCancel(ctx), e.inventory)
			return err
		}
	}
	next := union(e.applied, e.keptFrom(e.inventory))
	if len(stale) > 0 || !sameRefs(e.inventory, next) {
		if err := e.applier.SaveInventory(ctx, next); err != nil {
			return err
		}
	}
	e.inventory = next
	return nil
}

// currentApplied is what the updates so far applied for the resources of the current plan:
// a resource the plan no longer has contributes nothing, so its objects become stale.
func (e *runner) currentApplied() []apply.Ref {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := map[string]bool{}
	for _, r := range e.plan.Resources {
		names[r.Name] = true
	}
	keys := make([]string, 0, len(e.appliedBy))
	for k := range e.appliedBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []apply.Ref
	for _, k := range keys {
		if resource, _, _ := strings.Cut(k, "\x00"); names[resource] {
			out = union(out, e.appliedBy[k])
		}
	}
	return out
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
