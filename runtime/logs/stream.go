package logs

import (
	"bufio"
	"context"
	"io"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reconnect backoff: quick after a stream that delivered, capped so that a stream broken by
// an apiserver restart is back within about a second and a half of the apiserver.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 1500 * time.Millisecond
	// previousMax bounds the replay of a crashed container we were following, from where we
	// were in it.
	previousMax = 1000
)

type workerKey struct {
	resource, namespace, pod string
	uid                      string
	container                string
}

// worker follows one container of one pod, across reconnects and restarts. It owns the
// container's cursor, so each line is taken once whichever request brought it.
type worker struct {
	m       *Manager
	key     workerKey
	updates chan Container // the newest state; capacity 1
	cancel  context.CancelFunc
	state   Container // as last sent, for SetPods to tell changes
	cur     cursor

	// For Streams: what the stream is doing, lines taken, the newest line's stamp.
	phase    atomic.Value // string
	lines    atomic.Uint64
	lastLine atomic.Int64 // unix nanoseconds
}

// Stream states (Streams).
const (
	StreamStreaming    = "streaming"
	StreamReconnecting = "reconnecting"
	StreamEnded        = "ended"
)

// Stream is the state of one container's log stream.
type Stream struct {
	Resource, Namespace, Pod, Container string
	State                               string
	Lines                               uint64
	LastLine                            time.Time
}

// Streams returns every stream's state, ordered by resource, pod and container.
func (m *Manager) Streams() []Stream {
	m.mu.Lock()
	out := make([]Stream, 0, len(m.workers))
	for k, w := range m.workers {
		s := Stream{Resource: k.resource, Namespace: k.namespace, Pod: k.pod, Container: k.container, Lines: w.lines.Load()}
		s.State, _ = w.phase.Load().(string)
		if s.State == "" {
			s.State = StreamReconnecting
		}
		if ns := w.lastLine.Load(); ns != 0 {
			s.LastLine = time.Unix(0, ns).UTC()
		}
		out = append(out, s)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Pod != b.Pod {
			return a.Pod < b.Pod
		}
		return a.Container < b.Container
	})
	return out
}

// SetPods sets the pods of a resource: streams start for new pods and containers and stop
// for those gone; a container's new state (a restart, its end) reaches its stream.
func (m *Manager) SetPods(resource string, pods []Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	want := map[workerKey]Container{}
	names := map[string]bool{}
	for _, p := range pods {
		for _, c := range p.Containers {
			want[workerKey{resource, p.Namespace, p.Name, string(p.UID), c.Name}] = c
			names[c.Name] = true
		}
	}
	m.storeFor(resource).showContainer = len(names) > 1
	for k, w := range m.workers {
		if _, ok := want[k]; !ok && k.resource == resource {
			w.cancel()
			delete(m.workers, k)
		}
	}
	for k, c := range want {
		if w := m.workers[k]; w != nil {
			if w.state != c {
				w.state = c
				select { // replace a state not yet taken
				case <-w.updates:
				default:
				}
				w.updates <- c
			}
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := &worker{m: m, key: k, updates: make(chan Container, 1), cancel: cancel, state: c}
		m.workers[k] = w
		m.wg.Add(1)
		go w.run(ctx, c)
	}
}

func (w *worker) run(ctx context.Context, c Container) {
	defer w.m.wg.Done()
	live := w.m.newSink(Line{Resource: w.key.resource, Pod: w.key.pod, Container: w.key.container})
	defer live.Close()
	var previousFor int32 // the restart count whose previous container was shown
	backoff := minBackoff
	for {
		c = w.latest(c)
		if c.Restarts > previousFor {
			w.previous(ctx)
			previousFor = c.Restarts
		}
		got, err := w.follow(ctx, live)
		if ctx.Err() != nil {
			return
		}
		if got {
			backoff = minBackoff
		}
		if c = w.latest(c); err == nil && c.Terminated && c.Restarts == previousFor {
			// Read to the end of a container that has ended: nothing more until it restarts.
			w.phase.Store(StreamEnded)
			select {
			case <-ctx.Done():
				return
			case c = <-w.updates:
				continue
			}
		}
		w.phase.Store(StreamReconnecting)
		select { // still running (or waiting to run): the stream broke, or it has not started
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (w *worker) latest(c Container) Container {
	select {
	case c = <-w.updates:
	default:
	}
	return c
}

// follow streams the current container from where the cursor is, to its end or an error.
func (w *worker) follow(ctx context.Context, s *sink) (bool, error) {
	opts := &corev1.PodLogOptions{Container: w.key.container, Follow: true, Timestamps: true}
	if !w.cur.last.IsZero() {
		opts.SinceTime = &metav1.Time{Time: w.cur.last}
	}
	return w.read(ctx, opts, s)
}

// previous shows the last lines of the crashed container: from the cursor when we were
// following it (so only what we missed), else its last PreviousLines.
func (w *worker) previous(ctx context.Context) {
	opts := &corev1.PodLogOptions{Container: w.key.container, Previous: true, Timestamps: true}
	tail := w.m.opts.PreviousLines
	if !w.cur.last.IsZero() {
		opts.SinceTime = &metav1.Time{Time: w.cur.last}
		tail = previousMax
	}
	opts.TailLines = &tail
	s := w.m.newSink(Line{Resource: w.key.resource, Pod: w.key.pod, Container: w.key.container, Previous: true})
	defer s.Close()
	w.read(ctx, opts, s)
}

// read takes the new lines of one request into s. It reports whether any line was new.
func (w *worker) read(ctx context.Context, opts *corev1.PodLogOptions, s *sink) (bool, error) {
	w.cur.reconnect()
	rc, err := w.m.open(ctx, w.key.namespace, w.key.pod, opts)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	if !opts.Previous {
		w.phase.Store(StreamStreaming)
	}
	r := bufio.NewReaderSize(rc, 64<<10)
	limit := w.m.opts.MaxLineBytes + len(time.RFC3339Nano) + 1
	var line []byte
	got := false
	for {
		var cut bool
		line, cut, err = readLine(r, limit, line[:0])
		if err != nil {
			// A line without its newline is not taken: the stream broke inside it, and the
			// replay will bring it whole.
			if err == io.EOF {
				err = nil
			}
			return got, err
		}
		ts, text, ok := splitTimestamp(line)
		if !ok {
			ts = time.Time{} // a message from the kubelet, not the container: stamped on arrival
		} else if !w.cur.accept(ts) {
			continue
		}
		got = true
		w.lines.Add(1)
		if !ts.IsZero() {
			w.lastLine.Store(ts.UnixNano())
		}
		s.line(text, ts, cut)
	}
}

// readLine reads one line into buf (without its newline), keeping at most limit bytes; cut
// says more were dropped. err is set when no complete line came.
func readLine(r *bufio.Reader, limit int, buf []byte) (line []byte, cut bool, err error) {
	total := 0
	for {
		chunk, err := r.ReadSlice('\n')
		data := chunk
		if err == nil {
			data = chunk[:len(chunk)-1]
		}
		total += len(data)
		if room := limit - len(buf); room > 0 {
			buf = append(buf, data[:min(room, len(data))]...)
		}
		if err != bufio.ErrBufferFull {
			return buf, total > limit, err
		}
	}
}
