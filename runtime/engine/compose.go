package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/compose"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// runCompose brings a docker_compose() service up: its container runs the image kiln built
// for it (or its own), replaced only when its config or image changed, and is ready once it
// runs and passes its healthcheck. Under kiln watch its output goes to the log store.
func (e *runner) runCompose(ctx context.Context, p *plan.Plan, cs *plan.ComposeService) error {
	res := e.result(cs.Name, "compose")
	start := time.Now()
	image := cs.Image
	if cs.ImageRef != "" {
		for i := range p.Images {
			if p.Images[i].Ref == cs.ImageRef {
				image = p.Images[i].FullRef()
			}
		}
	}
	r := &compose.Runner{API: e.docker.API(), ProjectID: apply.ProjectID(p.Dir), Dir: p.Dir}
	id, changed, err := r.Up(ctx, cs, image)
	if err != nil {
		e.failStep(res, err)
		return fmt.Errorf("compose service %s: %w", cs.Name, err)
	}
	if changed {
		e.out.Line(cs.Name, "start  %s (%s)", compose.ContainerName(cs), image)
		e.followComposeLogs(r, cs.Name, id)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Duration(p.Settings.ReadinessTimeout)*time.Second)
	defer cancel()
	if err := r.WaitReady(rctx, id); err != nil {
		e.failStep(res, err)
		return fmt.Errorf("compose service %s: %w", cs.Name, err)
	}
	e.addStep(res, Step{Name: "compose up", Duration: time.Since(start)})
	if changed {
		e.out.Line(cs.Name, "running, ready in %s", round(time.Since(start)))
	} else {
		e.out.Line(cs.Name, "up to date")
	}
	e.markStatus(res, "ready")
	return nil
}

// removeCompose removes the container of a service the project no longer declares (kiln
// watch, after an edit of the Kilnfile or the compose file).
func (e *runner) removeCompose(ctx context.Context, cs *plan.ComposeService) {
	if e.docker == nil {
		return
	}
	r := &compose.Runner{API: e.docker.API(), ProjectID: apply.ProjectID(e.plan.Dir), Dir: e.plan.Dir}
	if err := r.Remove(ctx, cs); err != nil {
		e.out.Line(cs.Name, "error: remove %s: %v", compose.ContainerName(cs), err)
		return
	}
	e.out.Line(cs.Name, "delete container %s", compose.ContainerName(cs))
}

// followComposeLogs streams a new container's output, under kiln watch, to the terminal and
// the log store, as a serve_cmd's; it ends with the container.
func (e *runner) followComposeLogs(r *compose.Runner, name, id string) {
	e.mu.Lock()
	lv := e.live
	e.mu.Unlock()
	if lv == nil {
		return
	}
	terminal := e.out.Writer(name)
	out, done := e.localOutput(name, terminal)
	go func() {
		defer done()
		defer terminal.Flush()
		_ = r.Logs(context.Background(), id, out)
	}()
}
