//go:build hostile

// Package hostile runs the kiln binary on Kilnfiles written to hang it, exhaust its memory or
// crash it, and checks that each fails the way a user can act on: within a time bound, under
// a memory bound, with exit code 1, an error naming file:line, and no Go panic.
//
// Each case is a directory under cases/: a Kilnfile (and whatever files it reads), plus
//   - expect: lines that stderr must contain, one per line;
//   - args:   extra arguments for `kiln render`, one per line (optional);
//   - fifos:  files to create as named pipes before the run, one per line (git cannot hold
//     them) (optional).
//
// Add a case by adding a directory. Run with `make hostile`, or
// `go test -tags hostile ./test/hostile` (KILN_BIN names the binary; else it is built).
package hostile

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// timeBound: the slowest case waits out a 3 s --timeout; the rest end in about a second.
	timeBound = 60 * time.Second
	// memoryBound: the memory limit (512 MiB of heap growth), plus the one doubling step in
	// flight when it is reached, plus the runtime.
	memoryBound = 2 << 30
	// stderrTail is how much of stderr is checked: a case like local('yes') echoes 64 MiB.
	stderrTail = 64 << 10
)

// fileLine is how an error names where it happened.
var fileLine = regexp.MustCompile(`\b(Kilnfile|[\w.-]+\.star):\d+:\d+\b`)

// goCrash is what a Go panic or fatal error prints.
var goCrash = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[)|runtime\.gopanic|\[signal `)

func TestHostile(t *testing.T) {
	kiln := kilnBinary(t)
	dirs, err := filepath.Glob("cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases under cases/: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, kiln, dir) })
	}
}

func runCase(t *testing.T, kiln, dir string) {
	project := copyCase(t, dir)
	args := append([]string{"render", "-f", project}, lines(t, filepath.Join(dir, "args"))...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, kiln, args...)
	cmd.Env = append(os.Environ(), "KILN_CACHE_DIR="+t.TempDir(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	stderrFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderrFile.Close()
	cmd.Stdout, cmd.Stderr = io.Discard, stderrFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so a hung case's children die with it
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	stderr := tail(t, stderrFile.Name())

	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("still running after %s; killed. stderr ends:\n%s", 2*timeBound, stderr)
	case err == nil:
		t.Fatalf("exit 0, want 1; stderr ends:\n%s", stderr)
	case !errors.As(err, &exitErr):
		t.Fatalf("run: %v", err)
	case exitErr.ExitCode() != 1:
		t.Errorf("exit %d, want 1", exitErr.ExitCode())
	}
	if elapsed > timeBound {
		t.Errorf("took %s, more than %s", elapsed.Round(time.Millisecond), timeBound)
	}
	if rss := maxRSS(cmd.ProcessState); rss > memoryBound {
		t.Errorf("max RSS %d MiB, more than %d MiB", rss>>20, memoryBound>>20)
	}
	if goCrash.MatchString(stderr) {
		t.Errorf("a Go panic or fatal error:\n%s", stderr)
	}
	if !fileLine.MatchString(stderr) {
		t.Errorf("the error names no file:line:\n%s", stderr)
	}
	for _, want := range lines(t, filepath.Join(dir, "expect")) {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q; it ends:\n%s", want, stderr)
		}
	}
	t.Logf("%s, max RSS %d MiB", elapsed.Round(time.Millisecond), maxRSS(cmd.ProcessState)>>20)
}

// kilnBinary is $KILN_BIN, or kiln built from this checkout.
func kilnBinary(t *testing.T) string {
	if bin := os.Getenv("KILN_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "kiln")
	build := exec.Command("go", "build", "-o", bin, "github.com/kiln-dev/kiln/cmd/kiln")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// copyCase copies a case into a temp dir and makes its FIFOs there.
func copyCase(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range lines(t, filepath.Join(dir, "fifos")) {
		if err := syscall.Mkfifo(filepath.Join(dst, name), 0o644); err != nil {
			t.Fatalf("mkfifo %s: %v", name, err)
		}
	}
	return dst
}

// lines returns the non-empty lines of a file; none if it does not exist.
func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// tail returns the last stderrTail bytes of a file.
func tail(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > stderrTail {
		_, _ = f.Seek(st.Size()-stderrTail, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// maxRSS is the process's peak resident set in bytes (Linux reports KiB).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}
