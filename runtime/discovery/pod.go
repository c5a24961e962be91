// Package discovery finds the pods of kiln's resources through informers (owner references
// and extra_pod_selectors) and tells subscribers when they change.
package discovery

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Pod is what discovery tracks of one pod of a resource.
type Pod struct {
	Resource, Namespace, Name string
	UID                       types.UID
	Node                      string
	Phase                     string
	Ready                     bool
	Created                   time.Time
	ReadySince                time.Time
	Deleting                  bool
	Containers                []Container
	InitContainers            []Container
}

// Container is one container of a Pod.
type Container struct {
	Name, Image, ImageID, ContainerID string
	Ready                             bool
	Restarts                          int32
	State                             string // waiting|running|terminated
	Reason, Message                   string
	StartedAt                         time.Time
	LastExitCode                      *int32
	// Ports are the container ports the pod spec declares, in order (port forwards default to them).
	Ports []int32
}

// SortNewestFirst orders pods by creation time, newest first; names break ties so the order
// is stable.
func SortNewestFirst(pods []Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		if !pods[i].Created.Equal(pods[j].Created) {
			return pods[i].Created.After(pods[j].Created)
		}
		return pods[i].Name > pods[j].Name
	})
}

// NewestReady returns the newest pod that is Ready and not being deleted: the one a port
// forward targets. A pod that is terminating may still report Ready for a while, and traffic
// sent there is lost when it goes.
func NewestReady(pods []Pod) (Pod, bool) {
	var best Pod
	found := false
	for _, p := range pods {
		if !p.Ready || p.Deleting {
			continue
		}
		if !found || p.Created.After(best.Created) || (p.Created.Equal(best.Created) && p.Name > best.Name) {
			best, found = p, true
		}
	}
	return best, found
}
