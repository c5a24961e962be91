package engine

import (
	"reflect"
	"sort"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestChangedNodes(t *testing.T) {
	cur := &plan.Plan{
		Dir:    "/p",
		Images: []plan.Image{{Ref: "web", Tag: "kiln-1"}, {Ref: "api", Tag: "kiln-2"}},
		Resources: []plan.Resource{
			{Name: "web", Images: []string{"web"}, Objects: []plan.Object{{"kind": "Deployment", "image": "web:kiln-1"}}},
			{Name: "api", Images: []string{"api"}, Objects: []plan.Object{{"kind": "Deployment", "image": "api:kiln-2"}}},
			{Name: "gone"},
		},
		LocalResources: []plan.LocalResource{{Name: "gen", Deps: []string{"src"}}, {Name: "other", Deps: []string{"docs/a.md"}}},
	}
	next := &plan.Plan{
		Dir:    "/p",
		Images: []plan.Image{{Ref: "web", Tag: "kiln-3"}, {Ref: "api", Tag: "kiln-2"}},
		Resources: []plan.Resource{
			{Name: "web", Images: []string{"web"}, Objects: []plan.Object{{"kind": "Deployment", "image": "web:kiln-3"}}},
			{Name: "api", Images: []string{"api"}, Objects: []plan.Object{{"kind": "Deployment", "image": "api:kiln-2"}}},
			{Name: "new"},
		},
		LocalResources: cur.LocalResources,
	}
	got := changedNodes(cur, next, []string{"/p/src/main.go"})
	var names []string
	for n := range got {
		names = append(names, string(n))
	}
	sort.Strings(names)
	want := []string{"image:web", "resource:gen", "resource:new", "resource:web"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("changed = %v, want %v (api and other are unchanged)", names, want)
	}
	if r := removedResources(cur, next); !reflect.DeepEqual(r, []string{"gone"}) {
		t.Errorf("removed = %v, want [gone]", r)
	}
}

func TestReadsAny(t *testing.T) {
	p := &plan.Plan{Dir: "/p", WatchedFiles: []string{"Kilnfile", "web", "k8s/app.yaml"}}
	for path, want := range map[string]bool{
		"/p/Kilnfile":         true,
		"/p/web/index.html":   true, // under a directory the evaluation read (a build context)
		"/p/webby/index.html": false,
		"/p/k8s/other.yaml":   false,
		"/p/k8s/app.yaml":     true,
	} {
		if got := readsAny(p, []string{path}); got != want {
			t.Errorf("readsAny(%s) = %v, want %v", path, got, want)
		}
	}
}
