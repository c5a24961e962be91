package liveupdate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// NodeSyncer writes changes into containers from the kind node they run on, not from inside
// them: the node is a container of the local Docker engine, and a running container's root
// filesystem is /proc/PID/root of its first process there. So the image needs nothing: no
// tar, no shell (FROM scratch and distroless work), and nothing is pulled.
//
// Starting a process in a container (runc exec) costs 70–80 ms, more than the rest of a live
// update. So each node gets one agent: a shell loop of the node's own Debian (agentScript),
// started by one Docker exec at the first change and fed every change after that over the
// same connection. It ends when kiln closes the connection, or dies with it.
//
// Only nodes of the one kind cluster kiln was allowed to use are touched: the node
// container must carry kind's cluster label with that name.
type NodeSyncer struct {
	API     *client.Client
	Cluster string // the kind cluster's name

	mu     sync.Mutex
	agents map[string]*agent // by node
}

// agentScript reads requests on stdin and answers each with one line on stdout, "ID" when it
// worked or "ID MESSAGE" when not. A request is a line "ID CONTAINER-ID N SIZE", N lines of
// arguments, then SIZE bytes of tar. An argument is D:<dir> (a container directory a copy
// goes into: none of its parts may be a symbolic link, which the node would resolve against
// its own root, not the container's), R:<path> (remove it) or S:<program> (after the copies,
// send SIGHUP to the container's first process, which must be program: kiln's supervisor). The tar's files are given to
// the user the container's first process runs as. The tar is always read to its end, so the
// next request starts where it should even after an error.
const agentScript = `set -f
fail() { [ -n "$msg" ] || msg=$(printf '%s' "$1" | tr '\n' ' '); }
while IFS=' ' read -r id cid n size; do
  set --
  i=0
  while [ "$i" -lt "$n" ]; do IFS= read -r a; set -- "$@" "$a"; i=$((i+1)); done
  msg=
  pid=$(cat "/run/containerd/io.containerd.runtime.v2.task/k8s.io/$cid/init.pid" 2>/dev/null) || fail "the container is not running on this node"
  root=/proc/$pid/root
  [ -n "$msg" ] || owner=$(stat -c %u:%g "/proc/$pid" 2>/dev/null) || fail "the container is not running on this node"
  for a in "$@"; do
    [ -z "$msg" ] || break
    case "$a" in
    D:*)
      p=
      IFS=/
      for c in ${a#D:}; do
        [ -n "$c" ] || continue
        p="$p/$c"
        if [ -L "$root$p" ]; then fail "$p is a symbolic link in the container; sync to the directory it points to"; break; fi
      done
      unset IFS;;
    R:*) rm -rf -- "$root${a#R:}" 2>/dev/null || fail "cannot remove ${a#R:} in the container";;
    esac
  done
  if [ "$size" -gt 0 ] && [ -z "$msg" ]; then
    files=$(head -c "$size" | { tar -x -v -f - -C "$root" --no-same-owner 2>/tmp/kiln-sync.err || echo '?tar-failed'; cat >/dev/null; })
    case "$files" in
    *'?tar-failed'*) fail "$(cat /tmp/kiln-sync.err)";;
    *) printf '%s\n' "$files" | while IFS= read -r f; do [ -z "$f" ] || chown -h "$owner" "$root/$f"; done;;
    esac
  elif [ "$size" -gt 0 ]; then
    head -c "$size" >/dev/null
  fi
  for a in "$@"; do
    [ -z "$msg" ] || break
    case "$a" in
    S:*)
      first=$(tr '\0' '\n' < "/proc/$pid/cmdline" | head -n 1)
      if [ "$first" != "${a#S:}" ]; then fail "the container's program is $first, not kiln's supervisor: it was started before kiln could supervise it; rebuilding"
      else kill -HUP "$pid" || fail "cannot signal the container's program"; fi;;
    esac
  done
  printf '%s %s\n' "$id" "$msg"
done
`

// maxChangeBytes bounds the tar of one change, which is held in memory to be sent with its
// size: a bigger change is an error that says to rebuild instead.
const maxChangeBytes = 1 << 30

// Sync applies c's deletes and copies to the container t (its run() commands are not run:
// they need the image's own programs, see Run).
func (n *NodeSyncer) Sync(ctx context.Context, t Target, c Change) error {
	if len(c.Deletes) == 0 && len(c.Copies) == 0 {
		return nil
	}
	id, err := containerdID(t)
	if err != nil {
		return err
	}
	var args []string
	dirs := map[string]bool{}
	for _, dst := range c.Copies {
		dirs[path.Dir(path.Clean("/"+dst))] = true
	}
	for _, d := range sortedKeys(dirs) {
		args = append(args, "D:"+d)
	}
	for _, d := range c.Deletes {
		args = append(args, "R:"+path.Clean("/"+d))
	}
	for _, a := range args {
		if strings.ContainsRune(a, '\n') {
			return fmt.Errorf("sync into %s/%s: the path %q has a line break", t.Pod, t.Container, a[2:])
		}
	}
	var archive bytes.Buffer
	if len(c.Copies) > 0 {
		if err := writeTar(&limitedWriter{w: &archive, left: maxChangeBytes}, c.Copies); err != nil {
			return fmt.Errorf("sync into %s/%s: %w", t.Pod, t.Container, err)
		}
	}
	a, err := n.agent(ctx, t.Node)
	if err != nil {
		return err
	}
	if err := a.do(ctx, id, args, archive.Bytes()); err != nil {
		return fmt.Errorf("sync into %s/%s from node %s: %w", t.Pod, t.Container, t.Node, err)
	}
	return nil
}

