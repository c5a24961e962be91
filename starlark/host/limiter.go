package host

import (
	"sync/atomic"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// checkEvery is how many steps a thread runs between checks of its limits: rare enough to
// cost nothing, often enough that a stop comes within microseconds, and a runaway recursion
// stops within a few hundred frames of the limit.
const checkEvery = 1000

// sampleSteps is how many steps a stopping thread still runs to find where it is. The step at
// a check can be a jump, which has no position of its own and reports the line before the
// loop; the furthest line seen in the same function over a few dozen steps is inside it.
const sampleSteps = 64

// limiter enforces a thread's limits from the thread's own OnMaxSteps hook, where the stack
// can be read safely. Other goroutines (Ctrl-C, the memory watch) ask it to stop the thread.
type limiter struct {
	limits  Limits
	pending atomic.Pointer[string] // a stop asked for by another goroutine

	reason string // set once stopping
	at     syntax.Position
	depth  int // of the frame at
	left   int // steps left to sample
}

// stop asks the thread to stop for reason at its next check.
func (l *limiter) stop(reason string) { l.pending.CompareAndSwap(nil, &reason) }

// install makes t call l.check every checkEvery steps.
func (l *limiter) install(t *starlark.Thread) {
	t.SetMaxExecutionSteps(min(checkEvery, l.limits.MaxSteps))
	t.OnMaxSteps = l.check
}

func (l *limiter) check(t *starlark.Thread) {
	if l.reason != "" {
		l.sample(t)
		return
	}
	steps := t.ExecutionSteps()
	switch {
	case t.CallStackDepth() > l.limits.MaxCallDepth:
		// No sampling: every frame of a runaway recursion is at the same place. The place
		// to name is the call that went one level too deep; the new frame may not have
		// started yet.
		l.reason = depthExceeded(l.limits.MaxCallDepth)
		l.at, l.depth = callSite(t)
		t.Cancel(l.reason)
		return
	case l.pending.Load() != nil:
		l.reason = *l.pending.Load()
	case steps >= l.limits.MaxSteps:
		l.reason = stepsExceeded(l.limits.MaxSteps)
	default:
		t.SetMaxExecutionSteps(min(steps+checkEvery, l.limits.MaxSteps))
		return
	}
	l.at, l.depth, l.left = t.CallFrame(0).Pos, t.CallStackDepth(), sampleSteps
	t.SetMaxExecutionSteps(steps + 1)
}

// callSite is the position of the innermost Starlark call below the running frame (a builtin
// like sorted() may be between), and that caller's depth; the running frame's if none.
func callSite(t *starlark.Thread) (syntax.Position, int) {
	for i := 1; i < t.CallStackDepth(); i++ {
		if fr := t.CallFrame(i); fr.Pos.Filename() != "<builtin>" {
			return fr.Pos, t.CallStackDepth() - i
		}
	}
	return t.CallFrame(0).Pos, t.CallStackDepth()
}

// sample runs while stopping: it keeps the furthest position seen in the stopping frame, then
// cancels the thread.
func (l *limiter) sample(t *starlark.Thread) {
	if t.CallStackDepth() == l.depth {
		if pos := t.CallFrame(0).Pos; pos.Line > l.at.Line || pos.Line == l.at.Line && pos.Col > l.at.Col {
			l.at = pos
		}
	}
	if l.left--; l.left <= 0 {
		t.Cancel(l.reason)
		return
	}
	t.SetMaxExecutionSteps(t.ExecutionSteps() + 1)
}

// stopped returns how the thread was stopped, if it was.
func (l *limiter) stopped() (stop *stopError, ok bool) {
	if l.reason == "" {
		return nil, false
	}
	return &stopError{at: l.at, depth: l.depth}, true
}

// stopError marks an evaluation error as a stop by the limiter, and says where it found the
// thread: a better position than the stack's for the depth-th frame.
type stopError struct {
	at    syntax.Position
	depth int
	err   error
}

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }
