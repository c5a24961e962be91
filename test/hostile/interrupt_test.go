//go:build hostile

package hostile

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

// Ctrl-C stops evaluation wherever it is: in a Starlark loop, or waiting on a local()
// command, whose process group goes too. Before, the signal context was made only after
// evaluation, so Ctrl-C did nothing until the loop or the command ended.
func TestInterruptStopsEvaluation(t *testing.T) {
	kiln := kilnBinary(t)
	for kf, want := range map[string]string{
		"n = 0\nwhile True:\n    n += 1\n":          "evaluation stopped at Kilnfile:3:",
		"local('echo $$ > pid; exec sleep 3600')\n": `Error in local: command "echo $$ > pid; exec sleep 3600" was stopped`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(kf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kiln, "render", "-f", dir)
		cmd.Env = append(os.Environ(), "KILN_MAX_STEPS=1000000000000", "KILN_CACHE_DIR="+t.TempDir(), "KUBECONFIG="+filepath.Join(dir, "none"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		start := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%q: still running 20 s after Ctrl-C", kf)
		}
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("%q: %v, want exit 1", kf, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q: took %s to stop after Ctrl-C", kf, d)
		}
		msg := stderr.String()
		if !strings.Contains(msg, want) || !strings.Contains(msg, "interrupt signal received") || goCrash.MatchString(msg) {
			t.Errorf("%q: stderr:\n%s", kf, msg)
		}
		if data, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("%q: the command (pid %d) outlived Ctrl-C", kf, pid)
			}
		}
	}
}
