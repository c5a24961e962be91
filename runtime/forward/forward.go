package forward

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kiln-dev/kiln/runtime/discovery"
)

// forward is one listener and the pod it goes to now.
type forward struct {
	m         *Manager
	ln        net.Listener // nil when it could not listen (listenErr says why)
	listenErr string
	ctx       context.Context
	cancel    context.CancelFunc

	mu      sync.Mutex
	spec    Spec
	target  *target       // nil: no Ready pod
	changed chan struct{} // closed and replaced whenever target changes, to wake waiters
	conns   map[net.Conn]bool
	state   State
}

func newForward(m *Manager, s Spec, ln net.Listener) *forward {
	ctx, cancel := context.WithCancel(context.Background())
	f := &forward{m: m, ln: ln, ctx: ctx, cancel: cancel, spec: s, changed: make(chan struct{}), conns: map[net.Conn]bool{},
		state: State{Spec: s, State: StateWaiting, Since: time.Now()}}
	go f.accept()
	go f.probe()
	return f
}

func (f *forward) snapshot() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// setState records a state and reports it when it changed.
func (f *forward) setState(t *target, state string, err error) {
	f.mu.Lock()
	if t != f.target { // a report about a target already replaced
		f.mu.Unlock()
		return
	}
	next := State{Spec: f.spec, State: state}
	if t != nil {
		next.Pod, next.Port = t.namespace+"/"+t.pod, t.port
	}
	if err != nil {
		next.Error = err.Error()
	}
	next.Since = f.state.Since
	if next == f.state {
		f.mu.Unlock()
		return
	}
	next.Since = time.Now()
	f.state = next
	f.mu.Unlock()
	f.m.report(next)
}

func (f *forward) setSpec(s Spec) {
	f.mu.Lock()
	f.spec = s
	f.mu.Unlock()
}

// retarget points the forward at the newest Ready pod. With none Ready, it stays on its pod
// while that pod exists and is not being deleted (a readiness blip should not cut traffic);
// otherwise new connections wait for one.
func (f *forward) retarget(pods []discovery.Pod) {
	f.mu.Lock()
	best, ok := discovery.NewestReady(pods)
	cur := f.target
	if !ok {
		if cur != nil && alive(pods, cur.uid) {
			f.mu.Unlock()
			return
		}
		f.replaceLocked(nil)
		f.mu.Unlock()
		if cur != nil {
			cur.close()
		}
		f.setState(nil, StateWaiting, nil)
		return
	}
	port := ContainerPortFor(f.spec.LocalPort, f.spec.ContainerPort, declaredPorts(best))
	if cur != nil && cur.uid == best.UID && cur.port == port {
		f.mu.Unlock()
		return
	}
	t := newTarget(f, best, port)
	f.replaceLocked(t)
	f.mu.Unlock()
	if cur != nil {
		cur.close() // its connections end with the pod going away
	}
	f.setState(t, StateWaiting, nil)
	go t.keepDialled() // so the first connection to the new pod does not wait for a dial
}

func (f *forward) replaceLocked(t *target) {
	f.target = t
	close(f.changed)
	f.changed = make(chan struct{})
}

func alive(pods []discovery.Pod, uid types.UID) bool {
	for _, p := range pods {
		if p.UID == uid && !p.Deleting {
			return true
		}
	}
	return false
}

func declaredPorts(p discovery.Pod) []int32 {
	var out []int32
	for _, c := range p.Containers {
		out = append(out, c.Ports...)
	}
	return out
}

// waitTarget returns the current target, waiting until deadline for one.
func (f *forward) waitTarget(deadline time.Time) *target {
	for {
		f.mu.Lock()
		t, changed := f.target, f.changed
		f.mu.Unlock()
		if t != nil {
			return t
		}
		select {
		case <-changed:
		case <-f.ctx.Done():
			return nil
		case <-time.After(time.Until(deadline)):
			return nil
		}
	}
}

func (f *forward) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		go func() {
			f.serve(c)
			c.Close()
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
		}()
	}
}

// serve carries one local connection to the target pod. A stream that cannot be opened is
// tried again on a fresh tunnel, and on the next target, until the wait for a pod is over.
func (f *forward) serve(c net.Conn) {
	deadline := time.Now().Add(waitForPod)
	for {
		t := f.waitTarget(deadline)
		if t == nil {
			return
		}
		s, err := t.open()
		if err == nil {
			pipe(c, s)
			return
		}
		if time.Now().After(deadline) || f.ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(redialMin):
		case <-f.ctx.Done():
			return
		}
	}
}

// pipe copies both ways, half-closing each direction as it ends, so that a client that
// sends a request and shuts its side down still gets the whole answer.
func pipe(c net.Conn, s Stream) {
	done := make(chan struct{})
	go func() {
		io.Copy(s, c)
		s.CloseWrite()
		close(done)
	}()
	io.Copy(c, s)
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	<-done
	s.Close()
}

