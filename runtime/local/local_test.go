package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func sh(script string) *plan.Command {
	return &plan.Command{Argv: []string{"sh", "-c", script}}
}

// envOf runs env in a child and returns what it saw, as a map.
func envOf(t *testing.T, c *plan.Command, envs ...map[string]string) map[string]string {
	t.Helper()
	var out bytes.Buffer
	cmd := Command(context.Background(), t.TempDir(), c, &out, envs...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("env: %v\n%s", err, out.String())
	}
	seen := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "KILN_LT_") {
			seen[k] = v
		}
	}
	return seen
}

func TestCommandEnvLayering(t *testing.T) {
	// The process environment, then the command's env, then each extra map: later wins.
	t.Setenv("KILN_LT_PROC", "proc")
	t.Setenv("KILN_LT_A", "proc")
	t.Setenv("KILN_LT_B", "proc")
	t.Setenv("KILN_LT_C", "proc")
	t.Setenv("KUBECONFIG", "/home/user/.kube/config")
	c := &plan.Command{
		Argv: []string{"env"},
		Env:  map[string]string{"KILN_LT_A": "cmd", "KILN_LT_B": "cmd", "KILN_LT_C": "cmd", "KILN_LT_CMD": "cmd", "KUBECONFIG": "/from/the/kilnfile"},
	}
	first := map[string]string{"KILN_LT_B": "first", "KILN_LT_C": "first", "KILN_LT_FIRST": "first"}
	second := map[string]string{"KILN_LT_C": "second", "KILN_LT_SECOND": "second", "KUBECONFIG": "/tmp/kiln-scoped/kubeconfig"}

	got := envOf(t, c, first, second)
	want := map[string]string{
		"KILN_LT_PROC":   "proc",
		"KILN_LT_A":      "cmd",
		"KILN_LT_B":      "first",
		"KILN_LT_C":      "second",
		"KILN_LT_CMD":    "cmd",
		"KILN_LT_FIRST":  "first",
		"KILN_LT_SECOND": "second",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("saw %v, want exactly %v", got, want)
	}

	// The scoped KUBECONFIG wins over both the user's and the Kilnfile's, and the child sees
	// it exactly once.
	var out bytes.Buffer
	cmd := Command(context.Background(), t.TempDir(), &plan.Command{Argv: []string{"env"}, Env: c.Env}, &out, first, second)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var kube []string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "KUBECONFIG="); ok {
			kube = append(kube, v)
		}
	}
	if len(kube) != 1 || kube[0] != "/tmp/kiln-scoped/kubeconfig" {
		t.Errorf("child saw KUBECONFIG %q, want only the scoped one", kube)
	}
}

func TestCommandEnvNoExtras(t *testing.T) {
	// With no extra maps and no env of its own, the command sees the process environment.
	t.Setenv("KILN_LT_ONLY", "proc")
	got := envOf(t, &plan.Command{Argv: []string{"env"}})
	if got["KILN_LT_ONLY"] != "proc" {
		t.Errorf("KILN_LT_ONLY = %q, want proc", got["KILN_LT_ONLY"])
	}
	// A nil map among the extras is no map.
	got = envOf(t, &plan.Command{Argv: []string{"env"}, Env: map[string]string{"KILN_LT_ONLY": "cmd"}}, nil)
	if got["KILN_LT_ONLY"] != "cmd" {
		t.Errorf("KILN_LT_ONLY = %q, want cmd", got["KILN_LT_ONLY"])
	}
}

