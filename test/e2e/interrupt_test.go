//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunInterrupt: Ctrl-C (SIGINT) stops kiln run at once with exit 1, and stops the local
// commands it started, with their children.
func TestRunInterrupt(t *testing.T) {
	c := connect(t)
	dir := writeProject(t, map[string]string{
		// The shell's PID is its process group: kiln runs each local command in a group of its own.
		"Kilnfile": "local_resource('slow', cmd='echo $$ > slow.pid; sleep 600')\n",
	})
	bin, err := kilnBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-f", dir, contextFlag(c))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	pidFile := filepath.Join(dir, "slow.pid")
	var group int
	for deadline := time.Now().Add(time.Minute); group == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the local command did not start in a minute:\n%s%s", stdout.String(), stderr.String())
		}
		if text, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(text), "\n") {
			group, _ = strconv.Atoi(strings.TrimSpace(string(text)))
		}
	}

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("want exit 1 after Ctrl-C, got %v\n%s%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("kiln run still running 15s after Ctrl-C:\n%s%s", stdout.String(), stderr.String())
	}
	t.Logf("kiln run stopped %s after SIGINT", time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("want \"interrupted\" on stderr:\n%s", stderr.String())
	}
	// kiln waits for the shell; its children got the same SIGTERM and are gone (and reaped by
	// init) a moment later.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Kill(-group, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-group, syscall.SIGKILL)
			t.Fatalf("the local command's process group %d is still alive 5s after kiln run exited (kill: %v)", group, err)
		}
	}
}
