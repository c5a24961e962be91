package forward

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/runtime/discovery"
)

// Spec is one port forward of a resource (port_forwards= on k8s_resource).
type Spec struct {
	Resource  string
	LocalPort int
	// ContainerPort is the port in the pod; 0 takes Tilt's rule over the ports the pod
	// declares (ContainerPortFor).
	ContainerPort  int
	Host           string // where the listener binds; "" and "localhost" mean 127.0.0.1
	Name, LinkPath string
}

// key identifies a forward across updates: its listener stays open as long as it does.
func (s Spec) key() string {
	return s.Resource + "\x00" + s.bindHost() + "\x00" + strconv.Itoa(s.LocalPort)
}

func (s Spec) bindHost() string {
	if s.Host == "" || s.Host == "localhost" {
		return "127.0.0.1"
	}
	return s.Host
}

// URL is the link a user opens.
func (s Spec) URL() string {
	host := s.Host
	if host == "" || host == "127.0.0.1" || host == "0.0.0.0" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(s.LocalPort)) + "/" + strings.TrimPrefix(s.LinkPath, "/")
}

// Forward states.
const (
	StateWaiting = "waiting for a ready pod"
	StateActive  = "active"
	StateError   = "error"
)

// State is where one forward stands now.
type State struct {
	Spec
	State string
	// Pod is the target, namespace/name; Port is the container port it goes to there.
	Pod   string
	Port  int
	Error string
	Since time.Time
}

// Timings of a forward. A connection accepted while no pod is Ready waits for one, rather
// than being refused, so that a browser reload during a rollout just takes longer.
const (
	waitForPod    = 30 * time.Second
	openTimeout   = 5 * time.Second
	probeInterval = 5 * time.Second
	redialMin     = 100 * time.Millisecond
	redialMax     = 500 * time.Millisecond
)

// Manager keeps one stable local listener per forward, each going to the newest Ready pod of
// its resource. It is told the pods by discovery (Retarget): when a pod is replaced, new
// connections go to the new one as soon as it is Ready, and a tunnel that dies or stops
// answering a probe is dialled again.
type Manager struct {
	dial   Dialer
	report func(State)

	mu       sync.Mutex
	forwards map[string]*forward
	pods     map[string][]discovery.Pod
	closed   bool
}

// New returns a Manager that dials pods with dial and calls report (never while holding a
// lock of its own, and possibly from several goroutines) whenever a forward's state changes.
func New(dial Dialer, report func(State)) *Manager {
	if report == nil {
		report = func(State) {}
	}
	return &Manager{dial: dial, report: report, forwards: map[string]*forward{}, pods: map[string][]discovery.Pod{}}
}

// Set makes the forwards exactly specs: new ones get their listener now, ones left out are
// closed, and ones already open stay open. It returns an error for each listener that could
// not open (a port in use names the resource and the port); the others are opened anyway,
// and a failed one is tried again on the next Set.
func (m *Manager) Set(specs []Spec) []error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	want := map[string]Spec{}
	for _, s := range specs {
		want[s.key()] = s
	}
	var gone []*forward
	for k, f := range m.forwards {
		if _, ok := want[k]; !ok {
			gone = append(gone, f)
			delete(m.forwards, k)
		}
	}
	var errs []error
	var started []*forward
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := want[k]
		f := m.forwards[k]
		if f != nil && f.ln != nil {
			f.setSpec(s)
			started = append(started, f)
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(s.bindHost(), strconv.Itoa(s.LocalPort)))
		if err != nil {
			err = listenError(s, err)
			if f == nil || f.listenErr != err.Error() {
				errs = append(errs, err)
			}
			m.forwards[k] = &forward{m: m, spec: s, listenErr: err.Error(), state: State{Spec: s, State: StateError, Error: err.Error(), Since: time.Now()}}
			continue
		}
		f = newForward(m, s, ln)
		m.forwards[k] = f
		started = append(started, f)
	}
	pods := map[*forward][]discovery.Pod{}
	for _, f := range started {
		pods[f] = m.pods[f.spec.Resource]
	}
	m.mu.Unlock()
	for _, f := range gone {
		f.close()
	}
	for _, f := range started {
		f.retarget(pods[f])
	}
	for _, k := range keys {
		m.mu.Lock()
		f := m.forwards[k]
		m.mu.Unlock()
		if f != nil && f.ln == nil {
			m.report(f.snapshot())
		}
	}
	return errs
}

func listenError(s Spec, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("resource %s: local port %d is in use by another program: stop it, or pick another local port in port_forwards", s.Resource, s.LocalPort)
	}
	return fmt.Errorf("resource %s: cannot listen on %s:%d for its port forward: %w", s.Resource, s.bindHost(), s.LocalPort, err)
}

// Retarget tells the forwards of resource which pods it has now (discovery's list).
func (m *Manager) Retarget(resource string, pods []discovery.Pod) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.pods[resource] = pods
	var fs []*forward
	for _, f := range m.forwards {
		if f.spec.Resource == resource && f.ln != nil {
			fs = append(fs, f)
		}
	}
	m.mu.Unlock()
	for _, f := range fs {
		f.retarget(pods)
	}
}

// States returns every forward's state, ordered by resource and local port.
func (m *Manager) States() []State {
	m.mu.Lock()
	fs := make([]*forward, 0, len(m.forwards))
	for _, f := range m.forwards {
		fs = append(fs, f)
	}
	m.mu.Unlock()
	out := make([]State, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.snapshot())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].LocalPort < out[j].LocalPort
	})
	return out
}

// Close closes every listener and connection.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	fs := m.forwards
	m.forwards = map[string]*forward{}
	m.mu.Unlock()
	for _, f := range fs {
		f.close()
	}
}
