package host

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// cancelledPrefix starts the message of a thread stopped by Thread.Cancel.
const cancelledPrefix = "Starlark computation cancelled: "

// maxFoldedBlock is the longest run of frames that folding recognises as repeating: one for a
// function calling itself, more for functions calling each other in a ring.
const maxFoldedBlock = 8

// ErrorMessage formats an evaluation error for the user: a Starlark error as one backtrace
// through every load() (Python-style, repeated frames folded), anything else as it is.
func ErrorMessage(err error) string {
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) {
		return err.Error()
	}
	stack, msg := throughLoads(evalErr)
	if reason, ok := strings.CutPrefix(msg, cancelledPrefix); ok {
		var stop *stopError
		if errors.As(err, &stop) && stop.depth >= 1 && stop.depth <= len(stack) {
			// Where the limiter found the thread (see limiter.check).
			stack = slices.Clone(stack)
			stack[stop.depth-1].Pos = stop.at
			msg = fmt.Sprintf("evaluation stopped at %s: %s", stop.at, reason)
		} else if n := len(stack); n > 0 {
			msg = fmt.Sprintf("evaluation stopped at %s: %s", stack[n-1].Pos, reason)
		}
	}
	suffix := ""
	if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
		suffix = " in " + stack[last].Name
		stack = stack[:last]
	}
	var b strings.Builder
	if len(stack) > 0 {
		b.WriteString("Traceback (most recent call last):\n")
		for _, line := range foldRepeats(frameLines(stack)) {
			b.WriteString("  " + line + "\n")
		}
	}
	fmt.Fprintf(&b, "Error%s: %s", suffix, msg)
	return dedupeBuiltinName(b.String())
}

// throughLoads finds the error raised deepest inside load()ed files. Starlark reports such an
// error at the load statement, with the inner error as the cause; the inner error's stack is
// the whole one, since a load runs on the same thread.
func throughLoads(e *starlark.EvalError) (starlark.CallStack, string) {
	for {
		var inner *starlark.EvalError
		if !errors.As(e.Unwrap(), &inner) {
			return e.CallStack, e.Msg
		}
		e = inner
	}
}

func frameLines(stack starlark.CallStack) []string {
	lines := make([]string, len(stack))
	for i, fr := range stack {
		lines[i] = fmt.Sprintf("%s: in %s", fr.Pos, fr.Name)
	}
	return lines
}

// foldRepeats shows a run of lines that repeats three times or more once, followed by
// "[Previous line repeated N more times]", as Python does, so that a runaway recursion ends
// in a few lines instead of thousands.
func foldRepeats(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		size, repeats := longestRepeat(lines, i)
		if repeats < 2 {
			out = append(out, lines[i])
			i++
			continue
		}
		out = append(out, lines[i:i+size]...)
		what := "line"
		if size > 1 {
			what = fmt.Sprintf("%d lines", size)
		}
		out = append(out, fmt.Sprintf("[Previous %s repeated %d more times]", what, repeats))
		i += size * (repeats + 1)
	}
	return out
}

// longestRepeat finds the block starting at i that covers the most lines by repeating right
// after itself: its size, and how many more times it repeats.
func longestRepeat(lines []string, i int) (size, repeats int) {
	best := 0
	for k := 1; k <= maxFoldedBlock && i+2*k <= len(lines); k++ {
		r := 0
		for j := i + k; j+k <= len(lines) && equalLines(lines[i:i+k], lines[j:j+k]); j += k {
			r++
		}
		if r >= 2 && k*r > best {
			best, size, repeats = k*r, k, r
		}
	}
	return size, repeats
}

func equalLines(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dedupeBuiltinName turns Starlark's "Error in helm: helm: msg" into "Error in helm: msg":
// builtins name themselves in their errors so that the errors read well on their own too.
func dedupeBuiltinName(msg string) string {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "Error in ")
		if !ok {
			continue
		}
		name, body, ok := strings.Cut(rest, ": ")
		if ok && strings.HasPrefix(body, name+": ") {
			lines[i] = "Error in " + name + ": " + strings.TrimPrefix(body, name+": ")
		}
	}
	return strings.Join(lines, "\n")
}
