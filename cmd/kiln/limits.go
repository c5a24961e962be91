package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln/internal/safefile"
	"github.com/kiln-dev/kiln/starlark/host"
)

// limitsFromEnv reads the evaluation limits users can raise (docs/reference/trust.md):
// KILN_MAX_STEPS, KILN_MAX_CALL_DEPTH, KILN_MAX_FILE_SIZE and KILN_MAX_MEMORY. Unset means
// the default; a value that is not a positive number is an error.
func limitsFromEnv(getenv func(string) string) (host.Limits, error) {
	var l host.Limits
	var err error
	if l.MaxSteps, err = envUint("KILN_MAX_STEPS", getenv); err != nil {
		return l, err
	}
	depth, err := envUint("KILN_MAX_CALL_DEPTH", getenv)
	if err != nil {
		return l, err
	}
	l.MaxCallDepth = int(min(depth, 1<<31-1))
	if l.MaxFileSize, err = envSize("KILN_MAX_FILE_SIZE", getenv); err != nil {
		return l, err
	}
	if l.MaxMemory, err = envSize("KILN_MAX_MEMORY", getenv); err != nil {
		return l, err
	}
	return l, nil
}

func envUint(name string, getenv func(string) string) (uint64, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", name, v)
	}
	return n, nil
}

func envSize(name string, getenv func(string) string) (int64, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := safefile.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", name, err)
	}
	return n, nil
}

// readLimits sets c.limits from the environment; a bad value is a usage error, printed.
func (c *commonFlags) readLimits(stderr io.Writer) bool {
	l, err := limitsFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "kiln: %v\n", err)
		return false
	}
	c.limits = l
	return true
}

// commandContext is the context of one command, evaluation included: cancelled on Ctrl-C or
// SIGTERM, and after timeout if it is not zero, with a cause that says which.
func commandContext(flag string, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signalContext()
	if timeout <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%s %s ran out", flag, timeout))
	return ctx, func() { cancel(); stop() }
}
