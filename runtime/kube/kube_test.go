package kube

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfig returns a config whose contexts (name → server) each have their own cluster.
func kubeconfig(servers map[string]string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "token-of-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	return cfg
}

// kindClusters is a fake KindLookup: cluster name → node addresses.
func kindClusters(clusters map[string][]string) KindLookup {
	return func(_ context.Context, name string) ([]netip.Addr, bool, error) {
		nodes, ok := clusters[name]
		var addrs []netip.Addr
		for _, n := range nodes {
			addrs = append(addrs, netip.MustParseAddr(n))
		}
		return addrs, ok, nil
	}
}

func TestGuard(t *testing.T) {
	cfg := kubeconfig(map[string]string{
		"kind-dev":         "https://127.0.0.1:40123",
		"kind-node":        "https://172.18.0.2:6443",
		"kind-staging":     "https://203.0.113.10:6443", // a remote cluster named like kind
		"kind-gone":        "https://127.0.0.1:40999",   // no such kind cluster
		"k3d-x":            "https://0.0.0.0:6550",
		"k3d-remote":       "https://198.51.100.7:6443",
		"docker-desktop":   "https://kubernetes.docker.internal:6443",
		"minikube":         "https://192.168.49.2:8443",
		"microk8s":         "https://203.0.113.99:16443",
		"gke_prod_main":    "https://35.1.2.3",
		"kind-host-lookup": "https://kind-api.example:6443",
	})
	g := Guard{
		Kind: kindClusters(map[string][]string{"dev": {"172.18.0.3"}, "node": {"172.18.0.2"}, "staging": {"172.18.0.9"}, "host-lookup": {"172.18.0.4"}}),
		Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("8.8.8.8")}, nil
		},
	}
	ctx := context.Background()
	for _, ok := range []string{"kind-dev", "kind-node", "k3d-x", "docker-desktop", "minikube"} {
		if err := g.Check(ctx, cfg, ok, nil); err != nil {
			t.Errorf("%s is local in fact, got %v", ok, err)
		}
	}
	for name, want := range map[string]string{
		"kind-staging":     "neither on loopback nor a node",
		"kind-gone":        `no kind cluster "gone"`,
		"k3d-remote":       "not on this machine's loopback",
		"microk8s":         "public address",
		"gke_prod_main":    "not a local cluster",
		"kind-host-lookup": "neither on loopback nor a node",
	} {
		err := g.Check(ctx, cfg, name, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `allow_k8s_contexts("`+name+`")`) {
			t.Errorf("%s: want a refusal saying %q and naming the way out, got %v", name, want, err)
		}
		if err := g.Check(ctx, cfg, name, []string{name}); err != nil {
			t.Errorf("%s: allow_k8s_contexts must allow it: %v", name, err)
		}
	}
	if err := g.Check(ctx, cfg, "kind-missing", nil); err == nil || !strings.Contains(err.Error(), "not in the kubeconfig") {
		t.Errorf("a context missing from the kubeconfig: got %v", err)
	}
	if err := g.Check(ctx, cfg, "", nil); err == nil {
		t.Fatal("no context must be an error")
	}
	if err := (Guard{}).Check(ctx, cfg, "kind-dev", nil); err == nil || !strings.Contains(err.Error(), "cannot verify") {
		t.Fatalf("without a kind lookup a kind context cannot be verified, got %v", err)
	}
}

func TestWriteScopedHoldsOnlyTheTarget(t *testing.T) {
	cfg := kubeconfig(map[string]string{"kind-dev": "https://127.0.0.1:40123", "prod": "https://35.1.2.3"})
	cfg.CurrentContext = "prod"
	s, err := WriteScoped(cfg, "kind-dev")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("scoped kubeconfig mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(s.Path)
	if strings.Contains(string(data), "prod") || strings.Contains(string(data), "35.1.2.3") {
		t.Errorf("scoped kubeconfig mentions the other context:\n%s", data)
	}
	got, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "kind-dev" || len(got.Contexts) != 1 || got.Clusters["kind-dev"].Server != "https://127.0.0.1:40123" {
		t.Errorf("scoped kubeconfig = %+v", got)
	}
	env := s.Env()
	if env["KUBECONFIG"] != s.Path || env[EnvContext] != "kind-dev" || env[EnvTiltContext] != "kind-dev" {
		t.Errorf("env = %v", env)
	}
	s.Remove()
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Errorf("Remove left %s", s.Path)
	}

	empty, err := WriteScoped(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Remove()
	data, _ = os.ReadFile(empty.Path)
	if got, err := clientcmd.Load(data); err != nil || len(got.Contexts) != 0 {
		t.Errorf("empty scoped kubeconfig has contexts: %s", data)
	}
}