func realpath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCommandDir(t *testing.T) {
	project := realpath(t, t.TempDir())
	if err := os.MkdirAll(filepath.Join(project, "services", "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{"", project},
		{".", project},
		{"services", filepath.Join(project, "services")},
		{"services/api", filepath.Join(project, "services", "api")},
		{"services/api/..", filepath.Join(project, "services")},
	} {
		var out bytes.Buffer
		cmd := Command(context.Background(), project, &plan.Command{Argv: []string{"pwd", "-P"}, Dir: tc.dir}, &out)
		if err := cmd.Run(); err != nil {
			t.Fatalf("dir %q: %v", tc.dir, err)
		}
		if got := strings.TrimSpace(out.String()); got != tc.want {
			t.Errorf("dir %q: ran in %s, want %s", tc.dir, got, tc.want)
		}
	}
	// A missing directory is an error from Run, naming the command.
	err := Run(context.Background(), project, &plan.Command{Argv: []string{"true"}, Dir: "nope"}, nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "[true]") {
		t.Errorf("missing dir: err = %v, want an error naming [true]", err)
	}
}

func TestRunOutputAndExitCode(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), dir, sh("echo out; echo err >&2"), nil, &out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := out.String(); got != "out\nerr\n" {
		t.Errorf("output %q, want stdout and stderr in the one writer", got)
	}

	for _, tc := range []struct {
		c    *plan.Command
		want string
	}{
		{sh("exit 3"), `command "exit 3" exited with code 3`},
		{sh("echo half; exit 42"), `command "echo half; exit 42" exited with code 42`},
		{&plan.Command{Argv: []string{"false"}}, `command "[false]" exited with code 1`},
		{&plan.Command{Argv: []string{"sh", "-c", "exit 7", "extra"}}, `command "[sh -c exit 7 extra]" exited with code 7`},
	} {
		err := Run(context.Background(), dir, tc.c, nil, &bytes.Buffer{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Run(%v) = %v, want %q", tc.c.Argv, err, tc.want)
		}
	}

	// A program that cannot start is not an exit code.
	err := Run(context.Background(), dir, &plan.Command{Argv: []string{"kiln-no-such-program"}}, nil, &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "exited with code") || !strings.Contains(err.Error(), "kiln-no-such-program") {
		t.Errorf("missing program: err = %v", err)
	}

	// The extra env reaches the command.
	out.Reset()
	if err := Run(context.Background(), dir, sh(`printf %s "$KILN_LT_RUN"`), map[string]string{"KILN_LT_RUN": "scoped"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "scoped" {
		t.Errorf("Run env: got %q, want scoped", out.String())
	}
}

func TestRunCancel(t *testing.T) {
	// Cancelling ctx ends a running command, its children included, and Run returns at once.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFile(t, filepath.Join(dir, "child.pid"))
		cancel()
	}()
	start := time.Now()
	err := Run(ctx, dir, withChild("sleep 300", ""), nil, &bytes.Buffer{})
	if err == nil {
		t.Fatal("Run of a cancelled command returned nil")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Run returned %s after the cancel, want at once", d)
	}
	assertGone(t, readPid(t, filepath.Join(dir, "child.pid")))
}

func TestRunCancelChildIgnoringTERM(t *testing.T) {
	// A cancelled command's child that ignores SIGTERM does not outlive Run.
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFile(t, filepath.Join(dir, "child.pid"))
		cancel()
	}()
	err = Run(ctx, dir, withChild("(trap '' TERM; exec sleep 300)", ""), nil, f)
	if err == nil {
		t.Fatal("Run of a cancelled command returned nil")
	}
	assertGone(t, readPid(t, filepath.Join(dir, "child.pid")))
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%s never appeared", path)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	waitFile(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("bad pid %q", b)
	}
	return pid
}

// alive reports whether pid is a process that is not a zombie. A killed child is reparented,
// and a reaper that is slow (or absent, as in some containers) leaves a zombie: that is gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// assertGone fails unless pid is gone within a second, and kills it if it is not, so that a
// failing test leaves nothing behind.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d is still running", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// withChild is a shell script that prints "started", starts child in the background,
// records its pid in child.pid, runs then and waits for the child, as `npm run dev` does.
func withChild(child, then string) *plan.Command {
	return sh("echo started; " + child + " & echo $! > child.pid.tmp; mv child.pid.tmp child.pid; " + then + "wait")
}

func TestServeStopKillsProcessGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script *plan.Command
		file   bool          // a file as output: Wait returns as soon as the leader exits
		within time.Duration // how long Stop may take
	}{
		// Everything obeys SIGTERM: Stop returns at once.
		{"obeys", withChild("sleep 300", ""), false, 2 * time.Second},
		// The leader dies of SIGTERM, but its child ignores it. With a file as output, the
		// leader's exit is seen at once; with any other writer, the child holds the pipe open
		// until Wait gives up on it.
		{"child ignores TERM, file", withChild("(trap '' TERM; exec sleep 300)", ""), true, 2 * time.Second},
		{"child ignores TERM, pipe", withChild("(trap '' TERM; exec sleep 300)", ""), false, 7 * time.Second},
		// The leader ignores SIGTERM: killed after the grace period, with its child.
		{"leader ignores TERM", withChild("trap '' TERM; sleep 300", "wait; "), false, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var out io.Writer = &bytes.Buffer{}
			if tc.file {
				f, err := os.Create(filepath.Join(dir, "out.log"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				out = f
			}
			srv, err := Serve(context.Background(), dir, tc.script, nil, out)
			if err != nil {
				t.Fatal(err)
			}
			child := readPid(t, filepath.Join(dir, "child.pid"))
			leader := srv.cmd.Process.Pid
			if !alive(child) || !alive(leader) {
				t.Fatal("server or its child is not running before Stop")
			}
			start := time.Now()
			srv.Stop()
			if d := time.Since(start); d > tc.within {
				t.Errorf("Stop took %s, want at most %s", d, tc.within)
			}
			assertGone(t, leader)
			assertGone(t, child)
			if b, ok := out.(*bytes.Buffer); ok && !strings.Contains(b.String(), "started") {
				t.Errorf("server output %q lacks its own line", b.String())
			}
		})
	}
}

