package host

import (
	"fmt"

	"github.com/kiln-dev/kiln/internal/safefile"
)

// Limits bound one evaluation, so that a Kilnfile that loops, recurses, or reads or allocates
// without end stops with an error naming file:line instead of hanging the machine. Zero fields
// take the defaults.
type Limits struct {
	// MaxSteps is the number of Starlark execution steps a thread may take.
	MaxSteps uint64
	// MaxCallDepth is how deeply calls may nest.
	MaxCallDepth int
	// MaxFileSize is the largest file the evaluation reads (load(), read_file, manifests, ...).
	MaxFileSize int64
	// MaxMemory is how much the evaluation may grow the Go heap.
	MaxMemory int64
}

const (
	// DefaultMaxSteps is about a second of pure Starlark on a laptop, and tens of thousands of
	// times what the generated 200-service project takes (see the builtins budget test).
	DefaultMaxSteps uint64 = 100_000_000
	// DefaultMaxCallDepth is ten times Python's default recursion limit; Starlark's own limit
	// (100,000 frames) costs a quarter of a gigabyte of Go stack before it stops anything.
	DefaultMaxCallDepth = 10_000
	// DefaultMaxFileSize: see safefile.DefaultMaxSize.
	DefaultMaxFileSize = safefile.DefaultMaxSize
	// DefaultMaxMemory is room for the largest charts and manifest bundles, far below the
	// memory of a developer machine.
	DefaultMaxMemory int64 = 512 << 20
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.MaxSteps == 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxCallDepth == 0 {
		l.MaxCallDepth = DefaultMaxCallDepth
	}
	if l.MaxFileSize == 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	return l
}

// The reasons an evaluation is stopped, as the user reads them after "evaluation stopped at
// FILE:LINE: ". Each says what happened, what it may mean, and how to change the limit.

func stepsExceeded(max uint64) string {
	return fmt.Sprintf("it used up its budget of %d Starlark steps: a loop that never ends? If the project really needs more, raise KILN_MAX_STEPS", max)
}

func depthExceeded(max int) string {
	return fmt.Sprintf("calls are nested more than %d deep: a recursion that never ends? If the project really needs more, raise KILN_MAX_CALL_DEPTH", max)
}

func memoryExceeded(max int64) string {
	return fmt.Sprintf("it grew kiln's memory by more than %s: a value that grows without end? If the project really needs more, raise KILN_MAX_MEMORY", safefile.FormatSize(max))
}
