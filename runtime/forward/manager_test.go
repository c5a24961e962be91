package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kiln-dev/kiln/runtime/discovery"
)

// fakePods stands in for the apiserver: each pod is a local TCP server that answers with its
// own name and the port it was asked for.
type fakePods struct {
	t        testing.TB
	mu       sync.Mutex
	servers  map[string]net.Listener
	dials    map[string]int
	tunnels  map[string][]*fakeTunnel
	failOpen map[string]int // pod → how many Opens fail next
}

func newFakePods(t testing.TB) *fakePods {
	return &fakePods{t: t, servers: map[string]net.Listener{}, dials: map[string]int{}, tunnels: map[string][]*fakeTunnel{}, failOpen: map[string]int{}}
}

func (f *fakePods) start(pod string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ln.Close() })
	f.mu.Lock()
	f.servers[pod] = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				port, _ := io.ReadAll(c) // the client half-closes after its request
				fmt.Fprintf(c, "%s:%s", pod, port)
			}()
		}
	}()
}

func (f *fakePods) dial(ctx context.Context, ns, pod string) (Tunnel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials[pod]++
	ln := f.servers[pod]
	if ln == nil {
		return nil, fmt.Errorf("pod %s not found", pod)
	}
	tun := &fakeTunnel{pods: f, pod: pod, addr: ln.Addr().String(), done: make(chan struct{})}
	f.tunnels[pod] = append(f.tunnels[pod], tun)
	return tun, nil
}

func (f *fakePods) dialCount(pod string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[pod]
}

func (f *fakePods) lastTunnel(pod string) *fakeTunnel {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := f.tunnels[pod]
	return ts[len(ts)-1]
}

type fakeTunnel struct {
	pods *fakePods
	pod  string
	addr string
	done chan struct{}
	once sync.Once
}

