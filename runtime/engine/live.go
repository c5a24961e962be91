package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/forward"
	"github.com/kiln-dev/kiln/runtime/logs"
	"github.com/kiln-dev/kiln/runtime/status"
	"k8s.io/client-go/kubernetes"
)

// live is what kiln watch keeps running between updates: discovery of each resource's pods,
// which drives its port forwards and its log streams, and the status store's view of them.
// It is told after every update what the resources applied (sync), and otherwise runs on
// the API server's events.
type live struct {
	e      *runner
	disc   *discovery.Watcher
	fwd    *forward.Manager
	logs   *logs.Manager
	cancel context.CancelFunc
	wg     sync.WaitGroup
	syncMu sync.Mutex // one sync at a time: each reads the runner's state afresh

	mu      sync.Mutex
	linked  map[string]bool // forward URLs already printed
	forward map[string][]string
}

// startLive starts discovery, forwards and logs on the runner's cluster. spillDir is where
// older log lines go ("" keeps none beyond memory).
func (e *runner) startLive(spillDir string) *live {
	ctx, cancel := context.WithCancel(context.Background())
	l := &live{e: e, cancel: cancel, linked: map[string]bool{}, forward: map[string][]string{}}
	l.disc = e.disc
	var client kubernetes.Interface
	var dial forward.Dialer = func(context.Context, string, string) (forward.Tunnel, error) {
		return nil, errors.New("no cluster: this kiln watch runs Docker Compose services only")
	}
	if e.kc != nil {
		client = e.kc.Client
		dial = forward.SPDYDialer(e.kc.Config, e.kc.Client)
	} // else Docker Compose only: no pods, so no pod logs and no forwards
	l.logs = logs.New(client, logs.Options{Scrub: secretScrubber(e.plan), SpillDir: spillDir})
	l.fwd = forward.New(dial, l.forwardChanged)
	changes, unsubscribe := l.disc.Subscribe()
	lines, unfollow := l.logs.Subscribe(logs.Query{})
	l.wg.Add(3)
	go func() {
		defer l.wg.Done()
		l.publishStreams(ctx)
	}()
	go func() {
		defer l.wg.Done()
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case name := <-changes:
				l.podsChanged(name)
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		defer unfollow()
		for {
			select {
			case <-ctx.Done():
				return
			case line, ok := <-lines:
				if !ok {
					return
				}
				l.print(line)
			}
		}
	}()
	return l
}

// publishStreams puts each log stream's state in the store once a second, when it changed,
// and removes the streams that ended with their pods.
func (l *live) publishStreams(ctx context.Context) {
	st := l.e.opts.Store
	if st == nil {
		return
	}
	last := map[string]status.LogStreamStatus{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := map[string]status.LogStreamStatus{}
		for _, s := range l.logs.Streams() {
			name := s.Resource + "/" + s.Namespace + "/" + s.Pod + "/" + s.Container
			now[name] = status.LogStreamStatus{Resource: s.Resource, Pod: s.Namespace + "/" + s.Pod, Container: s.Container,
				State: s.State, Lines: s.Lines, LastLine: s.LastLine}
		}
		for name, s := range now {
			if last[name] != s {
				st.Put(status.KindLogStream, name, nil, s)
			}
		}
		for name := range last {
			if _, ok := now[name]; !ok {
				st.Delete(status.KindLogStream, name)
			}
		}
		last = now
	}
}

// print shows a pod's log line in the terminal, prefixed like every other line of the
// resource. Local resources print their own output as it runs.
func (l *live) print(line logs.Line) {
	if line.Local || line.Overflow {
		return
	}
	name, text := logs.Label(line)
	l.e.out.Line(name, "%s", text)
}

// sync points discovery and the forwards at what the plan declares and the last update
// applied. Called after every update.
func (l *live) sync() {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	e := l.e
	e.mu.Lock()
	p := e.plan
	refs := map[string][]discovery.Object{}
	for key, applied := range e.appliedBy {
		resource, _, _ := strings.Cut(key, "\x00")
		for _, r := range applied {
			refs[resource] = append(refs[resource], discovery.Object{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name})
		}
	}
	for resource, objs := range e.customObjects {
		refs[resource] = append(refs[resource], objs...)
	}
	e.mu.Unlock()
	l.logs.SetScrubber(secretScrubber(p))
	targets := map[string]discovery.Target{}
	var specs []forward.Spec
	for _, r := range p.Resources {
		t := discovery.Target{Objects: refs[r.Name], ExtraSelectors: r.ExtraPodSelectors}
		if len(t.ExtraSelectors) > 0 {
			t.Namespaces = l.namespaces(t.Objects)
		}
		if len(t.Objects) > 0 || len(t.ExtraSelectors) > 0 {
			targets[r.Name] = t
		}
		for _, pf := range r.PortForwards {
			specs = append(specs, forward.Spec{Resource: r.Name, LocalPort: pf.LocalPort, ContainerPort: pf.ContainerPort, Host: pf.Host, Name: pf.Name, LinkPath: pf.LinkPath})
		}
	}
	l.mu.Lock()
	l.forward = map[string][]string{}
	for _, s := range specs {
		l.forward[s.Resource] = append(l.forward[s.Resource], s.URL())
	}
	l.mu.Unlock()
	for _, err := range l.fwd.Set(specs) {
		e.out.Line("forward", "error: %v", err)
	}
	l.disc.SetTargets(targets)
	if e.opts.Store != nil {
		have := map[string]bool{}
		for _, s := range specs {
			have[forwardName(s)] = true
		}
		e.deleteExcept(status.KindForward, have)
		for _, st := range l.fwd.States() {
			l.forwardChanged(st)
		}
	}
}

