package helmchart

import (
	"regexp"
	"runtime/debug"
	"sync"
)

// fallbackKubeVersion is used when the binary carries no module information (go run of a
// single file): the Kubernetes release of the client-go kiln is built with, kept in step by
// TestDefaultKubeVersionMatchesClientGo.
const fallbackKubeVersion = "v1.37.0"

var clientGoVersion = regexp.MustCompile(`^v0\.(\d+)\.(\d+)`)

// DefaultKubeVersion is the Kubernetes version charts render for when helm() names none and
// the cluster's is not known: the newest the linked SDK supports, which is the Kubernetes
// release of its client-go (v0.37.x is Kubernetes 1.37). The Helm SDK's own default is
// v1.20.0 unless its binary is built with version ldflags, so charts that require a
// current kubeVersion (">= 1.25") would fail to render.
var DefaultKubeVersion = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fallbackKubeVersion
	}
	for _, dep := range info.Deps {
		if dep.Path != "k8s.io/client-go" {
			continue
		}
		if dep.Replace != nil {
			dep = dep.Replace
		}
		if m := clientGoVersion.FindStringSubmatch(dep.Version); m != nil {
			return "v1." + m[1] + ".0"
		}
	}
	return fallbackKubeVersion
})
