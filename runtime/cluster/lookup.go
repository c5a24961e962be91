package cluster

import (
	"context"
	"net/netip"

	"github.com/moby/moby/client"

	"github.com/kiln-dev/kiln/runtime/docker"
)

// clusterLabel is kind's label on every node container, valued with the cluster name.
const clusterLabel = "io.x-k8s.kind.cluster"

// LookupKind reports whether kind cluster name exists on the Docker engine, and the addresses
// of its node containers. It is the kube.Guard's check that a kind-<name> context is that
// cluster: one container list call, no docker CLI.
func LookupKind(ctx context.Context, name string) ([]netip.Addr, bool, error) {
	d, err := docker.Connect(ctx)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	res, err := d.API().ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", clusterLabel+"="+name),
	})
	if err != nil {
		return nil, false, err
	}
	var addrs []netip.Addr
	for _, c := range res.Items {
		if c.NetworkSettings == nil {
			continue
		}
		for _, ep := range c.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			for _, a := range []netip.Addr{ep.IPAddress, ep.GlobalIPv6Address} {
				if a.IsValid() {
					addrs = append(addrs, a.Unmap())
				}
			}
		}
	}
	return addrs, len(res.Items) > 0, nil
}
