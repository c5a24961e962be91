// Package kube connects to a Kubernetes cluster through a kubeconfig context, after checking
// that kiln may write to it: local contexts only, unless the project allows others.
package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// localPrefixes and localNames are the contexts of local clusters, as Tilt counts them.
var (
	localPrefixes = []string{"kind-", "k3d-", "minikube", "docker-for-desktop", "docker-desktop", "microk8s", "crc-", "krucible-", "rancher-desktop", "orbstack", "colima"}
)

// IsLocal reports whether a context names a local development cluster.
func IsLocal(context string) bool {
	if strings.Contains(context, "/api-crc-testing:") {
		return true // CRC names its contexts "<ns>/api-crc-testing:6443/<user>"
	}
	for _, p := range localPrefixes {
		if strings.HasPrefix(context, p) {
			return true
		}
	}
	return false
}

// Cluster is a connection to one context.
type Cluster struct {
	Context   string
	Namespace string // the context's default namespace, or "default"
	Config    *rest.Config
	Client    kubernetes.Interface
	Dynamic   dynamic.Interface
	Mapper    meta.ResettableRESTMapper
}

// CurrentContext returns the kubeconfig's current context.
func CurrentContext() (string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	raw, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("read kubeconfig: %w", err)
	}
	return raw.CurrentContext, nil
}

// Connect makes clients for context. It does not contact the cluster; discovery results are
// cached on disk, as kubectl does, so a warm run costs no discovery round trips.
func Connect(context string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", context, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := cachedDiscovery(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{
		Context: context, Namespace: ns, Config: cfg, Client: client, Dynamic: dyn,
		Mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc),
	}, nil
}

func cachedDiscovery(cfg *rest.Config) (discovery.CachedDiscoveryInterface, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	host := strings.NewReplacer(":", "_", "/", "_").Replace(cfg.Host)
	dir := filepath.Join(home, ".kube", "cache", "discovery", host)
	return disk.NewCachedDiscoveryClientForConfig(cfg, dir, filepath.Join(home, ".kube", "cache", "http"), 10*time.Minute)
}
