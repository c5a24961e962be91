package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// runLocal runs a local resource's cmd, then starts its serve_cmd and waits for its probe.
func (e *runner) runLocal(ctx context.Context, p *plan.Plan, lr *plan.LocalResource) error {
	res := e.result(lr.Name, "local")
	w := e.out.Writer(lr.Name)
	defer w.Flush()
	if lr.Cmd != nil {
		start := time.Now()
		e.out.Line(lr.Name, "run    %s", strings.Join(lr.Cmd.Argv, " "))
		out, done := e.localOutput(lr.Name, w)
		err := local.Run(ctx, p.Dir, lr.Cmd, e.kubeEnv, out)
		done()
		w.Flush()
		e.publishLocal(lr, start, err, "")
		e.markRehash(downstreamImages(p, lr.Name)...) // its command may have written files they copy
		if err != nil {
			e.failStep(res, err)
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		e.addStep(res, Step{Name: "run", Duration: time.Since(start)})
		e.out.Line(lr.Name, "done   in %s", round(time.Since(start)))
	}
	if lr.ServeCmd != nil {
		start := time.Now()
		e.stopServer(lr.Name) // kiln watch: the new serve_cmd replaces the old one
		out, done := e.localOutput(lr.Name, w)
		srv, err := local.Serve(context.WithoutCancel(ctx), p.Dir, lr.ServeCmd, e.kubeEnv, out)
		if err != nil {
			done()
			e.publishLocal(lr, start, err, "stopped")
			e.failStep(res, err)
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		e.mu.Lock()
		if e.servers == nil {
			e.servers = map[string]*local.Server{}
		}
		e.servers[lr.Name] = srv
		if e.serveLogs == nil {
			e.serveLogs = map[string]func(){}
		}
		e.serveLogs[lr.Name] = done
		e.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, time.Duration(e.plan.Settings.ReadinessTimeout)*time.Second)
		defer cancel()
		if err := srv.WaitReady(rctx, p.Dir, lr.ReadinessProbe); err != nil {
			e.failStep(res, err)
			return fmt.Errorf("local resource %s: %w", lr.Name, err)
		}
		e.publishLocal(lr, start, nil, "running")
		e.addStep(res, Step{Name: "serve", Duration: time.Since(start)})
		e.out.Line(lr.Name, "serving, ready in %s", round(time.Since(start)))
	}
	e.markStatus(res, "ready")
	return nil
}

// localOutput is where a local command writes: the terminal, and under kiln watch also the
// log store, so that kiln logs has local output as it has containers'. done flushes the
// store's last partial line.
func (e *runner) localOutput(name string, terminal io.Writer) (io.Writer, func()) {
	e.mu.Lock()
	lv := e.live
	e.mu.Unlock()
	if lv == nil {
		return terminal, func() {}
	}
	stored := lv.logs.Writer(name)
	return io.MultiWriter(terminal, bestEffort{stored}), func() { stored.Close() }
}

// bestEffort never fails a write: the store closes when kiln watch stops, before the
// serve_cmds do, and their output must keep flowing to the terminal until then.
type bestEffort struct{ w io.Writer }

func (b bestEffort) Write(p []byte) (int, error) {
	_, _ = b.w.Write(p)
	return len(p), nil
}

// stopServer stops the serve_cmd of local resource name, if it runs.
func (e *runner) stopServer(name string) {
	e.mu.Lock()
	srv := e.servers[name]
	done := e.serveLogs[name]
	delete(e.servers, name)
	delete(e.serveLogs, name)
	e.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
	if done != nil {
		done()
	}
}

// stopServers stops every serve_cmd.
func (e *runner) stopServers() {
	e.mu.Lock()
	servers := e.servers
	e.servers = nil
	e.mu.Unlock()
	for _, s := range servers {
		s.Stop()
	}
}

// markRehash notes images whose tags must be computed again before they are built.
func (e *runner) markRehash(refs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rehash == nil {
		e.rehash = map[string]bool{}
	}
	for _, r := range refs {
		e.rehash[r] = true
	}
}

// downstreamImages are the images whose graph node depends, directly or not, on resource
// name: those a local resource's output may reach.
func downstreamImages(p *plan.Plan, name string) []string {
	g, err := plan.BuildGraph(p)
	if err != nil {
		return nil
	}
	target := plan.ResourceNode(name)
	memo := map[plan.NodeID]bool{}
	var reaches func(n plan.NodeID) bool
	reaches = func(n plan.NodeID) bool {
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = false
		for _, d := range g.Deps[n] {
			if d == target || reaches(d) {
				memo[n] = true
				break
			}
		}
		return memo[n]
	}
	var out []string
	for _, img := range p.Images {
		if reaches(plan.ImageNode(img.Ref)) {
			out = append(out, img.Ref)
		}
	}
	return out
}
