// Package local runs local_resource commands on the developer's machine: cmd to completion,
// serve_cmd in the background until kiln stops, with readiness probes.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// Command builds an exec.Cmd for a plan command, run in dir (relative to the project dir)
// with the process environment, then the command's own, then each of envs in turn: later ones
// win, and the caller's hold the scoped KUBECONFIG that confines the command to the context
// kiln checked.
func Command(ctx context.Context, projectDir string, c *plan.Command, out io.Writer, envs ...map[string]string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = filepath.Join(projectDir, filepath.FromSlash(c.Dir))
	cmd.Env = os.Environ()
	for _, env := range append([]map[string]string{c.Env}, envs...) {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cmd.Env = append(cmd.Env, k+"="+env[k])
		}
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that stopping it stops its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a command to completion, with env added to its environment (see Command).
func Run(ctx context.Context, projectDir string, c *plan.Command, env map[string]string, out io.Writer) error {
	cmd := Command(ctx, projectDir, c, out, env)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil && cmd.Process != nil {
			// Cancelled: the group had SIGTERM, and members that ignore it outlive the leader.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("command %q exited with code %d", display(c), exitErr.ExitCode())
		}
		return fmt.Errorf("command %q: %w", display(c), err)
	}
	return nil
}

func display(c *plan.Command) string {
	if len(c.Argv) == 3 && c.Argv[0] == "sh" && c.Argv[1] == "-c" {
		return c.Argv[2]
	}
	return fmt.Sprint(c.Argv)
}

// Server is a running serve_cmd.
type Server struct {
	cmd  *exec.Cmd
	env  map[string]string
	done chan error
}

// Serve starts a serve_cmd, with env added to its environment (see Command). It runs until
// Stop or ctx ends.
func Serve(ctx context.Context, projectDir string, c *plan.Command, env map[string]string, out io.Writer) (*Server, error) {
	cmd := Command(ctx, projectDir, c, out, env)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", display(c), err)
	}
	s := &Server{cmd: cmd, env: env, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
}

// Stop ends the server and its children: SIGTERM to its process group, and SIGKILL to
// what is left of the group once the leader has exited or after 5 s, whichever is first.
func (s *Server) Stop() {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	// Members that ignore SIGTERM outlive the leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// WaitReady polls the probe until it succeeds SuccessThreshold times in a row, the server
// exits, or ctx ends. A nil probe is ready at once.
func (s *Server) WaitReady(ctx context.Context, projectDir string, p *plan.ReadinessProbe) error {
	if p == nil {
		return nil
	}
	select {
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	if period > time.Second {
		period = time.Second // kiln polls faster than the probe's period: readiness is what we wait for
	}
	successes := 0
	for {
		err := probeOnce(ctx, projectDir, p, s.env)
		if err == nil {
			successes++
			if successes >= max(p.SuccessThreshold, 1) {
				return nil
			}
		} else {
			successes = 0
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("serve_cmd exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("readiness probe never succeeded: %w", ctx.Err())
		case <-time.After(period):
		}
	}
}

func probeOnce(ctx context.Context, projectDir string, p *plan.ReadinessProbe, env map[string]string) error {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		host := p.HTTPGet.Host
		if host == "" {
			host = "localhost"
		}
		scheme := p.HTTPGet.Scheme
		if scheme == "" {
			scheme = "http"
		}
		url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(p.HTTPGet.Port)) + p.HTTPGet.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = "localhost"
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p.TCPSocket.Port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case len(p.Exec) > 0:
		cmd := Command(ctx, projectDir, &plan.Command{Argv: p.Exec}, io.Discard, env)
		return cmd.Run()
	}
	return nil
}
