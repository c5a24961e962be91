package host

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Guard returns d with every builtin in it, module members included, wrapped so that a panic
// inside (a bug in kiln, the Helm SDK or krusty) becomes an error: Starlark then reports it
// like any builtin's error, with the backtrace and the file:line of the call.
func Guard(d starlark.StringDict) starlark.StringDict {
	out := make(starlark.StringDict, len(d))
	for k, v := range d {
		out[k] = guardValue(v)
	}
	return out
}

func guardValue(v starlark.Value) starlark.Value {
	switch v := v.(type) {
	case *starlark.Builtin:
		return starlark.NewBuiltin(v.Name(), func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (res starlark.Value, err error) {
			defer func() {
				if r := recover(); r != nil {
					res, err = nil, panicError(v.Name(), r)
				}
			}()
			return v.CallInternal(t, args, kwargs)
		})
	case *starlarkstruct.Module:
		return &starlarkstruct.Module{Name: v.Name, Members: Guard(v.Members)}
	}
	return v
}

// panicError describes a recovered panic: what it was and where in Go it happened, so that a
// bug report can point at it, without the goroutine dump that would bury the file:line.
func panicError(what string, r any) error {
	site := panicSite()
	if site != "" {
		site = " (at " + site + ")"
	}
	return fmt.Errorf("%s: internal error: %v%s; this is a bug in kiln, not in your project: please report it with this message", what, r, site)
}

// panicSite returns the function and file:line that panicked. Called from a deferred
// function, the stack reads: this, the deferred function, runtime.gopanic (and for a fault,
// runtime.sigpanic), then the panicking function.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			panicking = true
		} else if panicking && !strings.HasPrefix(f.Function, "runtime.") {
			return fmt.Sprintf("%s %s:%d", f.Function, filepath.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}
