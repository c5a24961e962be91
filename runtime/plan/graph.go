package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Node kinds of the dependency graph.
const (
	NodeImage         = "image"
	NodeResource      = "resource"
	NodeLocalResource = "local_resource"
)

// NodeID names a node of the dependency graph: "image:example/web", "resource:web".
type NodeID string

func imageNode(ref string) NodeID     { return NodeID(NodeImage + ":" + ref) }
func resourceNode(name string) NodeID { return NodeID(NodeResource + ":" + name) }

// ResourceNode and ImageNode are the graph nodes of a resource (Kubernetes or local) and of
// an image.
func ResourceNode(name string) NodeID { return resourceNode(name) }
func ImageNode(ref string) NodeID     { return imageNode(ref) }

// Graph is the dependency graph of a plan: an edge a→b means a must be ready before b.
// Edges are image→image (FROM another built image), image→resource (the resource runs the
// image) and resource→resource (resource_deps; local resources are resources here).
type Graph struct {
	Nodes []NodeID
	// Deps maps a node to the nodes it depends on, sorted.
	Deps map[NodeID][]NodeID
}

// BuildGraph builds the graph of p. It fails on a dependency naming something that does not
// exist, and on a cycle, with an error that names the cycle's path.
func BuildGraph(p *Plan) (*Graph, error) {
	g := &Graph{Deps: map[NodeID][]NodeID{}}
	images := map[string]bool{}
	for _, img := range p.Images {
		images[img.Ref] = true
	}
	resources := map[string]bool{}
	for _, r := range p.Resources {
		resources[r.Name] = true
	}
	for _, lr := range p.LocalResources {
		resources[lr.Name] = true
	}
	for _, cs := range p.ComposeServices {
		resources[cs.Name] = true
	}
	add := func(n NodeID, deps []NodeID) {
		g.Nodes = append(g.Nodes, n)
		sort.Slice(deps, func(i, j int) bool { return deps[i] < deps[j] })
		g.Deps[n] = deps
	}
	// An image builds after the local resources its users depend on, as in Tilt where the
	// build is part of the resource's update: a local_resource often compiles what the image
	// copies. (Kubernetes resource_deps don't make files, and would make false cycles when two
	// resources share an image.)
	locals := map[string]bool{}
	for _, lr := range p.LocalResources {
		locals[lr.Name] = true
	}
	imageResourceDeps := map[string][]NodeID{}
	for _, r := range p.Resources {
		for _, ref := range r.Images {
			for _, d := range r.ResourceDeps {
				if locals[d] {
					imageResourceDeps[ref] = append(imageResourceDeps[ref], resourceNode(d))
				}
			}
		}
	}
	for _, img := range p.Images {
		var deps []NodeID
		for _, d := range img.ImageDeps {
			deps = append(deps, imageNode(d))
		}
		deps = append(deps, imageResourceDeps[img.Ref]...)
		add(imageNode(img.Ref), dedupe(deps))
	}
	checkResourceDeps := func(name string, rdeps []string) ([]NodeID, error) {
		var deps []NodeID
		for _, d := range rdeps {
			if !resources[d] {
				return nil, fmt.Errorf("resource %q: resource_deps names %q, which is not a resource of this project (known: %s)", name, d, strings.Join(sortedKeys(resources), ", "))
			}
			deps = append(deps, resourceNode(d))
		}
		return deps, nil
	}
	for _, r := range p.Resources {
		deps, err := checkResourceDeps(r.Name, r.ResourceDeps)
		if err != nil {
			return nil, err
		}
		for _, ref := range r.Images {
			deps = append(deps, imageNode(ref))
		}
		add(resourceNode(r.Name), deps)
	}
	for _, lr := range p.LocalResources {
		deps, err := checkResourceDeps(lr.Name, lr.ResourceDeps)
		if err != nil {
			return nil, err
		}
		add(resourceNode(lr.Name), deps)
	}
	for _, cs := range p.ComposeServices {
		deps, err := checkResourceDeps(cs.Name, append(append([]string{}, cs.ResourceDeps...), cs.DependsOn...))
		if err != nil {
			return nil, err
		}
		if cs.ImageRef != "" && images[cs.ImageRef] {
			deps = append(deps, imageNode(cs.ImageRef))
		}
		add(resourceNode(cs.Name), dedupe(deps))
	}
	if cycle := g.findCycle(); cycle != nil {
		return nil, &CycleError{Path: cycle}
	}
	return g, nil
}

