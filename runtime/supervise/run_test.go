//go:build linux

package supervise

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is the supervisor: TestMain runs Main when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("KILN_SUPERVISE_TEST") == "1" {
		os.Exit(Main(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

func supervisor(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(os.Environ(), "KILN_SUPERVISE_TEST=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd, &out
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s is %q, want %q", path, b, want)
}

// SIGHUP restarts the program, which then sees its files as they are now; SIGTERM ends it
// and the supervisor exits with its status.
func TestRestartOnHUP(t *testing.T) {
	dir := t.TempDir()
	runs, conf := filepath.Join(dir, "runs"), filepath.Join(dir, "conf")
	if err := os.WriteFile(conf, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each run appends what conf says when it starts, then waits; TERM exits 7.
	script := `trap 'exit 7' TERM; cat ` + conf + ` >> ` + runs + `; echo >> ` + runs + `; while true; do sleep 0.05; done`
	cmd, out := supervisor(t, "sh", "-c", script)
	waitFile(t, runs, "one")
	if err := os.WriteFile(conf, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFile(t, runs, "one\ntwo")
	if !strings.Contains(out.String(), "restarted sh") {
		t.Errorf("no restart line in the output: %q", out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("after SIGTERM the supervisor ended with %v, want exit status 7", err)
	}
}

// A program that exits by itself takes the supervisor with it, with its exit code.
func TestExitsWithTheProgram(t *testing.T) {
	cmd, _ := supervisor(t, "sh", "-c", "exit 3")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the supervisor ended with %v, want exit status 3", err)
	}
}

// A program that ignores SIGTERM is killed after the grace period on a restart.
func TestRestartKillsAStubbornProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 5 s grace period")
	}
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	cmd, _ := supervisor(t, "sh", "-c", `trap '' TERM; echo run >> `+runs+`; while true; do sleep 0.05; done`)
	waitFile(t, runs, "run")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFile(t, runs, "run\nrun")
}

// With --keep-running (exit_policy='continue'), a program that exits by itself leaves the
// supervisor, and so the container, up; the next SIGHUP starts it again. SIGTERM then ends
// the supervisor.
func TestKeepRunningAfterExit(t *testing.T) {
	dir := t.TempDir()
	runs, conf := filepath.Join(dir, "runs"), filepath.Join(dir, "conf")
	if err := os.WriteFile(conf, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], KeepRunningFlag, "--", "sh", "-c", `cat `+conf+` >> `+runs+`; echo >> `+runs+`; exit 3`)
	cmd.Env = append(os.Environ(), "KILN_SUPERVISE_TEST=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFile(t, runs, "one")
	select {
	case err := <-done:
		t.Fatalf("the supervisor exited with its program (%v); --keep-running should keep it up\n%s", err, out.String())
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(conf, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFile(t, runs, "one\ntwo")
	time.Sleep(100 * time.Millisecond) // let the second run exit too
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Fatalf("after SIGTERM the supervisor ended with %v, want exit status %d", err, 128+int(syscall.SIGTERM))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the supervisor did not end on SIGTERM")
	}
	if !strings.Contains(out.String(), "waiting for the next live update") {
		t.Errorf("no line saying the program exited: %q", out.String())
	}
}
