package host

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// stoppedAt matches the last line of an evaluation that was stopped.
var stoppedAt = regexp.MustCompile(`(?m)^Error: evaluation stopped at (\S+:\d+:\d+): (.*)$`)

func mustStop(t *testing.T, msg, wantPos, wantReason string) {
	t.Helper()
	m := stoppedAt.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not a stopped evaluation:\n%s", msg)
	}
	if !strings.HasPrefix(m[1], wantPos) || !strings.Contains(m[2], wantReason) {
		t.Fatalf("stopped at %s: %s\nwant %s...: ...%s...", m[1], m[2], wantPos, wantReason)
	}
}

func TestStepBudgetStopsAnEndlessLoop(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "x = 0\nwhile True:\n    x += 1\n"})
	h.Limits.MaxSteps = 100_000
	start := time.Now()
	msg := exec(t, h, main)
	mustStop(t, msg, "Kilnfile:3:", "budget of 100000 Starlark steps")
	if !strings.Contains(msg, "KILN_MAX_STEPS") {
		t.Errorf("the error does not say how to raise the budget:\n%s", msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
}

func TestStepBudgetAllowsWhatFits(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "x = 0\nfor i in range(1000):\n    x += i\n"})
	h.Limits.MaxSteps = 100_000
	if msg := exec(t, h, main); msg != "" {
		t.Fatal(msg)
	}
}

// A stop inside a loaded file names the loaded file's line.
func TestStopInsideALoadedFileNamesIt(t *testing.T) {
	h, main, _ := project(t, map[string]string{
		"Kilnfile": "load('lib.star', 'x')\n",
		"lib.star": "x = 0\nwhile True:\n    x += 1\n",
	})
	h.Limits.MaxSteps = 10_000
	mustStop(t, exec(t, h, main), "lib.star:3:", "Starlark steps")
}

func TestCancelStopsEvaluation(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "def spin():\n    n = 0\n    while True:\n        n += 1\n\nspin()\n"})
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("interrupt signal received")) })
	start := time.Now()
	_, err := h.Exec(ctx, main)
	if err == nil {
		t.Fatal("no error")
	}
	mustStop(t, ErrorMessage(err), "Kilnfile:4:", "interrupt signal received")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
}

func TestCallDepthLimitEndsRunawayRecursion(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "def f(n):\n    return f(n + 1)\n\nf(0)\n"})
	h.Limits.MaxCallDepth = 500
	msg := exec(t, h, main)
	mustStop(t, msg, "Kilnfile:2:", "nested more than 500 deep")
	if lines := strings.Count(msg, "\n"); lines > 10 {
		t.Fatalf("the backtrace of a runaway recursion is %d lines long:\n%s", lines, msg)
	}
	if !regexp.MustCompile(`\[Previous line repeated \d+ more times\]`).MatchString(msg) {
		t.Fatalf("repeated frames are not folded:\n%s", msg)
	}
}

// With the default limits a runaway recursion ends quickly, in a few lines, and never in a
// fatal Go stack overflow (which no recover() can catch).
func TestDefaultLimitsEndRecursionShortly(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "def f(n):\n    return g(n)\n\ndef g(n):\n    return sorted([1, 2], key = lambda x: f(n + 1))\n\nf(0)\n"})
	msg := exec(t, h, main)
	mustStop(t, msg, "Kilnfile:", "nested more than 10000 deep")
	if lines := strings.Count(msg, "\n"); lines > 16 {
		t.Fatalf("the backtrace is %d lines long:\n%s", lines, msg)
	}
}

func TestMemoryLimitStopsAValueThatDoubles(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "s = 'x'\nwhile True:\n    s += s\n"})
	h.Limits.MaxMemory = 64 << 20
	mustStop(t, exec(t, h, main), "Kilnfile:3:", "memory by more than 64 MiB")
}

func TestRunTurnsAPanicIntoAnError(t *testing.T) {
	h, _, _ := project(t, map[string]string{})
	err := h.Run(context.Background(), "assemble", func(*starlark.Thread) error {
		var m map[string]int
		m["x"] = 1 // panics: assignment to entry in nil map
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "assemble: internal error: assignment to entry in nil map (at github.com/kiln-dev/kiln/starlark/host.TestRunTurnsAPanicIntoAnError") {
		t.Fatalf("err = %v", err)
	}
}

func TestContextReachesBuiltins(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "here")
	h, main, _ := project(t, map[string]string{"Kilnfile": "probe()\n"})
	var got any
	h.Predeclared = starlark.StringDict{"probe": starlark.NewBuiltin("probe", func(t *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		got = Context(t).Value(key{})
		return starlark.None, nil
	})}
	if _, err := h.Exec(ctx, main); err != nil {
		t.Fatal(err)
	}
	if got != "here" {
		t.Fatalf("Context(t) does not carry the evaluation's context")
	}
}

// list(range(1 << 34)) is one step that asks for 256 GiB: Go cannot recover from that.
func TestSizedBuiltinsRefuseAHugeLength(t *testing.T) {
	for _, call := range []string{"list(range(1 << 34))", "tuple(range(1 << 40))", "sorted(range(1 << 34))", "enumerate(range(1 << 62))", "zip(range(3), range(1 << 34))"} {
		h, main, _ := project(t, map[string]string{"Kilnfile": "x = " + call + "\n"})
		msg := exec(t, h, main)
		name := call[:strings.Index(call, "(")]
		if !strings.Contains(msg, "Kilnfile:1:") || !strings.Contains(msg, "Error in "+name+": range has ") || !strings.Contains(msg, "512 MiB, the evaluation's memory limit") {
			t.Fatalf("%s:\n%s", call, msg)
		}
	}
	h, main, printed := project(t, map[string]string{"Kilnfile": "print(list(range(3)), sorted([3, 1], reverse = True), dict(zip(['a'], [1])))\n"})
	if msg := exec(t, h, main); msg != "" {
		t.Fatal(msg)
	}
	if got := printed.String(); got != "[0, 1, 2] [3, 1] {\"a\": 1}\n" {
		t.Fatalf("printed %q", got)
	}
}

// A loop with nothing in it still names its line, not the top of the file.
func TestStopNamesTheLineOfABareLoop(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "x = 1\ny = 2\n\nwhile True:\n    pass\n"})
	h.Limits.MaxSteps = 100_000
	mustStop(t, exec(t, h, main), "Kilnfile:4:", "Starlark steps")
	h, main, _ = project(t, map[string]string{"Kilnfile": "def spin():\n    while True:\n        pass\n\nspin()\n"})
	h.Limits.MaxSteps = 100_000
	mustStop(t, exec(t, h, main), "Kilnfile:2:", "Starlark steps")
}
