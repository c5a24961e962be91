package builtins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/internal/safefile"
	"go.starlark.net/starlark"
)

// defaultLocalTimeout bounds a local() command given no timeout=. It is far longer than a
// local() that computes a value needs (git describe, helm template), and long enough for the
// slow ones people run at load time (a code generator, a cold npm install); a command that
// hangs still ends, instead of hanging kiln.
const defaultLocalTimeout = 5 * time.Minute

// maxLocalOutput caps each of a local() command's stdout and stderr: stdout is the return
// value and stderr the error message, so both are held in memory.
const maxLocalOutput = safefile.DefaultMaxSize

// stopGrace is how long a stopped command's process group has between SIGTERM and SIGKILL,
// and how long kiln waits for the output of children that outlive the command.
const stopGrace = 2 * time.Second

var (
	errLocalTimeout = errors.New("local() timeout")
	errTooMuchOut   = errors.New("too much output")
)

// localRun is how one local() command runs: its builtin's name and display form for messages,
// its timeout, and where its output is echoed (nil: quiet).
type localRun struct {
	name, display string
	timeout       time.Duration
	echo          io.Writer
}

// run runs c in its own process group and returns its stdout. When the timeout passes, when
// ctx ends (Ctrl-C, --timeout), or when either stream outgrows maxLocalOutput, the whole group
// is stopped: SIGTERM, then SIGKILL.
func (r localRun) run(ctx context.Context, c *exec.Cmd) (string, error) {
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, r.timeout, errLocalTimeout)
	defer cancelTimeout()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	stdout := &cappedBuffer{max: maxLocalOutput, full: func() { stop(errTooMuchOut) }}
	stderr := &cappedBuffer{max: maxLocalOutput, full: func() { stop(errTooMuchOut) }}
	c.Stdout, c.Stderr = stdout, stderr
	if r.echo != nil {
		var mu sync.Mutex // the two streams echo to one writer
		c.Stdout = io.MultiWriter(stdout, newLinePrefixer(r.echo, " → ", &mu))
		c.Stderr = io.MultiWriter(stderr, newLinePrefixer(r.echo, " → ", &mu))
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = stopGrace
	if err := c.Start(); err != nil {
		return "", fmt.Errorf("%s: command %q failed: %v", r.name, r.display, err)
	}
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() { defer close(stopped); stopGroupOnDone(ctx, c.Process.Pid, exited) }()
	err := c.Wait()
	close(exited)
	<-stopped

	for _, s := range []struct {
		name string
		buf  *cappedBuffer
	}{{"stdout", stdout}, {"stderr", stderr}} {
		if s.buf.over {
			return "", fmt.Errorf("%s: command %q wrote more than %s to %s, so kiln stopped it; local() holds its output in memory: write large output to a file, and read what you need from it",
				r.name, r.display, safefile.FormatSize(maxLocalOutput), s.name)
		}
	}
	if err == nil || errors.Is(err, exec.ErrWaitDelay) && c.ProcessState.Success() {
		// ErrWaitDelay: the command succeeded, and a child it left running holds the output
		// open; what the command itself wrote is all there.
		return stdout.String(), nil
	}
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); !errors.Is(cause, errLocalTimeout) {
			return "", fmt.Errorf("%s: command %q was stopped: %v", r.name, r.display, cause)
		}
		return "", fmt.Errorf("%s: command %q did not finish within %s, so kiln stopped it and its process group; if it needs longer, pass timeout= (e.g. timeout='%s')",
			r.name, r.display, r.timeout, 2*r.timeout)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = strings.TrimSpace(stdout.String())
	}
	return "", fmt.Errorf("%s: command %q failed: %v\n%s", r.name, r.display, err, msg)
}

// stopGroupOnDone stops the process group pgid when ctx ends before the command has exited:
// SIGTERM, then SIGKILL after stopGrace for whatever is left, children included.
func stopGroupOnDone(ctx context.Context, pgid int, exited <-chan struct{}) {
	select {
	case <-exited:
		return
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// cappedBuffer keeps what is written up to max bytes. Past that it is over: it calls full once
// (the command is then stopped) and discards the rest, still reporting success so that the
// command never blocks on a full pipe. The buffer is a field, not embedded: an embedded
// bytes.Buffer's ReadFrom would let io.Copy bypass Write, and the cap.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int64
	full func()
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.over {
		return len(p), nil
	}
	if int64(b.buf.Len()+len(p)) > b.max {
		b.over = true
		b.full()
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) String() string { return b.buf.String() }

// timeout unpacks local(timeout=): a duration string ('90s', '10m') or a number of seconds.
type timeout time.Duration

func (d *timeout) Unpack(v starlark.Value) error {
	var dur time.Duration
	switch v := v.(type) {
	case starlark.String:
		var err error
		if dur, err = time.ParseDuration(string(v)); err != nil {
			return fmt.Errorf("%s is not a duration like '90s' or '10m'", v)
		}
	case starlark.Int, starlark.Float:
		secs, _ := starlark.AsFloat(v)
		dur = time.Duration(secs * float64(time.Second))
	default:
		return fmt.Errorf("want a duration like '90s' or a number of seconds, got %s", v.Type())
	}
	if dur <= 0 {
		return fmt.Errorf("%s is not a positive duration", v)
	}
	*d = timeout(dur)
	return nil
}
