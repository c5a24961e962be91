package engine

import (
	"fmt"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// triggerNodes are the nodes that kiln trigger NAME runs: the resource and the images it
// uses. Images are content-addressed, so an unchanged one is not rebuilt; the resource is
// re-applied (or its cmd re-run) whether or not anything changed.
func triggerNodes(p *plan.Plan, name string) (map[plan.NodeID]bool, error) {
	nodes := map[plan.NodeID]bool{plan.ResourceNode(name): true}
	for _, r := range p.Resources {
		if r.Name == name {
			for _, ref := range r.Images {
				nodes[plan.ImageNode(ref)] = true
			}
			return nodes, nil
		}
	}
	for _, lr := range p.LocalResources {
		if lr.Name == name {
			return nodes, nil
		}
	}
	for _, cs := range p.ComposeServices {
		if cs.Name == name {
			if cs.ImageRef != "" {
				nodes[plan.ImageNode(cs.ImageRef)] = true
			}
			return nodes, nil
		}
	}
	return nil, fmt.Errorf("the project has no resource named %q", name)
}

// holdManual takes out of an update the resources whose trigger_mode is manual, and the
// images that only they use, as Tilt does: a change to them waits for kiln trigger. It
// returns the names it held.
func holdManual(p *plan.Plan, changed map[plan.NodeID]bool) []string {
	var held []string
	usedByAuto := map[string]bool{}
	heldImages := map[string]bool{}
	for _, r := range p.Resources {
		manual := r.TriggerMode == plan.TriggerManual
		if manual && changed[plan.ResourceNode(r.Name)] {
			delete(changed, plan.ResourceNode(r.Name))
			held = append(held, r.Name)
		}
		for _, ref := range r.Images {
			if manual {
				heldImages[ref] = true
			} else {
				usedByAuto[ref] = true
			}
		}
	}
	for ref := range heldImages {
		if !usedByAuto[ref] && changed[plan.ImageNode(ref)] {
			delete(changed, plan.ImageNode(ref))
		}
	}
	for _, lr := range p.LocalResources {
		if lr.TriggerMode == plan.TriggerManual && changed[plan.ResourceNode(lr.Name)] {
			delete(changed, plan.ResourceNode(lr.Name))
			held = append(held, lr.Name)
		}
	}
	for _, cs := range p.ComposeServices {
		if cs.TriggerMode == plan.TriggerManual && changed[plan.ResourceNode(cs.Name)] {
			delete(changed, plan.ResourceNode(cs.Name))
			held = append(held, cs.Name)
		}
	}
	return held
}
