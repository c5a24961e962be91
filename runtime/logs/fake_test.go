package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// fakeKubelet serves one container's log as the kubelet does: timestamped lines, SinceTime
// rounded down to the second (as it is on the wire), TailLines, Previous, and Follow until the
// container stops. breakStreams cuts every open stream, as an apiserver restart does.
type fakeKubelet struct {
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced at every change
	instances [][]string    // raw lines per container instance
	running   bool
	broken    chan struct{}
	opens     []corev1.PodLogOptions
}

func newFakeKubelet() *fakeKubelet {
	return &fakeKubelet{changed: make(chan struct{}), broken: make(chan struct{}), instances: [][]string{nil}, running: true}
}

func (f *fakeKubelet) signal() { close(f.changed); f.changed = make(chan struct{}) }

func (f *fakeKubelet) write(ts time.Time, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := len(f.instances) - 1
	f.instances[i] = append(f.instances[i], ts.UTC().Format(time.RFC3339Nano)+" "+text)
	f.signal()
}

func (f *fakeKubelet) setRunning(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = on
	f.signal()
}

// restart ends the container and starts the next instance.
func (f *fakeKubelet) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances = append(f.instances, nil)
	f.running = true
	f.signal()
}

func (f *fakeKubelet) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.broken)
	f.broken = make(chan struct{})
}

func (f *fakeKubelet) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.opens)
}

var errBroken = errors.New("stream broken")

func (f *fakeKubelet) open(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens = append(f.opens, *o)
	inst := len(f.instances) - 1
	if o.Previous {
		if inst == 0 {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", o.Container, pod)
		}
		inst--
	}
	var since time.Time
	if o.SinceTime != nil {
		since = o.SinceTime.Time.Truncate(time.Second)
	}
	start := 0
	for start < len(f.instances[inst]) && stamp(f.instances[inst][start]).Before(since) {
		start++
	}
	if o.TailLines != nil && int64(len(f.instances[inst])-start) > *o.TailLines {
		start = len(f.instances[inst]) - int(*o.TailLines)
	}
	pr, pw := io.Pipe()
	broken := f.broken
	go func() {
		next := start
		for {
			f.mu.Lock()
			lines := f.instances[inst][next:]
			next += len(lines)
			live := o.Follow && f.running && inst == len(f.instances)-1
			changed := f.changed
			f.mu.Unlock()
			for _, l := range lines {
				if _, err := io.WriteString(pw, l+"\n"); err != nil {
					return
				}
			}
			if !live {
				pw.Close()
				return
			}
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-broken:
				pw.CloseWithError(errBroken)
				return
			case <-changed:
			}
		}
	}()
	return pr, nil
}

func stamp(raw string) time.Time {
	ts, _, _ := splitTimestamp([]byte(raw))
	return ts
}
