package engine

import (
	"context"
	"fmt"

	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/supervise"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// restartImages are the images of r whose live_update has restart_container(), by full ref.
func (e *runner) restartImages(r *plan.Resource) []*plan.Image {
	var out []*plan.Image
	for _, ref := range r.Images {
		for i := range e.plan.Images {
			img := &e.plan.Images[i]
			if img.Ref != ref || img.LiveUpdate == nil {
				continue
			}
			for _, st := range img.LiveUpdate.Steps {
				if st.Kind == plan.StepRestartContainer {
					out = append(out, img)
					break
				}
			}
		}
	}
	return out
}

// supervise returns r's objects with kiln's supervisor in front of the program of every
// container whose image's live_update has restart_container(), so that a restart after a
// sync starts the program again in the same container, with the synced files (a new
// container from the image would not have them). The supervisor is kiln's own static
// binary, put on every kind node and mounted read-only, so the image needs nothing. Off
// kind, or when kiln cannot be the supervisor, the objects are left as they are, with a
// warning, and each change with a restart is rebuilt instead.
func (e *runner) supervise(ctx context.Context, r *plan.Resource, objs []plan.Object) ([]plan.Object, error) {
	imgs := e.restartImages(r)
	if len(imgs) == 0 {
		return objs, nil
	}
	in, err := e.supervisor()
	if err == nil {
		err = e.installSupervisor(ctx, in)
	}
	if err != nil {
		e.warnOnce("supervise "+r.Name, r.Name, "restart_container() is not available here, so a change that needs it is rebuilt instead: %v", err)
		return objs, nil
	}
	binary, _ := in.Binary()
	commands := map[string]supervise.ImageCommand{}
	for _, img := range imgs {
		res, err := e.docker.API().ImageInspect(ctx, img.FullRef())
		if err != nil {
			return nil, fmt.Errorf("resource %s: read the ENTRYPOINT and CMD of %s for restart_container(): %w", r.Name, img.FullRef(), err)
		}
		var ic supervise.ImageCommand
		if res.Config != nil {
			ic = supervise.ImageCommand{Entrypoint: res.Config.Entrypoint, Cmd: res.Config.Cmd}
		}
		for _, st := range img.LiveUpdate.Steps {
			ic.KeepRunning = ic.KeepRunning || st.Kind == plan.StepRestartContainer && st.ExitPolicy == "continue"
		}
		commands[img.FullRef()] = ic
	}
	out := make([]plan.Object, len(objs))
	for i, o := range objs {
		spec := supervise.PodSpec(o)
		if spec == nil {
			out[i] = o
			continue
		}
		c := deepCopy(map[string]any(o)).(map[string]any)
		if _, err := supervise.Inject(supervise.PodSpec(c), binary, commands); err != nil {
			return nil, fmt.Errorf("resource %s: %s: %w", r.Name, o.ID(), err)
		}
		out[i] = c
	}
	return out, nil
}

// supervisor returns the runner's supervisor installer, made at first use; an error off kind.
func (e *runner) supervisor() (*supervise.Installer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.isKind || e.docker == nil {
		return nil, fmt.Errorf("restart_container() needs a kind cluster, where kiln can put its supervisor on the nodes")
	}
	if e.installer == nil {
		e.installer = &supervise.Installer{API: e.docker.API(), Cluster: e.kindName}
	}
	if _, err := e.installer.Binary(); err != nil {
		return nil, err
	}
	return e.installer, nil
}

// installSupervisor puts the supervisor on every node of the cluster.
func (e *runner) installSupervisor(ctx context.Context, in *supervise.Installer) error {
	nodes, err := e.kc.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, n := range nodes.Items {
		if err := in.Install(ctx, n.Name); err != nil {
			return err
		}
	}
	return nil
}

// warnOnce prints a warning under label the first time key is seen in the session.
func (e *runner) warnOnce(key, label, format string, args ...any) {
	e.mu.Lock()
	if e.warned == nil {
		e.warned = map[string]bool{}
	}
	seen := e.warned[key]
	e.warned[key] = true
	e.mu.Unlock()
	if !seen {
		e.out.Line(label, "warning: "+format, args...)
	}
}

// supervisorProgram is the supervisor's path in the containers, or why there is none.
func (e *runner) supervisorProgram() (string, error) {
	in, err := e.supervisor()
	if err != nil {
		return "", err
	}
	binary, err := in.Binary()
	return supervise.Program(binary), err
}

// deepCopy copies decoded YAML: maps and lists anew, other values as they are.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case plan.Object:
		return deepCopy(map[string]any(t))
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	default:
		return v
	}
}
