package supervise

import (
	"fmt"
	"slices"
)

// Where the supervisor lives: kiln puts its own (static) binary in HostDir of each kind node,
// and pods whose containers it supervises mount that directory read-only at MountDir.
const (
	HostDir    = "/var/lib/kiln/supervisor"
	MountDir   = "/.kiln"
	volumeName = "kiln-supervisor"
)

// Program is the path of the supervisor named binary inside a container.
func Program(binary string) string { return MountDir + "/" + binary }

// ImageCommand is what an image runs when the pod spec does not say: its ENTRYPOINT and CMD.
// KeepRunning asks the supervisor to stay up when the program exits by itself, until the
// next restart (docker_build_with_restart(exit_policy='continue')).
type ImageCommand struct {
	Entrypoint, Cmd []string
	KeepRunning     bool
}

// KeepRunningFlag is the supervisor's flag for ImageCommand.KeepRunning.
const KeepRunningFlag = "--keep-running"

// Inject rewrites, in place, every container of the pod spec spec (a decoded
// PodSpec: map[string]any) whose image is in images, so that kiln's supervisor (binary,
// in MountDir) runs its program: the container's command (or the image's ENTRYPOINT)
// and args (or the image's CMD), as the kubelet would have run them. It adds the read-only
// hostPath volume. It returns the names of the containers it changed.
func Inject(spec map[string]any, binary string, images map[string]ImageCommand) ([]string, error) {
	containers, _ := spec["containers"].([]any)
	var changed []string
	for _, c := range containers {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		image, _ := cm["image"].(string)
		ic, ok := images[image]
		if !ok {
			continue
		}
		command, args := stringList(cm["command"]), stringList(cm["args"])
		if len(command) > 0 && command[0] == Program(binary) {
			continue // already supervised
		}
		if len(command) == 0 {
			command = ic.Entrypoint
			if _, set := cm["args"]; !set {
				args = ic.Cmd
			}
		}
		program := append(slices.Clone(command), args...)
		name, _ := cm["name"].(string)
		if len(program) == 0 {
			return nil, fmt.Errorf("container %s: the image %s has no ENTRYPOINT or CMD and the pod spec no command, so there is nothing for restart_container() to restart", name, image)
		}
		head := []string{Program(binary), Command}
		if ic.KeepRunning {
			head = append(head, KeepRunningFlag)
		}
		cm["command"] = toAny(append(append(head, "--"), program...))
		delete(cm, "args")
		mounts, _ := cm["volumeMounts"].([]any)
		cm["volumeMounts"] = append(mounts, map[string]any{"name": volumeName, "mountPath": MountDir, "readOnly": true})
		changed = append(changed, name)
	}
	if len(changed) > 0 {
		volumes, _ := spec["volumes"].([]any)
		has := false
		for _, v := range volumes {
			if vm, ok := v.(map[string]any); ok && vm["name"] == volumeName {
				has = true
			}
		}
		if !has {
			spec["volumes"] = append(volumes, map[string]any{"name": volumeName, "hostPath": map[string]any{"path": HostDir, "type": "Directory"}})
		}
	}
	return changed, nil
}

// PodSpec returns the pod spec inside a workload object (decoded YAML), or nil: a Pod's
// spec, a CronJob's job template's, or any other's spec.template.spec.
func PodSpec(obj map[string]any) map[string]any {
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			next, ok := m[k].(map[string]any)
			if !ok {
				return nil
			}
			m = next
		}
		return m
	}
	switch obj["kind"] {
	case "Pod":
		return get(obj, "spec")
	case "CronJob":
		return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
	default:
		return get(obj, "spec", "template", "spec")
	}
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