func TestServeStopAfterExit(t *testing.T) {
	// Stop of a server that has already exited returns at once.
	srv, err := Serve(context.Background(), t.TempDir(), sh("exit 0"), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	done := make(chan struct{})
	go func() { srv.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Stop of an exited server hangs")
	}
}

func TestServeStartError(t *testing.T) {
	_, err := Serve(context.Background(), t.TempDir(), &plan.Command{Argv: []string{"kiln-no-such-program"}}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `start "[kiln-no-such-program]"`) {
		t.Errorf("err = %v", err)
	}
}

// listen opens a listener on a free port of 127.0.0.1.
func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).Port
}

// freePort returns a port of 127.0.0.1 that nothing listens on (now).
func freePort(t *testing.T) int {
	l, port := listen(t)
	l.Close()
	return port
}

// serveSleep starts a server that only sleeps, stopped at the end of the test.
func serveSleep(t *testing.T, dir string, env map[string]string) *Server {
	t.Helper()
	srv, err := Serve(context.Background(), dir, sh("exec sleep 300"), env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func waitReady(t *testing.T, srv *Server, dir string, p *plan.ReadinessProbe, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return srv.WaitReady(ctx, dir, p)
}

func TestWaitReadyNilProbe(t *testing.T) {
	srv := serveSleep(t, t.TempDir(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.WaitReady(ctx, "", nil); err != nil {
		t.Errorf("nil probe: %v, want ready at once", err)
	}
}

func TestWaitReadyHTTPGet(t *testing.T) {
	l, port := listen(t)
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	var paths []string
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		paths = append(paths, r.URL.Path)
		w.WriteHeader(status)
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })

	dir := t.TempDir()
	srv := serveSleep(t, dir, nil)
	probe := &plan.ReadinessProbe{HTTPGet: &plan.HTTPGet{Host: "127.0.0.1", Port: port, Path: "/healthz"}}

	// 503 is not ready: WaitReady keeps polling until ctx ends.
	err := waitReady(t, srv, dir, probe, 1500*time.Millisecond)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "readiness probe never succeeded") {
		t.Fatalf("503: err = %v, want the probe to time out", err)
	}
	mu.Lock()
	if len(paths) < 2 || paths[0] != "/healthz" {
		t.Errorf("probe requests %v, want at least two GET /healthz", paths)
	}
	status = http.StatusNotFound
	mu.Unlock()
	if err := waitReady(t, srv, dir, probe, 1500*time.Millisecond); err == nil {
		t.Fatal("404: ready, want not ready")
	}

	// 200 is ready.
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	start := time.Now()
	if err := waitReady(t, srv, dir, probe, 5*time.Second); err != nil {
		t.Fatalf("200: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("200: ready after %s, want at the first poll", d)
	}

	// Nothing listening is not ready.
	gone := &plan.ReadinessProbe{HTTPGet: &plan.HTTPGet{Host: "127.0.0.1", Port: freePort(t)}}
	if err := waitReady(t, srv, dir, gone, 1500*time.Millisecond); err == nil {
		t.Error("closed port: ready, want not ready")
	}
}

func TestWaitReadyHTTPGetBecomesReady(t *testing.T) {
	// SuccessThreshold successes in a row are needed: a failure between two successes
	// starts the count again.
	l, port := listen(t)
	var mu sync.Mutex
	calls := 0
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 || calls == 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })

	dir := t.TempDir()
	srv := serveSleep(t, dir, nil)
	probe := &plan.ReadinessProbe{SuccessThreshold: 2, HTTPGet: &plan.HTTPGet{Host: "127.0.0.1", Port: port}}
	if err := waitReady(t, srv, dir, probe, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 5 {
		t.Errorf("ready after %d probes, want 5 (fail, ok, fail, ok, ok)", calls)
	}
}

func TestWaitReadyTCPSocket(t *testing.T) {
	dir := t.TempDir()
	srv := serveSleep(t, dir, nil)

	port := freePort(t)
	probe := &plan.ReadinessProbe{TCPSocket: &plan.TCPSocket{Host: "127.0.0.1", Port: port}}
	if err := waitReady(t, srv, dir, probe, 1500*time.Millisecond); err == nil {
		t.Fatal("closed port: ready, want not ready")
	}

	// Something starts listening while WaitReady polls.
	errc := make(chan error, 1)
	go func() { errc <- waitReady(t, srv, dir, probe, 10*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("port %d was taken meanwhile: %v", port, err)
	}
	defer l.Close()
	if err := <-errc; err != nil {
		t.Errorf("listening port: %v", err)
	}
}

func TestWaitReadyExec(t *testing.T) {
	dir := t.TempDir()
	// The probe runs in the project dir with the server's env: it checks a file that the test
	// creates later, named by the scoped env.
	srv := serveSleep(t, dir, map[string]string{"KILN_LT_MARK": "ready.mark"})
	probe := &plan.ReadinessProbe{Exec: []string{"sh", "-c", `test -f "$KILN_LT_MARK"`}}
	if err := waitReady(t, srv, dir, probe, 1500*time.Millisecond); err == nil {
		t.Fatal("no mark: ready, want not ready")
	}
	if err := os.WriteFile(filepath.Join(dir, "ready.mark"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(t, srv, dir, probe, 5*time.Second); err != nil {
		t.Errorf("mark written: %v", err)
	}
	// A probe that always fails is never ready.
	if err := waitReady(t, srv, dir, &plan.ReadinessProbe{Exec: []string{"false"}}, 1500*time.Millisecond); err == nil {
		t.Error("exec false: ready")
	}
}

func TestWaitReadyExecTimeout(t *testing.T) {
	// A probe command that hangs is cut off at TimeoutSeconds and counts as a failure: the
	// next probe runs, and here it succeeds.
	dir := t.TempDir()
	srv := serveSleep(t, dir, nil)
	probe := &plan.ReadinessProbe{TimeoutSeconds: 1, Exec: []string{"sh", "-c", "test -f tried && exit 0; touch tried; exec sleep 300"}}
	start := time.Now()
	if err := waitReady(t, srv, dir, probe, 10*time.Second); err != nil {
		t.Fatalf("hanging first probe: %v, want it cut off and the second to succeed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hanging first probe: ready after %s, want about 2 s", d)
	}
	// A probe that always hangs is never ready, and WaitReady still ends with ctx.
	start = time.Now()
	if err := waitReady(t, srv, dir, &plan.ReadinessProbe{TimeoutSeconds: 1, Exec: []string{"sleep", "300"}}, 2500*time.Millisecond); err == nil {
		t.Fatal("hanging probe: ready")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("hanging probe: WaitReady took %s", d)
	}
}

func TestWaitReadyServerExits(t *testing.T) {
	// A server that exits before its probe succeeds fails at once, with its exit status,
	// instead of waiting out the readiness timeout.
	dir := t.TempDir()
	srv, err := Serve(context.Background(), dir, sh("echo crashing; exit 5"), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	start := time.Now()
	err = waitReady(t, srv, dir, &plan.ReadinessProbe{TCPSocket: &plan.TCPSocket{Host: "127.0.0.1", Port: freePort(t)}}, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "serve_cmd exited before it was ready") || !strings.Contains(err.Error(), "exit status 5") {
		t.Fatalf("err = %v, want the server's exit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, want at once", d)
	}
	// The exit stays known: a second wait says the same, and Stop does not hang.
	err = waitReady(t, srv, dir, &plan.ReadinessProbe{Exec: []string{"false"}}, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 5") {
		t.Errorf("second wait: err = %v", err)
	}
}

func TestWaitReadyCancel(t *testing.T) {
	dir := t.TempDir()
	srv := serveSleep(t, dir, nil)
	probe := &plan.ReadinessProbe{TCPSocket: &plan.TCPSocket{Host: "127.0.0.1", Port: freePort(t)}}

	// Cancelled during the polls.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err := srv.WaitReady(ctx, dir, probe)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel while polling: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel while polling: returned after %s", d)
	}

	// Cancelled during the initial delay.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	err = srv.WaitReady(ctx, dir, &plan.ReadinessProbe{InitialDelaySeconds: 60, TCPSocket: probe.TCPSocket})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel in initial delay: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel in initial delay: returned after %s", d)
	}
}

func TestServeCtxCancel(t *testing.T) {
	// Serve's ctx ending stops the server's whole process group.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Serve(ctx, dir, withChild("sleep 300", ""), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	child := readPid(t, filepath.Join(dir, "child.pid"))
	cancel()
	select {
	case <-srv.done:
	case <-time.After(4 * time.Second):
		t.Fatal("server still running 4 s after its ctx ended")
	}
	assertGone(t, child)
	srv.done <- nil // for Stop, as WaitReady does
	srv.Stop()
}