// NewGraph makes a graph of nodes, where deps maps a node to the nodes it depends on (each of
// them among nodes). It fails with a *CycleError on a cycle. kiln uses it for what must be
// ordered before a plan exists: the images, whose tags include the tags of the images they
// build FROM.
func NewGraph(nodes []NodeID, deps map[NodeID][]NodeID) (*Graph, error) {
	g := &Graph{Nodes: append([]NodeID(nil), nodes...), Deps: map[NodeID][]NodeID{}}
	for _, n := range nodes {
		ds := dedupe(append([]NodeID(nil), deps[n]...))
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		g.Deps[n] = ds
	}
	if cycle := g.findCycle(); cycle != nil {
		return nil, &CycleError{Path: cycle}
	}
	return g, nil
}

// CycleError is a dependency cycle: Path's first and last nodes are equal. Where is, if set,
// where each node was declared (file:line), for the message.
type CycleError struct {
	Path  []NodeID
	Where func(NodeID) string
}

func (e *CycleError) Error() string {
	parts := make([]string, len(e.Path))
	for i, n := range e.Path {
		parts[i] = string(n)
		if e.Where != nil && i < len(e.Path)-1 {
			if w := e.Where(n); w != "" {
				parts[i] += " (" + w + ")"
			}
		}
	}
	msg := fmt.Sprintf("dependency cycle: %s; remove one of these dependencies (resource_deps, or a Dockerfile FROM another image of the project)", strings.Join(parts, " -> "))
	if e.Where != nil {
		if w := e.Where(e.Path[0]); w != "" {
			msg = w + ": " + msg
		}
	}
	return msg
}

// findCycle returns one cycle as a path whose first and last nodes are equal, or nil.
func (g *Graph) findCycle() []NodeID {
	const (
		unvisited = iota
		inProgress
		done
	)
	state := map[NodeID]int{}
	var stack []NodeID
	var visit func(n NodeID) []NodeID
	visit = func(n NodeID) []NodeID {
		state[n] = inProgress
		stack = append(stack, n)
		for _, d := range g.Deps[n] {
			switch state[d] {
			case inProgress:
				for i, s := range stack {
					if s == d {
						return append(append([]NodeID{}, stack[i:]...), d)
					}
				}
			case unvisited:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	nodes := append([]NodeID{}, g.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i] < nodes[j] })
	for _, n := range nodes {
		if state[n] == unvisited {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

// Order returns the nodes so that every node comes after its dependencies; ties break by name.
func (g *Graph) Order() []NodeID {
	indeg := map[NodeID]int{}
	dependents := map[NodeID][]NodeID{}
	for _, n := range g.Nodes {
		indeg[n] += 0
		for _, d := range g.Deps[n] {
			indeg[n]++
			dependents[d] = append(dependents[d], n)
		}
	}
	var ready, out []NodeID
	for _, n := range g.Nodes {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	// ready stays sorted: each node made ready is inserted in place, rather than the whole
	// list sorted again for every node taken (quadratic for 200 independent images).
	sort.Slice(ready, func(i, j int) bool { return ready[i] < ready[j] })
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, m := range dependents[n] {
			indeg[m]--
			if indeg[m] == 0 {
				i, _ := slices.BinarySearch(ready, m)
				ready = slices.Insert(ready, i, m)
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupe(ids []NodeID) []NodeID {
	seen := map[NodeID]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
