package logs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kiln-dev/kiln/runtime/output"
)

// ErrClosed is returned by writes after the manager or the writer closed.
var ErrClosed = errors.New("logs: closed")

// idleFlush is how long held output (a possible secret's start) waits for what follows.
const idleFlush = time.Second

// openFunc opens a log stream; a fake in tests.
type openFunc func(ctx context.Context, ns, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)

// Manager streams logs into per-resource stores. It is safe for concurrent use.
type Manager struct {
	opts  Options
	open  openFunc
	scrub atomic.Pointer[output.Scrubber]

	mu         sync.Mutex // guards all below: Seq order, the stores and the subscribers
	closing    bool       // Close began: no new streams
	closed     bool       // Close ended the streams: no new lines
	seq        uint64
	stores     map[string]*store
	subs       map[*subscriber]struct{}
	sinks      map[*sink]struct{}
	workers    map[workerKey]*worker
	spillDir   string
	spillTotal int64
	segN       int
	wg         sync.WaitGroup // workers and the janitor
	stop       chan struct{}
}

// New makes a manager that streams through client. With opts.SpillDir, spill files go in a
// private directory under it, removed by Close.
func New(client kubernetes.Interface, opts Options) *Manager {
	m := newManager(opts, func(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
		return client.CoreV1().Pods(ns).GetLogs(pod, o).Stream(ctx)
	})
	return m
}

func newManager(opts Options, open openFunc) *Manager {
	m := &Manager{opts: opts.withDefaults(), open: open, stores: map[string]*store{},
		subs: map[*subscriber]struct{}{}, sinks: map[*sink]struct{}{}, workers: map[workerKey]*worker{},
		stop: make(chan struct{})}
	m.scrub.Store(opts.Scrub)
	if opts.SpillDir != "" {
		if dir, err := os.MkdirTemp(opts.SpillDir, "logs-"); err == nil {
			m.spillDir = dir
		} // else: lines beyond memory are dropped, with their marker
	}
	m.wg.Add(1)
	go m.janitor()
	return m
}

// SetScrubber replaces the scrubber, for Secrets that changed.
func (m *Manager) SetScrubber(s *output.Scrubber) { m.scrub.Store(s) }

func (m *Manager) scrubber() *output.Scrubber { return m.scrub.Load() }

func (m *Manager) storeFor(resource string) *store {
	s := m.stores[resource]
	if s == nil {
		s = &store{name: resource, ring: make([]Line, m.opts.MemoryLines)}
		m.stores[resource] = s
	}
	return s
}

// add stores a line and offers it to the subscribers.
func (m *Manager) add(l Line) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.seq++
	l.Seq = m.seq
	s := m.storeFor(l.Resource)
	l.ShowContainer = s.showContainer && !l.Local
	var buf [4]Line
	if evicted := s.push(l, m.opts.MemoryBytes, buf[:0]); len(evicted) > 0 {
		m.spill(s, evicted)
	}
	for sub := range m.subs {
		sub.offer(l)
	}
}

func (m *Manager) newSink(tmpl Line) *sink {
	s := &sink{m: m, tmpl: tmpl}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.closed = true
		return s
	}
	m.sinks[s] = struct{}{}
	return s
}

func (m *Manager) dropSink(s *sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sinks, s)
}

// Writer returns a writer whose output becomes lines of a local resource, split, scrubbed and
// stored like a container's. Close flushes a trailing partial line.
func (m *Manager) Writer(resource string) io.WriteCloser {
	return m.newSink(Line{Resource: resource, Local: true})
}

// janitor flushes idle held output and retries the markers owed to subscribers that were
// behind, so that neither waits for the next line.
func (m *Manager) janitor() {
	defer m.wg.Done()
	t := time.NewTicker(idleFlush / 4)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.mu.Lock()
		sinks := make([]*sink, 0, len(m.sinks))
		for s := range m.sinks {
			sinks = append(sinks, s)
		}
		for sub := range m.subs {
			sub.catchUp()
		}
		m.mu.Unlock()
		now := m.opts.Now()
		for _, s := range sinks {
			s.flushIdle(now, idleFlush)
		}
	}
}

// Close ends every stream and subscription and removes the spill files. Lines written
// afterwards are dropped.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return
	}
	m.closing = true
	for k, w := range m.workers {
		w.cancel()
		delete(m.workers, k)
	}
	close(m.stop)
	m.mu.Unlock()
	m.wg.Wait() // workers store their last lines on the way out
	m.mu.Lock()
	sinks := make([]*sink, 0, len(m.sinks))
	for s := range m.sinks {
		sinks = append(sinks, s)
	}
	m.mu.Unlock()
	for _, s := range sinks { // local writers still open: their partial lines
		s.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for sub := range m.subs {
		close(sub.ch)
		delete(m.subs, sub)
	}
	for _, s := range m.stores {
		for _, seg := range s.segs {
			seg.remove()
		}
		s.segs = nil
	}
	if m.spillDir != "" {
		os.RemoveAll(m.spillDir)
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
