package host

import (
	"context"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// ctxKey is the thread-local key of the evaluation's context.
const ctxKey = "kiln.host.ctx"

// Run runs fn on a new thread named name, under the host's limits. The thread stops with an
// error naming file:line when ctx ends (Ctrl-C, a timeout), when it uses up its step budget,
// nests calls too deeply or grows the heap too much; a panic in fn, or in a builtin it calls,
// becomes an error instead of a crash.
func (h *Host) Run(ctx context.Context, name string, fn func(*starlark.Thread) error) (err error) {
	lim := &limiter{limits: h.Limits.withDefaults()}
	thread := h.newThread(ctx, name)
	lim.install(thread)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); stopOnDone(ctx, thread, lim, done) }()
	go func() { defer wg.Done(); watchMemory(thread, lim.limits.MaxMemory, done) }()
	defer func() { close(done); wg.Wait() }()

	defer func() {
		if r := recover(); r != nil {
			err = panicError(name, r)
		}
		if stop, ok := lim.stopped(); ok && err != nil {
			stop.err = err
			err = stop
		}
	}()
	return fn(thread)
}

// Context returns the context of the evaluation running on t: builtins that wait (local())
// stop when it ends.
func Context(t *starlark.Thread) context.Context {
	if ctx, ok := t.Local(ctxKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

func (h *Host) newThread(ctx context.Context, name string) *starlark.Thread {
	t := &starlark.Thread{
		Name:  name,
		Load:  h.load,
		Print: func(_ *starlark.Thread, msg string) { h.Print(msg) },
	}
	t.SetLocal(threadKey, &[]string{})
	t.SetLocal(ctxKey, ctx)
	return t
}

// stopPatience is how long a stop asked for by ctx waits for the thread's next check, which
// finds the line it is at, before cancelling it outright: a check can be far off when each
// step is slow (a string growing by copies).
const stopPatience = 100 * time.Millisecond

// stopOnDone stops the thread when ctx ends, with the context's cause as the reason.
func stopOnDone(ctx context.Context, t *starlark.Thread, lim *limiter, done <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-done:
		return
	}
	reason := context.Cause(ctx).Error()
	lim.stop(reason)
	select {
	case <-time.After(stopPatience):
		t.Cancel(reason)
	case <-done:
	}
}
