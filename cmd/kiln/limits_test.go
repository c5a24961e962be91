package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/starlark/host"
)

func TestLimitsFromEnv(t *testing.T) {
	env := map[string]string{
		"KILN_MAX_STEPS": "5000", "KILN_MAX_CALL_DEPTH": "300",
		"KILN_MAX_FILE_SIZE": "1MiB", "KILN_MAX_MEMORY": "2G",
	}
	got, err := limitsFromEnv(func(k string) string { return env[k] })
	want := host.Limits{MaxSteps: 5000, MaxCallDepth: 300, MaxFileSize: 1 << 20, MaxMemory: 2 << 30}
	if err != nil || got != want {
		t.Fatalf("limitsFromEnv = %+v, %v; want %+v", got, err, want)
	}
	if got, err := limitsFromEnv(func(string) string { return "" }); err != nil || got != (host.Limits{}) {
		t.Fatalf("unset: %+v, %v; want the zero Limits (the defaults)", got, err)
	}
}

func kilnfile(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A bad limit is a usage error (exit 2), named.
func TestBadLimitIsAUsageError(t *testing.T) {
	dir := kilnfile(t, "")
	for _, kv := range [][2]string{{"KILN_MAX_STEPS", "lots"}, {"KILN_MAX_STEPS", "0"}, {"KILN_MAX_FILE_SIZE", "64MB"}} {
		t.Setenv(kv[0], kv[1])
		var out, errOut bytes.Buffer
		if code := run([]string{"render", "-f", dir}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), kv[0]) {
			t.Fatalf("%s=%s: exit %d, stderr %q", kv[0], kv[1], code, errOut.String())
		}
		os.Unsetenv(kv[0])
	}
}

// --timeout covers evaluation: a loop that never ends stops at its timeout, exit 1, naming
// the line and the flag. Before, render had no --timeout and run's started after evaluation.
func TestTimeoutStopsEvaluation(t *testing.T) {
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	t.Setenv("KILN_MAX_STEPS", "1000000000000")
	dir := kilnfile(t, "n = 0\nwhile True:\n    n += 1\n")
	for _, cmd := range []string{"render", "down"} {
		var out, errOut bytes.Buffer
		start := time.Now()
		code := run([]string{cmd, "-f", dir, "--timeout", "300ms"}, &out, &errOut)
		if code != exitFail {
			t.Fatalf("%s: exit %d, want 1; stderr:\n%s", cmd, code, errOut.String())
		}
		want := "Error: evaluation stopped at Kilnfile:3:"
		if !strings.Contains(errOut.String(), want) || !strings.Contains(errOut.String(), "kiln "+cmd+" --timeout 300ms ran out") {
			t.Fatalf("%s: stderr does not say where and why it stopped:\n%s", cmd, errOut.String())
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("%s took %s", cmd, d)
		}
	}
}

// The step budget, the default or KILN_MAX_STEPS, stops a loop with exit 1.
func TestStepBudgetFromEnv(t *testing.T) {
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	t.Setenv("KILN_MAX_STEPS", "20000")
	dir := kilnfile(t, "n = 0\nwhile True:\n    n += 1\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"render", "-f", dir}, &out, &errOut); code != exitFail || !strings.Contains(errOut.String(), "budget of 20000 Starlark steps") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
}