// namespaces is where a resource's extra_pod_selectors look: its objects' namespaces and the
// default one.
func (l *live) namespaces(objs []discovery.Object) []string {
	def := l.e.applier.Namespace
	if def == "" {
		def = l.e.kc.Namespace
	}
	seen := map[string]bool{def: true}
	for _, o := range objs {
		if o.Namespace != "" {
			seen[o.Namespace] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// podsChanged hands a resource's pods to its log streams and forwards, and publishes them.
func (l *live) podsChanged(name string) {
	pods := l.disc.Pods(name)
	streams := make([]logs.Pod, 0, len(pods))
	for _, p := range pods {
		streams = append(streams, logPod(p))
	}
	l.logs.SetPods(name, streams)
	l.fwd.Retarget(name, pods)
	l.e.resync(pods)
	if st := l.e.opts.Store; st != nil {
		if len(pods) == 0 {
			st.Delete(status.KindDiscovery, name)
		} else {
			st.Put(status.KindDiscovery, name, nil, discoveryStatus(pods))
		}
	}
	l.e.publish(name)
}

func logPod(p discovery.Pod) logs.Pod {
	out := logs.Pod{Resource: p.Resource, Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	add := func(cs []discovery.Container, init bool) {
		for _, c := range cs {
			out.Containers = append(out.Containers, logs.Container{Name: c.Name, Init: init, Restarts: c.Restarts,
				Running: c.State == "running", Terminated: c.State == "terminated"})
		}
	}
	add(p.InitContainers, true)
	add(p.Containers, false)
	return out
}

func discoveryStatus(pods []discovery.Pod) status.DiscoveryStatus {
	var out status.DiscoveryStatus
	for _, p := range pods {
		sp := status.Pod{Namespace: p.Namespace, Name: p.Name, Phase: p.Phase, Ready: p.Ready, Created: p.Created, Deleting: p.Deleting}
		add := func(cs []discovery.Container, init bool) {
			for _, c := range cs {
				sp.Containers = append(sp.Containers, status.Container{Name: c.Name, Image: c.Image, Init: init, Ready: c.Ready,
					Restarts: c.Restarts, State: c.State, Reason: c.Reason})
			}
		}
		add(p.InitContainers, true)
		add(p.Containers, false)
		out.Pods = append(out.Pods, sp)
	}
	return out
}

// fillLive adds what discovery and the forwards know of a resource to its status.
func (l *live) fillLive(name string, st *status.ResourceStatus) {
	for _, p := range l.disc.Pods(name) {
		if p.Deleting {
			continue
		}
		st.Pods++
		if p.Ready {
			st.PodsReady++
		}
		for _, c := range p.Containers {
			st.Restarts += int(c.Restarts)
			if !c.Ready && c.Reason != "" && st.Reason == "" {
				st.Reason = c.Reason
			}
		}
	}
	l.mu.Lock()
	st.Forwards = append([]string(nil), l.forward[name]...)
	l.mu.Unlock()
}

// forwardChanged publishes a forward's state, and prints its link the first time it serves.
func (l *live) forwardChanged(s forward.State) {
	if s.State == forward.StateActive {
		l.mu.Lock()
		first := !l.linked[s.URL()]
		l.linked[s.URL()] = true
		l.mu.Unlock()
		if first {
			l.e.out.Line(s.Resource, "forwarding %s → %s:%d", s.URL(), s.Pod, s.Port)
		}
	}
	st := l.e.opts.Store
	if st == nil {
		return
	}
	spec := status.ForwardSpec{Resource: s.Resource, LocalPort: s.LocalPort, ContainerPort: s.ContainerPort, Host: s.Host}
	fs := status.ForwardStatus{URL: s.URL(), State: s.State, Pod: s.Pod, Error: s.Error, Since: s.Since}
	if s.Port != 0 {
		spec.ContainerPort = s.Port
	}
	st.Put(status.KindForward, forwardName(s.Spec), spec, fs)
}

// forwardName is a forward's name in the store: resource:localport.
func forwardName(s forward.Spec) string { return fmt.Sprintf("%s:%d", s.Resource, s.LocalPort) }

func (l *live) close() {
	l.cancel()
	l.fwd.Close()
	l.logs.Close()
	l.wg.Wait()
}
