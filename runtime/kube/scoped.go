package kube

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Environment variables every command kiln starts gets, naming the one context it may use.
const (
	EnvContext     = "KILN_K8S_CONTEXT"
	EnvTiltContext = "TILT_K8S_CONTEXT"
)

// LoadConfig reads the user's kubeconfig ($KUBECONFIG or ~/.kube/config) as kubectl does. A
// missing kubeconfig is an empty config, not an error.
func LoadConfig() (*clientcmdapi.Config, error) {
	cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	return cfg, nil
}

// Scoped is a private kubeconfig file for the commands kiln starts (local(), local_resource,
// custom_build, k8s_custom_deploy): it holds the one context kiln checked, as its current
// context, with credentials inlined, so that a command cannot act on any other cluster of the
// user's kubeconfig, whatever its current context is.
type Scoped struct {
	// Context is the context the file holds ("" for a file with no context at all).
	Context string
	// Path is the file (mode 0600, in a 0700 directory of its own).
	Path string
	dir  string
}

// WriteScoped writes a kubeconfig holding only context of cfg. An empty context writes a
// kubeconfig with no context: commands then reach no cluster.
func WriteScoped(cfg *clientcmdapi.Config, context string) (*Scoped, error) {
	out := clientcmdapi.NewConfig()
	if context != "" {
		out = cfg.DeepCopy()
		out.CurrentContext = context
		if err := clientcmdapi.MinifyConfig(out); err != nil {
			return nil, fmt.Errorf("kubeconfig for context %q: %w", context, err)
		}
		// Inline certificate and key files, so that the copy does not depend on paths
		// relative to the user's kubeconfig.
		if err := clientcmdapi.FlattenConfig(out); err != nil {
			return nil, fmt.Errorf("kubeconfig for context %q: %w", context, err)
		}
	}
	data, err := clientcmd.Write(*out)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kiln-kubeconfig-") // mode 0700
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Scoped{Context: context, Path: path, dir: dir}, nil
}

// Env is the environment a command gets: KUBECONFIG pointing at the scoped file, and the
// context's name under KILN_K8S_CONTEXT and TILT_K8S_CONTEXT. Nil for a nil Scoped.
func (s *Scoped) Env() map[string]string {
	if s == nil {
		return nil
	}
	return map[string]string{"KUBECONFIG": s.Path, EnvContext: s.Context, EnvTiltContext: s.Context}
}

// Remove deletes the file. Safe on nil.
func (s *Scoped) Remove() {
	if s != nil {
		_ = os.RemoveAll(s.dir)
	}
}
