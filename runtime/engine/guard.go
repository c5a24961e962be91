package engine

import (
	"context"

	"github.com/kiln-dev/kiln/runtime/cluster"
	"github.com/kiln-dev/kiln/runtime/kube"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// guard checks that kiln may write to kctx (kube.Guard: allowed, or local in fact) and
// returns the scoped kubeconfig that every command kiln starts gets, so that a local command
// acts on kctx and nothing else. The caller removes it.
func guard(ctx context.Context, p *plan.Plan, kctx string) (*kube.Scoped, error) {
	cfg, err := kube.LoadConfig()
	if err != nil {
		return nil, err
	}
	g := kube.Guard{Kind: cluster.LookupKind}
	if err := g.Check(ctx, cfg, kctx, p.Settings.AllowK8sContexts); err != nil {
		return nil, err
	}
	return kube.WriteScoped(cfg, kctx)
}
