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

// A change inside build contexts only re-hashes those images; one the evaluation read
// otherwise (the Dockerfile, a read_file) or a .dockerignore re-evaluates.
func TestContextOnly(t *testing.T) {
	p := &plan.Plan{Dir: "/p",
		Images: []plan.Image{
			{Ref: "web", Context: "web", Dockerfile: "web/Dockerfile"},
			{Ref: "api", Context: "api"},
			{Ref: "tool", Custom: &plan.CustomBuild{Deps: []string{"tool/src"}}},
		},
		WatchedFiles: []string{"Kilnfile", "api", "config.json", "tool/src", "web", "web/Dockerfile"},
	}
	for _, tc := range []struct {
		paths []string
		refs  []string
		ok    bool
	}{
		{[]string{"/p/web/index.html"}, []string{"web"}, true},
		{[]string{"/p/web/a.js", "/p/api/main.go", "/p/tool/src/x.c"}, []string{"api", "tool", "web"}, true},
		{[]string{"/p/web/Dockerfile"}, nil, false},
		{[]string{"/p/web/.dockerignore"}, nil, false},
		{[]string{"/p/config.json"}, nil, false},
		{[]string{"/p/web/a.js", "/p/Kilnfile"}, nil, false},
		{[]string{"/p/elsewhere/x"}, nil, false},
	} {
		refs, ok := contextOnly(p, tc.paths)
		if ok != tc.ok || !reflect.DeepEqual(refs, tc.refs) {
			t.Errorf("contextOnly(%v) = %v, %v; want %v, %v", tc.paths, refs, ok, tc.refs, tc.ok)
		}
	}
}
