package engine

import (
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/status"
)

// publish writes one resource's result to the status store (Options.Store), where the
// local API, kiln get and the views read it. Without a store it does nothing.
func (e *runner) publish(name string) {
	if e.opts.Store == nil {
		return
	}
	e.mu.Lock()
	r := e.results[name]
	if r == nil {
		e.mu.Unlock()
		return
	}
	st := status.ResourceStatus{State: stateOf(r.Status)}
	if r.Err != nil {
		st.Error = r.Err.Error()
	}
	for _, s := range r.Steps {
		st.Steps = append(st.Steps, status.Step{Name: s.Name, DurationMS: float64(s.Duration.Microseconds()) / 1000, Note: s.Note})
	}
	kind := r.Kind
	lv := e.live
	e.mu.Unlock()
	if lv != nil && kind == "k8s" {
		lv.fillLive(name, &st)
	}
	if st.Error != "" {
		st.Error = e.out.Scrub(st.Error)
	}
	e.opts.Store.Put(status.KindResource, name, e.specOf(name, kind), st)
}

// stateOf maps a result's status to the store's states.
func stateOf(s string) string {
	switch s {
	case "not started":
		return status.StatePending
	case "running":
		return status.StateUpdating
	}
	return s
}

// specOf is what the plan says of a resource, for the store.
func (e *runner) specOf(name, kind string) status.ResourceSpec {
	p := e.plan
	spec := status.ResourceSpec{Type: kind}
	links := func(ls []plan.Link) (out []string) {
		for _, l := range ls {
			out = append(out, l.URL)
		}
		return out
	}
	switch kind {
	case "image":
		spec.Images = []string{strings.TrimPrefix(name, "image ")}
		spec.AutoInit = true
	case "k8s":
		for _, r := range p.Resources {
			if r.Name == name {
				spec.TriggerMode, spec.AutoInit, spec.ResourceDeps = r.TriggerMode, r.AutoInit, r.ResourceDeps
				spec.Images, spec.Labels, spec.Links = r.Images, r.Labels, links(r.Links)
			}
		}
	case "local":
		for _, lr := range p.LocalResources {
			if lr.Name == name {
				spec.TriggerMode, spec.AutoInit, spec.ResourceDeps = lr.TriggerMode, lr.AutoInit, lr.ResourceDeps
				spec.Labels, spec.Links = lr.Labels, links(lr.Links)
			}
		}
	case "compose":
		for _, cs := range p.ComposeServices {
			if cs.Name == name {
				spec.TriggerMode, spec.AutoInit = cs.TriggerMode, cs.AutoInit
				spec.ResourceDeps = append(append([]string{}, cs.ResourceDeps...), cs.DependsOn...)
				spec.Labels, spec.Links = cs.Labels, links(cs.Links)
				if cs.ImageRef != "" {
					spec.Images = []string{cs.ImageRef}
				}
			}
		}
	}
	return spec
}

// publishAll writes every resource's result, and removes from the store the resources the
// plan no longer has.
func (e *runner) publishAll() {
	if e.opts.Store == nil {
		return
	}
	have := map[string]bool{}
	for _, r := range e.orderedResults() {
		have[r.Name] = true
		e.publish(r.Name)
	}
	e.deleteExcept(status.KindResource, have)
	e.publishButtons()
}

// publishButtons writes the plan's buttons (spec only: what a view shows and would run),
// with their commands scrubbed of secrets, and removes those the plan no longer has.
func (e *runner) publishButtons() {
	have := map[string]bool{}
	for _, b := range e.plan.Buttons {
		have[b.Name] = true
		if b.Command != nil {
			c := *b.Command
			c.Argv = make([]string, len(b.Command.Argv))
			for i, a := range b.Command.Argv {
				c.Argv[i] = e.out.Scrub(a)
			}
			if len(b.Command.Env) > 0 {
				c.Env = map[string]string{}
				for k, v := range b.Command.Env {
					c.Env[k] = e.out.Scrub(v)
				}
			}
			b.Command = &c
		}
		e.opts.Store.Put(status.KindButton, b.Name, b, nil)
	}
	e.deleteExcept(status.KindButton, have)
}

// deleteExcept removes from the store the objects of kind whose names have does not hold:
// what the project no longer declares.
func (e *runner) deleteExcept(kind string, have map[string]bool) {
	objs, _ := e.opts.Store.List(kind)
	for _, o := range objs {
		if !have[o.Name] {
			e.opts.Store.Delete(kind, o.Name)
		}
	}
}

// nodeResult is the name of a node's row in the results: "image REF" for an image.
func nodeResult(n plan.NodeID) string {
	kind, name, _ := strings.Cut(string(n), ":")
	if kind == plan.NodeImage {
		return "image " + name
	}
	return name
}

// setStatus sets a resource's status and publishes it.
func (e *runner) setStatus(name, s string) {
	e.mu.Lock()
	r := e.results[name]
	if r != nil {
		r.Status = s
	}
	e.mu.Unlock()
	e.publish(name)
}

// settle ends a node's "running" status when its step left none (a canceled or failed
// step), then publishes it.
func (e *runner) settle(name string, err error) {
	e.mu.Lock()
	if r := e.results[name]; r != nil && r.Status == "running" {
		r.Status = "ready"
		if err != nil {
			r.Status, r.Err = "failed", err
		}
	}
	e.mu.Unlock()
	e.publish(name)
}
