package apply

import (
	"regexp"
	"testing"
)

func TestProjectIDIsAValidLabelAndStable(t *testing.T) {
	id := ProjectID("/home/me/src/My Project: the (best) one with a very long name indeed, longer than 63")
	if len(id) > 63 || !regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`).MatchString(id) {
		t.Fatalf("%q is not a valid label value", id)
	}
	if ProjectID("/a/web") == ProjectID("/b/web") {
		t.Fatal("two checkouts of a project with the same folder name must not share an ID")
	}
	if ProjectID("/a/web") != ProjectID("/a/web") {
		t.Fatal("the ID must be stable")
	}
}

func TestStale(t *testing.T) {
	a := Ref{Version: "v1", Kind: "Service", Namespace: "default", Name: "a", Resource: "a"}
	b := Ref{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "default", Name: "b", Resource: "b"}
	moved := a
	moved.Resource = "renamed" // the same object under another resource is not stale
	got := Stale([]Ref{a, b}, []Ref{moved})
	if len(got) != 1 || got[0] != b {
		t.Fatalf("Stale = %v, want [%v]", got, b)
	}
}
