package plan

import (
	"errors"
	"strings"
	"testing"
)

func TestGraphOrdersImagesAfterLocalDeps(t *testing.T) {
	p := &Plan{
		Images: []Image{{Ref: "web"}, {Ref: "base"}},
		Resources: []Resource{
			{Name: "web", Images: []string{"web", "base"}, ResourceDeps: []string{"compile", "db"}},
			{Name: "db", Images: []string{"web"}},
		},
		LocalResources: []LocalResource{{Name: "compile"}},
	}
	p.Images[0].ImageDeps = []string{"base"}
	g, err := BuildGraph(p)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[NodeID]int{}
	for i, n := range g.Order() {
		pos[n] = i
	}
	before := func(a, b NodeID) {
		t.Helper()
		if pos[a] >= pos[b] {
			t.Errorf("%s must come before %s in %v", a, b, g.Order())
		}
	}
	before("resource:compile", "image:web") // a local resource dep of the image's user
	before("image:base", "image:web")       // FROM
	before("image:web", "resource:web")
	before("resource:db", "resource:web")
	// db shares web's image, and web depends on db: that is not a cycle.
}

func TestGraphCycle(t *testing.T) {
	p := &Plan{
		Resources:      []Resource{{Name: "a", ResourceDeps: []string{"b"}}},
		LocalResources: []LocalResource{{Name: "b", ResourceDeps: []string{"a"}}},
	}
	_, err := BuildGraph(p)
	if err == nil || !strings.Contains(err.Error(), "resource:a -> resource:b -> resource:a") {
		t.Fatalf("want the cycle named, got %v", err)
	}
	p.Resources[0].ResourceDeps = []string{"nope"}
	if _, err := BuildGraph(p); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("want an unknown dep named, got %v", err)
	}
}

func TestNewGraphOrdersAndFindsCycles(t *testing.T) {
	a, b, c := ImageNode("a"), ImageNode("b"), ImageNode("c")
	g, err := NewGraph([]NodeID{c, b, a}, map[NodeID][]NodeID{c: {b, b}, b: {a}})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Order(); len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("order %v, want a, b, c", got)
	}
	if len(g.Deps[c]) != 1 {
		t.Errorf("deps of c %v: the duplicate was kept", g.Deps[c])
	}
	_, err = NewGraph([]NodeID{a, b}, map[NodeID][]NodeID{a: {b}, b: {a}})
	var cycle *CycleError
	if !errors.As(err, &cycle) || len(cycle.Path) != 3 || cycle.Path[0] != cycle.Path[2] {
		t.Fatalf("a two-node cycle gave %v", err)
	}
}
