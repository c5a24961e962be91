package engine

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestTargetContext(t *testing.T) {
	p := &plan.Plan{Cluster: &plan.Cluster{Name: "dev", Context: "kind-dev"}}
	if got, err := TargetContext(p, ""); err != nil || got != "kind-dev" {
		t.Fatalf("kind_cluster wins: %q %v", got, err)
	}
	if _, err := TargetContext(p, "kind-other"); err == nil {
		t.Fatal("--context contradicting kind_cluster must be an error")
	}
	if got, _ := TargetContext(&plan.Plan{}, "k3d-x"); got != "k3d-x" {
		t.Fatalf("--context: got %q", got)
	}
}

func TestDownOrder(t *testing.T) {
	p := &plan.Plan{Resources: []plan.Resource{
		{Name: "db"},
		{Name: "api", ResourceDeps: []string{"db"}},
	}}
	refs := []apply.Ref{
		{Kind: "Deployment", Name: "db", Resource: "db"},
		{Kind: "ConfigMap", Name: "api-config", Resource: "api"},
		{Kind: "Deployment", Name: "api", Resource: "api"},
	}
	got := downOrder(p, refs)
	want := []string{"api", "api-config", "db"} // dependents first; within api, the Deployment before its ConfigMap
	for i, r := range got {
		if r.Name != want[i] {
			t.Fatalf("down order = %v, want %v", got, want)
		}
	}
}

// TestRunRefusesAConflictingContext: the first check of a run fails cleanly (no cluster is
// contacted, nothing is left open), with the conflict named.
func TestRunRefusesAConflictingContext(t *testing.T) {
	p := &plan.Plan{Cluster: &plan.Cluster{Name: "dev", Context: "kind-dev"}, Settings: plan.Settings{CITimeout: 60}}
	_, err := Run(context.Background(), p, Options{Out: io.Discard, Context: "kind-other"})
	if err == nil || !strings.Contains(err.Error(), "conflicts with kind_cluster") {
		t.Fatalf("want the conflict, got %v", err)
	}
}
