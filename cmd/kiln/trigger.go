package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/spf13/pflag"
)

// dialProject connects to the status API of the kiln watch of the project whose file is file.
func dialProject(file string) (*statusapi.Client, error) {
	dir, err := projectStateDir(file)
	if err != nil {
		return nil, err
	}
	return statusapi.Dial(dir)
}

// triggerCmd is kiln trigger RESOURCE...: the project's kiln watch runs each one now.
func triggerCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln trigger", pflag.ContinueOnError)
	file := fs.StringP("file", "f", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	fs.SetOutput(stderr)
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: kiln trigger RESOURCE... [-f FILE]; kiln get resources lists them")
		return exitUsage
	}
	c, err := dialProject(*file)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range fs.Args() {
		if err := c.Trigger(ctx, name); err != nil {
			fmt.Fprintf(stderr, "Error: trigger %s: %v\n", name, err)
			return exitFail
		}
		fmt.Fprintf(stdout, "triggered %s\n", name)
	}
	return exitOK
}
