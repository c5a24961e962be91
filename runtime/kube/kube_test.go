package kube

import (
	"strings"
	"testing"
)

func TestCheckAllowed(t *testing.T) {
	for _, ctx := range []string{"kind-dev", "k3d-x", "minikube", "docker-desktop", "microk8s"} {
		if err := CheckAllowed(ctx, nil); err != nil {
			t.Errorf("%s is local, got %v", ctx, err)
		}
	}
	err := CheckAllowed("gke_prod_us-east1_main", nil)
	if err == nil || !strings.Contains(err.Error(), `"gke_prod_us-east1_main"`) || !strings.Contains(err.Error(), "allow_k8s_contexts") {
		t.Fatalf("a remote context must be refused with its name and the way out, got %v", err)
	}
	if err := CheckAllowed("gke_prod_us-east1_main", []string{"gke_prod_us-east1_main"}); err != nil {
		t.Fatalf("allow_k8s_contexts must allow it: %v", err)
	}
	if err := CheckAllowed("", nil); err == nil {
		t.Fatal("no context must be an error")
	}
}