// probe opens a stream on the tunnel now and then: a tunnel whose connection is wedged (no
// error, no answer) fails it, and is dialled again.
func (f *forward) probe() {
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
		}
		f.mu.Lock()
		t := f.target
		f.mu.Unlock()
		if t == nil {
			continue
		}
		if tun := t.current(); tun != nil {
			if s, err := openWithin(tun, t.port, openTimeout); err != nil {
				t.drop(tun, fmt.Errorf("probe: %w", err))
			} else {
				s.Close()
			}
		}
	}
}

func (f *forward) close() {
	if f.cancel != nil {
		f.cancel()
	}
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Lock()
	t := f.target
	f.target = nil
	conns := f.conns
	f.conns = map[net.Conn]bool{}
	f.mu.Unlock()
	if t != nil {
		t.close()
	}
	for c := range conns {
		c.Close()
	}
}

// target is one pod a forward goes to, and the tunnel to it.
type target struct {
	f              *forward
	namespace, pod string
	uid            types.UID
	port           int
	dialMu         sync.Mutex // one dial at a time; connections arriving meanwhile share it
	mu             sync.Mutex
	tunnel         Tunnel
	closed         bool
	keeping        bool
	ctx            context.Context
	cancel         context.CancelFunc
}

// newTarget is pod as a forward's target; its context ends when the target is replaced or
// the forward closes, and with it the dials for it.
func newTarget(f *forward, pod discovery.Pod, port int) *target {
	t := &target{f: f, namespace: pod.Namespace, pod: pod.Name, uid: pod.UID, port: port}
	t.ctx, t.cancel = context.WithCancel(f.ctx)
	return t
}

func (t *target) current() Tunnel {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tunnel
}

// tunnelFor returns the live tunnel, dialling one if there is none.
func (t *target) tunnelFor() (Tunnel, error) {
	if tun := t.current(); tun != nil {
		return tun, nil
	}
	t.dialMu.Lock()
	defer t.dialMu.Unlock()
	if tun := t.current(); tun != nil {
		return tun, nil
	}
	ctx := t.ctx
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	tun, err := t.f.m.dial(ctx, t.namespace, t.pod)
	if err != nil {
		t.f.setState(t, StateError, err)
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		tun.Close()
		return nil, context.Canceled
	}
	t.tunnel = tun
	t.mu.Unlock()
	t.f.setState(t, StateActive, nil)
	go func() {
		select {
		case <-tun.Done():
			t.drop(tun, fmt.Errorf("the connection to the pod was lost"))
		case <-ctx.Done():
		}
	}()
	return tun, nil
}

// drop forgets a dead tunnel and dials again in the background, so that the forward is back
// as soon as the apiserver answers, before anyone connects.
func (t *target) drop(tun Tunnel, why error) {
	t.mu.Lock()
	if t.tunnel != tun {
		t.mu.Unlock()
		return
	}
	t.tunnel = nil
	closed := t.closed
	t.mu.Unlock()
	tun.Close()
	if closed {
		return
	}
	t.f.setState(t, StateError, why)
	go t.keepDialled()
}

// keepDialled dials until there is a tunnel, backing off a little, while the target is
// current.
func (t *target) keepDialled() {
	t.mu.Lock()
	if t.keeping || t.closed {
		t.mu.Unlock()
		return
	}
	t.keeping = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.keeping = false
		t.mu.Unlock()
	}()
	wait := redialMin
	for {
		if _, err := t.tunnelFor(); err == nil || t.ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(wait):
		case <-t.ctx.Done():
			return
		}
		if wait *= 2; wait > redialMax {
			wait = redialMax
		}
	}
}

// open returns a stream to the pod's port: on the current tunnel, or on a new one when that
// fails.
func (t *target) open() (Stream, error) {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var tun Tunnel
		if tun, err = t.tunnelFor(); err != nil {
			return nil, err
		}
		var s Stream
		if s, err = openWithin(tun, t.port, openTimeout); err == nil {
			return s, nil
		}
		t.drop(tun, err)
	}
	return nil, err
}

// openWithin bounds Open: a stream on a wedged connection never gets its reply.
func openWithin(tun Tunnel, port int, d time.Duration) (Stream, error) {
	type result struct {
		s   Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := tun.Open(port)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(d):
		go func() {
			if r := <-done; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, fmt.Errorf("no answer from the pod's port-forward stream in %s", d)
	}
}

func (t *target) close() {
	t.cancel()
	t.mu.Lock()
	t.closed = true
	tun := t.tunnel
	t.tunnel = nil
	t.mu.Unlock()
	if tun != nil {
		tun.Close()
	}
}