func (t *fakeTunnel) Open(port int) (Stream, error) {
	t.pods.mu.Lock()
	if t.pods.failOpen[t.pod] > 0 {
		t.pods.failOpen[t.pod]--
		t.pods.mu.Unlock()
		return nil, errors.New("stream refused")
	}
	t.pods.mu.Unlock()
	select {
	case <-t.done:
		return nil, errors.New("tunnel closed")
	default:
	}
	c, err := net.Dial("tcp", t.addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if _, err := fmt.Fprintf(tc, "%d", port); err != nil {
		return nil, err
	}
	return portWritten{tc}, nil
}

// portWritten lets the fake server learn the port: the test's own request bytes follow it.
type portWritten struct{ *net.TCPConn }

func (t *fakeTunnel) Done() <-chan struct{} { return t.done }
func (t *fakeTunnel) Close() error          { t.kill(); return nil }
func (t *fakeTunnel) kill()                 { t.once.Do(func() { close(t.done) }) }

func pod(name string, created time.Time, ready bool, ports ...int32) discovery.Pod {
	return discovery.Pod{Resource: "web", Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Ready: ready, Created: created,
		Containers: []discovery.Container{{Name: "app", Ports: ports}}}
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get connects to the local port and returns what the pod answered.
func get(t *testing.T, port int) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestForwardFollowsNewestReadyPod(t *testing.T) {
	fp := newFakePods(t)
	fp.start("old")
	fp.start("new")
	var mu sync.Mutex
	var states []State
	m := New(fp.dial, func(s State) { mu.Lock(); states = append(states, s); mu.Unlock() })
	defer m.Close()
	local := freePort(t)
	if errs := m.Set([]Spec{{Resource: "web", LocalPort: local}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	t0 := time.Now()
	m.Retarget("web", []discovery.Pod{pod("old", t0, true, 9000)})
	if got := get(t, local); got != "old:9000" {
		t.Fatalf("got %q, want the old pod on its declared port", got)
	}
	// A newer pod that is not Ready yet gets no traffic.
	m.Retarget("web", []discovery.Pod{pod("new", t0.Add(time.Second), false, 9000), pod("old", t0, true, 9000)})
	if got := get(t, local); got != "old:9000" {
		t.Fatalf("got %q before the new pod is ready", got)
	}
	m.Retarget("web", []discovery.Pod{pod("new", t0.Add(time.Second), true, 9000), pod("old", t0, true, 9000)})
	if got := get(t, local); got != "new:9000" {
		t.Fatalf("got %q after the new pod became ready", got)
	}
	st := m.States()
	if len(st) != 1 || st[0].State != StateActive || st[0].Pod != "ns/new" || st[0].Port != 9000 {
		t.Fatalf("states %+v", st)
	}
	if st[0].URL() != fmt.Sprintf("http://localhost:%d/", local) {
		t.Fatalf("url %s", st[0].URL())
	}
}

func TestForwardWaitsForAReadyPod(t *testing.T) {
	fp := newFakePods(t)
	fp.start("p1")
	m := New(fp.dial, nil)
	defer m.Close()
	local := freePort(t)
	m.Set([]Spec{{Resource: "web", LocalPort: local, ContainerPort: 8080}})
	got := make(chan string, 1)
	go func() { got <- get(t, local) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case g := <-got:
		t.Fatalf("answered %q with no pod", g)
	default:
	}
	m.Retarget("web", []discovery.Pod{pod("p1", time.Now(), true)})
	select {
	case g := <-got:
		if g != "p1:8080" {
			t.Fatalf("got %q", g)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the waiting connection was not served once a pod was ready")
	}
}

func TestForwardRedialsADeadTunnel(t *testing.T) {
	fp := newFakePods(t)
	fp.start("p1")
	m := New(fp.dial, nil)
	defer m.Close()
	local := freePort(t)
	m.Set([]Spec{{Resource: "web", LocalPort: local}})
	m.Retarget("web", []discovery.Pod{pod("p1", time.Now(), true, 80)})
	if got := get(t, local); got != "p1:80" {
		t.Fatal(got)
	}
	before := fp.dialCount("p1")
	fp.lastTunnel("p1").kill() // the apiserver went away
	deadline := time.Now().Add(2 * time.Second)
	for fp.dialCount("p1") == before {
		if time.Now().After(deadline) {
			t.Fatal("a dead tunnel was not dialled again within 2 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := get(t, local); got != "p1:80" {
		t.Fatal(got)
	}
	// A stream refused on a tunnel that looks alive: a fresh tunnel serves the connection.
	fp.mu.Lock()
	fp.failOpen["p1"] = 1
	fp.mu.Unlock()
	if got := get(t, local); got != "p1:80" {
		t.Fatalf("after a refused stream: %q", got)
	}
}

func TestForwardPortInUse(t *testing.T) {
	fp := newFakePods(t)
	fp.start("p1")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	m := New(fp.dial, nil)
	defer m.Close()
	free := freePort(t)
	errs := m.Set([]Spec{{Resource: "db", LocalPort: busyPort}, {Resource: "web", LocalPort: free}})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "resource db") || !strings.Contains(errs[0].Error(), fmt.Sprint(busyPort)) || !strings.Contains(errs[0].Error(), "in use") {
		t.Fatalf("errors %v", errs)
	}
	// The other forward works, and the same failure is not reported again on the next Set.
	m.Retarget("web", []discovery.Pod{pod("p1", time.Now(), true, 80)})
	if got := get(t, free); got != "p1:80" {
		t.Fatal(got)
	}
	if errs := m.Set([]Spec{{Resource: "db", LocalPort: busyPort}, {Resource: "web", LocalPort: free}}); len(errs) != 0 {
		t.Fatalf("repeated: %v", errs)
	}
	// Once the port is free, the next Set opens it.
	busy.Close()
	if errs := m.Set([]Spec{{Resource: "db", LocalPort: busyPort}, {Resource: "web", LocalPort: free}}); len(errs) != 0 {
		t.Fatalf("after the port was freed: %v", errs)
	}
	st := m.States()
	if len(st) != 2 || st[0].Resource != "db" || st[0].State != StateWaiting {
		t.Fatalf("states %+v", st)
	}
}

func TestForwardRemovedClosesListener(t *testing.T) {
	fp := newFakePods(t)
	m := New(fp.dial, nil)
	defer m.Close()
	local := freePort(t)
	m.Set([]Spec{{Resource: "web", LocalPort: local}})
	m.Set(nil)
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", local), time.Second); err == nil {
		c.Close()
		t.Fatal("a removed forward still listens")
	}
}

// BenchmarkForwardConnection: one short connection through a forward (accept, a stream on the
// live tunnel, copy both ways, half-close), the cost kiln adds to every request.
func BenchmarkForwardConnection(b *testing.B) {
	fp := newFakePods(b)
	fp.start("p1")
	m := New(fp.dial, nil)
	defer m.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	local := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m.Set([]Spec{{Resource: "web", LocalPort: local}})
	m.Retarget("web", []discovery.Pod{pod("p1", time.Now(), true, 80)})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
		if err != nil {
			b.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "p1:80" {
			b.Fatalf("got %q, %v", got, err)
		}
	}
}