// Restart asks kiln's supervisor in the container t (the container's first process, whose
// program must be supervisor) to start its program again, in the same container.
func (n *NodeSyncer) Restart(ctx context.Context, t Target, supervisor string) error {
	id, err := containerdID(t)
	if err != nil {
		return err
	}
	a, err := n.agent(ctx, t.Node)
	if err != nil {
		return err
	}
	if err := a.do(ctx, id, []string{"S:" + supervisor}, nil); err != nil {
		return fmt.Errorf("restart %s/%s: %w", t.Pod, t.Container, err)
	}
	return nil
}

// containerdID is t's container ID without the runtime prefix, checked to be one.
func containerdID(t Target) (string, error) {
	if t.Node == "" {
		return "", fmt.Errorf("sync into %s/%s: the pod has no node yet", t.Pod, t.Container)
	}
	id, ok := strings.CutPrefix(t.ContainerID, "containerd://")
	if !ok || id == "" || strings.ContainsAny(id, "/. \n") {
		return "", fmt.Errorf("sync into %s/%s: container ID %q is not a containerd one", t.Pod, t.Container, t.ContainerID)
	}
	return id, nil
}

// Warm starts the node's agent ahead of the first change, so that it does not wait the
// 100 ms or so that starting one takes.
func (n *NodeSyncer) Warm(ctx context.Context, node string) error {
	_, err := n.agent(ctx, node)
	return err
}

// Close ends every node's agent.
func (n *NodeSyncer) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for node, a := range n.agents {
		a.close()
		delete(n.agents, node)
	}
}

// agent returns the node's agent, starting it (and checking the node) if it has none or the
// last one died.
func (n *NodeSyncer) agent(ctx context.Context, node string) (*agent, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.agents[node]; a != nil && !a.dead() {
		return a, nil
	}
	if err := n.checkNode(ctx, node); err != nil {
		return nil, err
	}
	a, err := startAgent(ctx, n.API, node)
	if err != nil {
		return nil, fmt.Errorf("start the sync agent in kind node %s: %w", node, err)
	}
	if n.agents == nil {
		n.agents = map[string]*agent{}
	}
	n.agents[node] = a
	return a, nil
}

// checkNode refuses a node container that is not of kiln's kind cluster.
func (n *NodeSyncer) checkNode(ctx context.Context, node string) error {
	return CheckKindNode(ctx, n.API, node, n.Cluster)
}

// CheckKindNode refuses a container of the Docker engine that is not a node of the kind
// cluster named cluster: kiln writes only into its own cluster's nodes.
func CheckKindNode(ctx context.Context, api *client.Client, node, cluster string) error {
	res, err := api.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("find kind node %s in the Docker engine: %w", node, err)
	}
	if got := res.Container.Config.Labels["io.x-k8s.kind.cluster"]; got != cluster {
		return fmt.Errorf("container %s is not a node of kind cluster %s (its cluster label is %q): kiln writes only into its own cluster's nodes", node, cluster, got)
	}
	return nil
}

// agent is one running agentScript: requests go to its stdin one at a time, answers come
// from its stdout.
type agent struct {
	mu      sync.Mutex // one request at a time
	conn    client.HijackedResponse
	answers chan string
	done    chan struct{} // closed when its output ends
	stderr  *lockedBuffer
	next    int
	closed  atomic.Bool
}

func startAgent(ctx context.Context, api *client.Client, node string) (*agent, error) {
	created, err := api.ExecCreate(ctx, node, client.ExecCreateOptions{Cmd: []string{"sh", "-c", agentScript}, AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, err
	}
	att, err := api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return nil, err
	}
	a := &agent{conn: att.HijackedResponse, answers: make(chan string, 1), done: make(chan struct{}), stderr: &lockedBuffer{}}
	pr, pw := io.Pipe()
	go func() {
		// The stream multiplexes stdout and stderr; answers are stdout's lines.
		_, err := stdcopy.StdCopy(pw, a.stderr, att.Reader)
		pw.CloseWithError(err)
	}()
	go func() {
		defer close(a.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			a.answers <- sc.Text()
		}
		pr.CloseWithError(io.EOF)
	}()
	return a, nil
}

func (a *agent) dead() bool {
	if a.closed.Load() {
		return true
	}
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *agent) close() {
	a.closed.Store(true)
	a.conn.Close()
}

// do sends one request and waits for its answer. A request that cannot finish (ctx ended,
// the connection broke) kills the agent: the next call starts another.
func (a *agent) do(ctx context.Context, containerID string, args []string, archive []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	id := strconv.Itoa(a.next)
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s %d %d\n", id, containerID, len(args), len(archive))
	for _, arg := range args {
		req.WriteString(arg + "\n")
	}
	req.Write(archive)
	written := make(chan error, 1)
	go func() {
		_, err := a.conn.Conn.Write(req.Bytes())
		written <- err
	}()
	for {
		select {
		case err := <-written:
			if err != nil {
				a.close()
				return fmt.Errorf("send the change to the agent: %w", err)
			}
			written = nil
		case line := <-a.answers:
			got, msg, _ := strings.Cut(line, " ")
			if got != id {
				a.close()
				return fmt.Errorf("the agent answered %q to request %s", line, id)
			}
			if msg != "" {
				return errors.New(msg)
			}
			return nil
		case <-a.done:
			msg := strings.TrimSpace(a.stderr.String())
			if msg == "" {
				msg = "its connection ended"
			}
			return fmt.Errorf("the sync agent stopped: %s", msg)
		case <-ctx.Done():
			a.close()
			return ctx.Err()
		}
	}
}

// lockedBuffer is the agent's stderr, written by one goroutine and read by another.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil // enough to say why it stopped
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// limitedWriter fails once more than left bytes were written.
type limitedWriter struct {
	w    io.Writer
	left int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, fmt.Errorf("the change is more than %d MiB: rebuild the image instead", maxChangeBytes>>20)
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
