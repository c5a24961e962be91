package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/kiln-dev/kiln/runtime/logs"
	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/spf13/pflag"
)

// logsCmd is kiln logs [RESOURCE...]: the lines the project's kiln watch has of its
// resources' containers and local commands, and with -f the new ones as they come. As in
// kubectl, -f is follow; the project file is --file.
func logsCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln logs", pflag.ContinueOnError)
	file := fs.String("file", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	follow := fs.BoolP("follow", "f", false, "keep printing new lines until Ctrl-C")
	since := fs.Duration("since", 0, "only lines newer than this (5m, 1h); 0 for all kiln has")
	container := fs.StringP("container", "c", "", "only this container's lines")
	fs.SetOutput(stderr)
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	c, err := dialProject(*file)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	q := statusapi.LogQuery{Resources: fs.Args(), Container: *container}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	color := isTerminal(stdout) && os.Getenv("NO_COLOR") == ""
	width := 12
	err = c.Logs(ctx, q, *follow, func(l statusapi.LogLine) error {
		line := logs.Line{Resource: l.Resource, Container: l.Container, Text: l.Text, Previous: l.Previous, Kiln: l.Kiln, ShowContainer: l.ShowContainer}
		name := len(l.Resource)
		if l.ShowContainer {
			name += 1 + len(l.Container)
		}
		width = max(width, name)
		_, err := fmt.Fprintln(stdout, logs.Format(line, width, color))
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	return exitOK
}

// isTerminal says whether w is a terminal, where colour is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
