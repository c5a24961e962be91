package engine

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestHoldManualKeepsManualResourcesAndTheirOwnImages(t *testing.T) {
	p := &plan.Plan{
		Resources: []plan.Resource{
			{Name: "api", TriggerMode: "auto", Images: []string{"shared"}},
			{Name: "batch", TriggerMode: "manual", Images: []string{"shared", "batch-img"}},
		},
		LocalResources: []plan.LocalResource{{Name: "gen", TriggerMode: "manual"}, {Name: "lint", TriggerMode: "auto"}},
	}
	changed := map[plan.NodeID]bool{
		plan.ResourceNode("api"): true, plan.ResourceNode("batch"): true,
		plan.ImageNode("shared"): true, plan.ImageNode("batch-img"): true,
		plan.ResourceNode("gen"): true, plan.ResourceNode("lint"): true,
	}
	held := holdManual(p, changed)
	slices.Sort(held)
	if !slices.Equal(held, []string{"batch", "gen"}) {
		t.Errorf("held %v, want [batch gen]", held)
	}
	for _, n := range []plan.NodeID{plan.ResourceNode("api"), plan.ImageNode("shared"), plan.ResourceNode("lint")} {
		if !changed[n] {
			t.Errorf("%s was held, but an auto resource needs it", n)
		}
	}
	for _, n := range []plan.NodeID{plan.ResourceNode("batch"), plan.ImageNode("batch-img"), plan.ResourceNode("gen")} {
		if changed[n] {
			t.Errorf("%s still runs, but only a manual resource uses it", n)
		}
	}
}

func TestTriggerNodesAreTheResourceAndItsImages(t *testing.T) {
	p := &plan.Plan{
		Resources:      []plan.Resource{{Name: "api", Images: []string{"api-img"}}},
		LocalResources: []plan.LocalResource{{Name: "gen"}},
	}
	nodes, err := triggerNodes(p, "api")
	if err != nil || len(nodes) != 2 || !nodes[plan.ResourceNode("api")] || !nodes[plan.ImageNode("api-img")] {
		t.Errorf("triggerNodes(api) = %v, %v", nodes, err)
	}
	if nodes, err := triggerNodes(p, "gen"); err != nil || len(nodes) != 1 {
		t.Errorf("triggerNodes(gen) = %v, %v", nodes, err)
	}
	if _, err := triggerNodes(p, "nope"); err == nil {
		t.Error("triggering an unknown resource is no error")
	}
}
