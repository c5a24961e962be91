package builtins

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// local('sleep 3600') hung evaluation; now it times out with an error naming the call.
func TestLocalTimeout(t *testing.T) {
	start := time.Now()
	msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": "local('sleep 60', timeout = '300ms')\n"}, Options{})
	mustContain(t, msg, "Kilnfile:1:6", `did not finish within 300ms, so kiln stopped it and its process group`, "timeout=")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}

// The whole process group goes, not only the shell: a child in the background too.
func TestLocalTimeoutKillsBackgroundChildren(t *testing.T) {
	dir := t.TempDir()
	kf := "local('sleep 60 & echo $! > " + filepath.Join(dir, "child.pid") + "; wait', timeout = '300ms')\n"
	msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf}, Options{})
	mustContain(t, msg, "did not finish within 300ms")
	data, err := os.ReadFile(filepath.Join(dir, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d survived the timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLocalDefaultTimeout(t *testing.T) {
	if defaultLocalTimeout != 5*time.Minute {
		t.Fatalf("defaultLocalTimeout = %s; docs/reference/local.md says 5m", defaultLocalTimeout)
	}
}

func TestLocalTimeoutArgument(t *testing.T) {
	for kf, want := range map[string]string{
		"local('true', timeout = '-5s')":  `"-5s" is not a positive duration`,
		"local('true', timeout = 'soon')": `"soon" is not a duration like '90s' or '10m'`,
		"local('true', timeout = 0)":      "0 is not a positive duration",
		"local('true', timeout = [1])":    "want a duration like '90s' or a number of seconds, got list",
	} {
		mustContain(t, evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf + "\n"}, Options{}), "Kilnfile:1:", want)
	}
	for _, kf := range []string{"local('true', timeout = '10s')", "local('true', timeout = 10)", "local('true', timeout = 2.5)"} {
		if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf + "\n"}, Options{}); msg != "" {
			t.Fatalf("%s: %s", kf, msg)
		}
	}
}

// local('yes') grew past 3 GB; now stdout past the cap stops the command with an error.
func TestLocalOutputIsCapped(t *testing.T) {
	for kf, want := range map[string]string{
		"local('yes', quiet = True)":     "wrote more than 64 MiB to stdout",
		"local('yes >&2', quiet = True)": "wrote more than 64 MiB to stderr",
	} {
		start := time.Now()
		msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf + "\n"}, Options{})
		mustContain(t, msg, "Kilnfile:1:6", want, "write large output to a file")
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("%s took %s", kf, d)
		}
	}
}

// A command that leaves a child running with its output open still returns.
func TestLocalReturnsDespiteALingeringChild(t *testing.T) {
	kf := "x = local('echo hi; sleep 30 &', quiet = True)\nif str(x) != 'hi\\n':\n    fail(repr(str(x)))\n"
	start := time.Now()
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf}, Options{}); msg != "" {
		t.Fatal(msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestLocalEchoesWithPrefix(t *testing.T) {
	var out bytes.Buffer
	kf := "local('printf \"a\\\\nb\\\\n\"; printf c >&2')\n"
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf}, Options{Stdout: &out, Stderr: &out}); msg != "" {
		t.Fatal(msg)
	}
	got := out.String()
	if !strings.Contains(got, " → a\n → b\n") || !strings.Contains(got, " → c") {
		t.Fatalf("echo:\n%s", got)
	}
}

// countingWriter counts the writes it gets.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

// The prefixer made one write(2) per byte of local() output; now one per chunk.
func TestLinePrefixerWritesWholeChunks(t *testing.T) {
	var w countingWriter
	var mu sync.Mutex
	p := newLinePrefixer(&w, "> ", &mu)
	for _, chunk := range []string{"one\ntwo\nthr", "ee\n", "\nfour"} {
		if n, err := p.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if want := "> one\n> two\n> three\n> \n> four"; w.String() != want {
		t.Fatalf("got %q, want %q", w.String(), want)
	}
	if w.writes != 3 {
		t.Fatalf("%d writes for 3 chunks", w.writes)
	}
}
