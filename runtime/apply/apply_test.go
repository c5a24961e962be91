package apply

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// mapperFailing is a REST mapper whose every look-up fails with err.
type mapperFailing struct {
	meta.RESTMapper
	err error
}

func (m mapperFailing) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, m.err
}
func (m mapperFailing) Reset() {}

// TestDeleteKeepsWhatDiscoveryCannotSee: a kind the cluster no longer has is skipped (its
// objects are gone with it), but a discovery failure is an error, so that the caller keeps
// the object in the inventory instead of forgetting it on the cluster for good.
func TestDeleteKeepsWhatDiscoveryCannotSee(t *testing.T) {
	ref := Ref{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "default", Name: "w", Resource: "w"}
	gone := &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "example.com", Kind: "Widget"}}
	a := &Applier{Cluster: &kube.Cluster{Mapper: mapperFailing{err: gone}}, Project: "p"}
	if deleted, err := a.Delete(context.Background(), []Ref{ref}); err != nil || len(deleted) != 0 {
		t.Fatalf("a kind that is gone: deleted %v, err %v; want nothing and no error", deleted, err)
	}
	a.Cluster.Mapper = mapperFailing{err: errors.New("the server is currently unable to handle the request")}
	if _, err := a.Delete(context.Background(), []Ref{ref}); err == nil || !strings.Contains(err.Error(), "widget/w") {
		t.Fatalf("a discovery failure must be an error naming the object, got %v", err)
	}
}
