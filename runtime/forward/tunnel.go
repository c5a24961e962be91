package forward

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Tunnel is one connection to a pod's port-forward endpoint; it carries a stream per local
// connection, so a new connection costs one round trip, not a new upgrade.
type Tunnel interface {
	// Open returns a stream to port inside the pod.
	Open(port int) (Stream, error)
	// Done is closed when the tunnel has died (the apiserver went away, a ping went unanswered).
	Done() <-chan struct{}
	Close() error
}

// Stream is one forwarded connection inside a Tunnel.
type Stream interface {
	io.ReadWriter
	CloseWrite() error // our direction is done; the pod may still answer
	Close() error      // both directions are done
}

// Dialer opens a Tunnel to one pod.
type Dialer func(ctx context.Context, namespace, pod string) (Tunnel, error)

// dialTimeout bounds one upgrade: Dial itself takes no context, and a wedged apiserver would
// otherwise hold a forward's retries forever.
const dialTimeout = 10 * time.Second

// SPDYDialer dials pods through the apiserver's portforward subresource, the way kubectl
// port-forward does, with the client's own credentials (so kiln reaches only the context it
// was allowed to).
func SPDYDialer(cfg *rest.Config, client kubernetes.Interface) Dialer {
	return func(ctx context.Context, namespace, pod string) (Tunnel, error) {
		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			return nil, err
		}
		u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
		d := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
		type result struct {
			conn httpstream.Connection
			err  error
		}
		done := make(chan result, 1)
		go func() {
			conn, _, err := d.Dial(portforward.PortForwardProtocolV1Name)
			done <- result{conn, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, r.err)
			}
			return newSPDYTunnel(r.conn), nil
		case <-ctx.Done():
		case <-time.After(dialTimeout):
		}
		go func() { // the dial may still succeed: close what it makes
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("port-forward to pod %s/%s: no answer from the apiserver in %s", namespace, pod, dialTimeout)
	}
}

type spdyTunnel struct {
	conn   httpstream.Connection
	nextID atomic.Int64
	done   chan struct{}
}

func newSPDYTunnel(conn httpstream.Connection) *spdyTunnel {
	t := &spdyTunnel{conn: conn, done: make(chan struct{})}
	go func() {
		<-conn.CloseChan()
		close(t.done)
	}()
	return t
}

func (t *spdyTunnel) Done() <-chan struct{} { return t.done }
func (t *spdyTunnel) Close() error          { return t.conn.Close() }

// Open creates the pair of streams the kubelet expects for one connection: an error stream,
// on which it reports a failure to reach the port, and the data stream.
func (t *spdyTunnel) Open(port int) (Stream, error) {
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(port))
	h.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(t.nextID.Add(1), 10))
	errStream, err := t.conn.CreateStream(h)
	if err != nil {
		return nil, err
	}
	errStream.Close() // only read: the kubelet writes the error, if any
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := t.conn.CreateStream(h)
	if err != nil {
		t.conn.RemoveStreams(errStream)
		return nil, err
	}
	s := &stream{Stream: data, conn: t.conn, errStream: errStream}
	go s.watchErrors()
	return s, nil
}

// stream is one forwarded connection's data stream; a message on its error stream (nothing
// listens on the port in the pod) resets it, so that the local side sees the failure.
type stream struct {
	httpstream.Stream
	conn      httpstream.Connection
	errStream httpstream.Stream
	once      sync.Once
}

func (s *stream) watchErrors() {
	msg, _ := io.ReadAll(io.LimitReader(s.errStream, 4096))
	if len(msg) > 0 {
		s.Stream.Reset()
	}
}

// CloseWrite ends our direction only: the pod may still answer.
func (s *stream) CloseWrite() error { return s.Stream.Close() }

// Close ends both directions and drops both streams from the connection.
func (s *stream) Close() error {
	s.once.Do(func() {
		s.Stream.Reset()
		s.conn.RemoveStreams(s.errStream, s.Stream)
	})
	return nil
}
