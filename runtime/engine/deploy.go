package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/plan"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyClusterScoped applies every Namespace, then every CRD (waiting until established), of
// the resources want accepts (nil: all), before any resource: other objects live in those
// namespaces or are of those kinds.
func (e *runner) applyClusterScoped(ctx context.Context, want func(plan.NodeID) bool) error {
	for _, kind := range []string{"Namespace", "CustomResourceDefinition"} {
		var crds []string
		for _, r := range e.plan.Resources {
			if want != nil && !want(plan.ResourceNode(r.Name)) {
				continue
			}
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
				e.addApplied(kind, r.Name, nil)
				continue
			}
			refs, err := e.applier.Apply(ctx, r.Name, objs)
			e.addApplied(kind, r.Name, refs)
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

// addApplied records what one step applied for a resource: kind is the step ("Namespace",
// "CustomResourceDefinition", "objects"). A later update of the same step replaces it, so
// that an object dropped from a resource's YAML is pruned under kiln watch too.
//
// Under kiln watch, discovery follows the new objects at once, so that their logs stream
// while the update waits for them to be ready.
func (e *runner) addApplied(kind, resource string, refs []apply.Ref) {
	e.mu.Lock()
	if e.appliedBy == nil {
		e.appliedBy = map[string][]apply.Ref{}
	}
	key := resource + "\x00" + kind
	if len(refs) == 0 {
		delete(e.appliedBy, key)
	} else {
		e.appliedBy[key] = refs
	}
	lv := e.live
	e.mu.Unlock()
	if lv != nil {
		lv.sync()
	}
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
	objs, err := e.supervise(ctx, r, objs)
	if err != nil {
		e.failStep(res, err)
		return err
	}
	start := time.Now()
	refs, results, err := e.applier.ApplyResults(ctx, r.Name, objs)
	e.addApplied("objects", r.Name, refs)
	e.publishApply(r.Name, objs, results, err)
	if err != nil {
		e.failStep(res, err)
		return fmt.Errorf("resource %s: %w", r.Name, err)
	}
	e.addStep(res, Step{Name: "apply", Duration: time.Since(start), Note: fmt.Sprintf("%d objects", len(refs))})
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
		e.failStep(res, err)
		return fmt.Errorf("resource %s: %w", r.Name, err)
	}
	e.addStep(res, Step{Name: "ready", Duration: time.Since(start)})
	e.out.Line(r.Name, "ready  in %s", round(time.Since(start)))
	e.markStatus(res, "ready")
	return nil
}
