package builtins

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/kiln-dev/kiln/starlark/host"
)

// evalFiles writes files (path → content; "Kilnfile" is the main file) into a new directory,
// evaluates it with opts and returns the error the user would see ("" if none).
func evalFiles(t *testing.T, ctx context.Context, files map[string]string, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, files)
	return evalDir(t, ctx, dir, opts)
}

func evalDir(t *testing.T, ctx context.Context, dir string, opts Options) string {
	t.Helper()
	if opts.Stdout == nil {
		opts.Stdout, opts.Stderr = io.Discard, io.Discard
	}
	if opts.Env == nil {
		opts.Env = map[string]string{"PATH": os.Getenv("PATH"), "KUBECONFIG": filepath.Join(dir, "no-kubeconfig")}
	}
	opts.Subcommand = "render"
	_, err := EvaluateContext(ctx, dir, opts)
	if err == nil {
		return ""
	}
	return err.Error()
}

func mustContain(t *testing.T, msg string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Fatalf("error does not contain %q:\n%s", w, msg)
		}
	}
}

// The default budget must be far above what a big project needs: the generated 200-service
// project (BenchmarkEvaluateRender200) evaluates on a thousandth of it, and on a quarter of the
// memory limit.
func TestDefaultLimitsLeaveRoomForABigProject(t *testing.T) {
	dir := t.TempDir()
	writeBigProject(t, dir)
	opts := Options{CacheDir: t.TempDir(), Limits: host.Limits{
		MaxSteps:  host.DefaultMaxSteps / 1000,
		MaxMemory: host.DefaultMaxMemory / 4,
	}}
	if msg := evalDir(t, context.Background(), dir, opts); msg != "" {
		t.Fatal(msg)
	}
}

func TestStepBudgetStopsEvaluation(t *testing.T) {
	msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": "n = 0\nwhile True:\n    n += 1\n"},
		Options{Limits: host.Limits{MaxSteps: 50_000}})
	mustContain(t, msg, "Error: evaluation stopped at Kilnfile:3:", "budget of 50000 Starlark steps", "KILN_MAX_STEPS")
}

// Ctrl-C (the context) stops an evaluation stuck in Starlark, and one waiting on local().
func TestContextStopsEvaluation(t *testing.T) {
	for _, kf := range []string{"n = 0\nwhile True:\n    n += 1\n", "local('sleep 30')\n"} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		msg := evalFiles(t, ctx, map[string]string{"Kilnfile": kf}, Options{})
		cancel()
		mustContain(t, msg, "Kilnfile:", "context canceled")
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("%q took %s to stop", kf, d)
		}
	}
}
