// Package testenv holds what kiln's tests share about their environment.
package testenv

import (
	"os"
	"testing"
)

// RequireEnv names the environment variable `make test` sets: tests that need the Docker
// engine (or another real part) then fail instead of skipping when it is missing, so that a
// broken set-up cannot pass as a green run.
const RequireEnv = "KILN_REQUIRE_DOCKER"

// Missing reports that a real part a test needs is not there: a skip when run by hand, a
// failure under `make test`.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf(format+" ("+RequireEnv+" is set: `make test` needs it)", args...)
	}
	tb.Skipf(format, args...)
}
