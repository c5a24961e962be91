package kube

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KindLookup reports the addresses of the node containers of the kind cluster name, and
// whether that cluster exists at all. The engine passes runtime/cluster's, which asks the
// Docker engine; tests pass a fake.
type KindLookup func(ctx context.Context, name string) (addrs []netip.Addr, exists bool, err error)

// Guard decides whether kiln may write to a context. A context passes when the project lists
// it in allow_k8s_contexts, or when it is a local cluster in fact, not only in name:
//
//   - kind-X must be an existing kind cluster X whose API server is on loopback or on one of
//     X's node containers;
//   - k3d-*, docker-desktop and the like must have their server on loopback (or the names
//     those tools use for it);
//   - every other local name (minikube, microk8s, CRC, ...) must have a server whose address
//     is loopback, private or link-local: a context named "minikube" that points at a public
//     address is refused.
//
// Everything else needs allow_k8s_contexts.
type Guard struct {
	// Kind looks kind clusters up; nil means a kind-* context cannot be verified and is refused.
	Kind KindLookup
	// Resolve resolves a server host name (nil: the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Check returns nil if kiln may write to context, given the raw kubeconfig and the project's
// allow_k8s_contexts. The error says why not and what to do.
func (g Guard) Check(ctx context.Context, cfg *clientcmdapi.Config, context string, allowed []string) error {
	if context == "" {
		return fmt.Errorf("no Kubernetes context: set one in your kubeconfig, pass --context, or declare kind_cluster() in the Kilnfile")
	}
	for _, a := range allowed {
		if a == context {
			return nil
		}
	}
	allowHint := fmt.Sprintf("if you really mean it, add allow_k8s_contexts(%q) to the Kilnfile", context)
	if !IsLocal(context) {
		return fmt.Errorf("refusing to touch context %q: it is not a local cluster (kind-*, k3d-*, minikube, docker-desktop, ...); %s", context, allowHint)
	}
	server, err := contextServer(cfg, context)
	if err != nil {
		return err
	}
	why, err := g.notLocal(ctx, context, server)
	if err != nil {
		return fmt.Errorf("cannot verify that context %q is a local cluster: %v; %s", context, err, allowHint)
	}
	if why != "" {
		return fmt.Errorf("refusing to touch context %q: it is named like a local cluster, but %s; %s", context, why, allowHint)
	}
	return nil
}

// notLocal returns why the server of a locally named context is not local ("" if it is).
func (g Guard) notLocal(ctx context.Context, context, server string) (string, error) {
	host, err := serverHost(server)
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(context, "kind-"):
		return g.notKind(ctx, strings.TrimPrefix(context, "kind-"), server, host)
	case strings.HasPrefix(context, "k3d-"), context == "docker-desktop", context == "docker-for-desktop",
		context == "rancher-desktop", strings.HasPrefix(context, "orbstack"), strings.HasPrefix(context, "colima"):
		// These tools publish the API server on the host's loopback.
		if loopbackName(host) {
			return "", nil
		}
		addrs, err := g.resolve(ctx, host)
		if err != nil {
			return "", err
		}
		if !all(addrs, func(a netip.Addr) bool { return a.IsLoopback() || a.IsUnspecified() }) {
			return fmt.Sprintf("its server %s is not on this machine's loopback", server), nil
		}
		return "", nil
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return "", err
	}
	if !all(addrs, privateAddr) {
		return fmt.Sprintf("its server %s has a public address", server), nil
	}
	return "", nil
}

// notKind checks a kind-<name> context: the kind cluster must exist and the server must be on
// loopback (kind publishes the API server there) or a node container of that cluster.
func (g Guard) notKind(ctx context.Context, name, server, host string) (string, error) {
	if g.Kind == nil {
		return "", fmt.Errorf("kind clusters cannot be listed here")
	}
	nodes, exists, err := g.Kind(ctx, name)
	if err != nil {
		return "", fmt.Errorf("list kind cluster %s: %w", name, err)
	}
	if !exists {
		return fmt.Sprintf("no kind cluster %q exists on this machine's Docker engine", name), nil
	}
	if loopbackName(host) {
		return "", nil
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if a.IsLoopback() || a.IsUnspecified() {
			continue
		}
		found := false
		for _, n := range nodes {
			if n == a.Unmap() {
				found = true
			}
		}
		if !found {
			return fmt.Sprintf("its server %s is neither on loopback nor a node of kind cluster %q", server, name), nil
		}
	}
	return "", nil
}

func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if g.Resolve != nil {
		return g.Resolve(ctx, host)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve server host %s: %w", host, err)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// loopbackName: host names that always mean this machine, or the VM a desktop tool runs
// Kubernetes in on it.
func loopbackName(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "kubernetes.docker.internal", "host.docker.internal":
		return true
	}
	return strings.HasSuffix(strings.ToLower(host), ".localhost")
}

func privateAddr(a netip.Addr) bool {
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT: VM networks (lima, multipass)
}

func all(addrs []netip.Addr, pred func(netip.Addr) bool) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !pred(a) {
			return false
		}
	}
	return true
}

// contextServer returns the API server URL of a context of cfg.
func contextServer(cfg *clientcmdapi.Config, context string) (string, error) {
	if cfg == nil {
		return "", fmt.Errorf("context %q is not in the kubeconfig", context)
	}
	c := cfg.Contexts[context]
	if c == nil {
		return "", fmt.Errorf("context %q is not in the kubeconfig", context)
	}
	cl := cfg.Clusters[c.Cluster]
	if cl == nil || cl.Server == "" {
		return "", fmt.Errorf("context %q names cluster %q, which has no server in the kubeconfig", context, c.Cluster)
	}
	return cl.Server, nil
}

func serverHost(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q is not a URL", server)
	}
	return u.Hostname(), nil
}
