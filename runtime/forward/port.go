// Package forward keeps local ports forwarded to the newest Ready pod of a resource.
package forward

// ContainerPortFor is the container port a forward goes to, Tilt's rule: the given one; else
// the declared container port equal to the local port; else the first declared port; else
// the local port.
func ContainerPortFor(local, container int, declared []int32) int {
	if container != 0 {
		return container
	}
	for _, p := range declared {
		if int(p) == local {
			return local
		}
	}
	if len(declared) > 0 {
		return int(declared[0])
	}
	return local
}
