package engine

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/compose"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// DownOptions configure kiln down.
type DownOptions struct {
	Out                io.Writer
	Context, Namespace string
	// DeleteNamespaces deletes the Namespaces kiln applied too; by default they stay.
	DeleteNamespaces bool
}

// Down deletes what kiln applied for the project, in reverse dependency order, and runs the
// delete commands of custom deploys. Only objects in the project's inventory that still carry
// its label are deleted.
func Down(ctx context.Context, p *plan.Plan, opts DownOptions) ([]string, error) {
	scrub := secretScrubber(p)
	out := output.New(opts.Out)
	out.ScrubWith(scrub)
	composed, err := downCompose(ctx, p, out)
	if err != nil || len(p.Resources) == 0 && len(p.ComposeServices) > 0 {
		// A Docker Compose project alone has no cluster to clean.
		return composed, scrub.ScrubError(err)
	}
	deleted, err := down(ctx, p, opts, out)
	return append(composed, deleted...), scrub.ScrubError(err)
}

func down(ctx context.Context, p *plan.Plan, opts DownOptions, out *output.Printer) ([]string, error) {
	kctx, err := TargetContext(p, opts.Context)
	if err != nil {
		return nil, err
	}
	scoped, err := guard(ctx, p, kctx)
	if err != nil {
		return nil, err
	}
	defer scoped.Remove()
	kc, err := kube.Connect(kctx)
	if err != nil {
		return nil, err
	}
	ns := opts.Namespace
	if ns == "" {
		ns = p.Settings.K8sNamespace
	}
	a := apply.New(kc, apply.ProjectID(p.Dir), ns)
	a.HonorDownPolicy = true
	refs, err := a.LoadInventory(ctx)
	if err != nil {
		return nil, err
	}
	var keep []apply.Ref
	var targets []apply.Ref
	for _, r := range refs {
		if r.Kind == "Namespace" && !opts.DeleteNamespaces {
			keep = append(keep, r)
			continue
		}
		targets = append(targets, r)
	}
	targets = downOrder(p, targets)
	deleted, err := a.Delete(ctx, targets)
	var names []string
	for _, r := range deleted {
		names = append(names, r.String())
		out.Line(r.Resource, "delete %s", r)
	}
	if err != nil {
		return names, err
	}
	for i := len(p.Resources) - 1; i >= 0; i-- {
		r := p.Resources[i]
		if r.CustomDeploy == nil {
			continue
		}
		w := out.Writer(r.Name)
		out.Line(r.Name, "delete_cmd")
		err := local.Run(ctx, p.Dir, &r.CustomDeploy.DeleteCmd, scoped.Env(), w)
		w.Flush()
		if err != nil {
			return names, fmt.Errorf("resource %s: delete_cmd: %w", r.Name, err)
		}
	}
	for _, r := range keep {
		out.Line(r.Resource, "keep   %s (namespaces stay; --delete-namespaces deletes them)", r)
	}
	if len(keep) > 0 {
		return names, a.SaveInventory(ctx, keep)
	}
	return names, a.DeleteInventory(ctx)
}

// downOrder sorts refs so that a resource goes before the resources it depends on, and within
// a resource dependents go before what they need (reverse install order).
func downOrder(p *plan.Plan, refs []apply.Ref) []apply.Ref {
	rank := map[string]int{}
	if g, err := plan.BuildGraph(p); err == nil {
		for i, n := range g.Order() {
			rank[string(n)] = i
		}
	}
	sort.SliceStable(refs, func(i, j int) bool {
		ri, rj := rank["resource:"+refs[i].Resource], rank["resource:"+refs[j].Resource]
		if ri != rj {
			return ri > rj
		}
		return plan.InstallRank(refs[i].Kind) > plan.InstallRank(refs[j].Kind)
	})
	return refs
}

// downCompose removes the containers and networks kiln ran for the project's
// docker_compose() services, found by the project's label, whether or not the project still
// declares them. Without a Docker engine there is nothing of the kind to remove.
func downCompose(ctx context.Context, p *plan.Plan, out *output.Printer) ([]string, error) {
	d, err := docker.Connect(ctx)
	if err != nil {
		if len(p.ComposeServices) > 0 {
			return nil, fmt.Errorf("remove the docker_compose services: %w", err)
		}
		return nil, nil
	}
	defer d.Close()
	r := &compose.Runner{API: d.API(), ProjectID: apply.ProjectID(p.Dir), Dir: p.Dir}
	removed, err := r.Down(ctx)
	for _, what := range removed {
		out.Line("compose", "delete %s", what)
	}
	return removed, err
}
