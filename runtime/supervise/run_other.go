//go:build !linux

package supervise

import (
	"fmt"
	"io"
)

// Main runs only in Linux containers.
func Main(args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "kiln supervise runs only on Linux, in a container")
	return 2
}
