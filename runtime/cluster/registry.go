package cluster

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// The KEP-1755 ConfigMap through which a cluster advertises its local registry.
const (
	RegistryConfigMapName      = "local-registry-hosting"
	RegistryConfigMapNamespace = "kube-public"
	RegistryConfigMapKey       = "localRegistryHosting.v1"
)

// RegistryHosting is the localRegistryHosting.v1 value of KEP-1755.
type RegistryHosting struct {
	// Host is where tools on the developer's machine push ("localhost:5001").
	Host string `json:"host,omitempty"`
	// HostFromContainerRuntime is how the nodes' container runtime names the registry, when it
	// differs from Host.
	HostFromContainerRuntime string `json:"hostFromContainerRuntime,omitempty"`
	// HostFromClusterNetwork is how pods reach the registry.
	HostFromClusterNetwork string `json:"hostFromClusterNetwork,omitempty"`
	// Help is a URL about setting the registry up.
	Help string `json:"help,omitempty"`
}

// LocalRegistry returns the host of the cluster's local registry (KEP-1755), when the cluster
// advertises one with a host; ok is false when it doesn't.
func LocalRegistry(ctx context.Context, client kubernetes.Interface) (host string, ok bool, err error) {
	h, err := LocalRegistryHosting(ctx, client)
	if err != nil || h == nil || h.Host == "" {
		return "", false, err
	}
	return h.Host, true, nil
}

// LocalRegistryHosting reads the whole KEP-1755 value; nil, nil when the ConfigMap or its key
// is absent.
func LocalRegistryHosting(ctx context.Context, client kubernetes.Interface) (*RegistryHosting, error) {
	cm, err := client.CoreV1().ConfigMaps(RegistryConfigMapNamespace).Get(ctx, RegistryConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ConfigMap %s/%s: %w", RegistryConfigMapNamespace, RegistryConfigMapName, err)
	}
	data, ok := cm.Data[RegistryConfigMapKey]
	if !ok {
		return nil, nil
	}
	return parseRegistryHosting(data)
}

func parseRegistryHosting(data string) (*RegistryHosting, error) {
	var h RegistryHosting
	if err := yaml.Unmarshal([]byte(data), &h); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s, key %s: %w", RegistryConfigMapNamespace, RegistryConfigMapName, RegistryConfigMapKey, err)
	}
	return &h, nil
}
